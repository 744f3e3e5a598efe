"""A checkpoint validated as a record measures it, its metrics checked to be real numbers; read by the conformance
checks and by the tiny baseline's training alike (neither imports the other for it)."""

from __future__ import annotations

import math
from pathlib import Path

from prunebench.testing.failures import require


def validate_checkpoint(path: Path, dataset, work_dir: Path, imgsz: int) -> dict[str, float]:
    from prunebench.yolo import evaluate

    metrics = evaluate.evaluate(path, dataset.data_yaml, imgsz=imgsz, batch=16, device="cpu",
                                work_dir=Path(work_dir))["metrics"]
    bad = {k: v for k, v in metrics.items() if not (isinstance(v, float) and math.isfinite(v) and 0.0 <= v <= 1.0)}
    require(not bad, f"validation gave metrics that are not numbers in [0, 1]: {bad}")
    require(metrics["map50_95"] <= metrics["map50"] + 1e-9, f"mAP50-95 above mAP50: {metrics}")
    return metrics
