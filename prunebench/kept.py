"""Records and the models they kept: where a cell's checkpoint is, whether it is the one the record
describes, which record is a cell's dense reference, and exports of a results folder.

A record's `details.model_file` is {path (relative to the results folder), sha256, bytes} of
`<results>/models/<cell name>.<key>.pt`, an Ultralytics checkpoint (see prunebench.results). No torch
at import: `prunebench show` uses this module too.
"""

from __future__ import annotations

import fnmatch
import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from prunebench.filehash import hash_file
from prunebench.results import iter_records, write_record

DENSE = "dense"
NO_KEPT_MODEL_HINT = ("a record keeps its model only when the suite ran with `keep_models: all` (the default) "
                      "under schema version 2; rerun those cells to get one: `prunebench run SUITE --only PATTERN "
                      "--force` (with `keep_models: all` in the suite)")


class NoKeptModel(ValueError):
    """The record has no kept model (or its file is gone)."""


@dataclass
class Found:
    path: Path  # the record file
    record: dict[str, Any]

    @property
    def name(self) -> str:
        return record_name(self.record, self.path)


def record_name(record: dict[str, Any], path: Path | None = None) -> str:
    """The cell name: record["name"] (schema 2), else the file name without ".<key>.json"."""
    if record.get("name"):
        return str(record["name"])
    if path is not None:
        stem = Path(path).name[:-len(".json")]
        key = str(record.get("key", ""))
        return stem[:-len(key) - 1] if key and stem.endswith(f".{key}") else stem
    return str(record.get("key", "?"))


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Like `prunebench run --only`: a glob pattern, or a plain word matching as a substring."""
    patterns = list(patterns or [])
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(name, p if any(c in p for c in "*?[") else f"*{p}*") for p in patterns)


def select_records(results_dir: Path, patterns: Iterable[str] = (), *, ok_only: bool = True) -> list[Found]:
    found = [Found(path, record) for path, record in iter_records([results_dir])]
    return [f for f in found if matches(f.name, patterns) and (not ok_only or f.record.get("status") == "ok")]


def model_file_entry(record: dict[str, Any]) -> dict[str, Any] | None:
    entry = (record.get("details") or {}).get("model_file")
    return entry if isinstance(entry, dict) and entry.get("path") else None


def model_path(record: dict[str, Any], results_dir: Path) -> Path | None:
    """Where the record says its kept model is (the file may be missing), or None when it kept none."""
    entry = model_file_entry(record)
    return Path(results_dir) / entry["path"] if entry else None


def kept_model(record: dict[str, Any], results_dir: Path, *, verify: bool = True) -> Path:
    """The record's kept checkpoint, checked against the record's sha256; NoKeptModel when the record
    kept none or the file is gone, ValueError when the file is not the one the record describes."""
    name = record_name(record)
    path = model_path(record, results_dir)
    if path is None:
        raise NoKeptModel(f"{name} has no kept model (its record has no details.model_file); {NO_KEPT_MODEL_HINT}")
    if not path.is_file():
        raise NoKeptModel(f"{name}: its kept model {path} is missing (moved or deleted); {NO_KEPT_MODEL_HINT}")
    expected = model_file_entry(record).get("sha256")
    if verify and expected:
        actual = hash_file(path)
        if actual != expected:
            raise ValueError(f"{name}: the kept model {path} has sha256 {actual[:16]}..., but its record says "
                             f"{expected[:16]}...: the file was replaced after the cell ran, so the record's accuracy "
                             "does not describe it; rerun the cell (`prunebench run SUITE --only "
                             f"{name} --force`) or put the original file back")
    return path


def is_dense(record: dict[str, Any]) -> bool:
    return ((record.get("spec") or {}).get("strategy") or {}).get("name") == DENSE


def _is_reference_of(candidate: dict[str, Any], record: dict[str, Any], model: str | None = None) -> bool:
    spec, other = record.get("spec") or {}, candidate.get("spec") or {}
    strategy = other.get("strategy") or {}
    label = strategy.get("label", strategy.get("name"))  # schema 1 records had no label
    wanted = model if model is not None else (spec.get("model") or {}).get("name")
    return (candidate.get("status") == "ok" and strategy.get("name") == DENSE and label == DENSE
            and (other.get("model") or {}).get("name") == wanted
            and (other.get("dataset") or {}).get("name") == (spec.get("dataset") or {}).get("name")
            and other.get("seed") == spec.get("seed"))


def find_reference(record: dict[str, Any], results_dir: Path, model: str | None = None) -> Found | None:
    """The record of the cell's dense reference: label "dense", same model (or `model`), dataset and seed, in the
    same results folder, ok, with a kept model file present (the newest, if several); None if there is none."""
    candidates = [Found(path, other) for path, other in iter_records([results_dir])
                  if _is_reference_of(other, record, model)
                  and (p := model_path(other, results_dir)) is not None and p.is_file()]
    candidates.sort(key=lambda f: str(f.record.get("finished_at") or ""))
    return candidates[-1] if candidates else None


def study_model_of(record: dict[str, Any], results_dir: Path) -> str | None:
    """For a dense record of a reference model: the model under study its latency is paired with (the one its
    record names, else the first, by name, with a dense record on the same dataset); None for other records."""
    spec = record.get("spec") or {}
    if not is_dense(record) or (spec.get("model") or {}).get("role") != "reference":
        return None
    named = (((record.get("details") or {}).get("measure") or {}).get("timed_against") or {}).get("model")
    if named:
        return named
    studies = sorted({(other.get("spec") or {}).get("model", {}).get("name") for _, other in iter_records([results_dir])
                      if is_dense(other) and ((other.get("spec") or {}).get("model") or {}).get("role") == "study"
                      and ((other.get("spec") or {}).get("dataset") or {}).get("name")
                      == (spec.get("dataset") or {}).get("name")})
    return studies[0] if studies else None


# ---------------------------------------------------------------- exports of a results folder
@dataclass
class Exported:
    name: str
    path: Path
    bytes: int
    seconds: float


def export_results(results_dir: Path, fmt: str, *, patterns: Iterable[str] = (), imgsz: int | None = None,
                   log=print) -> list[Exported]:
    """Export the kept model of every ok record (matching `patterns`) next to it, and note each export in its
    record (details.exports[fmt]: path, sha256, bytes, imgsz, the model's sha256). Checks everything first:
    ValueError (one paragraph) when the format cannot be exported here or a record has no kept model."""
    from prunebench.yolo.export import check_format, export_checkpoint

    check_format(fmt)
    selected = select_records(results_dir, patterns)
    if not selected:
        raise ValueError(f"no ok record in {results_dir}/cells" + (f" matches {' '.join(patterns)}" if patterns else "")
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
        size = imgsz or int(((found.record.get("spec") or {}).get("evaluation") or {}).get("imgsz") or 640)
        start = time.perf_counter()
        path = export_checkpoint(checkpoints[found.path], fmt, imgsz=size)
        seconds = time.perf_counter() - start
        entry = {"path": path.relative_to(Path(results_dir).resolve()).as_posix(), "imgsz": size,
                 "model_sha256": model_file_entry(found.record).get("sha256"),
                 "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **_content(path)}
        found.record.setdefault("details", {}).setdefault("exports", {})[fmt] = entry
        write_record(results_dir, found.path.name, found.record)
        done.append(Exported(found.name, path, entry["bytes"], seconds))
        log(f"{found.name}: {path} ({entry['bytes'] / 1e6:.1f} MB, {seconds:.1f} s)")
    return done


def _content(path: Path) -> dict[str, Any]:
    """bytes and sha256 of an export: a file's own; a folder's (openvino) over its files in name order."""
    if path.is_file():
        return {"bytes": path.stat().st_size, "sha256": hash_file(path)}
    digest, total = hashlib.sha256(), 0
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + hash_file(file).encode())
        total += file.stat().st_size
    return {"bytes": total, "sha256": digest.hexdigest()}


def export_content(path: Path) -> dict[str, Any]:
    """What `export_results` recorded of an export (bytes, sha256), computed now."""
    return _content(Path(path))
