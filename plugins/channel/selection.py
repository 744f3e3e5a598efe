"""The one channel-selection routine behind every built-in channel strategy (l1-channel,
network-slimming, channel): score each dependency-graph group with a Torch-Pruning importance,
choose how many channels each group keeps (per layer or globally), round that count, remove the
lowest-scoring channels.

Why not Torch-Pruning's pruners: their `round_to` rounds the kept channels DOWN
(`kept - kept % round_to`), so every layer overshoots the amount asked (l1-channel at 0.3 with
round_to=8 removed 0.348 of the channels of a YOLOv8n), and slimming needed its own global
selection with a per-layer floor anyway. Here every strategy shares one rule:

- per layer: a group of n channels keeps n * (1 - amount), rounded half up;
- global: channels are taken in increasing score across all groups until `amount` of all the
  groups' channels is reached, a group's channel counting once per conv whose output it leaves
  (so the amount means what `channel_reduction` measures), never below a group's floor;
- the floor: max(1, ceil(min_keep_ratio * n));
- round_to r: the kept count becomes the NEAREST of r, 2r, ... (those <= n) or n itself (the
  layer untouched), never below the floor; a layer of r channels or fewer stays whole.

The chosen channels are always the group's lowest-scoring ones. Torch-Pruning's dependency graph
does the cutting (`group.prune()`), so coupled layers shrink together.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class ScoredGroup:
    root: nn.Module
    handler: Any
    scores: torch.Tensor  # one score per channel of the root conv's output, float64 on the CPU
    convs: int  # convs whose output channels this group removes: its weight in global counting
    bns: int  # BatchNorms it removes channels from

    @property
    def n(self) -> int:
        return len(self.scores)


def grouped_conv(group) -> bool:
    """A conv with 1 < groups != out_channels in the group: its channels must go in equal blocks per
    conv group, which this routine does not do (Torch-Pruning's pruners repeat indices per block);
    such groups are left whole. Depthwise convs (groups == out_channels) are fine."""
    return any(isinstance(dep.target.module, nn.Conv2d) and 1 < dep.target.module.groups != dep.target.module.out_channels
               for dep, _ in group)


def missing_gradient(group) -> bool:
    return any(isinstance(dep.target.module, (nn.Conv2d, nn.BatchNorm2d)) and dep.target.module.weight is not None
               and dep.target.module.weight.grad is None for dep, _ in group)


def score_groups(graph, ignored: list[nn.Module], importance, needs_grad: bool = False):
    """Every group rooted at a Conv2d outside `ignored`, with its scores; and how many were left whole, by reason."""
    ignored_modules = [sub for m in ignored for sub in m.modules()]
    scored: list[ScoredGroup] = []
    left_whole = {"no_score": 0, "grouped_conv": 0, "no_gradient": 0, "non_finite_scores": 0}
    for group in graph.get_all_groups(ignored_layers=ignored_modules, root_module_types=[nn.Conv2d]):
        if grouped_conv(group):
            left_whole["grouped_conv"] += 1
            continue
        if needs_grad and missing_gradient(group):
            left_whole["no_gradient"] += 1
            continue
        scores = importance(group)
        if scores is None:  # e.g. bn-scale on a group without BatchNorm: nothing to rank by
            left_whole["no_score"] += 1
            continue
        scores = scores.detach().double().cpu()
        if not bool(torch.isfinite(scores).all()):  # e.g. a mean normaliser over all-zero scores
            left_whole["non_finite_scores"] += 1
            continue
        outs = [dep.target.module for dep, _ in group if graph.is_out_channel_pruning_fn(dep.handler)]
        root = group[0].dep
        scored.append(ScoredGroup(
            root=root.target.module, handler=root.handler, scores=scores,
            convs=len({id(m) for m in outs if isinstance(m, nn.Conv2d)}),
            bns=len({id(m) for m in outs if isinstance(m, nn.BatchNorm2d)})))
    return scored, {k: v for k, v in left_whole.items() if v}


def floor_of(n: int, min_keep_ratio: float) -> int:
    return max(1, math.ceil(round(min_keep_ratio * n, 9)))


def rounded_keep(target: float, n: int, round_to: int | None, floor: int) -> int:
    """The kept count nearest to `target` that the rules allow (see the module docstring); ties keep more."""
    target = round(target, 9)  # 16 * 0.7 is 11.200000000000001: no float noise in a tie
    if not round_to or round_to <= 1:
        return min(n, max(floor, math.floor(target + 0.5)))
    if n <= round_to:
        return n
    allowed = [m * round_to for m in range(1, n // round_to + 1)] + ([n] if n % round_to else [])
    allowed = [c for c in allowed if c >= floor] or [n]
    return min(allowed, key=lambda c: (abs(c - target), -c))


def kept_counts(groups: list[ScoredGroup], amount: float, *, round_to: int | None, global_pruning: bool,
                min_keep_ratio: float) -> tuple[list[int], float | None]:
    """Channels each group keeps, and (global only) the largest score the ranking took."""
    floors = [floor_of(g.n, min_keep_ratio) for g in groups]
    if not global_pruning:
        return [rounded_keep(g.n * (1 - amount), g.n, round_to, f) for g, f in zip(groups, floors)], None
    total = sum(g.n * g.convs for g in groups)
    target = math.floor(amount * total + 0.5)
    order = sorted((float(s), gi, ci) for gi, g in enumerate(groups) for ci, s in enumerate(g.scores.tolist()))
    removed_per_group = [0] * len(groups)
    removed, threshold = 0, None
    for score, gi, _ in order:
        if removed >= target:
            break
        if groups[gi].n - removed_per_group[gi] > floors[gi]:
            removed_per_group[gi] += 1
            removed += groups[gi].convs
            threshold = score
    kept = [g.n - r for g, r in zip(groups, removed_per_group)]
    if round_to:
        kept = [rounded_keep(k, g.n, round_to, f) for k, g, f in zip(kept, groups, floors)]
    return kept, threshold


def lowest(scores: torch.Tensor, count: int) -> list[int]:
    """Indices of the `count` lowest scores (ties broken by index, so a choice is reproducible)."""
    return sorted(torch.argsort(scores, stable=True)[:count].tolist())


def remove_lowest(graph, root: nn.Module, handler, scores: torch.Tensor, keep: int) -> list[int] | None:
    """Remove all but `keep` of a group's channels, the lowest-scoring, through the dependency graph: the indices
    removed ([] when there is nothing to remove), or None when the graph refuses (it would empty a coupled layer)."""
    idxs = lowest(scores, len(scores) - keep)
    if not idxs:
        return idxs
    group = graph.get_pruning_group(root, handler, idxs)
    if not graph.check_pruning_group(group):
        return None
    group.prune()
    return idxs


def select_and_prune(graph, groups: list[ScoredGroup], amount: float, *, round_to: int | None,
                     global_pruning: bool, min_keep_ratio: float) -> dict[str, Any]:
    """Choose with `kept_counts`, remove each group's lowest-scoring channels; return what was done."""
    kept, threshold = kept_counts(groups, amount, round_to=round_to, global_pruning=global_pruning,
                                  min_keep_ratio=min_keep_ratio)
    removed = refused = pruned = 0
    largest_removed = None
    for g, keep in zip(groups, kept):
        idxs = remove_lowest(graph, g.root, g.handler, g.scores, keep)
        if not idxs:
            refused += idxs is None
            continue
        pruned += 1
        removed += len(idxs) * g.convs
        top = float(g.scores[idxs].max())
        largest_removed = top if largest_removed is None else max(largest_removed, top)
    removable = sum(g.n * g.convs for g in groups)
    report = {
        "selection": "global" if global_pruning else "per-layer",
        "round_to": round_to,
        "min_keep_ratio": min_keep_ratio,
        "groups_scored": len(groups),
        "groups_pruned": pruned,
        # Counted over the convs of the scored groups (a channel once per conv whose output it leaves):
        # what `amount` is a fraction of. channel_reduction also counts convs no group can cut (e.g. on
        # YOLO11 the neck convs tied to the whole Detect head), so it can be lower.
        "removable_channels": removable,
        "removed_channels": removed,
        "removable_reduction": round(removed / removable, 4) if removable else 0.0,
        "removable_bn_channels": sum(g.n * g.bns for g in groups),
        "largest_score_removed": None if largest_removed is None else round(largest_removed, 6),
    }
    if refused:
        report["groups_refused"] = refused
    if threshold is not None:
        report["global_threshold"] = round(threshold, 6)
    return report


def importance_cut(amount: float, importance, *, round_to: int | None, global_pruning: bool,
                   min_keep_ratio: float, needs_grad: bool = False,
                   before_scoring: Callable[[nn.Module], dict[str, Any] | None] | None = None,
                   seed: int | None = None, describe: dict[str, Any] | None = None):
    """A `cut` for prunebench.structured.prune_structured.

    before_scoring(model): runs on the prepared (C2f-split) model before scoring, e.g. to fill
    gradients; what it returns goes into the report under "calibration". seed: scoring runs under
    torch.manual_seed(seed) in a forked RNG (RandomImportance draws from torch's global generator;
    the caller's random state is left as it was). The gradients are cleared afterwards.
    """

    def cut(model: nn.Module, ignored: list[nn.Module], example: torch.Tensor) -> dict[str, Any]:
        import torch_pruning as tp

        graph = tp.DependencyGraph().build_dependency(model, example_inputs=example)
        extra: dict[str, Any] = dict(describe or {})
        try:
            if before_scoring is not None:
                extra["calibration"] = before_scoring(model)
            with torch.random.fork_rng(devices=[]):
                if seed is not None:
                    torch.manual_seed(seed)
                groups, left_whole = score_groups(graph, ignored, importance, needs_grad)
        finally:
            model.zero_grad(set_to_none=True)  # scores are taken; gradients must not ride into the checkpoint
        extra.update(select_and_prune(graph, groups, amount, round_to=round_to, global_pruning=global_pruning,
                                      min_keep_ratio=min_keep_ratio))
        if left_whole:
            extra["groups_left_whole"] = left_whole
        return extra

    return cut
