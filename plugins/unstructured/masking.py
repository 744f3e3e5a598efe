"""Unstructured pruning with torch.nn.utils.prune, made permanent (the zeros stay, the masks go).

Only the layers of `prunebench.yolo.prunable.prunable_convs` are touched: never the DFL conv.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn
from torch.nn.utils import prune

from prunebench import pruning as prunable


def per_layer(model: nn.Module, amount: float, method: Callable[..., nn.Module]) -> dict[str, Any]:
    """Zero `amount` of each prunable conv's weights with `method` (prune.l1_unstructured, ...)."""
    layers = prunable.prunable_convs(model)
    for _, conv in layers:
        method(conv, "weight", amount=amount)
        prune.remove(conv, "weight")
    return _report(model, amount, layers)


def l1_per_layer(model: nn.Module, amount: float, ctx=None) -> dict[str, Any]:
    """YOLOv5's `prune()`: in each prunable conv, zero the `amount` smallest-magnitude weights."""
    return per_layer(model, amount, prune.l1_unstructured)


def global_l1(model: nn.Module, amount: float, ctx=None) -> dict[str, Any]:
    """Zero the `amount` smallest-magnitude weights among all prunable convs together."""
    layers = prunable.prunable_convs(model)
    prune.global_unstructured([(conv, "weight") for _, conv in layers],
                              pruning_method=prune.L1Unstructured, amount=amount)
    for _, conv in layers:
        prune.remove(conv, "weight")
    return _report(model, amount, layers)


def seeded_random(model: nn.Module, amount: float, ctx) -> dict[str, Any]:
    """Per-layer random pruning drawn from the cell's seed (`ctx.seed`, or an int: prune.random_unstructured uses
    the global RNG, so it is forked: the caller's random state is left as it was)."""
    seed = ctx if isinstance(ctx, int) else ctx.seed
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        return per_layer(model, amount, prune.random_unstructured)


def _report(model: nn.Module, amount: float, layers) -> dict[str, Any]:
    stats = prunable.sparsity_stats(model, layers)
    return {"requested": amount,
            "achieved_sparsity": round(stats["achieved_sparsity"], 6),
            "model_sparsity": round(stats["model_sparsity"], 6),
            "prunable_weights": stats["prunable_weights"],
            "layers": stats["layers"]}
