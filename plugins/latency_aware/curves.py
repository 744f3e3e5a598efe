"""What each channel group of a model saves and costs as it loses channels: the inputs of `allocation.allocate`.

Groups are Torch-Pruning's dependency-graph groups rooted at a Conv2d outside the ignored layers (grouped convs left
whole), named by the root conv's module path: the names `prunebench sensitivity` and the latency table use, since
`prune_structured` rewrites the model's blocks exactly as they do. Within a group the channels go lowest score first.

Savings: `macs_savings` (counted from the convs' shapes, one forward pass: exact for a group pruned alone, an
over-estimate where two pruned groups meet in one conv) or `table_savings` (a measured per-group latency table).
Costs: `summed_costs` of Taylor scores (HALP's importance, |w * dL/dw| over the coupled group, NOT normalised per
group, so groups compare), `mass_costs` of L1 scores (no data needed: -log of the share of the group's L1 mass
kept, a barrier against emptying a group, since per-group L1 says nothing about one group against another) or
`sensitivity_costs` (the measured val mAP50-95 drop).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from prunebench_builtins.channel.selection import grouped_conv, missing_gradient
from prunebench_builtins.latency_aware.allocation import GroupCurve, interpolated


@dataclass(frozen=True)
class ScoredGroup:
    name: str
    root: nn.Module
    handler: Any
    scores: torch.Tensor  # one L1 score per channel of the root conv's output (float64, CPU)
    convs: int  # convs whose output channels the group removes
    macs_per_channel: float  # MACs one removed channel saves, the group pruned alone

    @property
    def channels(self) -> int:
        return len(self.scores)


def _output_areas(model: nn.Module, example: torch.Tensor) -> dict[int, int]:
    """id(conv) -> height x width of its output for `example`, from one forward pass."""
    areas: dict[int, int] = {}
    hooks = [m.register_forward_hook(lambda m, _i, out: areas.__setitem__(id(m), out.shape[-2] * out.shape[-1]))
             for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for hook in hooks:
            hook.remove()
    return areas


def _macs_per_channel(graph, group, areas: dict[int, int]) -> float:
    """MACs saved per channel removed from `group`: each conv losing an output channel loses in/groups x kh x kw
    products per output pixel, each conv losing an input channel out/groups x kh x kw."""
    seen, total = set(), 0.0
    for dep, _ in group:
        conv = dep.target.module
        if not isinstance(conv, nn.Conv2d) or id(conv) not in areas:
            continue
        if graph.is_out_channel_pruning_fn(dep.handler):
            side, per = "out", conv.in_channels // conv.groups
        elif graph.is_in_channel_pruning_fn(dep.handler):
            side, per = "in", conv.out_channels // conv.groups
        else:
            continue
        if (id(conv), side) in seen:
            continue
        seen.add((id(conv), side))
        total += per * conv.kernel_size[0] * conv.kernel_size[1] * areas[id(conv)]
    return total


def importance_of(cost: str):
    """The Torch-Pruning importance that scores channels for a cost source: Taylor, unnormalised, for "taylor";
    MagnitudeImportance(p=1) over the coupled group (as `l1-channel` and the sensitivity map) otherwise."""
    import torch_pruning as tp

    if cost == "taylor":
        return tp.importance.TaylorImportance(group_reduction="mean", normalizer=None)
    return tp.importance.MagnitudeImportance(p=1)


def _reads_gradients(importance) -> bool:
    import torch_pruning as tp

    return isinstance(importance, tp.importance.TaylorImportance)


def scored_groups(model: nn.Module, graph, ignored: list[nn.Module], example: torch.Tensor,
                  importance) -> list[ScoredGroup]:
    """Every prunable group of `model` (the graph built from it), in the graph's order, scored by `importance`."""
    ignored_modules = [sub for m in ignored for sub in m.modules()]
    names = {id(m): n for n, m in model.named_modules()}
    areas = _output_areas(model, example)
    found = []
    for group in graph.get_all_groups(ignored_layers=ignored_modules, root_module_types=[nn.Conv2d]):
        if grouped_conv(group):
            continue  # grouped convs must lose channels in blocks per conv group: left whole, as the built-ins do
        if _reads_gradients(importance) and missing_gradient(group):
            continue  # a layer the loss never reached: Taylor has nothing to score it by
        with torch.no_grad():
            scores = importance(group)
        if scores is None or not bool(torch.isfinite(scores).all()):
            continue
        root = group[0].dep
        outs = {id(dep.target.module) for dep, _ in group
                if isinstance(dep.target.module, nn.Conv2d) and graph.is_out_channel_pruning_fn(dep.handler)}
        found.append(ScoredGroup(names[id(root.target.module)], root.target.module, root.handler,
                                 scores.detach().double().cpu(), len(outs), _macs_per_channel(graph, group, areas)))
    return found


def summed_costs(group: ScoredGroup) -> tuple[float, ...]:
    """cost[k]: the sum of the k lowest scores (Taylor: the first-order loss change of removing them)."""
    costs, total = [0.0], 0.0
    for score in torch.sort(group.scores).values.tolist():
        total += max(score, 0.0)
        costs.append(total)
    return tuple(costs)


def mass_costs(group: ScoredGroup) -> tuple[float, ...]:
    """cost[k] = -log(share of the group's score mass the k lowest leave): small while the weak channels go, rising
    without bound as a group is emptied (measured on the kit's trained YOLOv8n: summed group-normalised L1 took
    mAP50 to 0 at 5 % of the channels by emptying the compute-heavy groups first)."""
    summed = summed_costs(group)
    total = summed[-1] * (1 + 1e-9) or 1.0
    return tuple(-math.log(max(1 - m / total, 1e-12)) for m in summed)


def macs_savings(group: ScoredGroup) -> tuple[float, ...]:
    return tuple(k * group.macs_per_channel for k in range(group.channels + 1))


def removed_at(channels: int, ratio: float) -> int:
    """Channels a one-group prune at `ratio` removes in the sensitivity map and the latency table: a group of n keeps
    n * (1 - ratio) rounded half up, at least one."""
    return channels - max(1, math.floor(channels * (1 - ratio) + 0.5))


def measured_points(channels: int, ratios, values) -> list[tuple[float, float]]:
    """(channels removed, value) at each ratio a table measured (None entries left out)."""
    return [(removed_at(channels, r), v) for r, v in zip(ratios, values) if v is not None]


def table_savings(group: ScoredGroup, ratios, saved_ms) -> tuple[float, ...]:
    return interpolated(measured_points(group.channels, ratios, saved_ms), group.channels)


def sensitivity_costs(group: ScoredGroup, ratios, drops) -> tuple[float, ...] | None:
    """cost[k] from the map's drops (points) at its ratios; None when no ratio could be measured for the group."""
    points = measured_points(group.channels, ratios, drops)
    return interpolated(points, group.channels) if points else None


def curve(group: ScoredGroup, saving: tuple[float, ...], cost: tuple[float, ...]) -> GroupCurve:
    return GroupCurve(group.name, group.convs, saving, cost)
