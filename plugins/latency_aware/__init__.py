"""`latency-aware`: channel pruning with NON-uniform per-group ratios, allocated from what each group's channels save
(counted MACs or a measured per-group latency table) and what they cost in accuracy (Taylor scores on a few
training batches, an L1 proxy, or the measured val-split sensitivity map), in the manner of HALP (arXiv 2110.10811)
and NetAdapt. docs/latency-aware.md.

Built only on prunebench's public API (`prunebench.pruning`), as a third party's plugin would be. No torch here:
the work is imported when a strategy prunes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from prunebench import CellContext, Params, Strategy, hookimpl


class LatencyAwareParams(Params):
    saving: Literal["auto", "macs", "torch", "onnxruntime"] = Field(
        "auto", description=(
            "auto | macs | torch | onnxruntime: what removing a group's channels saves. macs: counted from the "
            "convs' shapes (free, exact for one group alone). torch / onnxruntime: the per-group latency table "
            "measured on that runtime (prunebench's group_latency_table, cached by content; its first build takes "
            "minutes, and on a busy machine its entries are noise). auto: the table of the cell's measured-latency "
            "target runtime (`2x@torch`, `2x@onnx`), else macs."))
    cost: Literal["taylor", "l1", "sensitivity"] = Field(
        "taylor", description=(
            "taylor | l1 | sensitivity: what removing a group's channels costs in accuracy. taylor (HALP's "
            "importance): the summed |w * dL/dw| of the removed channels, the detection loss's gradients on "
            "`calibration_batches` training batches drawn by the cell's seed; comparable across groups. l1: no data "
            "needed, -log of the share of the group's L1 mass kept (a barrier against emptying a group; it cannot "
            "tell one group from another, so it allocates mostly by saving). sensitivity: the measured val "
            "mAP50-95 drop of each group alone, from `sensitivity_map` (the best judge, minutes to hours to measure)."))
    sensitivity_map: str | None = Field(
        None, description=(
            "With cost: sensitivity, the path of a map JSON that `prunebench sensitivity` wrote for the SAME model "
            "and dataset (<results>/sensitivity/<model>.<dataset>.json), every group measured (no --groups). Its "
            "content is not part of the cell key: a new map needs a new path (or run --force)."))
    calibration_batches: int = Field(
        4, ge=1, le=1000, description="cost taylor only: training batches (the cell's batch size and imgsz) whose "
                                      "loss gradients score the channels.")
    round_to: int | None = Field(
        None, ge=1, description=("Each pruned group keeps a multiple of this many channels (its width steps are "
                                 "round_to channels); a group of round_to channels or fewer stays whole. None: "
                                 "one channel at a time."))
    min_keep_ratio: float = Field(
        0.1, ge=0, lt=1, description="Every group keeps at least this fraction of its channels (and at least one).")
    table_pairs: int = Field(3, ge=1, le=50, description="Timed pairs per latency-table entry (torch / onnxruntime).")

    @model_validator(mode="after")
    def _map_with_its_cost(self):
        if (self.cost == "sensitivity") != (self.sensitivity_map is not None):
            raise ValueError("cost: sensitivity reads its drops from `sensitivity_map` (a JSON written by `prunebench "
                             "sensitivity`), and sensitivity_map is used only with cost: sensitivity; give both, or "
                             "neither (cost: taylor or l1)")
        return self


class LatencyAware(Strategy):
    name = "latency-aware"
    description = (
        "Non-uniform channel pruning (HALP / NetAdapt style): a greedy allocation takes, one width step at a time, "
        "the group whose next channels save the most per unit of accuracy cost, until `amount` of all prunable "
        "channels is removed; a GFLOPs target (`2x`) or a measured one (`2x@torch`) is then met by the runner's "
        "search on the amount. Saving: counted MACs or a measured per-group latency table (auto: the target's "
        "runtime). Cost: Taylor scores on a few training batches (HALP's), an L1 proxy, or a `prunebench "
        "sensitivity` map. Within a group the lowest-scoring channels go, "
        "through Torch-Pruning's dependency graph; the Detect head stays whole.")
    Params = LatencyAwareParams
    structured = True

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        from prunebench.pruning import check_amount, prune_structured
        from prunebench_builtins.latency_aware.cut import allocation_cut
        from prunebench_builtins.latency_aware.sources import latency_savings, read_map, training_data

        check_amount(amount, self.name)
        p = self.params
        sensitivity, path, calibration = None, "", None
        if p.cost == "sensitivity":
            resolved = self.resolve_path(p.sensitivity_map)
            sensitivity, path = read_map(resolved), str(resolved)
        if p.cost == "taylor":
            calibration = training_data(model, ctx, p.calibration_batches)
        savings = latency_savings(model, p.saving, ctx, p.table_pairs)
        cut = allocation_cut(amount, savings=savings, cost_source=p.cost, sensitivity=sensitivity,
                             sensitivity_path=path, calibration=calibration, round_to=p.round_to,
                             min_keep_ratio=p.min_keep_ratio)
        return prune_structured(model, amount, ctx.imgsz, False, cut)

@hookimpl
def register_strategies(register):
    register(LatencyAware)
