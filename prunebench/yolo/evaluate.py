"""Evaluate a checkpoint exactly as `yolo val` does: `ultralytics.YOLO(path).val(...)`.

`Model.val` is what every published YOLO number comes from: it validates with rectangular batches
(`rect=True`) and the checkpoint's own settings, through AutoBackend (Conv+BN fused). A validator
built by hand without `rect` gives other numbers on the same checkpoint (mAP50-95 0.2641 against
0.2745 at 160 px, measured), so prunebench evaluates the file a record keeps, with `Model.val`,
and a user's `yolo val model=<kept file>` reproduces the record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prunebench.util import safe_yaml
from prunebench.yolo.env import import_ultralytics

EVALUATOR = "ultralytics.YOLO(path).val (as `yolo val`)"
CURVE_POINTS = 101  # confidence 0.00, 0.01, ..., 1.00


def available_splits(data_yaml: Path) -> list[str]:
    """The splits of a (prepared) data YAML that can be evaluated: "val", and "test" when it has one."""
    data = safe_yaml.load(Path(data_yaml)) or {}
    return ["val"] + (["test"] if data.get("test") else [])


def headline_split(data_yaml: Path, requested: str = "auto") -> str:
    """The split a record's accuracy is reported on: `requested`, or for "auto" the test split when there is one
    (val chose the baseline's best epoch, so its figures are optimistic), else val."""
    splits = available_splits(data_yaml)
    if requested == "auto":
        return "test" if "test" in splits else "val"
    if requested not in splits:
        raise ValueError(f"evaluation.split is {requested!r} but the dataset has no {requested} split "
                         f"(it has: {', '.join(splits)}); use `split: auto` or add `{requested}:` to the data YAML")
    return requested


def evaluate(checkpoint: Path, data_yaml: Path, *, split: str = "val", imgsz: int, batch: int, device: str,
             work_dir: Path, verbose: bool = False, conf: float = 0.001, iou: float = 0.7,
             rect: bool | None = None) -> dict:
    """`YOLO(checkpoint).val(data=data_yaml, split=split, ...)`.

    `checkpoint` is a kept `.pt` (loaded weights-only, see checkpoints.load_yolo) or an export of one (an
    `.onnx` file or an `_openvino_model` folder: `YOLO(path, task="detect")`, whose validator forces batch 1
    and rect=False on a static export). `rect`: None keeps Model.val's own (True for a .pt); False gives a .pt
    the settings an export is validated with, so the two compare on one footing.

    Returns {"metrics": {precision, recall, map50, map50_95}, "per_class_ap": {name: {ap50, ap50_95, instances}}
    (only with more than one class), "curves": {confidence, precision, recall, f1} (mean over
    classes, 101 points, 4 decimals), "speed": {preprocess, inference, postprocess} (ms per image),
    "instances": labelled objects in the split, "per_image": one dict per image of what the validator's
    metrics received (tp, conf, pred_cls, target_cls, im_name: prunebench.records.matches.Matches.from_stats)}.
    """
    import_ultralytics(verbose)
    work_dir = Path(work_dir).resolve()
    model = _load(Path(checkpoint))
    captured: list[dict] = []
    model.add_callback("on_val_start", lambda validator: _capture_matches(validator, captured))
    # Settings a user would pass to `yolo val`; the rest (rect=True, half=False, max_det, ...) are Model.val's.
    # workers=0: loading 8-32 images needs no worker processes, and they do not change the numbers.
    metrics = model.val(
        data=str(data_yaml), split=split, imgsz=int(imgsz), batch=int(batch), device=str(device), conf=float(conf),
        iou=float(iou), plots=False, save_json=False, save_txt=False, verbose=verbose, workers=0,
        project=str(work_dir), name="val", exist_ok=True, **({} if rect is None else {"rect": bool(rect)}))
    check_all_evaluated(data_yaml, split, len(captured))
    box = metrics.box
    return {
        "metrics": {"precision": float(box.mp), "recall": float(box.mr), "map50": float(box.map50),
                    "map50_95": float(box.map)},
        "per_class_ap": _per_class_ap(metrics, _dataset_names(data_yaml)),
        "curves": confidence_curves(box),
        "speed": {k: round(float(metrics.speed[k]), 3) for k in ("preprocess", "inference", "postprocess")},
        "instances": int(metrics.nt_per_class.sum()) if metrics.nt_per_class is not None else None,
        "per_image": captured,
    }


def check_all_evaluated(data_yaml: Path, split: str, evaluated: int) -> None:
    """ValueError when Ultralytics evaluated fewer (or more) images than the split holds: it drops an image it cannot
    read without a word, and the figures would then describe another set of images."""
    from prunebench.yolo import labels

    try:
        expected = len(labels.list_split_images(labels.read_data_yaml(data_yaml), split))
    except (ValueError, KeyError, OSError):
        return  # a split prunebench cannot list itself: the dataset's own check has spoken
    if evaluated and evaluated != expected:
        raise ValueError(f"Ultralytics evaluated {evaluated} of the {expected} images of split `{split}` in "
                         f"{data_yaml}: it leaves out images it cannot read, so these figures would describe other "
                         "images than the split's; fix or remove the unreadable images (`prunebench validate` names "
                         "those of the reported split)")


def is_export(path: Path) -> bool:
    """An export of a checkpoint (ONNX file, OpenVINO folder) rather than a `.pt`."""
    path = Path(path)
    return path.suffix == ".onnx" or (path.is_dir() and path.name.endswith("_openvino_model"))


def _load(path: Path):
    from prunebench.yolo.checkpoints import load_yolo

    if not is_export(path):
        return load_yolo(path)  # weights-only, unless the user trusts checkpoints
    from ultralytics import YOLO

    from prunebench.yolo.export import runtime_for

    with runtime_for(path):
        return YOLO(str(path), task="detect")


def _capture_matches(validator, captured: list[dict]) -> None:
    """Keep a copy of what the validator's metrics receive for each image (DetectionValidator.update_metrics
    passes one dict per image: tp at 10 IoU thresholds, conf, pred_cls, target_cls, im_name), then let them have
    it: the validator's own numbers are untouched."""
    import numpy as np

    metrics = validator.metrics
    update = metrics.update_stats

    def update_stats(stat):
        captured.append({"tp": np.array(stat["tp"], copy=True), "conf": np.array(stat["conf"], copy=True),
                         "pred_cls": np.array(stat["pred_cls"], copy=True),
                         "target_cls": np.array(stat["target_cls"], copy=True), "im_name": stat.get("im_name")})
        return update(stat)

    metrics.update_stats = update_stats


def _dataset_names(data_yaml: Path) -> dict[int, str]:
    """Class names from the data YAML: a model built from an architecture YAML carries placeholder names, and
    Model.val reports the model's."""
    names = (safe_yaml.load(Path(data_yaml)) or {}).get("names") or {}
    return {int(k): str(v) for k, v in (enumerate(names) if isinstance(names, list) else names.items())}


def _per_class_ap(metrics, names: dict[int, str]) -> dict[str, dict[str, float]]:
    if len(names) <= 1:
        return {}
    box = metrics.box
    ap50, ap = box.ap50, box.ap
    counts = getattr(metrics, "nt_per_class", None)  # labelled boxes per class index on the split

    def row(i: int, c: int) -> dict[str, Any]:
        out: dict[str, Any] = {"ap50": float(ap50[i]), "ap50_95": float(ap[i])}
        if counts is not None and int(c) < len(counts):
            out["instances"] = int(counts[int(c)])
        return out

    return {names[int(c)]: row(i, c) for i, c in enumerate(metrics.ap_class_index)}


def confidence_curves(box) -> dict[str, list[float]]:
    """Precision, recall and F1 against the confidence threshold, mean over classes, at 101 thresholds."""
    import numpy as np

    grid = np.linspace(0.0, 1.0, CURVE_POINTS)
    px = np.asarray(box.px, dtype=float)
    out: dict[str, list[float]] = {"confidence": [round(float(x), 4) for x in grid]}
    for name, curve in (("precision", box.p_curve), ("recall", box.r_curve), ("f1", box.f1_curve)):
        curve = np.asarray(curve, dtype=float)
        if curve.ndim != 2 or curve.shape[0] == 0 or px.size == 0:  # no class with labels: nothing was measured
            mean = np.zeros_like(grid)
        else:
            mean = np.interp(grid, px, curve.mean(axis=0))
        out[name] = [round(float(v), 4) for v in mean]
    return out
