"""The `ultralytics` model source: a trained detection checkpoint, or an architecture trained here once.

No torch or ultralytics here: checks and fingerprints read files only. Loading (and
training a baseline) happens in `prunebench_builtins.ultralytics_models.loading`, imported when a cell runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from prunebench import CellContext, ModelSource, Params, hookimpl
# The content hash of a weights file, remembered across runs by prunebench's stat cache.
from prunebench.util.filehash import file_sha256
from prunebench_builtins.ultralytics_models import architectures

OPTIMIZERS = Literal["auto", "SGD", "MuSGD", "Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSprop"]


class BaselineRecipe(Params):
    epochs: int = Field(30, ge=1, description="Training epochs (from scratch with `arch:`, from the checkpoint with "
                                               "`weights:`); Ultralytics validates after each and best.pt is the "
                                               "best epoch by fitness on the val split.")
    imgsz: int = Field(320, ge=32, description="Training image size in pixels (a multiple of 32 is used).")
    batch: int = Field(16, ge=1, description="Training batch size.")
    seed: int = Field(0, description="Seed of the baseline's training (shared by every cell of every seed, unless "
                                     "the suite sets `baseline_per_seed`: then each seed's cells get a baseline "
                                     "trained with their seed).")
    optimizer: OPTIMIZERS = Field("auto", description="Ultralytics optimizer; auto picks the optimizer and its "
                                                     "learning rate from the run's length (and ignores lr0).")
    lr0: float | None = Field(None, gt=0, description="Initial learning rate; needs an explicit optimizer "
                                                      "(SGD's usual value is 0.01, AdamW's 0.001).")
    nbs: int | None = Field(None, ge=1, description="Nominal batch size: gradients accumulate over round(nbs / batch) "
                                                    "batches per step (Ultralytics' default 64); set it to `batch` "
                                                    "for a step per batch on a small dataset.")

    @model_validator(mode="after")
    def _lr0_needs_optimizer(self) -> "BaselineRecipe":
        if self.lr0 is not None and self.optimizer == "auto":
            raise ValueError(f"baseline.lr0={self.lr0} would be ignored by `optimizer: auto` (Ultralytics picks its "
                             "own learning rate); also set `optimizer: SGD` (or AdamW, ...), or drop lr0")
        return self


class UltralyticsModelParams(Params):
    weights: str | None = Field(None, description="Path of an Ultralytics detection checkpoint (.pt, any YOLO family "
                                                  "Ultralytics ships), relative to the suite file (or to where you run). Alone: your trained "
                                                  "model, used as it is (its classes must be the dataset's). With "
                                                  "`baseline:`: a pretrained model, first adapted to the dataset.")
    arch: str | None = Field(None, description="Instead of weights: an architecture YAML Ultralytics ships "
                                               "(yolov8n.yaml, yolo11n.yaml, yolov5s.yaml, ...) or a path to one; "
                                               "a baseline is trained from scratch on the suite's dataset once and "
                                               "cached.")
    baseline: BaselineRecipe | None = Field(
        None, description="How the dense baseline is trained on the suite's dataset: from scratch with `arch:` "
                          "(default recipe when omitted), or by fine-tuning `weights:` (transfer learning, a new "
                          "head when the class count differs, as `yolo train model=yolo11n.pt data=...` does).")

    @model_validator(mode="after")
    def _one_source(self) -> "UltralyticsModelParams":
        if (self.weights is None) == (self.arch is None):
            raise ValueError("give exactly one of `weights:` (a checkpoint, e.g. weights: runs/detect/train/"
                             "weights/best.pt) or `arch:` (an architecture to train here, e.g. arch: yolov8n.yaml)")
        return self

    @property
    def recipe(self) -> BaselineRecipe | None:
        """The baseline training recipe, or None when a checkpoint is used as it is."""
        if self.arch is not None:
            return self.baseline or BaselineRecipe()
        return self.baseline


class UltralyticsModel(ModelSource):
    name = "ultralytics"
    description = (
        "A YOLO detector through Ultralytics. Three ways: `weights:` alone loads your trained detection checkpoint "
        "as it is (its classes must match the dataset's; its content hash goes into cell keys, so retraining it "
        "re-runs the cells). `weights:` + `baseline:` adapts a pretrained checkpoint (e.g. COCO yolo11n.pt) to the "
        "suite's dataset first, as `yolo train model=yolo11n.pt` does. `arch:` names an architecture YAML "
        "Ultralytics ships (or your own), trained from scratch with the `baseline` recipe. Trained baselines come "
        "from Ultralytics' own trainer and are cached under <cache>/baselines/ by source, recipe, dataset content "
        "and Ultralytics version, so every cell and every later run reuses them (a file lock keeps concurrent runs "
        "from training one twice).")
    Params = UltralyticsModelParams

    def weights_path(self) -> Path:
        return self.resolve_path(self.params.weights)

    def arch_name(self) -> str:
        """A shipped architecture's name as written; a path to the user's own YAML made absolute."""
        arch = self.params.arch
        return str(self.resolve_path(arch)) if len(Path(arch).parts) > 1 else arch

    def fingerprint(self) -> dict[str, Any]:
        self.check()
        p = self.params
        if p.weights is not None:
            found = {"weights_sha256": file_sha256(self.weights_path())}
        else:
            arch = architectures.resolve(self.arch_name())
            found = {"arch": p.arch, "arch_yaml_sha256": arch.sha256()}
        if p.recipe is not None:
            found.update(ultralytics=architectures.ultralytics_version(), baseline=p.recipe.model_dump(mode="json"))
        return found

    def check(self) -> None:
        if self.params.weights is not None:
            path = self.weights_path()
            if not path.is_file():
                raise ValueError(
                    f"model weights not found: {path}. Put your trained Ultralytics detection checkpoint (e.g. the "
                    f"runs/detect/train/weights/best.pt that `yolo detect train` writes) at {path}, or point "
                    "`weights:` at it, or use `arch: yolov8n.yaml` instead to train a baseline here")
            if path.suffix != ".pt":
                raise ValueError(f"weights {path} is not a .pt file: give the PyTorch checkpoint Ultralytics trained "
                                 "(e.g. best.pt); exports such as .onnx or .engine cannot be pruned")
            from prunebench.yolo.checkpoint_scan import check_checkpoint
            from prunebench.yolo.env import trusting

            if not trusting():  # before any cell, and before a `baseline:` hands the file to Ultralytics' trainer
                check_checkpoint(path)
        else:
            architectures.resolve(self.arch_name())

    def load(self, ctx: CellContext):
        from prunebench_builtins.ultralytics_models import loading

        self.check()
        p = self.params
        if p.recipe is None:
            return loading.load_weights(self.weights_path(), ctx.dataset)
        source = str(self.weights_path()) if p.weights is not None else self.arch_name()
        recipe, fingerprint = p.recipe, self.fingerprint()
        if ctx.baseline_seed is not None:  # the suite's baseline_per_seed: one baseline per seed, cached apart
            recipe = recipe.model_copy(update={"seed": int(ctx.baseline_seed)})
            fingerprint = dict(fingerprint, baseline=recipe.model_dump(mode="json"))
        return loading.load_baseline(source, recipe, fingerprint, ctx)


@hookimpl
def register_models(register):
    register(UltralyticsModel)
