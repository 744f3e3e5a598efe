"""Network slimming (Liu et al., ICCV 2017): L1 on BatchNorm scales while training, then remove the
channels whose |gamma| is smallest across the whole network.

The penalty's subgradient is added after each backward pass, as `updateBN` does in
Lam1360/YOLOv3-model-pruning. The channel selection is ours (global, counted in BatchNorm
channels, with a floor per layer); Torch-Pruning's dependency graph does the cutting, so coupled
channels (residual adds, concats, the split C2f halves) go together.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from prunebench import prunable


@torch.no_grad()
def add_l1_subgradient(model: nn.Module, s: float, prune_head: bool) -> None:
    """grad(gamma) += s * sign(gamma) for every prunable BatchNorm that has a gradient."""
    for _, bn in prunable.prunable_batchnorms(model, prune_head):
        if bn.weight is not None and bn.weight.grad is not None:
            bn.weight.grad.add_(s * torch.sign(bn.weight))


@torch.no_grad()
def gamma_histogram(model: nn.Module, prune_head: bool, bins: int = 20) -> dict[str, Any]:
    """A compact histogram of |gamma| over the prunable BatchNorms: `bins` equal bins from 0 to the max."""
    gammas = torch.cat([bn.weight.detach().abs().flatten().float().cpu()
                        for _, bn in prunable.prunable_batchnorms(model, prune_head) if bn.weight is not None])
    top = float(gammas.max()) if gammas.numel() else 1.0
    top = top if top > 0 else 1.0
    counts = torch.histc(gammas, bins=bins, min=0.0, max=top)
    quantiles = torch.quantile(gammas, torch.tensor([0.1, 0.5, 0.9])).tolist() if gammas.numel() else [0.0] * 3
    return {
        "channels": int(gammas.numel()),
        "edges": [round(top * i / bins, 6) for i in range(bins + 1)],
        "counts": [int(c) for c in counts.tolist()],
        "p10": round(quantiles[0], 6), "median": round(quantiles[1], 6), "p90": round(quantiles[2], 6),
        "below_0.01": int((gammas < 0.01).sum()),
    }


def slimming_cut(amount: float, round_to: int | None, min_keep_ratio: float):
    """A `cut` (see prunebench.structured.prune_structured) removing the channels of smallest |gamma| globally."""

    def cut(model: nn.Module, ignored: list[nn.Module], example: torch.Tensor) -> dict[str, Any]:
        import torch_pruning as tp

        graph = tp.DependencyGraph().build_dependency(model, example_inputs=example)
        ignored_modules = [sub for m in ignored for sub in m.modules()]
        scorer = tp.importance.BNScaleImportance(normalizer=None)  # mean |gamma| over coupled BNs
        groups = []
        for group in graph.get_all_groups(ignored_layers=ignored_modules, root_module_types=[nn.Conv2d]):
            scores = scorer(group)
            if scores is None:  # no BatchNorm in this group: nothing to slim by
                continue
            bns = {id(dep.target.module) for dep, _ in group
                   if isinstance(dep.target.module, nn.BatchNorm2d) and graph.is_out_channel_pruning_fn(dep.handler)}
            root = group[0].dep
            groups.append({"root": root.target.module, "fn": root.handler, "scores": scores.cpu(), "bns": len(bns)})

        selected, threshold = _select(groups, amount, round_to, min_keep_ratio)
        for g, idxs in zip(groups, selected):
            if idxs:
                group = graph.get_pruning_group(g["root"], g["fn"], idxs)
                if graph.check_pruning_group(group):
                    group.prune()
        # Counted over the BatchNorms the graph can cut: on YOLO11 the neck convs feeding the head's
        # depthwise convs are tied to the (ignored) head and so are not among them.
        removable = sum(len(g["scores"]) * g["bns"] for g in groups)
        return {"bn_threshold": round(threshold, 6), "min_keep_ratio": min_keep_ratio, "bn_channels_removable": removable}

    return cut


def _select(groups: list[dict], amount: float, round_to: int | None, min_keep_ratio: float):
    """Per group, the channel indices to remove, and the largest |gamma| removed.

    Channels are taken in increasing mean |gamma| across all groups until `amount` of all the
    groups' BatchNorm channels is reached (a group's channel counts once per BatchNorm it spans),
    never leaving a group fewer than max(1, ceil(min_keep_ratio * n)) channels; then each group's
    kept count is rounded to the nearest multiple of `round_to` (at least `round_to`).
    """
    caps = [len(g["scores"]) - max(1, math.ceil(min_keep_ratio * len(g["scores"]))) for g in groups]
    total = sum(len(g["scores"]) * g["bns"] for g in groups)
    target = round(amount * total)
    order = sorted(((float(s), gi, ci) for gi, g in enumerate(groups) for ci, s in enumerate(g["scores"].tolist())))
    chosen: list[list[int]] = [[] for _ in groups]
    removed, threshold = 0, 0.0
    for score, gi, ci in order:
        if removed >= target:
            break
        if len(chosen[gi]) < caps[gi]:
            chosen[gi].append(ci)
            removed += groups[gi]["bns"]
            threshold = score
    if round_to:
        for gi, g in enumerate(groups):
            n = len(g["scores"])
            if chosen[gi] and n > round_to:
                keep = min(n, max(round_to, round((n - len(chosen[gi])) / round_to) * round_to))
                ranked = torch.argsort(g["scores"]).tolist()
                chosen[gi] = ranked[: n - keep]
            elif chosen[gi]:
                chosen[gi] = []  # a layer already at or below round_to channels stays whole
    return [sorted(c) for c in chosen], threshold
