"""What may be pruned in an Ultralytics detection model, and making it prunable.

Shared by the built-in strategies:
- `prunable_convs`: every Conv2d except the DFL conv, whose fixed weights 0..15 decode boxes
  (zeroing the smallest took a trained YOLOv8n from mAP50 0.876 to 0.008 when measured; tests/test_testing.py
  shows the conformance kit failing a strategy that does it).
- `sparsity_stats`: zeros over the prunable weights and over the whole model.
- `split_c2f_blocks`: rewrites each C2f / C3k2 so Torch-Pruning's dependency graph can follow it
  (C2f chunks its first conv's output in two, which the graph cannot trace); `rewrites.split_blocks`
  does the same for every block that splits channels (ELAN, ADown, CBLinear, PSA, ...).
- `detect_head`, `head_output_layers`, `left_whole` (attention, A2C2f with a residual gamma: listed in
  the prune report with why), `structured_ignored_layers`, `prunable_batchnorms`: what structured
  pruning must leave alone and which BatchNorms it scores.
- `traceable` and `count_macs_and_params`: run Torch-Pruning's tracing without side effects.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from prunebench.yolo.env import import_ultralytics

import_ultralytics()

from ultralytics.nn.modules.block import C2f, DFL  # noqa: E402  (Ultralytics must be configured first)
from ultralytics.nn.modules.head import Detect  # noqa: E402

# Re-exported: checkpoints written before rewrites.py existed pickle C2fSplit under this module's name.
from prunebench.yolo.rewrites import C2fSplit, split_blocks  # noqa: E402,F401


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


# ----------------------------------------------------------------------------- the rewrites


def split_c2f_blocks(model: nn.Module) -> int:
    """Rewrite, in place, every C2f-family block (C2f, C3k2, C2fCIB, ...) that uses C2f's own forward
    into a C2fSplit; return how many. `rewrites.split_blocks` rewrites every channel-splitting block."""
    return sum(split_blocks(model, only=(C2f,)).values())


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


# Modules whose widths Torch-Pruning must keep, and why (each is listed in the prune report).
_ATTENTION = ("qkv is reshaped by its head count, so its widths stay, and so does the residual path around it "
              "(the {block}'s attention half)")
LEFT_WHOLE = {
    "Attention": "multi-head self-attention: " + _ATTENTION,
    "AAttn": "area attention: " + _ATTENTION,
    "C2fAttn": "text-guided attention (YOLO-World): splits its conv output and mixes in text embeddings",
    "ImagePoolingAttn": "image-pooling attention (YOLO-World): fixed head widths",
}
_GAMMA = ("learnable per-channel residual scale (gamma; YOLO12 l and x scales), which Torch-Pruning 1.6 handles "
          "only as an unwrapped parameter: pruning through it ran away (10 GB of memory and rising) when tried")


def layer_type(module: nn.Module) -> str:
    """The Ultralytics type of a layer ("C3k2", not the C2fSplit it may have been rewritten into)."""
    kind = getattr(module, "type", None)  # set by Ultralytics' parse_model, kept by the rewrites
    return kind.rsplit(".", 1)[-1] if isinstance(kind, str) else type(module).__name__


def left_whole(model: nn.Module) -> list[dict]:
    """The outermost modules structured pruning leaves whole, with why: attention (its output
    channels fixed; its input may shrink only where no residual ties it) and A2C2f blocks with a
    residual gamma. Each: {"module", "type", "layer", "layer_type", "reason", "_module"}."""
    layers = {id(m): (name, layer_type(m)) for name, m in model.named_modules() if hasattr(m, "f") and hasattr(m, "i")}
    found: list[dict] = []
    inside: set[int] = set()
    layer = ("", "")
    for name, m in model.named_modules():
        layer = layers.get(id(m), layer)  # named_modules is depth-first: the last layer seen contains m
        if id(m) in inside:
            continue
        kind = type(m).__name__
        if kind in LEFT_WHOLE:
            reason = LEFT_WHOLE[kind].format(block=layer[1])
        elif kind == "A2C2f" and getattr(m, "gamma", None) is not None:
            reason = _GAMMA
        else:
            continue
        found.append({"module": name, "type": kind, "layer": layer[0], "layer_type": layer[1], "reason": reason,
                      "_module": m})
        inside.update(id(sub) for sub in m.modules())
    return found


def untraceable_blocks(model: nn.Module) -> list[nn.Module]:
    """The modules of `left_whole`: Torch-Pruning must keep their output channels."""
    return [entry["_module"] for entry in left_whole(model)]


def left_whole_report(model: nn.Module, prune_head: bool = False) -> list[dict]:
    """`left_whole` for the prune report (JSON), with the detection head when it is kept whole."""
    entries = [{k: v for k, v in entry.items() if k != "_module"} for entry in left_whole(model)]
    head = detect_head(model)
    if head is not None and not prune_head:
        name = next(n for n, m in model.named_modules() if m is head)
        entries.append({"module": name, "type": type(head).__name__, "layer": name, "layer_type": layer_type(head),
                        "reason": "detection head: left whole unless prune_head (its output convs, sized by the "
                                  "classes and box bins, and the DFL always stay whole)"})
    return entries


def structured_ignored_layers(model: nn.Module, prune_head: bool = False) -> list[nn.Module]:
    """Modules whose output channels structured pruning must keep: the Detect head (with
    `prune_head`, only its output convs and DFL) and the modules of `left_whole`."""
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
