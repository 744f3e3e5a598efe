"""What may be pruned in an Ultralytics detection model, and making it prunable.

Shared by the built-in strategies:
- `prunable_convs`: every Conv2d except the DFL conv, whose fixed weights 0..15 decode boxes
  (zeroing the smallest took a trained YOLOv8n from mAP50 0.876 to 0.008 when measured; tests/test_testing.py
  shows the conformance kit failing a strategy that does it).
- `sparsity_stats`: zeros over the prunable weights and over the whole model.
- `split_c2f_blocks`: rewrites each C2f / C3k2 so Torch-Pruning's dependency graph can follow it
  (C2f chunks its first conv's output in two, which the graph cannot trace).
- `detect_head`, `head_output_layers`, `untraceable_blocks`, `prunable_batchnorms`: what
  structured pruning must leave alone and which BatchNorms it scores.
- `traceable` and `count_macs_and_params`: run Torch-Pruning's tracing without side effects.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from prunebench.yolo.env import import_ultralytics

import_ultralytics()

from ultralytics.nn.modules.block import C2f, DFL  # noqa: E402  (Ultralytics must be configured first)
from ultralytics.nn.modules.head import Detect  # noqa: E402


# ----------------------------------------------------------------------------- unstructured


def prunable_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """(name, module) of every Conv2d whose weights may be pruned: all but the DFL's fixed conv."""
    fixed = {id(conv) for m in model.modules() if isinstance(m, DFL) for conv in m.modules()}
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d) and id(m) not in fixed]


@torch.no_grad()
def sparsity_stats(model: nn.Module, layers: list[tuple[str, nn.Conv2d]]) -> dict:
    """Zeros/total over the given layers' weights, over every parameter, and per layer (4 decimals)."""
    per_layer, zeros, total = {}, 0, 0
    for name, m in layers:
        z, n = int((m.weight == 0).sum()), m.weight.numel()
        per_layer[name] = round(z / n, 4)
        zeros, total = zeros + z, total + n
    model_zeros = sum(int((p == 0).sum()) for p in model.parameters())
    model_total = sum(p.numel() for p in model.parameters())
    return {"achieved_sparsity": zeros / max(total, 1), "model_sparsity": model_zeros / max(model_total, 1),
            "prunable_weights": total, "layers": per_layer}


# ----------------------------------------------------------------------------- the C2f rewrite


class C2fSplit(C2f):
    """A C2f (or C3k2) whose first conv is two convs, one per half of its output.

    Computes exactly what the original computes (weights and BatchNorm statistics are copied,
    eps, momentum, activation and train/eval mode kept), but without `chunk`, so Torch-Pruning
    can prune each half on its own. Still a C2f for `isinstance` checks in Ultralytics.
    """

    def __init__(self, block: C2f):
        nn.Module.__init__(self)  # not C2f.__init__: every submodule comes from `block`
        self.c = block.c
        self.cv0 = _conv_slice(block.cv1, 0, block.c)
        self.cv1 = _conv_slice(block.cv1, block.c, 2 * block.c)
        self.cv2 = block.cv2
        self.m = block.m
        for attr in ("f", "i", "type", "np"):  # Ultralytics' routing and bookkeeping attributes
            if hasattr(block, attr):
                setattr(self, attr, getattr(block, attr))
        self.train(block.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv0(x), self.cv1(x)]
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))

    forward_split = forward  # Ultralytics' exporter swaps in forward_split on C2f modules


def _conv_slice(conv: nn.Module, start: int, stop: int) -> nn.Module:
    """A copy of an Ultralytics Conv (conv + optional BN + act) keeping output channels [start, stop)."""
    part = copy.deepcopy(conv)  # keeps BN eps (1e-3 in Ultralytics), momentum, act and mode
    _slice_parameters(part.conv, ("weight", "bias"), start, stop)
    part.conv.out_channels = stop - start
    if hasattr(part, "bn"):
        _slice_parameters(part.bn, ("weight", "bias"), start, stop)
        for buffer in ("running_mean", "running_var"):
            setattr(part.bn, buffer, getattr(part.bn, buffer)[start:stop].clone())
        part.bn.num_features = stop - start
    return part


def _slice_parameters(module: nn.Module, names: tuple[str, ...], start: int, stop: int) -> None:
    for name in names:
        p = getattr(module, name, None)
        if p is not None:
            setattr(module, name, nn.Parameter(p.data[start:stop].clone(), requires_grad=p.requires_grad))


def split_c2f_blocks(model: nn.Module) -> int:
    """Replace, in place, every C2f-family block that uses C2f's own forward by a C2fSplit.

    Returns how many were replaced. Blocks with their own forward (C2fAttn, ...) are left as they are.
    """
    count = 0
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, C2f) and not isinstance(child, C2fSplit) and type(child).forward is C2f.forward:
                setattr(parent, child_name, C2fSplit(child))
                count += 1
    return count


# ----------------------------------------------------------------------------- structured


def detect_head(model: nn.Module) -> Detect | None:
    """The model's Detect head (or subclass: Segment, Pose, OBB, v10Detect), if it has one."""
    heads = [m for m in model.modules() if isinstance(m, Detect)]
    return heads[-1] if heads else None


def head_output_layers(head: Detect) -> list[nn.Module]:
    """The head's layers whose outputs must keep their size: each branch's last conv, the DFL
    (and a Segment head's last prototype conv)."""
    keep: list[nn.Module] = []
    for branches_name in ("cv2", "cv3", "cv4", "one2one_cv2", "one2one_cv3", "one2one_cv4"):
        branches = getattr(head, branches_name, None)
        if isinstance(branches, nn.ModuleList):
            for branch in branches:
                convs = [m for m in branch.modules() if isinstance(m, nn.Conv2d)]
                keep.extend(convs[-1:])
    proto = getattr(head, "proto", None)  # Segment: the mask prototypes must match the mask coefficients
    if isinstance(proto, nn.Module):
        keep.extend([m for m in proto.modules() if isinstance(m, nn.Conv2d)][-1:])
    keep.append(head.dfl)
    return keep


# Blocks with attention (reshape by head count, split of a conv's output) that the graph cannot prune.
_UNTRACEABLE = ("C2PSA", "PSA", "C2fPSA", "A2C2f", "AAttn", "Attention", "C2fAttn", "ImagePoolingAttn")


def untraceable_blocks(model: nn.Module) -> list[nn.Module]:
    """Outermost blocks Torch-Pruning must leave alone (their inputs may still shrink)."""
    found: list[nn.Module] = []
    inside: set[int] = set()
    for m in model.modules():
        if id(m) in inside:
            continue
        if type(m).__name__ in _UNTRACEABLE:
            found.append(m)
            inside.update(id(sub) for sub in m.modules())
    return found


def structured_ignored_layers(model: nn.Module, prune_head: bool = False) -> list[nn.Module]:
    """Modules whose output channels structured pruning must keep: the Detect head (with
    `prune_head`, only its output convs and DFL) and the blocks of `untraceable_blocks`."""
    ignored = untraceable_blocks(model)
    head = detect_head(model)
    if head is not None:
        ignored += head_output_layers(head) if prune_head else [head]
    return ignored


def modules_outside(model: nn.Module, ignored: list[nn.Module], kind: type[nn.Module]) -> list[tuple[str, nn.Module]]:
    """(name, module) of every `kind` module that is not inside any of `ignored`."""
    excluded = {id(sub) for m in ignored for sub in m.modules()}
    return [(name, m) for name, m in model.named_modules() if isinstance(m, kind) and id(m) not in excluded]


def prunable_batchnorms(model: nn.Module, prune_head: bool = False) -> list[tuple[str, nn.BatchNorm2d]]:
    """(name, BN) of every BatchNorm whose channels structured pruning may remove."""
    return modules_outside(model, structured_ignored_layers(model, prune_head), nn.BatchNorm2d)


@contextmanager
def traceable(model: nn.Module) -> Iterator[None]:
    """Let Torch-Pruning trace and prune `model` through autograd without other side effects.

    Eval mode, so tracing does not update BatchNorm running statistics (Torch-Pruning's tracer
    switches to eval itself, and leaves the model there); gradients on, because a model loaded
    by `YOLO(path)` has requires_grad=False everywhere and the graph is built from grad_fn.
    Afterwards restores the mode and each parameter's requires_grad by name (pruning replaces
    the parameter objects, and new ones default to True).
    """
    was_training = model.training
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    try:
        with torch.enable_grad():
            yield
    finally:
        model.train(was_training)
        for name, p in model.named_parameters():
            p.requires_grad_(flags.get(name, True))


def example_input(model: nn.Module, imgsz: int) -> torch.Tensor:
    p = next(model.parameters())
    return torch.zeros(1, 3, imgsz, imgsz, device=p.device, dtype=p.dtype)


def count_macs_and_params(model: nn.Module, imgsz: int) -> tuple[int, int]:
    """(multiply-accumulates of one imgsz x imgsz image, parameters) by Torch-Pruning's counter."""
    import torch_pruning as tp

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            macs, params = tp.utils.count_ops_and_params(model, example_input(model, imgsz))
    finally:
        model.train(was_training)
    return int(macs), int(params)
