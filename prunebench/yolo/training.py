"""Glue to the Ultralytics trainer: train the module you hand over, and keep what pruning did.

`Model.train()` in Ultralytics rebuilds the network from its YAML (a channel-pruned model
comes back at full width) and its optimizer step brings pruned zeros back through the
gradient and the EMA. Here a `DetectionTrainer` subclass is given the module itself
(`BaseTrainer.setup_model` leaves an `nn.Module` as it is) and its `optimizer_step`:
- calls `regularize(model)` on the unscaled, clipped gradients, before the step;
- with `keep="masks"`, re-applies every convolution's zero pattern right after the step,
  before the EMA update, so the EMA (what checkpoints hold, in fp16) keeps the zeros too.

Training runs in fp32 unless the recipe asks for `amp` (prunebench.yolo.amp: Ultralytics' own fp16 or bf16
autocast, on CUDA only; its AMP check never downloads). Ultralytics reads its results.csv back with polars when
it writes a checkpoint; the trainer here reads it with the csv module, so polars (a 54 MB wheel) is not needed.

Distillation (`distill=<teacher .pt>`, weight `dis`) is Ultralytics' own (ultralytics/nn/distill_model.py):
its trainer wraps the module it trains in a `DistillationModel` with the teacher, hooks the neck features
that feed Detect on both and adds a score-weighted L2 between the student's (through a 1x1 projector, so
a narrower student fits) and the teacher's. `Model.train(distill_model=...)` would first rebuild the student
from its YAML (a 2x channel-pruned yolo11n came back with 2,624,080 parameters instead of 1,179,965,
measured); here the wrapper gets the module itself, masks are re-applied to the student inside it, and the
student alone is handed back (the projector is training-only and is dropped, as Ultralytics' own
checkpoints drop it).
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from prunebench.util.filehash import file_sha256
from prunebench.yolo.amp import amp_used, install_offline_check, ultralytics_amp
from prunebench.yolo.env import import_ultralytics

KEEP_MODES = ("none", "masks", "structure")
RUN_NAME = "train"  # the trainer writes only to <work_dir>/train


def train(model, data_yaml: Path, *, epochs: int, imgsz: int, batch: int, device: str, seed: int, work_dir: Path,
          lr0: float | None = None, keep: str = "none", regularize: Callable[[Any], None] | None = None,
          verbose: bool = False, optimizer: str | None = None, warmup_epochs: float | None = None,
          label: str = "training", amp: bool | str = False, distill: Path | None = None,
          dis: float = 6.0) -> tuple[Any, dict]:
    """Train this module instance on `data_yaml`; return it (final EMA weights, fp32, eval, no grad) and info.

    keep: "none"; "masks" (every Conv2d's zeros at the start stay zero); "structure" (the
    pruned architecture is trained as is; checked: same parameter count afterwards).
    regularize: called with the model after each backward pass, on true (unscaled) gradients,
    after they are clipped and before the optimizer step.
    No gradient accumulation: every batch is one optimizer step (Ultralytics' nominal batch
    of 64 would leave a small fine-tuning set only a few steps per epoch).
    optimizer: an Ultralytics optimizer name; default "auto" (Ultralytics picks optimizer and
    learning rate), or "SGD" when `lr0` is given, since "auto" would ignore `lr0`.
    warmup_epochs: Ultralytics' warm-up (None: its default, 3); 0 starts at lr0 at once, as a trained
    model being fine-tuned wants.
    label: what this training is ("fine-tuning", ...), for the error if the loss turns NaN/Inf.
    amp: mixed precision, as the recipe's `amp` (False, True = fp16, "bf16"); fp32 on the CPU.
    distill: a teacher checkpoint (.pt): Ultralytics' knowledge distillation with loss weight `dis` (see the
    module docstring); info["distill"] then says which teacher (path, sha256), `dis` and the student's and
    teacher's parameter counts.
    info: {"loss_curve": [{"epoch", "box_loss", "cls_loss", "dfl_loss"}, ...], "epochs",
    "train_seconds", "optimizer", "lr0", "warmup_epochs", "keep", "kept_zeros", "amp", "amp_used",
    "autocast_dtype"}.
    """
    if keep not in KEEP_MODES:
        raise ValueError(f"train(keep={keep!r}): keep must be one of {', '.join(KEEP_MODES)}")
    import_ultralytics(verbose)
    from ultralytics.utils.torch_utils import unwrap_model

    masks = ConvMasks.capture(model) if keep == "masks" else None
    params_before = count_parameters(model)
    _prepare_for_training(model)
    overrides = _overrides(data_yaml, epochs=epochs, imgsz=imgsz, batch=batch, device=device, seed=seed,
                           work_dir=work_dir, lr0=lr0, optimizer=optimizer, verbose=verbose, val=False)
    overrides["amp"] = ultralytics_amp(amp, device)
    # Only a label here (setup_model never rebuilds from it), but Ultralytics requires one.
    overrides["model"] = str((getattr(model, "yaml", None) or {}).get("yaml_file", "in-memory-model"))
    # One optimizer step per batch: Ultralytics would accumulate round(64 / batch) batches, leaving a small
    # fine-tuning set a handful of steps, and regularize must follow every backward pass.
    overrides["nbs"] = batch
    if warmup_epochs is not None:
        overrides["warmup_epochs"] = float(warmup_epochs)
    if distill is not None:
        if not Path(distill).is_file():
            raise ValueError(f"distillation: the teacher checkpoint {distill} does not exist")
        overrides.update(distill_model=str(Path(distill).resolve()), dis=float(dis))
    trainer = _trainer_class()(overrides=overrides, module=model, masks=masks, regularize=regularize)
    _check_classes(model, trainer.data, data_yaml)
    curve = LossCurve.attach(trainer)
    trainer.add_callback("on_train_batch_end", functools.partial(_stop_on_non_finite_loss, label=label))
    if not verbose:
        EpochBar.attach(trainer, label)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started

    # The EMA is what Ultralytics validates and saves; hand it back in the caller's own instance (with
    # distillation: the student inside the wrapper, which is that instance, without the wrapper's hooks).
    wrapped = unwrap_model(trainer.model)
    trained = student_of(wrapped)
    trained.load_state_dict(student_of(trainer.ema.ema).state_dict())
    distilled = None
    if trained is not wrapped:
        wrapped._remove_feature_hooks()
        distilled = {"teacher": str(Path(distill).resolve()), "teacher_sha256": file_sha256(distill), "dis": float(dis),
                     "teacher_params": count_parameters(wrapped.teacher_model), "student_params": count_parameters(trained),
                     "projector_params": count_parameters(wrapped.projector),
                     "how": "Ultralytics DistillationModel (ultralytics/nn/distill_model.py) around the module itself, "
                            "in prunebench's trainer: masks and the pruned architecture kept; projector dropped"}
    elif distill is not None:
        raise RuntimeError("distillation was asked for, but Ultralytics' trainer did not wrap the model in its "
                           "DistillationModel; this Ultralytics version trains distillation differently")
    _settle(trained)
    if masks is not None and (lost := masks.lost(trained)):
        raise RuntimeError(f"fine-tuning brought back {lost} pruned weights; the masks were not kept")
    if keep == "structure" and count_parameters(trained) != params_before:
        raise RuntimeError(f"training changed the architecture: {params_before} -> "
                           f"{count_parameters(trained)} parameters")
    info = {"loss_curve": curve.rows(), "epochs": epochs, "train_seconds": round(seconds, 3),
            "optimizer": str(trainer.args.optimizer), "lr0": float(trainer.args.lr0),
            "warmup_epochs": float(trainer.args.warmup_epochs), "keep": keep,
            "kept_zeros": masks.count if masks is not None else 0, **amp_used(trainer, amp)}
    if distilled is not None:
        info["distill"] = distilled
    return trained, info


def train_baseline(arch: str, data_yaml: Path, recipe, *, device: str, out_dir: Path, verbose: bool = False) -> Path:
    """Train `arch` (an Ultralytics architecture YAML) from scratch with `recipe`; return `out_dir/best.pt`.

    Ultralytics' own recipe: the model is built from the YAML with the dataset's classes,
    validated every epoch, and best.pt is the epoch with the best fitness. The run folder
    is removed; best.pt and baseline.json (recipe, final metrics, loss curve) stay.
    """
    import_ultralytics(verbose)
    out_dir = Path(out_dir)
    run_dir = out_dir / "run"
    shutil.rmtree(run_dir, ignore_errors=True)  # a half-finished earlier attempt
    overrides = _overrides(data_yaml, epochs=recipe.epochs, imgsz=recipe.imgsz, batch=recipe.batch, device=device,
                           seed=recipe.seed, work_dir=run_dir, lr0=recipe.lr0, optimizer=recipe.optimizer,
                           verbose=verbose, val=True)
    if recipe.nbs is not None:
        overrides["nbs"] = recipe.nbs
    overrides.update(model=str(arch), save=True)  # save=False would write best.pt only if the last epoch is best
    trainer = _trainer_class()(overrides=overrides)
    curve = LossCurve.attach(trainer)
    if not verbose:
        EpochBar.attach(trainer, f"baseline {Path(str(arch)).stem}", plain_lines=True)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    if not trainer.best.is_file():
        raise RuntimeError(f"training {arch} wrote no best.pt under {trainer.wdir}")
    best = out_dir / "best.pt"
    shutil.copyfile(trainer.best, out_dir / ".best.pt.tmp")
    (out_dir / ".best.pt.tmp").replace(best)  # atomic: a reader never sees half a checkpoint
    summary = {"arch": str(arch), "recipe": recipe.model_dump(mode="json"), "device": device,
               "train_seconds": round(seconds, 3), "optimizer": str(trainer.args.optimizer),
               "lr0": float(trainer.args.lr0), "metrics": _finite(trainer.metrics or {}), "loss_curve": curve.rows()}
    (out_dir / "baseline.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(run_dir, ignore_errors=True)
    return best


def steps_per_epoch(data_yaml: Path, batch: int) -> int:
    """Optimizer steps in one epoch of `data_yaml`'s train split: one per batch (see `train`: no accumulation)."""
    from prunebench.yolo import labels

    images = len(labels.list_split_images(labels.read_data_yaml(data_yaml), "train"))
    return max(1, math.ceil(images / batch))


def resolve_epochs(recipe: dict[str, Any], data_yaml: Path) -> tuple[int, int]:
    """(epochs, optimizer steps) a fine-tuning recipe means on this dataset: `epochs: auto` takes enough epochs
    for `min_steps` steps (at least one), so the budget scales with the dataset's size."""
    per_epoch = steps_per_epoch(data_yaml, int(recipe["batch"]))
    epochs = recipe["epochs"]
    if epochs == "auto":
        epochs = max(1, math.ceil(int(recipe["min_steps"]) / per_epoch))
    return int(epochs), int(epochs) * per_epoch


def _stop_on_non_finite_loss(trainer, label: str) -> None:
    """Fail at the first NaN/Inf loss. Ultralytics would carry on (it can only roll back to a last.pt,
    which these runs do not write), and a cell would then report a model trained on NaNs."""
    if trainer.loss is not None and not bool(trainer.loss.isfinite()):
        raise FloatingPointError(f"{label} loss became NaN/Inf at epoch {trainer.epoch + 1} "
                                 f"(loss {float(trainer.loss)})")


def student_of(model):
    """The model being trained: the student inside Ultralytics' DistillationModel, else the model itself."""
    student = getattr(model, "student_model", None)
    return model if student is None else student


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


class ConvMasks:
    """The zero pattern of every Conv2d weight that has zeros, re-applied in place."""

    def __init__(self, masks: dict[str, Any]):
        self.masks = masks  # module name -> bool tensor, True where the weight may be non-zero
        self.count = sum(int((~mask).sum()) for mask in masks.values())

    @classmethod
    def capture(cls, model) -> "ConvMasks":
        import torch

        return cls({name: module.weight.detach() != 0 for name, module in model.named_modules()
                    if isinstance(module, torch.nn.Conv2d) and bool((module.weight == 0).any())})

    def apply(self, model) -> None:
        import torch

        modules = dict(model.named_modules())
        with torch.no_grad():
            for name, mask in self.masks.items():
                weight = modules[name].weight
                if mask.device != weight.device:
                    mask = self.masks[name] = mask.to(weight.device)  # once, not every step
                weight.masked_fill_(~mask, 0.0)

    def lost(self, model) -> int:
        """How many masked weights are no longer zero."""
        modules = dict(model.named_modules())
        return sum(int(((modules[name].weight.detach().cpu() != 0) & ~mask.cpu()).sum())
                   for name, mask in self.masks.items())


class EpochBar:
    """Epoch progress while Ultralytics' own output is silenced: a bar on a terminal. Elsewhere (output sent
    to a file or a pipe, where a bar draws nothing) one plain line per epoch when `plain_lines`: a baseline
    trains for minutes before the first cell ends, and a log should show it advancing."""

    def __init__(self, bar, label: str, total: int, stream=None):
        self.bar, self.label, self.total, self.stream = bar, label, total, stream  # bar None: plain lines
        self.started = time.perf_counter()

    @classmethod
    def attach(cls, trainer, label: str, *, plain_lines: bool = False, stream=None) -> "EpochBar":
        import sys

        from tqdm.auto import tqdm

        stream = stream if stream is not None else sys.stderr
        bar = tqdm(total=trainer.epochs, desc=label, unit="epoch", leave=False, file=stream, disable=None)
        progress = cls(None if bar.disable else bar, label, trainer.epochs, stream)
        if bar.disable and not plain_lines:
            return progress  # off a terminal, fine-tuning stays quiet: the run prints a line per finished cell
        trainer.add_callback("on_fit_epoch_end", progress.update)
        trainer.add_callback("on_train_end", lambda _: bar.close())
        return progress

    def update(self, trainer) -> None:
        if trainer.epoch + 1 > self.total:  # Ultralytics' final validation of best.pt, logged as epoch N + 1
            return
        metrics = trainer.metrics or {}
        shown = {"loss": sum(float(v) for v in (trainer.tloss or {}).values())}
        if trainer.args.val and "metrics/mAP50(B)" in metrics:
            shown["mAP50"] = float(metrics["metrics/mAP50(B)"])
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in shown.items()}, refresh=False)
            self.bar.update(1)
            return
        values = ", ".join(f"{k} {v:.3f}" for k, v in shown.items())
        print(f"{self.label}: epoch {trainer.epoch + 1}/{self.total}, {values}, "
              f"{time.perf_counter() - self.started:.1f} s", file=self.stream, flush=True)


class LossCurve:
    """Mean training losses per epoch, read from the trainer at the end of each epoch."""

    def __init__(self):
        self.by_epoch: dict[int, dict[str, Any]] = {}

    @classmethod
    def attach(cls, trainer) -> "LossCurve":
        curve = cls()
        trainer.add_callback("on_train_epoch_end", curve.record)
        return curve

    def record(self, trainer) -> None:
        losses = trainer.tloss or {}
        # A NaN-recovery rerun of an epoch replaces that epoch's row.
        self.by_epoch[trainer.epoch + 1] = {"epoch": trainer.epoch + 1,
                                            **_finite({k: float(v) for k, v in losses.items()})}

    def rows(self) -> list[dict[str, Any]]:
        return [self.by_epoch[epoch] for epoch in sorted(self.by_epoch)]


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """Round to 5 decimals; NaN / inf become None (records are strict JSON)."""
    out = {}
    for key, value in values.items():
        value = float(value)
        out[key] = round(value, 5) if math.isfinite(value) else None
    return out


def _overrides(data_yaml: Path, *, epochs: int, imgsz: int, batch: int, device: str, seed: int, work_dir: Path,
               lr0: float | None, optimizer: str | None, verbose: bool, val: bool) -> dict[str, Any]:
    if optimizer is None:
        optimizer = "auto" if lr0 is None else "SGD"
    overrides = dict(
        data=str(data_yaml), epochs=int(epochs), imgsz=int(imgsz), batch=int(batch), device=str(device),
        seed=int(seed), deterministic=True, workers=0, amp=False, optimizer=optimizer,
        project=str(Path(work_dir).resolve()), name=RUN_NAME, exist_ok=True,
        plots=False, save=False, val=val, verbose=verbose)
    if lr0 is not None:
        overrides["lr0"] = float(lr0)
    return overrides


def read_results_csv(path: Path) -> dict[str, list]:
    """Ultralytics' results.csv as {column: [values]}, numbers as floats, as `BaseTrainer.read_results_csv` returns it
    through polars; {} when it cannot be read (as there). Stored in the trainer's own checkpoints only."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error):
        return {}
    columns: dict[str, list] = {name: [] for name in (rows[0] if rows else {})}
    for row in rows:
        for name in columns:
            value = (row.get(name) or "").strip()
            try:
                columns[name].append(float(value))
            except ValueError:
                columns[name].append(value or None)
    return columns


def _prepare_for_training(model) -> None:
    """YOLO(path) loads every parameter with requires_grad=False; the trainer freezes '.dfl' again itself."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(parameter.dtype.is_floating_point and ".dfl" not in name)
    if hasattr(model, "criterion"):
        model.criterion = None  # rebuilt from the current head and args on the first batch


def _settle(model) -> None:
    model.float().eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    if hasattr(model, "criterion"):
        model.criterion = None


def _check_classes(model, data: dict, data_yaml: Path) -> None:
    head_classes = getattr(getattr(model, "model", [None])[-1], "nc", None)
    if head_classes is not None and head_classes != data["nc"]:
        raise ValueError(
            f"the model predicts {head_classes} classes but {data_yaml} has {data['nc']}: fine-tuning keeps the "
            f"model's head, so it needs the dataset the model was trained on (or a checkpoint trained on this one)")


@functools.cache
def _trainer_class():
    import torch
    from ultralytics.models.yolo.detect import DetectionTrainer
    from ultralytics.utils.torch_utils import unwrap_model

    install_offline_check()

    class PruneAwareTrainer(DetectionTrainer):
        """A DetectionTrainer that trains the module it is given and keeps its pruning."""

        def __init__(self, overrides: dict, module=None, masks: ConvMasks | None = None,
                     regularize: Callable[[Any], None] | None = None):
            self._module, self._masks, self._regularize = module, masks, regularize
            super().__init__(overrides=overrides)

        def setup_model(self):
            if self._module is None:
                return super().setup_model()  # a baseline: built from args.model (a YAML)
            self.model = self._module  # never rebuilt from its YAML: a narrower model stays narrow
            return None

        def optimizer_step(self):
            self.scaler.unscale_(self.optimizer)  # true gradients from here on, AMP or not
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm=10.0)
            if self._regularize is not None:
                # After clipping: Ultralytics' loss is summed over the batch, so its gradients are usually clipped
                # hard, and a penalty added before would shrink with them (measured on tea photos: 20 epochs at
                # s=0.05 moved the median |gamma| by 0.025). Lam1360/YOLOv3-model-pruning's updateBN adds it
                # after backward with no clipping at all.
                self._regularize(student_of(unwrap_model(self.model)))
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad()
            if self._masks is not None:
                self._masks.apply(student_of(unwrap_model(self.model)))  # before the EMA reads the weights
            if self.ema:
                self.ema.update(self.model)

        def read_results_csv(self):
            return read_results_csv(self.csv)

        def validate(self):
            if self.args.val:
                return super().validate()
            return self.metrics, None  # fine-tuning: the caller evaluates the result itself

        def final_eval(self):
            if self.args.val:
                super().final_eval()

    return PruneAwareTrainer


__all__ = ["train", "train_baseline", "count_parameters", "ConvMasks", "LossCurve", "KEEP_MODES"]
