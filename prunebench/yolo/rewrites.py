"""Exact rewrites of the Ultralytics blocks that split a tensor along channels, so Torch-Pruning can prune them.

C2f, C3k2, C2, RepNCSPELAN4 / ELAN1, PSA and C2PSA cut their first conv's output in parts with
`chunk` / `split`, and CBLinear returns its conv's output split: Torch-Pruning 1.6's dependency
graph maps such indices wrongly (`IndexError` in importance.py), and the forward would keep the
old sizes anyway. Each rewrite replaces that conv by one conv per part (weights and BatchNorm
statistics copied, eps, momentum, activation and train/eval mode kept), so the outputs are
identical (max abs difference 0.0, tested) and each part is pruned on its own. ADown splits its
*input*; its rewrite slices it at cv1's current input width, which pruning keeps right.

The rewritten classes subclass the originals (Ultralytics' `isinstance` checks still hold;
the exporter's `forward_split` swap on C2f gets the same forward) and keep the routing
attributes (`f`, `i`, `type`, `np`). Checkpoints pickle them by this module's path.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from prunebench.yolo.env import import_ultralytics

import_ultralytics()

from ultralytics.nn.modules.block import C2, C2PSA, PSA, ADown, C2f, CBLinear, RepNCSPELAN4  # noqa: E402


# ----------------------------------------------------------------------------- slicing convs


def conv_slice(conv: nn.Module, start: int, stop: int) -> nn.Module:
    """A copy of an Ultralytics Conv (conv + optional BN + act) or a bare Conv2d keeping output channels [start, stop)."""
    part = copy.deepcopy(conv)  # keeps BN eps (1e-3 in Ultralytics), momentum, act and mode
    conv2d = part if isinstance(part, nn.Conv2d) else part.conv
    _slice_parameters(conv2d, ("weight", "bias"), start, stop)
    conv2d.out_channels = stop - start
    bn = getattr(part, "bn", None)
    if isinstance(bn, nn.BatchNorm2d):
        _slice_parameters(bn, ("weight", "bias"), start, stop)
        for buffer in ("running_mean", "running_var"):
            setattr(bn, buffer, getattr(bn, buffer)[start:stop].clone())
        bn.num_features = stop - start
    return part


def conv_parts(conv: nn.Module, sizes: list[int]) -> list[nn.Module]:
    """`conv` cut into consecutive output slices of the given sizes."""
    bounds = [0]
    for size in sizes:
        bounds.append(bounds[-1] + size)
    return [conv_slice(conv, a, b) for a, b in zip(bounds, bounds[1:])]


def _slice_parameters(module: nn.Module, names: tuple[str, ...], start: int, stop: int) -> None:
    for name in names:
        p = getattr(module, name, None)
        if p is not None:
            setattr(module, name, nn.Parameter(p.data[start:stop].clone(), requires_grad=p.requires_grad))


def _adopt(new: nn.Module, block: nn.Module, replaced: dict[str, dict[str, nn.Module]]) -> None:
    """Give `new` everything `block` has: its submodules in order (each child named in `replaced`
    swapped for the modules given there), its own parameters and buffers, its plain attributes
    (c, f, i, type, np, ...) and its train/eval mode."""
    nn.Module.__init__(new)
    for name, child in block.named_children():
        for new_name, module in replaced.get(name, {name: child}).items():
            setattr(new, new_name, module)
    for name, p in block._parameters.items():
        new.register_parameter(name, p)
    for name, b in block._buffers.items():
        new.register_buffer(name, b, persistent=name not in block._non_persistent_buffers_set)
    for name, value in vars(block).items():
        # Skip properties the rewrite computes (CBLinearSplit.c2s); `type` shadows nn.Module.type, as in Ultralytics.
        if not name.startswith("_") and name != "training" and not isinstance(getattr(type(new), name, None), property):
            setattr(new, name, value)
    new.train(block.training)


# ----------------------------------------------------------------------------- the rewritten blocks


class C2fSplit(C2f):
    """C2f (and C3k2, C2fCIB, C2fPSA): `cv1` becomes `cv0` and `cv1`, one per half of its output."""

    def __init__(self, block: C2f):
        _adopt(self, block, {"cv1": dict(zip(("cv0", "cv1"), conv_parts(block.cv1, [block.c, block.c])))})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv0(x), self.cv1(x)]
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))

    forward_split = forward  # Ultralytics' exporter swaps in forward_split on C2f modules


class C2Split(C2):
    """C2 (YOLOv8-P6): `cv1` becomes `cv0` (the half through the bottlenecks) and `cv1` (the bypass)."""

    def __init__(self, block: C2):
        _adopt(self, block, {"cv1": dict(zip(("cv0", "cv1"), conv_parts(block.cv1, [block.c, block.c])))})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv2(torch.cat((self.m(self.cv0(x)), self.cv1(x)), 1))


class RepNCSPELAN4Split(RepNCSPELAN4):
    """RepNCSPELAN4 and ELAN1 (YOLOv9): `cv1` becomes `cv0` and `cv1`, one per half of its output."""

    def __init__(self, block: RepNCSPELAN4):
        _adopt(self, block, {"cv1": dict(zip(("cv0", "cv1"), conv_parts(block.cv1, [block.c, block.c])))})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv0(x), self.cv1(x)]
        y.extend(m(y[-1]) for m in (self.cv2, self.cv3))
        return self.cv4(torch.cat(y, 1))

    forward_split = forward


class ADownSplit(ADown):
    """ADown (YOLOv9c/e) halves its input with chunk; here two slices, cut at cv1's current input width.

    Slices, not `split`: Torch-Pruning 1.6 maps a split's parts to its consumers in trace order, which
    here is reversed (max-pool branch first), so it removed the first half's channels from cv2
    (measured; check_channel_prunable caught it). Each slice carries its own bounds.
    """

    def __init__(self, block: ADown):
        _adopt(self, block, {})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(x, 2, 1, 0, False, True)
        c = self.cv1.conv.in_channels
        return torch.cat((self.cv1(x[:, :c]), self.cv2(F.max_pool2d(x[:, c:], 3, 2, 1))), 1)


class CBLinearSplit(CBLinear):
    """CBLinear (YOLOv9e): one conv per output part instead of one conv whose output is split."""

    def __init__(self, block: CBLinear):
        _adopt(self, block, {"conv": {"convs": nn.ModuleList(conv_parts(block.conv, list(block.c2s)))}})

    @property
    def c2s(self) -> list[int]:  # the parts' widths after pruning, not the YAML's
        return [conv.out_channels for conv in self.convs]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(conv(x) for conv in self.convs)


class PSASplit(PSA):
    """PSA (YOLOv10): `cv1` becomes `cv0` (the bypass half) and `cv1` (the half through attention)."""

    def __init__(self, block: PSA):
        _adopt(self, block, {"cv1": dict(zip(("cv0", "cv1"), conv_parts(block.cv1, [block.c, block.c])))})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.cv1(x)
        b = b + self.attn(b)
        b = b + self.ffn(b)
        return self.cv2(torch.cat((self.cv0(x), b), 1))


class C2PSASplit(C2PSA):
    """C2PSA (YOLO11, YOLO26): `cv1` becomes `cv0` (the bypass half) and `cv1` (the half through attention)."""

    def __init__(self, block: C2PSA):
        _adopt(self, block, {"cv1": dict(zip(("cv0", "cv1"), conv_parts(block.cv1, [block.c, block.c])))})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv2(torch.cat((self.cv0(x), self.m(self.cv1(x))), 1))


# Original class -> its rewrite. A subclass with its own forward (C2fAttn, ...) is not rewritten.
REWRITES: dict[type[nn.Module], type[nn.Module]] = {
    C2f: C2fSplit, C2: C2Split, RepNCSPELAN4: RepNCSPELAN4Split, ADown: ADownSplit,
    CBLinear: CBLinearSplit, PSA: PSASplit, C2PSA: C2PSASplit,
}


# A kept channel-pruned model holds these classes: a weights-only load (prunebench.yolo.checkpoints) may rebuild
# them, like the torch and Ultralytics layers Ultralytics' safe mode allows (they are this package's own code).
torch.serialization.add_safe_globals(sorted(set(REWRITES.values()), key=lambda c: c.__name__))


# What users meet in YAMLs and error messages (ELAN1 is a RepNCSPELAN4; C3k2, C2fCIB, C2fPSA are C2f).
REWRITTEN_TYPES = ("C2f", "C3k2", "C2fCIB", "C2fPSA", "C2", "RepNCSPELAN4", "ELAN1", "ADown", "CBLinear", "PSA", "C2PSA")


def rewrite_for(module: nn.Module) -> type[nn.Module] | None:
    """The rewrite that applies to `module`: one whose original forward it runs unchanged (a rewritten
    block overrides forward, so it gets none)."""
    for original, rewrite in REWRITES.items():
        if isinstance(module, original) and type(module).forward is original.forward:
            return rewrite
    return None


def split_blocks(model: nn.Module, only: tuple[type[nn.Module], ...] | None = None) -> dict[str, int]:
    """Rewrite, in place, every block of `model` that splits channels (of the `only` original
    classes, if given); return how many of each Ultralytics type ("C2f", "ELAN1", ...) were rewritten."""
    counts: dict[str, int] = {}
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            rewrite = rewrite_for(child)
            if rewrite is None or (only is not None and not isinstance(child, only)):
                continue
            kind = type(child).__name__
            setattr(parent, name, rewrite(child))
            counts[kind] = counts.get(kind, 0) + 1
    return counts
