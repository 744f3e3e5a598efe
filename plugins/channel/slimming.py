"""Network slimming (Liu et al., ICCV 2017): L1 on BatchNorm scales while training, then remove the
channels whose |gamma| is smallest across the whole network.

The penalty's subgradient is added after each backward pass, as `updateBN` does in
Lam1360/YOLOv3-model-pruning. The channels are chosen by the selection every channel strategy
shares (selection.py: global, with a floor per layer, round_to to the nearest multiple) from
Torch-Pruning's BNScaleImportance; its dependency graph does the cutting, so coupled channels
(residual adds, concats, the split C2f halves) go together.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from prunebench import pruning as prunable


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


def slimming_prune(model: nn.Module, amount: float, ctx, *, round_to: int | None, min_keep_ratio: float,
                   prune_head: bool) -> dict[str, Any]:
    """Remove `amount` of the prunable BatchNorm channels, smallest |gamma| first across the network.

    The shared selection (selection.py) with Torch-Pruning's BNScaleImportance (mean |gamma| over a
    group's coupled BatchNorms, no normaliser) ranked globally, each layer keeping at least
    max(1, ceil(min_keep_ratio * n)) channels, kept counts rounded to the nearest multiple of `round_to`.
    """
    from prunebench_builtins.channel.criteria import prune_by_criterion

    report = prune_by_criterion(model, amount, ctx, strategy="network-slimming", importance="bn-scale",
                                round_to=round_to, global_pruning=True, min_keep_ratio=min_keep_ratio,
                                prune_head=prune_head)
    # The largest |gamma| removed, and the channels counted: BatchNorms the graph can cut (on YOLO11 the
    # neck convs feeding the head's depthwise convs are tied to the ignored head and so are not among them).
    report["bn_threshold"] = report["largest_score_removed"] or 0.0
    report["bn_channels_removable"] = report["removable_bn_channels"]
    return report
