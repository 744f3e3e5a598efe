"""Records: one JSON file per cell, the single truth about it.

A record (schema version 1) is a dict:

    schema_version  int
    key             the cell key (hash of spec + input fingerprints + schema version)
    suite           suite name
    spec            {"model": {"name", "plugin", "params"}, "dataset": {"name", "plugin", "params",
                     "synthetic"}, "strategy": {"name", "params"} (name "dense" for the baseline),
                     "amount" (0.0 for dense), "seed", "finetune": {...}, "evaluation": {...}}
    status          "ok" | "failed"
    error           None | {"type", "message", "hint" (what to do, or None), "phase" (where it failed), "traceback"}
    metrics         flat numbers, any may be missing (None) on failure:
                    precision, recall, map50, map50_95,
                    params, nonzero_params, sparsity, gflops, nonzero_gflops,
                    size_fp32_bytes, size_fp16_bytes, size_fp16_gzip_bytes,
                    latency_ms, latency_iqr_ms, e2e_latency_ms, throughput_ips
    details         nested data for plots and audits: per_class_ap, curves (P/R/F1 vs
                    confidence), metrics_before_finetune, loss_curve, prune_report,
                    sparsity_training, ultralytics_speed, latency (full stats)
    timings         seconds per phase: load, sparsity_train, prune, finetune, evaluate,
                    measure, total
    environment     device, device_name, cpu, threads, torch, cuda, ultralytics, prunebench,
                    python, platform, hostname, git_sha
    started_at, finished_at   ISO 8601 UTC
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

SCHEMA_VERSION = 1
CELLS_DIRNAME = "cells"


def cells_dir(results_dir: Path) -> Path:
    return Path(results_dir) / CELLS_DIRNAME


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder, fsync, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_record(results_dir: Path, filename: str, record: dict[str, Any]) -> Path:
    path = cells_dir(results_dir) / filename
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True, allow_nan=False, default=_jsonable) + "\n")
    return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_record(path: Path) -> dict[str, Any] | None:
    """A record, or None if the file is not a readable record of a known schema."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("schema_version") != SCHEMA_VERSION:
        return None
    return record


def iter_records(results_dirs: Iterable[Path]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every readable record under the given results folders (a folder or its cells/)."""
    for results_dir in results_dirs:
        base = Path(results_dir)
        folder = base if base.name == CELLS_DIRNAME else cells_dir(base)
        for path in sorted(folder.glob("*.json")):
            record = load_record(path)
            if record is not None:
                yield path, record


def records_by_key(results_dir: Path) -> dict[str, dict[str, Any]]:
    return {record["key"]: record for _, record in iter_records([results_dir])}
