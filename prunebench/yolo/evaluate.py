"""Evaluate a detection model with Ultralytics' own DetectionValidator (the evaluator a record names).

The validator wraps a module in AutoBackend, which fuses Conv+BatchNorm in place and may
move or cast it; it is given a deep copy, so the caller's model (and its pruned zeros) is
left exactly as it was.
"""

from __future__ import annotations

import copy
from pathlib import Path

from prunebench.yolo.env import import_ultralytics

EVALUATOR = "ultralytics.DetectionValidator"
CURVE_POINTS = 101  # confidence 0.00, 0.01, ..., 1.00


def evaluate(model, data_yaml: Path, *, imgsz: int, batch: int, device: str, work_dir: Path, verbose: bool = False,
             conf: float = 0.001, iou: float = 0.7) -> dict:
    """Validate `model` on the val split of `data_yaml`.

    Returns {"metrics": {precision, recall, map50, map50_95}, "per_class_ap": {name: {ap50, ap50_95}}
    (only with more than one class), "curves": {confidence, precision, recall, f1} (mean over
    classes, 101 points, 4 decimals), "speed": {preprocess, inference, postprocess} (ms per image)}.
    """
    import_ultralytics(verbose)
    from ultralytics.models.yolo.detect import DetectionValidator

    work_dir = Path(work_dir).resolve()
    args = dict(data=str(data_yaml), imgsz=int(imgsz), batch=int(batch), device=str(device), conf=float(conf),
                iou=float(iou), task="detect", mode="val", split="val", plots=False, save_json=False,
                save_txt=False, verbose=verbose, workers=0, project=str(work_dir), name="val", exist_ok=True)
    validator = DetectionValidator(args=args, save_dir=work_dir)
    validator(model=copy.deepcopy(model))
    box = validator.metrics.box
    return {
        "metrics": {"precision": float(box.mp), "recall": float(box.mr), "map50": float(box.map50),
                    "map50_95": float(box.map)},
        # Class names from the dataset: a model built from a YAML carries placeholder names.
        "per_class_ap": _per_class_ap(validator.metrics, validator.data["names"]),
        "curves": confidence_curves(box),
        "speed": {k: round(float(validator.speed[k]), 3) for k in ("preprocess", "inference", "postprocess")},
    }


def _per_class_ap(metrics, names: dict[int, str]) -> dict[str, dict[str, float]]:
    if len(names) <= 1:
        return {}
    box = metrics.box
    ap50, ap = box.ap50, box.ap
    return {names[int(c)]: {"ap50": float(ap50[i]), "ap50_95": float(ap[i])}
            for i, c in enumerate(metrics.ap_class_index)}


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
