"""Load a checkpoint, or train an architecture's baseline once and reuse it from the cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from filelock import FileLock

from prunebench import checkpoints, training
from prunebench.base import CellContext

BASELINES_DIRNAME = "baselines"


def load_weights(path: Path):
    """ultralytics.YOLO for a detection checkpoint on disk (ValueError for a broken or non-detection file)."""
    return checkpoints.load_yolo(path)


def baseline_dir(cache_dir: Path, arch_fingerprint: dict[str, Any], dataset_fingerprint: str) -> Path:
    """<cache>/baselines/<arch stem>-<hash of architecture, recipe, Ultralytics version and dataset>."""
    identity = json.dumps({"model": arch_fingerprint, "dataset": dataset_fingerprint}, sort_keys=True)
    key = hashlib.sha256(identity.encode()).hexdigest()[:16]
    stem = Path(str(arch_fingerprint.get("arch", "model"))).stem
    return Path(cache_dir) / BASELINES_DIRNAME / f"{stem}-{key}"


def load_baseline(arch: str, recipe, arch_fingerprint: dict[str, Any], ctx: CellContext):
    """The baseline of `arch` trained on the cell's dataset: from the cache, else trained now (once, under a lock)."""
    if ctx.dataset is None:
        raise ValueError(f"arch {arch!r} is trained on the suite's dataset, but this cell has none")
    dataset_fp = ctx.dataset.fingerprint or _file_sha256(Path(ctx.dataset.data_yaml))
    folder = baseline_dir(ctx.cache_dir, arch_fingerprint, dataset_fp)
    best = folder / "best.pt"
    folder.mkdir(parents=True, exist_ok=True)
    # Another process may be training this baseline right now: wait for it rather than train it twice.
    with FileLock(str(folder) + ".lock"):
        if not best.is_file():  # training is announced; reusing the cached one (the normal case) is silent
            ctx.log(f"baseline {arch}: training {recipe.epochs} epochs at {recipe.imgsz} px on "
                    f"{ctx.dataset.data_yaml} -> {best} (once; later cells and runs reuse it)")
            training.train_baseline(_ultralytics_arch(arch), ctx.dataset.data_yaml, recipe, device=ctx.device,
                                    out_dir=folder, verbose=ctx.verbose)
    return checkpoints.load_yolo(best)


def _ultralytics_arch(arch: str) -> str:
    """A shipped name as is (Ultralytics resolves scales itself); a user's YAML by absolute path."""
    from prunebench_builtins.ultralytics_models.architectures import resolve

    found = resolve(arch)
    return found.name if found.shipped else str(found.yaml_path)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
