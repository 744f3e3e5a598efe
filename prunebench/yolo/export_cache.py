"""Exports made once: a cell's variants, and every pruned variant timed against the dense model in the same
variant, need the same exports again (an INT8 export takes about 30 s on a 2-core CPU). An export is kept in
`<cache>/exports/<hash>/`, the hash over the checkpoint's sha256, the format, INT8 or not, imgsz, the
calibration's identity and the Ultralytics version; a lock makes two processes build it once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from prunebench.util.canonical import short_hash
from prunebench.util.filehash import content_digest, hash_file


def cached_export(checkpoint: Path, fmt: str, imgsz: int, cache_dir: Path, *, calibration=None,
                  calibration_id: Any = None) -> tuple[Path, dict[str, Any]]:
    """(the export of `checkpoint`, how it was made: exporter, seconds, bytes, sha256, cached). `calibration`
    (prunebench.yolo.calibration.Calibration) makes it INT8; `calibration_id` names what the calibration
    images are (e.g. the dataset's fingerprint and max_images), so a changed dataset makes a new export."""
    from filelock import FileLock

    from prunebench.yolo.export import export_checkpoint, export_path
    from prunebench.yolo.env import import_ultralytics

    ultralytics = import_ultralytics()
    checkpoint = Path(checkpoint)
    int8 = calibration is not None
    identity = {"checkpoint": hash_file(checkpoint), "format": fmt, "int8": int8, "imgsz": int(imgsz),
                "calibration": calibration_id if int8 else None,
                "ultralytics": getattr(ultralytics, "__version__", None)}
    folder = Path(cache_dir) / "exports" / short_hash(identity)
    folder.mkdir(parents=True, exist_ok=True)
    target = export_path(checkpoint, fmt, folder, int8=int8)
    summary = folder / "export.json"
    with FileLock(str(folder) + ".lock"):
        if target.exists() and summary.is_file():
            return target, dict(json.loads(summary.read_text()), cached=True)
        started = time.perf_counter()
        written = export_checkpoint(checkpoint, fmt, imgsz=imgsz, out_dir=folder, calibration=calibration)
        info = {"exporter": f"ultralytics YOLO(checkpoint).export(format={fmt!r}, imgsz={int(imgsz)}, batch=1"
                            + (", quantize=8, data=<calibration YAML>, split='val', fraction=1.0" if int8 else "")
                            + ")", "format": fmt, "int8": int8, "imgsz": int(imgsz),
                "seconds": round(time.perf_counter() - started, 3), "from_sha256": identity["checkpoint"],
                "file": written.name, **content_digest(written)}
        if int8:
            info["calibration"] = calibration.summary()
        summary.write_text(json.dumps(info, sort_keys=True) + "\n")
    return written, dict(info, cached=False)


__all__ = ["cached_export"]
