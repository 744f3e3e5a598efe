"""The `cut` handed to `prunebench.pruning.prune_structured`: score the groups, build each one's saving and cost
curves, allocate, remove each group's lowest-scoring channels through Torch-Pruning's dependency graph."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from prunebench_builtins.channel.selection import remove_lowest
from prunebench_builtins.latency_aware import curves as curves_of
from prunebench_builtins.latency_aware.allocation import GroupCurve, allocate
from prunebench_builtins.latency_aware.sources import Savings, sensitivity_rows, table_rows

SHOWN_GROUPS = 12  # the report lists the most deeply pruned groups, not all fifty


def group_curves(groups: list[curves_of.ScoredGroup], savings: Savings, cost_source: str, sensitivity=None,
                 sensitivity_path: str = "") -> tuple[list[curves_of.ScoredGroup], list[GroupCurve], list[str]]:
    """(the groups the allocation may prune, their curves, names of groups left whole for want of a measurement)."""
    names = [g.name for g in groups]
    channels = {g.name: g.channels for g in groups}
    saved = table_rows(savings.table, names, channels) if savings.kind == "table" else {}
    drops = sensitivity_rows(sensitivity, names, channels, sensitivity_path) if sensitivity is not None else {}
    kept, built, unmeasured = [], [], []
    for g in groups:
        saving = (curves_of.table_savings(g, savings.table.steps, saved[g.name]) if savings.kind == "table"
                  else curves_of.macs_savings(g))
        if sensitivity is not None:
            cost = curves_of.sensitivity_costs(g, sensitivity.ratios, drops[g.name])
        else:
            cost = curves_of.summed_costs(g) if cost_source == "taylor" else curves_of.mass_costs(g)
        if cost is None:  # the map could prune it at none of its ratios: nothing says what it costs
            unmeasured.append(g.name)
            continue
        kept.append(g)
        built.append(curves_of.curve(g, saving, cost))
    return kept, built, unmeasured


def allocation_cut(amount: float, *, savings: Savings, cost_source: str, sensitivity=None,
                   sensitivity_path: str = "", calibration: list | None = None, round_to: int | None,
                   min_keep_ratio: float) -> Callable[..., dict[str, Any]]:
    """`calibration`: training batches whose loss gradients the Taylor scores read (cost_source "taylor")."""

    def cut(model: nn.Module, ignored: list[nn.Module], example: torch.Tensor) -> dict[str, Any]:
        import torch_pruning as tp

        from prunebench.pruning import loss_gradients

        graph = tp.DependencyGraph().build_dependency(model, example_inputs=example)
        try:
            if cost_source == "taylor":  # on the rewritten model the graph was built from: its modules' .grad
                loss_gradients(model, calibration or [])
            scored = curves_of.scored_groups(model, graph, ignored, example, curves_of.importance_of(cost_source))
        finally:
            model.zero_grad(set_to_none=True)  # scores are taken; gradients must not ride into the checkpoint
        groups, built, unmeasured = group_curves(scored, savings, cost_source, sensitivity, sensitivity_path)
        chosen = allocate(built, amount, round_to=round_to, min_keep_ratio=min_keep_ratio)
        removed, refused = 0, 0
        for group, keep in zip(groups, chosen.kept):
            idxs = remove_lowest(graph, group.root, group.handler, group.scores, keep)
            refused += idxs is None
            removed += len(idxs or ()) * group.convs
        return _report(groups, built, chosen, savings, cost_source, removed, refused, unmeasured, sensitivity,
                       sensitivity_path)

    return cut


_COSTS = {"taylor": "taylor (HALP's importance: summed |w * dL/dw| of the removed channels, on training batches)",
          "l1": "l1 proxy (-log of the share of the group's L1 mass kept)"}


def _report(groups, built, chosen, savings: Savings, cost_source: str, removed: int, refused: int,
            unmeasured: list[str], sensitivity, sensitivity_path: str) -> dict[str, Any]:
    ratios = chosen.ratios(built)
    deepest = sorted(((r, g.name) for r, g in zip(ratios, groups) if r > 0), key=lambda t: (-t[0], t[1]))
    report: dict[str, Any] = {
        "selection": "latency-aware greedy: the group width step with the largest saving per accuracy cost first",
        "saving_source": savings.why,
        "cost_source": (f"sensitivity map {sensitivity_path} (key {sensitivity.key}, val mAP50-95 drop)"
                        if sensitivity is not None else _COSTS[cost_source]),
        "groups_scored": len(groups),
        "groups_pruned": sum(1 for r in ratios if r > 0),
        "removable_channels": chosen.removable_channels,
        "removed_channels": removed,
        "group_ratios": {name: ratio for ratio, name in deepest[:SHOWN_GROUPS]},
        "predicted_cost": round(chosen.predicted_cost, 6),
    }
    if savings.kind == "table":
        table = savings.table
        left = table.dense_ms - chosen.predicted_saving
        report.update(latency_table=table.key, table_dense_ms=table.dense_ms,
                      predicted_ms_saved=round(chosen.predicted_saving, 4),
                      predicted_speedup=round(table.dense_ms / left, 4) if left > 0 else None)
        if left <= 0:  # each entry's noise, clamped at 0, adds up over the groups
            report["prediction_note"] = (f"the table's savings add up to {chosen.predicted_saving:.1f} ms, more than "
                                         f"the dense {table.dense_ms:.1f} ms: its entries are noise; build it on a "
                                         "quiet machine with more pairs (table_pairs)")
    else:
        report["predicted_macs_saved"] = int(chosen.predicted_saving)
    if refused:
        report["groups_refused"] = refused
    if unmeasured:
        report["groups_unmeasured"] = unmeasured
    return report
