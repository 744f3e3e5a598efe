"""The model a record kept: where its checkpoint is, and whether the file is the one the record describes.

A record's `details.model_file` is {path (relative to the results folder), sha256, bytes} of
`<results>/models/<cell name>.<key>.pt`. No torch here: `prunebench show` uses this module too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prunebench.records.record import Record
from prunebench.util.filehash import content_digest, hash_file
from prunebench.util.safe_paths import OutsideFolder

NO_KEPT_MODEL_HINT = ("a record keeps its model only when the suite ran with `keep_models: all` (the default) "
                      "under schema version 2; rerun those cells to get one: `prunebench run SUITE --only PATTERN "
                      "--force` (with `keep_models: all` in the suite)")


class NoKeptModel(ValueError):
    """The record has no kept model (or its file is gone)."""


def kept_model(record: Record, results_dir: Path, *, verify: bool = True) -> Path:
    """The record's kept checkpoint, checked against the record's sha256; NoKeptModel when the record
    kept none or the file is gone, ValueError when the file is not the one the record describes."""
    kept = record.model_file
    if kept is None:
        raise NoKeptModel(f"{record.name} has no kept model (its record has no details.model_file); "
                          f"{NO_KEPT_MODEL_HINT}")
    try:
        path = kept.resolve(results_dir)
    except OutsideFolder as exc:
        raise NoKeptModel(f"{record.name}: {exc}") from None
    if not path.is_file():
        raise NoKeptModel(f"{record.name}: its kept model {path} is missing (moved or deleted); {NO_KEPT_MODEL_HINT}")
    if verify and kept.sha256:
        actual = hash_file(path)
        if actual != kept.sha256:
            raise ValueError(f"{record.name}: the kept model {path} has sha256 {actual[:16]}..., but its record says "
                             f"{kept.sha256[:16]}...: the file was replaced after the cell ran, so the record's "
                             f"accuracy does not describe it; rerun the cell (`prunebench run SUITE --only "
                             f"{record.name} --force`) or put the original file back")
    return path


def has_kept_model(record: Record, results_dir: Path) -> bool:
    try:
        path = record.model_path(results_dir)
    except OutsideFolder:
        return False
    return path is not None and path.is_file()


def export_content(path: Path) -> dict[str, Any]:
    """bytes and sha256 of an export: a file's own; a folder's (openvino) over its files in name order."""
    return content_digest(path)
