"""The kit's material: a tiny synthetic dataset, untrained models, a CellContext, and the trained baseline the
accuracy check prunes, kept in prunebench's cache so that a second pytest session does not train it again.

Where the baseline is kept (first that is set):
  pytest --prunebench-baseline-dir DIR   (the pytest plugin's option)
  PRUNEBENCH_KIT_BASELINE_DIR=DIR        (environment)
  <prunebench's cache>/kit-baselines     (prunebench.util.paths.default_cache_dir: PRUNEBENCH_CACHE, else
                                          $XDG_CACHE_HOME/prunebench, else ~/.cache/prunebench)
Inside it, one folder per recipe and library versions (`baseline_folder`): a new Ultralytics, torch or prunebench,
or a changed recipe, trains a new baseline instead of trusting one made by other code.

No torch at import: pytest imports this in every session of every project that has prunebench installed.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

TINY_IMGSZ = 64

# The trained baseline: YOLOv8n from scratch on easy synthetic buds at 64 px. 128 images at batch 8 for 20
# epochs are 320 optimizer steps; measured on a 2-core CPU: 48 CPU-seconds of training (so about 25 s of wall
# clock on two idle cores; 69-168 s on a machine shared at load average 2-8), val mAP50 0.308, mAP50-95 0.077
# (10 epochs reached about half that). Deterministic: seeded, in Ultralytics' deterministic mode, on one machine;
# CPU training is not bit-identical across processors: re-measured 2026-12-07 on an AMD EPYC (ultralytics 8.4.190,
# torch 2.14.1, loaded machine: 122 s) the same recipe gave val mAP50 0.207, mAP50-95 0.070.
BASELINE_ARCH = "yolov8n.yaml"
BASELINE_DATA = {"train": 128, "val": 32, "imgsz": 64, "seed": 0, "difficulty": 0.0, "buds_per_image": (1, 3)}
BASELINE_EPOCHS, BASELINE_BATCH = 20, 8
BASELINE_MIN_MAP50 = 0.2  # below this a change in accuracy could not be told from noise: refuse to check with it
BASELINE_RECIPE_VERSION = 1  # bump when the way the baseline is trained changes without the recipe's numbers

BASELINE_DIR_ENV = "PRUNEBENCH_KIT_BASELINE_DIR"
BASELINE_DIR_OPTION = "--prunebench-baseline-dir"


def synthetic_buds(folder: Path, **params):
    """A synthetic-buds dataset (PreparedDataset) written under `folder` (reused when already there)."""
    from prunebench.plugin.loader import load_plugins

    source_cls = load_plugins().registry.get("datasets", "synthetic-buds")
    return source_cls(source_cls.Params(**params)).prepare(Path(folder))


def tiny_model(arch: str = "yolov8n.yaml", nc: int | None = None):
    """An untrained detection model built from an Ultralytics architecture YAML (`nc` classes, else the YAML's)."""
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    return DetectionModel(arch, nc=nc, verbose=False)


def tiny_context(dataset, work_dir: Path, seed: int = 0, imgsz: int = TINY_IMGSZ):
    """A CellContext for calling `strategy.prune(model, amount, ctx)` outside a cell: in a test or a quick script.

    The CPU, `seed`, `imgsz` (64 px: the kit's size), batch 4, no log output; scratch and cache folders under
    `work_dir`, and `dataset` (a PreparedDataset: `synthetic_buds(folder)` makes a small one, or the `dataset`
    of `cached_baseline()`), whose train split `prunebench.pruning.training_batches(ctx.dataset.data_yaml, ...)`
    reads. A quick script, without pytest:

        from pathlib import Path
        from prunebench.testing import synthetic_buds, tiny_context, tiny_model

        work = Path("scratch")
        data = synthetic_buds(work / "data", train=8, val=4, imgsz=64, seed=0)
        model = tiny_model("yolov8n.yaml", nc=len(data.names)).eval()
        report = MyStrategy(MyStrategy.Params()).prune(model, 0.3, tiny_context(data, work))
    """
    from prunebench.plugin.base import CellContext

    return CellContext(device="cpu", seed=seed, cache_dir=Path(work_dir) / "cache", work_dir=Path(work_dir),
                       imgsz=imgsz, batch=4, dataset=dataset, log=lambda message: None)


@dataclass(frozen=True)
class TrainedBaseline:
    """A trained detection model to prune, with the dataset it was trained on and its own accuracy."""

    checkpoint: Path  # an Ultralytics checkpoint: `YOLO(checkpoint)` loads it
    dataset: Any  # PreparedDataset
    imgsz: int
    metrics: dict[str, float]  # precision, recall, map50, map50_95 on the dataset's val split
    train_seconds: float  # wall-clock seconds of training in this call (0 when reused from the folder)
    train_cpu_seconds: float  # CPU seconds this process spent training (0 when reused)
    reused: bool = False  # True when it was found in its folder (trained by an earlier session)


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def baseline_identity() -> dict[str, Any]:
    """What the trained baseline depends on: its recipe and the versions of the code that trains it."""
    import prunebench

    recipe = {"arch": BASELINE_ARCH, "data": {k: list(v) if isinstance(v, tuple) else v for k, v in BASELINE_DATA.items()},
              "epochs": BASELINE_EPOCHS, "batch": BASELINE_BATCH, "seed": 0, "device": "cpu",
              "recipe_version": BASELINE_RECIPE_VERSION}
    return {"recipe": recipe, "versions": {"ultralytics": _version("ultralytics"), "torch": _version("torch"),
                                           "prunebench": prunebench.__version__}}


def baseline_root(option: str | os.PathLike | None = None) -> Path:
    """The folder the kit keeps trained baselines in: `option` (the pytest option), else $PRUNEBENCH_KIT_BASELINE_DIR,
    else prunebench's cache."""
    if option:
        return Path(option).expanduser()
    if env := os.environ.get(BASELINE_DIR_ENV):
        return Path(env).expanduser()
    from prunebench.util.paths import default_cache_dir

    return default_cache_dir() / "kit-baselines"


def baseline_folder(root: Path | None = None, identity: dict[str, Any] | None = None) -> Path:
    """<root>/yolov8n-buds64-<hash of the recipe and the library versions>."""
    from prunebench.util.canonical import short_hash

    return Path(root if root is not None else baseline_root()) / f"yolov8n-buds64-{short_hash(identity or baseline_identity())}"


def cached_baseline(root: Path | None = None) -> TrainedBaseline:
    """The kit's baseline from its folder under `root` (see `baseline_root`), trained there first if it is not."""
    return trained_baseline(baseline_folder(root))


def trained_baseline(folder: Path) -> TrainedBaseline:
    """Train the kit's baseline into `folder`, or reuse the one already there. Two sessions that ask at once wait
    for each other (a file lock) instead of training it twice."""
    from filelock import FileLock

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        dataset = synthetic_buds(folder, **BASELINE_DATA)
        checkpoint, summary = folder / "baseline.pt", folder / "baseline.json"
        if checkpoint.is_file() and summary.is_file():
            metrics = json.loads(summary.read_text(encoding="utf-8"))["metrics"]
            return TrainedBaseline(checkpoint, dataset, BASELINE_DATA["imgsz"], metrics, 0.0, 0.0, reused=True)
        return _train(folder, dataset, checkpoint, summary)


def _train(folder: Path, dataset, checkpoint: Path, summary: Path) -> TrainedBaseline:
    import torch

    from prunebench.testing.validation import validate_checkpoint
    from prunebench.util.atomic import atomic_write_text
    from prunebench.yolo import checkpoints, training

    imgsz = BASELINE_DATA["imgsz"]
    with torch.random.fork_rng():  # the same initial weights every session; the caller's RNG left alone
        torch.manual_seed(0)
        model = tiny_model(BASELINE_ARCH, nc=len(dataset.names))
    started, cpu_started = time.perf_counter(), time.process_time()
    model, _ = training.train(model, dataset.data_yaml, epochs=BASELINE_EPOCHS, imgsz=imgsz, batch=BASELINE_BATCH,
                              device="cpu", seed=0, work_dir=folder / "work", label="the kit's baseline training")
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    checkpoints.save_model(model, checkpoint)
    metrics = validate_checkpoint(checkpoint, dataset, folder / "work", imgsz)
    if not metrics["map50"] >= BASELINE_MIN_MAP50:
        checkpoint.unlink(missing_ok=True)  # never reused: the next session tries again
        raise RuntimeError(
            f"the conformance kit's baseline reached mAP50 {metrics['map50']:.3f} after {BASELINE_EPOCHS} epochs, "
            f"under the {BASELINE_MIN_MAP50} it needs to tell harm from noise; with the same recipe it reached 0.21-0.31 "
            "when measured, so Ultralytics' training has changed: please report it with `pip list`")
    # Written last: a folder with a summary holds a finished, checked baseline.
    atomic_write_text(summary, json.dumps({"metrics": metrics, "train_seconds": seconds,
                                           "train_cpu_seconds": cpu_seconds, "identity": baseline_identity()},
                                          indent=1, sort_keys=True) + "\n")
    return TrainedBaseline(checkpoint, dataset, imgsz, metrics, seconds, cpu_seconds)
