"""Records: one JSON file per cell, the single truth about it.

A record (schema version 2) is a dict:

    schema_version  int
    key             the TRAIN key: hash of what shapes the trained model (spec minus evaluation, input file
                    fingerprints, schema version); the file is <name>.<key>.json
    measure_key     hash of the evaluation settings (spec.evaluation); a record whose key matches but whose
                    measure_key does not is re-measured from its kept model, not retrained
    name            <model>.<dataset>.<strategy label>.<a0.30 | x2.00>.s<seed>
    suite           suite name
    suite_file      the suite file, relative to the results folder (else absolute): its folder is where the
                    suite's relative paths start, for `prunebench measure` later
    spec            {"model": {"name", "plugin", "params", "role": "study" | "reference"},
                     "dataset": {"name", "plugin", "params", "synthetic"},
                     "strategy": {"name", "label", "params", "structured"} (name "dense" for dense rows; label
                     "dense" = as loaded or adapted, "dense-ft[-<hex>]" = the fine-tuned dense control),
                     "amount" (fraction asked; 0.0 for dense; null with a target), "target" (speed-up in
                     GFLOPs, e.g. 2.0, or null), "seed", "finetune" (the resolved recipe or null), "schedule"
                     (iterative steps or null), "evaluation" {...}}
    status          "ok" | "failed"
    error           None | {"type", "message", "hint" (what to do, or None), "phase" (where it failed), "traceback"}
    metrics         flat numbers, any may be missing (None); accuracy on the headline split (details.eval_split):
                    precision, recall, map50, map50_95,
                    params, nonzero_params, sparsity, gflops, nonzero_gflops,
                    size_fp32_bytes, size_fp16_bytes, size_fp16_gzip_bytes,
                    latency_ms, latency_iqr_ms, e2e_latency_ms, throughput_ips, speedup_vs_dense, speedup_iqr,
                    and latency_ms_<runtime>, speedup_vs_dense_<runtime>, ... for runtimes other than torch;
                    a reference model's dense cells: speedup_vs_study[_<runtime>], speedup_vs_study_iqr[...]
                    (the dense model under study's latency over this one's, in pairs; details.measure.timed_against)
                    on a GPU: peak_gpu_memory_mb (the cell's peak allocated, MiB; details.gpu_memory has the rest)
    details         eval_split, metrics_by_split {split: accuracy}, per_class_ap, curves (P/R/F1 vs
                    confidence), metrics_before_finetune, loss_curve, finetune, prune_report, schedule_steps,
                    sparsity_training, measure (full statistics and conventions), model_file {path, sha256, bytes};
                    finetune.runs[*] say amp / amp_used / autocast_dtype; gpu_memory (CUDA cells only, gpu_memory.py)
    timings         seconds per phase: load, sparsity_train, prune, finetune, evaluate, measure, total
    environment     device, device_name, cpu, threads (used for timing), torch, cuda, ultralytics, prunebench,
                    python, platform, hostname, git_sha (prunebench's own); Ray cells: ray_node, ray_placement
    started_at, finished_at   ISO 8601 UTC
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from prunebench.atomic import atomic_write_text  # re-exported: records, reports and labels write through it

SCHEMA_VERSION = 2
MODELS_DIRNAME = "models"
CELLS_DIRNAME = "cells"


def cells_dir(results_dir: Path) -> Path:
    return Path(results_dir) / CELLS_DIRNAME


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
