"""Load a checkpoint as it is, or train a baseline once (from scratch, or adapted from a pretrained
checkpoint) and reuse it from the cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from filelock import FileLock

from prunebench.yolo import checkpoints, training
from prunebench import CellContext
from prunebench.util.filehash import file_sha256

BASELINES_DIRNAME = "baselines"


def load_weights(path: Path, dataset=None):
    """ultralytics.YOLO for a detection checkpoint used as it is (ValueError for a broken or non-detection file,
    or one whose classes are not the dataset's: it would score 0 mAP there)."""
    yolo = checkpoints.load_yolo(path)
    if dataset is not None:
        check_classes(yolo.model, dataset.names, path)
    return yolo


def check_classes(model, names: dict[int, str], path: Path) -> None:
    """ValueError naming the user's checkpoint when its classes (count and names, in order) differ from the dataset's."""
    ours = {int(k): str(v) for k, v in (getattr(model, "names", None) or {}).items()}
    theirs = {int(k): str(v) for k, v in names.items()}
    if ours == theirs:
        return
    def listed(classes):
        shown = ", ".join(list(classes.values())[:6]) + (", ..." if len(classes) > 6 else "")
        return f"{len(classes)} classes ({shown})"
    raise ValueError(
        f"{path} predicts {listed(ours)} but the dataset has {listed(theirs)}: a checkpoint given as `weights:` "
        "alone is used as it is, so it must have been trained on this dataset's classes (it would score 0 mAP "
        "here). To adapt a pretrained checkpoint such as a COCO yolo11n.pt to this dataset, add a recipe to the "
        "model's params, e.g. `baseline: {epochs: 25, imgsz: 640, batch: 8}`: prunebench then fine-tunes it "
        "first, with a new head, as `yolo train model=yolo11n.pt data=...` does.")


def baseline_dir(cache_dir: Path, fingerprint: dict[str, Any], dataset_fingerprint: str, stem: str) -> Path:
    """<cache>/baselines/<stem>-<hash of the source (architecture or checkpoint), recipe, Ultralytics version and
    dataset>."""
    identity = json.dumps({"model": fingerprint, "dataset": dataset_fingerprint}, sort_keys=True)
    key = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return Path(cache_dir) / BASELINES_DIRNAME / f"{stem}-{key}"


def load_baseline(source: str, recipe, fingerprint: dict[str, Any], ctx: CellContext):
    """The baseline trained on the cell's dataset from `source` (an architecture YAML, from scratch, or a .pt
    checkpoint, adapted): from the cache, else trained now (once, under a lock)."""
    if ctx.dataset is None:
        raise ValueError(f"model {source!r} is trained on the suite's dataset, but this cell has none")
    pretrained = source.endswith(".pt")
    dataset_fp = ctx.dataset.fingerprint or file_sha256(Path(ctx.dataset.data_yaml))[:16]
    folder = baseline_dir(ctx.cache_dir, fingerprint, dataset_fp, Path(source).stem)
    best = folder / "best.pt"
    folder.mkdir(parents=True, exist_ok=True)
    # Another process may be training this baseline right now: wait for it rather than train it twice.
    with FileLock(str(folder) + ".lock"):
        if not best.is_file():  # training is announced; reusing the cached one (the normal case) is silent
            how = "adapting the pretrained checkpoint" if pretrained else "training from scratch"
            ctx.log(f"baseline {Path(source).name}: {how}, {recipe.epochs} epochs at {recipe.imgsz} px on "
                    f"{ctx.dataset.data_yaml} -> {best} (once; later cells and runs reuse it)")
            training.train_baseline(source if pretrained else _ultralytics_arch(source), ctx.dataset.data_yaml,
                                    recipe, device=ctx.device, out_dir=folder, verbose=ctx.verbose)
    return checkpoints.load_yolo(best)


def _ultralytics_arch(arch: str) -> str:
    """A shipped name as is (Ultralytics resolves scales itself); a user's YAML by absolute path."""
    from prunebench_builtins.ultralytics_models.architectures import resolve

    found = resolve(arch)
    return found.name if found.shipped else str(found.yaml_path)
