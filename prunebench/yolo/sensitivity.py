"""Channel groups of a detection model, and pruning ONE of them alone: the model side of per-layer sensitivity.

The groups are Torch-Pruning's dependency-graph groups rooted at a Conv2d, found exactly as the built-in channel
strategies find them (blocks that split channels rewritten first by `rewrites.split_blocks`, the Detect head and
attention left whole by `prunable.structured_ignored_layers`, grouped convs left out). Within a group, channels are
chosen as `l1-channel` chooses them: Torch-Pruning's MagnitudeImportance(p=1) over the coupled group, the lowest
ones, a group of n keeping n * (1 - ratio) rounded half up. Every pruned model is a fresh copy; the model given is
never changed. The evaluation and the cache live in `prunebench.run.sensitivity`.
"""

from __future__ import annotations

import copy
import math
import re
from typing import NamedTuple

import torch
from torch import nn

from prunebench.yolo import prunable, rewrites

CRITERION = "l1"
_TRACE_IMGSZ = 64  # the graph only needs shapes to follow; a small input traces the same dependencies faster


class Group(NamedTuple):
    name: str  # the root conv's module path in the prepared model
    label: str  # "<layer index> <layer type> <rest of the path>", for a heatmap row
    channels: int  # the root conv's output channels
    scores: torch.Tensor  # one L1 score per channel, as `l1-channel` scores them (float64, CPU)


class Pruned(NamedTuple):
    model: nn.Module | None  # None when nothing was removed (see `why`)
    removed: int
    why: str = ""


def prepare(model: nn.Module) -> nn.Module:
    """A copy of `model`, in eval mode, with every channel-splitting block rewritten (exactly: same outputs), the
    form groups are named and pruned in. Evaluate this copy as the baseline, so baseline and pruned models differ
    only by the pruning."""
    prepared = copy.deepcopy(model).eval()
    rewrites.split_blocks(prepared)
    return prepared


def _graph(model: nn.Module):
    import torch_pruning as tp

    with prunable.traceable(model):
        return tp.DependencyGraph().build_dependency(model, example_inputs=prunable.example_input(model, _TRACE_IMGSZ))


def _root_groups(model: nn.Module, graph) -> dict[str, object]:
    """name -> Torch-Pruning group, for every group rooted at a prunable conv (as the channel strategies take them)."""
    ignored = [sub for m in prunable.structured_ignored_layers(model) for sub in m.modules()]
    names = {id(m): n for n, m in model.named_modules()}
    found = {}
    for group in graph.get_all_groups(ignored_layers=ignored, root_module_types=[nn.Conv2d]):
        root = group[0].dep.target.module
        grouped = any(isinstance(dep.target.module, nn.Conv2d) and 1 < dep.target.module.groups
                      != dep.target.module.out_channels for dep, _ in group)
        if not grouped:  # the channel strategies leave grouped convs whole too
            found[names[id(root)]] = group
    return found


def _layer_order(name: str) -> tuple:
    """"model.6.m.0.cv2.conv" sorts by layer 6 first, then by the path with numbers compared as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"[.]", name))


def _label(model: nn.Module, name: str) -> str:
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] == "model" and parts[1].isdigit():
        layer = model.model[int(parts[1])]
        rest = ".".join(p for p in parts[2:] if p != "conv") or "conv"
        return f"{parts[1]} {prunable.layer_type(layer)} {rest}"
    return name


def channel_groups(prepared: nn.Module) -> list[Group]:
    """The prunable channel groups of a `prepare`d model, in layer order, each with its channels' L1 scores:
    Torch-Pruning's MagnitudeImportance(p=1) over the coupled group, as `l1-channel` scores them."""
    import torch_pruning as tp

    importance = tp.importance.MagnitudeImportance(p=1)
    roots = _root_groups(prepared, _graph(prepared))
    modules = dict(prepared.named_modules())
    with torch.no_grad():
        return [Group(name, _label(prepared, name), modules[name].out_channels,
                      importance(roots[name]).detach().double().cpu()) for name in sorted(roots, key=_layer_order)]


def kept_channels(n: int, ratio: float) -> int:
    """What `l1-channel` keeps of a group of n at `ratio`: n * (1 - ratio) rounded half up, at least one."""
    return max(1, math.floor(n * (1 - ratio) + 0.5))


def prune_group(prepared: nn.Module, group: Group, ratio: float) -> Pruned:
    """A copy of `prepared` with only `group` pruned at `ratio` (its lowest-scoring channels removed)."""
    import torch_pruning as tp

    name, scores = group.name, group.scores
    n = len(scores)
    remove = n - kept_channels(n, ratio)
    if remove <= 0:
        return Pruned(None, 0, f"{n} channels: {ratio:g} of them rounds to none")
    idxs = sorted(torch.argsort(scores, stable=True)[:remove].tolist())
    model = copy.deepcopy(prepared)
    graph = _graph(model)
    root = dict(model.named_modules())[name]
    with prunable.traceable(model):
        group = graph.get_pruning_group(root, tp.pruner.function.prune_conv_out_channels, idxs)
        if not graph.check_pruning_group(group):
            return Pruned(None, 0, "the dependency graph refused: it would empty a coupled layer")
        group.prune()
    return Pruned(model.eval(), remove)
