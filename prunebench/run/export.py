"""`prunebench export`: export the kept model of every selected ok record next to it, through Ultralytics'
exporter, and note each export in its record (details.exports[fmt]: path, sha256, bytes, imgsz, the model's
sha256)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from prunebench.records.index import RecordIndex
from prunebench.records.kept import NO_KEPT_MODEL_HINT, NoKeptModel, export_content, kept_model
from prunebench.records.record import now
from prunebench.records.store import cells_dir, cell_lock, write_record


@dataclass
class Exported:
    name: str
    path: Path
    bytes: int
    seconds: float


def export_results(results_dir: Path, fmt: str, *, patterns: Iterable[str] = (), imgsz: int | None = None,
                   log=print) -> list[Exported]:
    """Export the kept model of every ok record (matching `patterns`). Checks everything first: ValueError (one
    paragraph) when the format cannot be exported here or a record has no kept model."""
    from prunebench.yolo.export import check_format, export_checkpoint

    check_format(fmt)
    selected = RecordIndex(results_dir).select(patterns, kept_only=True)
    if not selected:
        raise ValueError(f"no ok record in {cells_dir(results_dir)}" + (f" matches {' '.join(patterns)}"
                                                                       if patterns else "")
                         + "; `prunebench leaderboard` lists the folder's cells")
    missing, checkpoints = [], {}
    for found in selected:
        try:
            checkpoints[found.path] = kept_model(found.record, results_dir)
        except NoKeptModel:
            missing.append(found.name)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise NoKeptModel(f"cannot export {len(missing)} of {len(selected)} selected cells: {shown} kept no model "
                          f"file in {results_dir}/models; {NO_KEPT_MODEL_HINT}; or pass --only to export the others")
    done = []
    for found in selected:
        record = found.record
        size = imgsz or int(record.imgsz or 640)
        start = time.perf_counter()
        path = export_checkpoint(checkpoints[found.path], fmt, imgsz=size)
        seconds = time.perf_counter() - start
        entry = {"path": path.relative_to(Path(results_dir).resolve()).as_posix(), "imgsz": size,
                 "model_sha256": record.model_file.sha256, "exported_at": now(), **export_content(path)}
        with cell_lock(results_dir, found.path.name):
            record.add_export(fmt, entry)
            write_record(results_dir, found.path.name, record)
        done.append(Exported(found.name, path, entry["bytes"], seconds))
        log(f"{found.name}: {path} ({entry['bytes'] / 1e6:.1f} MB, {seconds:.1f} s)")
    return done
