"""Channel pruning of an Ultralytics detection model through Torch-Pruning's dependency graph,
with the report every channel strategy records: public API for strategy plugins.

`prune_structured` does the Ultralytics-specific work (splitting C2f blocks so the graph can
trace them, keeping the Detect head whole, measuring before and after); a strategy supplies only
`cut`, the step that chooses and removes channels (the built-in `l1-channel` and
`network-slimming` and the example FPGM plugin are each a few lines of `cut`). Torch-Pruning
removes coupled channels together (a conv's filters, its BatchNorm, the next convs' input
channels, both sides of a residual add or a concat), in place: the same model object ends up smaller.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import torch
from torch import nn

from prunebench.yolo import prunable, rewrites
from prunebench.yolo.prunability import check_channel_prunable  # noqa: F401  (the runner's check before any cell)


def out_channels(model: nn.Module) -> dict[str, int]:
    """Output channels of every Conv2d, by module name."""
    return {name: m.out_channels for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def prune_structured(model: nn.Module, amount: float, imgsz: int, prune_head: bool,
                     cut: Callable[[nn.Module, list[nn.Module], torch.Tensor], dict[str, Any]]) -> dict[str, Any]:
    """Rewrite the blocks that split channels (prunebench.yolo.rewrites), call
    `cut(model, ignored_layers, example_input)` under `traceable`, and return the report: sizes and MACs before/after,
    channels per changed conv, plus what `cut` returned. The figures measured here win: a key of `cut`'s report that
    names one of them is kept only under `cut_report` (so a cut that claims more than it did cannot say so)."""
    started = time.perf_counter()
    split = rewrites.split_blocks(model)  # every block that splits channels, rewritten exactly
    ignored = prunable.structured_ignored_layers(model, prune_head)
    left_whole = prunable.left_whole_report(model, prune_head)
    prunable_names = {name for name, _ in prunable.modules_outside(model, ignored, nn.Conv2d)}
    before = out_channels(model)
    macs_before, params_before = prunable.count_macs_and_params(model, imgsz)
    with prunable.traceable(model):
        extra = cut(model, ignored, prunable.example_input(model, imgsz))
    seconds = time.perf_counter() - started
    after = out_channels(model)
    macs_after, params_after = prunable.count_macs_and_params(model, imgsz)
    kept = sum(after[n] for n in prunable_names)
    total = sum(before[n] for n in prunable_names)
    measured = {
        "requested": amount,
        "params_before": params_before,
        "params_after": params_after,
        "param_reduction": round(1 - params_after / params_before, 4),
        # Torch-Pruning counts multiply-accumulates; GFLOPs = 2 x MACs (Ultralytics' convention).
        "macs_before": macs_before,
        "macs_after": macs_after,
        "gflops_before": round(2 * macs_before / 1e9, 4),
        "gflops_after": round(2 * macs_after / 1e9, 4),
        "macs_imgsz": imgsz,
        "macs_reduction": round(1 - macs_after / macs_before, 4),
        "channel_reduction": round(1 - kept / total, 4) if total else 0.0,
        "prunable_channels_before": total,
        "prunable_channels_after": kept,
        "blocks_split": split,
        "blocks_left_whole": left_whole,
        "prune_seconds": round(seconds, 3),
        "channels": {name: [before[name], after[name]] for name in before if after.get(name) != before[name]},
    }
    extra = dict(extra or {})
    overridden = {key: extra.pop(key) for key in list(extra) if key in measured and extra[key] != measured[key]}
    for key in [key for key in extra if key in measured]:
        del extra[key]
    return {**extra, **measured, **({"cut_report": overridden} if overridden else {})}
