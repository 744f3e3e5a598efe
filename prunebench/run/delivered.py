"""What a cell's strategy delivered, measured on the model, against what the cell asked for.

The runner counts the model before the strategy touches it and again when pruning (and any fine-tuning, which
keeps what pruning did) is over; `settle` compares the two with the cell's amount or speed-up target:

- unstructured: the share of the prunable conv weights (prunebench.pruning.prunable_convs, or the
  `prunable_weights` the report names) that are zero, against the amount;
- structured: the conv output channels removed over the prunable channels (or over the `removable_channels` the
  report names: YOLO11's neck convs tied to the whole head can never be cut), against the amount;
- speed-up target: dense GFLOPs over pruned GFLOPs (fused model, as records count them), against the target;
- measured-latency target ("2x@onnx"): the speed-up its search measured on the runtime (details.latency_target),
  against the target within that search's tolerance.

A cell whose strategy removed nothing, or a share further from the amount than DELIVERY_TOLERANCE (a speed-up
further than TARGET_TOLERANCE, relative), is flagged: `details.delivered.flagged`, with `why`; the leaderboard
marks the row and never stars or ranks it. The measured figures win: every reduction figure of the strategy's
report (`achieved_sparsity`, `channel_reduction`, `param_reduction`, `macs_reduction`) that differs from the
measured one beyond rounding is replaced by it, the strategy's own figure kept under `reported_by_strategy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prunebench.records.latency_target import LatencyTargetOutcome
from prunebench.records.prune_report import Delivered, PruneReport
from prunebench.run.targets import TARGET_TOLERANCE

# How far the delivered share may be from the amount asked (the conformance kit's tolerance; the built-ins land
# within 0.001 of it on every published record).
DELIVERY_TOLERANCE = 0.05
# A reported reduction closer than this to the measured one is left as reported (the built-ins round to 4 places;
# their macs_reduction is Torch-Pruning's count at the fine-tuning size, the measured one fused GFLOPs at the
# evaluation size, hence the wider margin).
REPORT_ROUNDING = {"param_reduction": 0.005, "achieved_sparsity": 0.005, "channel_reduction": 0.005,
                   "macs_reduction": 0.02}


@dataclass(frozen=True)
class ModelSize:
    """A model's counts, taken before and after a strategy runs."""

    params: int
    nonzero_params: int
    prunable_weights: int  # weights of prunebench.pruning.prunable_convs
    prunable_zeros: int
    conv_channels: int  # output channels of every Conv2d
    prunable_channels: int  # output channels of the convs outside structured_ignored_layers
    gflops: float  # fused model, batch 1, at the suite's image size (as records count them)

    @classmethod
    def of(cls, model, imgsz: int) -> "ModelSize":
        import dataclasses

        import torch

        from prunebench.measure.costs import WeightCounts, count_flops, deployable_copy, stride_multiple

        runnable = deployable_copy(model, torch.device("cpu"))
        flops, _ = count_flops(runnable, stride_multiple(imgsz, runnable))
        return cls(**dataclasses.asdict(WeightCounts.of(model)), gflops=flops / 1e9)


def _reported(report: dict[str, Any], key: str) -> float | None:
    value = report.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def judge(before: ModelSize, after: ModelSize, *, amount: float | None, target: float | None, structured: bool,
          report: dict[str, Any], measured_target: LatencyTargetOutcome | None = None) -> Delivered:
    """Compare what the model lost (before -> after) with the amount or speed-up target asked (a measured-latency
    target: with the speed-up its search measured on the runtime, `measured_target`)."""
    removed_nothing = (after.params >= before.params and after.gflops >= before.gflops) if structured else \
        after.nonzero_params >= before.nonzero_params
    if measured_target is not None:
        outcome = measured_target
        measure, asked, expected = "measured_speedup", f"{outcome.target:g}x@{outcome.runtime}", outcome.target
        measured, tolerance, off = outcome.speedup, outcome.tolerance, not outcome.met
        detail = (f"measured {measured:.2f}x on {outcome.runtime} ({before.gflops / after.gflops:.2f}x fewer "
                  f"GFLOPs)" + (f": {outcome.why}" if outcome.why else "")) if after.gflops > 0 else outcome.why
    elif target is not None:
        measure, asked, expected, tolerance = "speedup", f"{target:g}x", float(target), TARGET_TOLERANCE
        measured = before.gflops / after.gflops if after.gflops > 0 else float("inf")
        off = abs(measured / expected - 1) > tolerance
        detail = f"reached {measured:.2f}x fewer GFLOPs ({before.gflops:.3f} -> {after.gflops:.3f})"
    elif structured:
        removed = before.conv_channels - after.conv_channels
        removable = _reported(report, "removable_channels")
        over = int(removable) if removable and removed <= removable <= before.prunable_channels else \
            before.prunable_channels
        measure, asked, expected, tolerance = "channel_reduction", f"{amount:.0%}", float(amount), DELIVERY_TOLERANCE
        measured = removed / max(over, 1)
        off = abs(measured - expected) > tolerance
        detail = f"removed {removed:,} of {over:,} prunable channels ({measured:.1%})"
    else:
        weights = _reported(report, "prunable_weights")
        over = int(weights) if weights and 0 < weights <= after.prunable_weights else after.prunable_weights
        measure, asked, expected, tolerance = "sparsity", f"{amount:.0%}", float(amount), DELIVERY_TOLERANCE
        measured = after.prunable_zeros / max(over, 1)
        off = abs(measured - expected) > tolerance
        detail = f"{after.prunable_zeros:,} of {over:,} prunable weights are zero ({measured:.1%})"
    why = None
    if removed_nothing:
        why = f"asked {asked}, removed nothing: {detail}"
    elif off:
        within = f"{tolerance:.0%} relative" if target is not None else f"±{tolerance:g}"
        why = f"asked {asked}, delivered another amount (beyond {within}): {detail}"
    return Delivered(asked=asked, measure=measure, expected=expected, measured=round(measured, 6),
                     tolerance=tolerance, removed_nothing=removed_nothing, flagged=why is not None, why=why,
                     params_before=before.params, params_after=after.params,
                     nonzero_params_before=before.nonzero_params, nonzero_params_after=after.nonzero_params,
                     gflops_before=round(before.gflops, 6), gflops_after=round(after.gflops, 6))


def measured_wins(report: dict[str, Any], before: ModelSize, after: ModelSize, delivered: Delivered,
                  structured: bool) -> dict[str, Any]:
    """The strategy's report with every reduction figure that disagrees with the measured one replaced by it."""
    measured = {"param_reduction": 1 - after.params / max(before.params, 1),
                "macs_reduction": 1 - after.gflops / before.gflops if before.gflops else 0.0}
    if delivered.measure == "sparsity" or not structured:
        measured["achieved_sparsity"] = after.prunable_zeros / max(after.prunable_weights, 1) \
            if delivered.measure != "sparsity" else delivered.measured
    if delivered.measure == "channel_reduction":
        measured["channel_reduction"] = delivered.measured
    fixed, claimed = dict(report), {}
    for key, value in measured.items():
        said = _reported(report, key)
        if said is not None and abs(said - value) > REPORT_ROUNDING[key]:
            claimed[key], fixed[key] = said, round(value, 4)
    if claimed:
        fixed["reported_by_strategy"] = claimed
    return fixed


def settle(record, cell, before: ModelSize, model, imgsz: int) -> Delivered:
    """After a pruned cell's pruning and fine-tuning: judge what its strategy delivered, record it under
    `details.delivered`, and let the measured figures win in `details.prune_report`."""
    structured = bool(cell.spec["strategy"].get("structured"))
    after = ModelSize.of(model, imgsz)
    pruning = record.prune_report or PruneReport({})
    report = dict(pruning.reported)
    delivered = judge(before, after, amount=cell.amount, target=cell.target, structured=structured, report=report,
                      measured_target=LatencyTargetOutcome.from_record(record) if cell.target_runtime else None)
    record.put_prune_report(pruning.judged(measured_wins(report, before, after, delivered, structured), delivered))
    return delivered
