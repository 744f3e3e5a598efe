"""What pruning did, measured on the model before and after `prune()`, beside what the strategy reports.

Counted over the weights the leaderboard counts: `prunebench.measure.costs.parameter_counts` of the model with
any torch.nn.utils.prune masks made permanent (what a record's params / nonzero_params are). An untrained
YOLOv8n already has 5,201 zero parameters (its BatchNorm biases and the DFL conv's bin 0), so the kit counts the
change, not the total.

- unstructured: the weights `prune()` newly zeroed, as a share of the weights the strategy reports over
  (`prunable_weights` in its report, else those of prunebench.pruning.prunable_convs), against `amount` and against
  the report's `achieved_sparsity`;
- structured: the parameters and the conv output channels removed, against `amount` and against the report's
  `channel_reduction` (of `prunable_channels_before`, else of the channels outside
  prunebench.pruning.structured_ignored_layers), and `removed_channels`, `params_before` / `params_after` when it
  gives them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from prunebench.testing.failures import require


@dataclass(frozen=True)
class Counts:
    params: int
    nonzero_params: int
    prunable_weights: int  # weights of prunebench.pruning.prunable_convs
    prunable_zeros: int
    conv_channels: int  # output channels of every Conv2d
    prunable_channels: int  # output channels of the convs outside prunebench.pruning.structured_ignored_layers
    macs: int  # multiply-accumulates of one TINY_IMGSZ image, by Torch-Pruning's counter (as prune_structured counts)

    @classmethod
    def of(cls, model) -> "Counts":
        import dataclasses

        from prunebench.measure.costs import WeightCounts
        from prunebench.testing.baseline import TINY_IMGSZ
        from prunebench.yolo.prunable import count_macs_and_params

        macs, _ = count_macs_and_params(model, TINY_IMGSZ)
        return cls(**dataclasses.asdict(WeightCounts.of(model)), macs=macs)


def _number(report: dict[str, Any], key: str) -> float | None:
    value = report.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def unstructured(before: Counts, after: Counts, report: dict[str, Any]) -> dict[str, Any]:
    """The measured figures of an unstructured prune."""
    reported_weights = _number(report, "prunable_weights")
    weights = int(reported_weights) if reported_weights and reported_weights > 0 else after.prunable_weights
    zeroed = before.nonzero_params - after.nonzero_params
    return {"zero_before": before.params - before.nonzero_params, "newly_zeroed": zeroed, "weights": weights,
            "sparsity": (before.prunable_zeros + zeroed) / max(weights, 1),
            "model_sparsity": 1 - after.nonzero_params / max(after.params, 1), **_sizes(before, after),
            "before": asdict(before), "after": asdict(after)}


def _sizes(before: Counts, after: Counts) -> dict[str, Any]:
    """Parameters and MACs before and after, and what share of each the model lost (whatever the kind)."""
    return {"params_before": before.params, "params_after": after.params,
            "param_reduction": 1 - after.params / max(before.params, 1), "macs_before": before.macs,
            "macs_after": after.macs, "macs_reduction": 1 - after.macs / max(before.macs, 1)}


def structured(before: Counts, after: Counts, report: dict[str, Any]) -> dict[str, Any]:
    """The measured figures of a structured prune."""
    reported_channels = _number(report, "prunable_channels_before")
    channels = int(reported_channels) if reported_channels and reported_channels > 0 else before.prunable_channels
    removed = before.conv_channels - after.conv_channels
    return {**_sizes(before, after), "channels_removed": removed, "channels": channels,
            "channel_reduction": removed / max(channels, 1), "before": asdict(before), "after": asdict(after)}


def check_amount_achieved(measured: dict[str, Any], report: dict[str, Any], amount: float, tolerance: float,
                          is_structured: bool) -> None:
    if is_structured:
        require(measured["params_after"] < measured["params_before"],
                f"structured pruning left {measured['params_after']:,} of {measured['params_before']:,} parameters")
        # YOLO11's neck convs tied to the whole Detect head count among its channels but can never be cut: a
        # strategy that says how many channels a cut could reach (`removable_channels`) is judged on those, with
        # the channels removed as measured.
        removable = _number(report, "removable_channels")
        achieved, what = ((measured["channels_removed"] / removable,
                           f"of the {int(removable):,} channels a cut can reach (removable_channels, as reported)")
                          if removable else
                          (measured["channel_reduction"], f"of {measured['channels']:,} prunable channels"))
        require(abs(achieved - amount) <= tolerance, f"asked {amount} of the channels, removed {achieved:.4f} {what}")
        return
    require(abs(measured["sparsity"] - amount) <= tolerance,
            f"asked {amount} of the weights, measured {measured['sparsity']:.4f}: the model's non-zero parameters "
            f"fell by {measured['newly_zeroed']:,} of {measured['weights']:,} prunable weights")


def more_for_more(runs, is_structured: bool) -> list[str]:
    """A larger amount must leave the model with less: fewer non-zero parameters (unstructured), fewer parameters and
    MACs (structured). `runs` (testing.conformance.PruneRun) sorted by amount; the problems, empty when none."""
    problems = []
    for smaller, larger in zip(runs, runs[1:]):
        pairs = ([("parameters", smaller.after.params, larger.after.params),
                  ("multiply-accumulates", smaller.after.macs, larger.after.macs)] if is_structured else
                 [("non-zero parameters", smaller.after.nonzero_params, larger.after.nonzero_params)])
        for what, less, more in pairs:
            if not more < less:
                problems.append(f"amount {larger.amount:g} left {more:,} {what}, amount {smaller.amount:g} left {less:,}:"
                                " a larger amount must remove more (does prune() read `amount`?)")
    return problems


def check_report_matches(measured: dict[str, Any], report: dict[str, Any], tolerance: float,
                         is_structured: bool) -> None:
    """The report's figures against the measured ones: a gap beyond `tolerance` fails, naming both."""
    counted = "counted as the leaderboard counts them (prunebench.measure.costs.parameter_counts)"
    if not is_structured:
        reported = _number(report, "achieved_sparsity")
        require(reported is not None, "an unstructured strategy reports `achieved_sparsity` (the share of the weights "
                                      "it prunes over that are zero after prune(); see docs/strategy-contract.md)")
        require(abs(reported - measured["sparsity"]) <= tolerance, (
            f"prune() reports achieved_sparsity {reported:.4f} of {measured['weights']:,} weights "
            f"({round(reported * measured['weights']):,} zeros), but the model's non-zero parameters fell by "
            f"{measured['newly_zeroed']:,}: {measured['sparsity']:.4f} of those weights, {counted}; "
            f"{measured['zero_before']:,} parameters were already zero before prune() and are not counted"))
        problems = _size_problems(measured, report, tolerance)
        model_sparsity = _number(report, "model_sparsity")
        if model_sparsity is not None and abs(model_sparsity - measured["model_sparsity"]) > tolerance:
            problems.append(f"prune() reports model_sparsity {model_sparsity:.4f}, but {measured['model_sparsity']:.4f}"
                            f" of the model's {measured['after']['params']:,} parameters are zero after prune(), "
                            f"{counted}")
        require(not problems, "; ".join(problems))
        return
    reported = _number(report, "channel_reduction")
    require(reported is not None, "a structured strategy reports `channel_reduction` (the share of its prunable "
                                  "channels it removed; see docs/strategy-contract.md)")
    problems = []
    if abs(reported - measured["channel_reduction"]) > tolerance:
        problems.append(
            f"prune() reports channel_reduction {reported:.4f} of {measured['channels']:,} prunable channels "
            f"({round(reported * measured['channels']):,} channels), but the model's convs lost "
            f"{measured['channels_removed']:,} output channels: {measured['channel_reduction']:.4f} of them")
    removed = _number(report, "removed_channels")
    if removed is not None and abs(removed - measured["channels_removed"]) > tolerance * measured["channels"]:
        problems.append(f"prune() reports removed_channels {int(removed):,}, but the model's convs lost "
                        f"{measured['channels_removed']:,} output channels")
    problems += _size_problems(measured, report, tolerance)
    require(not problems, "; ".join(problems))


def _size_problems(measured: dict[str, Any], report: dict[str, Any], tolerance: float) -> list[str]:
    """Any parameter and MAC figures a report gives (whatever the kind of strategy) against the measured ones."""
    from prunebench.testing.baseline import TINY_IMGSZ

    counted = "counted as the leaderboard counts them (prunebench.measure.costs.parameter_counts)"
    problems = []
    for key in ("params_before", "params_after"):
        value = _number(report, key)
        if value is not None and abs(value - measured[key]) > tolerance * measured["params_before"]:
            problems.append(f"prune() reports {key} {int(value):,}, but the model has {measured[key]:,} parameters "
                            f"{'before' if key == 'params_before' else 'after'} prune(), {counted}")
    for key, what in (("param_reduction", "parameters"), ("macs_reduction", "multiply-accumulates")):
        value = _number(report, key)
        if value is not None and abs(value - measured[key]) > tolerance:
            problems.append(f"prune() reports {key} {value:.4f}, but the model lost {measured[key]:.4f} of its {what}"
                            + (f", {counted}" if key == "param_reduction" else
                               " (Torch-Pruning's counter, as prune_structured counts them)"))
    # Absolute MACs and GFLOPs only when counted at the kit's image size (the ratio above holds at any size).
    if _number(report, "macs_imgsz") in (None, TINY_IMGSZ):
        for key, scale in (("macs_before", 1), ("macs_after", 1), ("gflops_before", 2e-9), ("gflops_after", 2e-9)):
            value, truth = _number(report, key), measured["macs_" + key.split("_")[1]] * scale
            if value is not None and abs(value - truth) > tolerance * max(measured["macs_before"] * scale, 1e-12):
                problems.append(f"prune() reports {key} {value:,.6g}, but the model measures {truth:,.6g} at "
                                f"{TINY_IMGSZ} px {'after' if key.endswith('after') else 'before'} prune()")
    return problems
