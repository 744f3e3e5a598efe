"""Loss gradients of an Ultralytics detection model on a few batches of a suite's TRAINING data.

Gradient-based importance criteria (Taylor, Hessian/OBD) score channels from `weight.grad`; this
module fills those gradients the way Ultralytics' own trainer would compute them:
- images come from the data YAML's `train` split through Ultralytics' dataset code
  (`build_yolo_dataset`, its `collate_fn`), letterboxed to `imgsz` WITHOUT augmentation, and
  preprocessed as `DetectionTrainer.preprocess_batch` does (to the model's device, float / 255);
  which images is drawn from `seed`, so a seed always gives the same batches;
- the loss is the model's own `DetectionModel.loss(batch)` (v8DetectionLoss, or E2ELoss for
  end-to-end heads), with the loss gains (box, cls, dfl, ...) from the model's training args,
  else Ultralytics' defaults.

The model is run in eval mode: BatchNorm uses its running statistics, so computing gradients
moves no buffer (the model that gets pruned is exactly the model that was scored), and each
image's loss does not depend on which other images share its batch (what per-image gradients,
as OBD needs, require).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunebench.yolo.env import import_ultralytics


def training_batches(data_yaml: Path | str, *, imgsz: int, batch: int, batches: int, seed: int,
                     device: torch.device | str = "cpu") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Up to `batches` batches of `batch` training images, drawn without replacement by `seed`.

    Returns (batches, info) where info is {"images", "batches", "imgsz", "train_images", "classes"}.
    Fewer batches come back when the training split is smaller than batches x batch.
    """
    import_ultralytics()
    from ultralytics.cfg import DEFAULT_CFG_DICT
    from ultralytics.data import build_yolo_dataset
    from ultralytics.data.utils import check_det_dataset
    from ultralytics.utils import IterableSimpleNamespace

    if batch < 1 or batches < 1:
        raise ValueError(f"training_batches: batch ({batch}) and batches ({batches}) must be at least 1")
    data_yaml = Path(data_yaml)
    if not data_yaml.is_file():
        raise FileNotFoundError(f"gradient-based pruning reads the training split of {data_yaml}, which does not exist")
    data = check_det_dataset(str(data_yaml))
    if not data.get("train"):
        raise ValueError(f"{data_yaml} has no `train` split: gradient-based pruning needs training images")
    # Ultralytics' defaults, with evaluation-style letterboxing (no mosaic, no random flips): the
    # scores must not depend on augmentation draws.
    cfg = IterableSimpleNamespace(**{**DEFAULT_CFG_DICT, "imgsz": int(imgsz), "rect": False, "cache": False,
                                     "fraction": 1.0, "task": "detect"})
    dataset = build_yolo_dataset(cfg, data["train"], batch, data, mode="calibration", rect=False, stride=32)
    if len(dataset) == 0:
        raise ValueError(f"the training split of {data_yaml} holds no images")
    generator = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(len(dataset), generator=generator).tolist()[: batch * batches]
    device = torch.device(device)
    out = []
    for start in range(0, len(order), batch):
        collated = dataset.collate_fn([dataset[i] for i in order[start:start + batch]])
        out.append(preprocess(collated, device))
    info = {"images": len(order), "batches": len(out), "imgsz": int(imgsz), "train_images": len(dataset),
            "classes": int(data["nc"])}
    return out, info


def preprocess(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """What DetectionTrainer.preprocess_batch does (without its optional multi-scale resize)."""
    batch = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    batch["img"] = batch["img"].float() / 255
    return batch


def single_images(batch: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each image of a collated batch as a batch of one (its labels re-indexed to image 0)."""
    for i in range(batch["img"].shape[0]):
        rows = batch["batch_idx"] == i
        yield {"img": batch["img"][i:i + 1], "cls": batch["cls"][rows], "bboxes": batch["bboxes"][rows],
               "batch_idx": torch.zeros_like(batch["batch_idx"][rows])}


def check_classes(model: nn.Module, classes: int, data_yaml: Path | str) -> None:
    """ValueError unless the model's head predicts `classes` classes (the detection loss needs the model's data)."""
    head = getattr(model, "model", [None])[-1]
    head_classes = getattr(head, "nc", None)
    if head_classes is not None and head_classes != classes:
        raise ValueError(
            f"the model predicts {head_classes} classes but {data_yaml} has {classes}: the detection loss that "
            "gradient-based criteria differentiate needs the dataset the model was trained on")


@contextmanager
def loss_ready(model: nn.Module) -> Iterator[None]:
    """Let `model.loss(batch)` run and backpropagate, and undo everything but the gradients afterwards.

    Sets `model.args` to an Ultralytics config (the model's own training args over DEFAULT_CFG: a
    checkpoint stores them as a plain dict, a model built from YAML has none, and the loss reads
    the gains box/cls/dfl as attributes), builds a fresh criterion (one cached on a model of other
    shapes or device would be stale), eval mode, every parameter trainable (YOLO(path) loads them
    frozen), autograd on. Restores args, criterion, mode and each requires_grad on exit.
    """
    import_ultralytics()
    from ultralytics.cfg import DEFAULT_CFG_DICT
    from ultralytics.utils import IterableSimpleNamespace

    missing = object()
    args, criterion = getattr(model, "args", missing), getattr(model, "criterion", missing)
    own = args if isinstance(args, dict) else vars(args) if hasattr(args, "__dict__") else {}
    model.args = IterableSimpleNamespace(**{**DEFAULT_CFG_DICT, **{k: v for k, v in own.items()
                                                                  if k in DEFAULT_CFG_DICT}})
    model.criterion = None
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(p.dtype.is_floating_point)
    try:
        with torch.enable_grad():
            yield
    finally:
        model.train(was_training)
        for p, flag in flags:
            p.requires_grad_(flag)
        for name, value in (("args", args), ("criterion", criterion)):
            if value is missing:
                delattr(model, name)
            else:
                setattr(model, name, value)


def detection_loss(model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
    """The scalar training loss (box + cls + dfl, times the batch size, as Ultralytics backpropagates it)."""
    if not callable(getattr(model, "loss", None)):
        raise TypeError(f"{type(model).__name__} has no Ultralytics `loss(batch)`: gradient-based criteria need a "
                        "DetectionModel (or a subclass)")
    loss, _ = model.loss(batch)
    loss = loss.sum()
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the detection loss is {float(loss)} on a calibration batch")
    return loss


def loss_gradients(model: nn.Module, batches: list[dict[str, Any]],
                   after_image: Callable[[nn.Module], None] | None = None) -> dict[str, Any]:
    """Fill `param.grad` with the detection loss's gradient on `batches` (sum over the batches).

    With `after_image`, every image is backpropagated on its own, the gradients zeroed before
    each, and `after_image(model)` called after each backward pass (per-sample gradients, e.g. to
    accumulate squared gradients for an OBD/Hessian estimate); `.grad` then holds the last image's.
    Returns {"mean_loss": the mean of the backpropagated losses, "backward_passes": n}. (Ultralytics'
    loss is a batch's summed gains times its size, normalised over the batch's targets, so a batch's
    loss is not the sum of its images' losses.)
    """
    total, passes = 0.0, 0
    with loss_ready(model):
        model.zero_grad(set_to_none=True)
        for batch in batches:
            parts = single_images(batch) if after_image is not None else [batch]
            for part in parts:
                if after_image is not None:
                    model.zero_grad(set_to_none=True)
                loss = detection_loss(model, part)
                loss.backward()
                passes += 1
                total += float(loss.detach())
                if after_image is not None:
                    after_image(model)
    return {"mean_loss": round(total / max(passes, 1), 6), "backward_passes": passes}


def nonzero_gradients(model: nn.Module) -> int:
    """How many parameter tensors hold a gradient with at least one non-zero entry."""
    return sum(1 for p in model.parameters() if p.grad is not None and bool(p.grad.ne(0).any()))

