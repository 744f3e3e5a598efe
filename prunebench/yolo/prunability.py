"""Can the channel strategies prune this model? `check_channel_prunable` answers before any cell runs.

1. The head: channel pruning supports plain detection models (a Detect or v10Detect head).
   RT-DETR, segmentation, pose, OBB, classification and open-vocabulary models are refused.
2. A proof on a copy, at a tiny image size: the blocks are rewritten (rewrites.py), four channels
   of every prunable group are zeroed wherever they are produced (conv, BatchNorm), then removed
   through Torch-Pruning's dependency graph. Dead channels contribute nothing, so the head's raw
   outputs must not move beyond float rounding. A block whose forward keeps old widths (chunks
   into fixed halves, reshapes by a constant) or that the graph maps wrongly raises or moves the
   outputs, and is named. (Exercised on every shipped family by tests/test_families.py.)
3. Something must be left to prune outside the head and the modules left whole.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from prunebench.yolo import prunable, rewrites
from prunebench.yolo.checkpoints import DETECT_HEADS

SUPPORTED = ("Channel strategies prune YOLO detection models (a Detect or v10Detect head: YOLOv3, v5, v6, v8, v9, "
             "v10, 11, 12, 26)")
_REFUSED = "channel pruning cannot prune this model: "
_TASK_WORDS = {"segment": "a segmentation", "pose": "a pose-estimation", "obb": "an oriented-box (OBB)",
               "classify": "a classification", "semantic": "a semantic-segmentation", "depth": "a depth-estimation"}


def check_channel_prunable(model: nn.Module, prune_head: bool = False, imgsz: int | None = None) -> None:
    """None when the channel strategies can prune `model`; else ValueError naming the block, why, and what to do.

    The model itself is not changed (the proof runs on a deep copy). imgsz: the proof's image size
    (default twice the model's largest stride: 64 px for a P5 model).
    """
    layers = getattr(model, "model", None)
    if not isinstance(layers, (nn.Sequential, nn.ModuleList)) or len(layers) == 0:
        raise ValueError(f"{_REFUSED}a {type(model).__name__} is not an Ultralytics model (no `model` layer list). "
                         f"{SUPPORTED}.")
    _check_head(model, layers)
    imgsz = imgsz or 2 * _max_stride(model)
    failure = _prove(model, imgsz, prune_head, stepwise=False)
    if failure is not None and failure[1] is None:  # the outputs moved: again, group by group, to name the block
        failure = _prove(model, imgsz, prune_head, stepwise=True) or failure
    if failure is not None:
        raise ValueError(_failure_message(*failure))


def _check_head(model: nn.Module, layers) -> None:
    head = layers[-1]
    kind, where = type(head).__name__, f"model.{len(layers) - 1}"
    if kind == "RTDETRDecoder":
        raise ValueError(f"{_REFUSED}its head {where} is RTDETRDecoder (RT-DETR), a transformer decoder whose query "
                         f"and attention widths are fixed, and prunebench does not train RT-DETR. {SUPPORTED}; "
                         "use one of those, e.g. `arch: yolo11n.yaml`.")
    if kind not in DETECT_HEADS:
        raise ValueError(f"{_REFUSED}its head {where} is {kind}, {_task(model)} model. {SUPPORTED}; use the "
                         "detection variant of the architecture (e.g. yolo11n.yaml, not yolo11n-seg.yaml) or a "
                         "detection checkpoint.")


def _task(model: nn.Module) -> str:
    from ultralytics.nn.tasks import guess_model_task

    task = guess_model_task(model)  # "detect" (with a warning) when it cannot tell
    kind = type(model.model[-1]).__name__
    if task == "detect":
        return "an open-vocabulary detection" if "World" in kind or "YOLOE" in kind else "a non-standard detection"
    return _TASK_WORDS.get(task, f"a {task}")


def _max_stride(model: nn.Module) -> int:
    stride = getattr(model, "stride", None)
    return int(stride.max()) if isinstance(stride, torch.Tensor) and stride.numel() else 32


# ----------------------------------------------------------------------------- the proof on a copy


def _prove(model: nn.Module, imgsz: int, prune_head: bool, stepwise: bool) -> tuple | None:
    """None if removing dead channels leaves the head's outputs in place; else (work copy, culprit, what happened)
    where culprit is the layer index whose forward raised, or the conv whose channels were being removed, or None.

    stepwise: run the model after each group, so the first group that breaks it is the one named.
    """
    import torch_pruning as tp

    work = copy.deepcopy(model).float().cpu().eval()
    rewrites.split_blocks(work)
    calibrate_batchnorms(work, imgsz)
    ignored = prunable.structured_ignored_layers(work, prune_head)
    ignored_modules = [sub for m in ignored for sub in m.modules()]
    with prunable.traceable(work):
        graph = tp.DependencyGraph().build_dependency(work, example_inputs=torch.zeros(1, 3, imgsz, imgsz))
        roots = [g[0].dep.target.module
                 for g in graph.get_all_groups(ignored_layers=ignored_modules, root_module_types=[nn.Conv2d])]
    if not roots:
        whole = ", ".join(f"{e['module']} ({e['type']})" for e in prunable.left_whole_report(work, prune_head))
        raise ValueError(f"{_REFUSED}no convolution is left to prune outside the modules kept whole: {whole}. "
                         f"{SUPPORTED}.")
    names = {m: name for name, m in work.named_modules()}
    entered = [None]  # the layer whose forward runs: the one to name if a forward raises
    for index, layer in enumerate(work.model):
        layer.register_forward_pre_hook(lambda module, args, index=index: entered.__setitem__(0, index))
    doomed = {root: _dead_channels(root.out_channels) for root in roots if root.out_channels >= 2}
    x = torch.rand(1, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(0))
    root = None
    try:
        with torch.no_grad():
            for root, idxs in doomed.items():
                _zero_out_channels(graph, graph.get_pruning_group(root, _root_fn(tp, root), idxs))
        reference = _head_outputs(work, x)
        for root, idxs in doomed.items():
            graph.get_pruning_group(root, _root_fn(tp, root), idxs).prune()
            entered[0] = None
            if stepwise and (moved := _moved(reference, work, x)):
                return work, names[root], moved
        root = None
        entered[0] = None
        moved = _moved(reference, work, x)
    except Exception as exc:  # any failure here is a block's: name it
        what = f"{type(exc).__name__}: {exc}"
        if entered[0] is not None:
            after = f"after Torch-Pruning removed channels of {names[root]}, " if root is not None else ""
            return work, entered[0], f"{after}its forward raised {what}"
        return work, names.get(root), f"Torch-Pruning failed to remove its channels ({what})"
    return (work, None, moved) if moved else None


@torch.no_grad()
def calibrate_batchnorms(model: nn.Module, imgsz: int, seed: int = 0) -> None:
    """Set every BatchNorm's running statistics to those of a random batch, in place (then eval mode).

    In an untrained model (and often a pretrained one on noise) the features fade layer after layer,
    so the head's outputs hardly depend on them and a wrongly removed channel would go unseen;
    with statistics matched to the actual activations each BatchNorm's output has the scale of its
    gamma, and the outputs depend on every channel that feeds them.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 1.0  # the running statistics become this batch's
    x = torch.rand(2, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(seed))
    model.train()
    try:
        model(x)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()


def _dead_channels(n: int) -> list[int]:
    """Three channels from the start and one from the end: unequal losses for the halves of a split, which
    neither chunk(2) (ceil) nor fixed halves (floor) reproduce, so a block that still halves by count fails."""
    return [0, 1, 2, n - 1] if n >= 6 else [n - 1] if n >= 2 else []


def _root_fn(tp, conv: nn.Conv2d):
    depthwise = conv.groups == conv.out_channels and conv.out_channels > 1
    return tp.prune_depthwise_conv_out_channels if depthwise else tp.prune_conv_out_channels


def _zero_out_channels(graph, group) -> None:
    """Zero the group's channels where they are produced: conv filters and biases, BatchNorm scale and shift
    (act(0) = 0 for Ultralytics' activations, so the channel carries zeros everywhere it goes)."""
    for dep, idxs in group:
        if not graph.is_out_channel_pruning_fn(dep.handler):
            continue
        module = dep.target.module
        weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
        if isinstance(weight, torch.Tensor):
            if isinstance(module, nn.ConvTranspose2d):
                weight[:, idxs] = 0  # (in, out, kh, kw)
            else:
                weight[idxs] = 0
        if isinstance(bias, torch.Tensor):
            bias[idxs] = 0


def _head_outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The head's raw box and class outputs (before decoding and, for end-to-end heads, top-k selection)."""
    with torch.no_grad():
        out = model(x)
    found: list[torch.Tensor] = []

    def walk(value):
        if isinstance(value, dict):
            for key in sorted(value):
                if key in ("boxes", "scores") and isinstance(value[key], torch.Tensor):
                    found.append(value[key])
                elif isinstance(value[key], dict):
                    walk(value[key])
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item)

    walk(out)
    return found or [out[0] if isinstance(out, (tuple, list)) else out]


def _moved(reference: list[torch.Tensor], model: nn.Module, x: torch.Tensor) -> str | None:
    """What moved in the head's outputs (more than float rounding: 1e-4 of their scale), or None."""
    outputs = _head_outputs(model, x)
    for ref, out in zip(reference, outputs):
        if ref.shape != out.shape:
            return f"the head's output shape changed from {tuple(ref.shape)} to {tuple(out.shape)}"
        diff = float((out - ref).abs().max())
        if diff > 1e-4 * max(1.0, float(ref.abs().max())):
            return f"removing zeroed channels moved the head's outputs by up to {diff:.4g}"
    return None


def _failure_message(work: nn.Module, culprit: int | str | None, what: str) -> str:
    if culprit is None:
        return f"{_REFUSED}{what}. {SUPPORTED}."
    if isinstance(culprit, int):  # the layer whose forward raised
        index, place = culprit, ""
    else:  # a conv whose channels could not be removed cleanly: its layer, or a layer reading it
        index, place = int(culprit.split(".")[1]), f" at {culprit}"
        what = f"{what}; the blocks reading it are {_readers(work, index)}"
    layer = work.model[index]
    kind = prunable.layer_type(layer)
    return (f"{_REFUSED}block model.{index} ({kind}){place} cannot be channel-pruned: {what}. Its forward (or a "
            "reader's) probably splits, reshapes or indexes channels with fixed sizes. prunebench rewrites "
            f"{', '.join(rewrites.REWRITTEN_TYPES)} and leaves attention whole; add a rewrite to "
            "prunebench/yolo/rewrites.py (or leave the block whole in prunebench/yolo/prunable.py), or use an "
            "unstructured strategy.")


def _readers(work: nn.Module, index: int) -> str:
    """The layers whose input (Ultralytics' `f`) includes layer `index`, as "model.7 (ADown), ..."."""
    found = []
    for j, layer in enumerate(work.model):
        sources = layer.f if isinstance(layer.f, list) else [layer.f]
        if any((j + f if f < 0 else f) == index for f in sources):
            found.append(f"model.{j} ({prunable.layer_type(layer)})")
    return ", ".join(found) or "none"
