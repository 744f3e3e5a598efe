"""Tiny results folders with kept models, built without the runner: a seeded yolov8n (untrained: shapes,
zeros and timings do not depend on weight values), its l1-channel 0.5 and l1-unstructured 0.5 versions
saved with checkpoints.save_model under <results>/models/<name>.<key>.pt, and schema-2 records that
point at them (details.model_file = {path, sha256, bytes}), written with prunebench.records.store.write_record."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

IMGSZ = 64
DATASET = {"name": "buds-mini", "plugin": "synthetic-buds", "synthetic": True,
           "params": {"train": 2, "val": 3, "imgsz": IMGSZ, "seed": 0}}
MEASURE = {"latency": True, "threads": 1, "throughput_batch": 2, "min_run_time": 0.02, "speedup_pairs": 2,
           "speedup_cap_s": 0.001, "runtimes": ["torch"]}  # a cap this short: exactly the 2 pairs


def yolov8n():
    import torch

    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    return DetectionModel("yolov8n.yaml", verbose=False).eval()


def context(tmp: Path):
    from prunebench.plugin.base import CellContext

    return CellContext(device="cpu", seed=0, cache_dir=tmp, work_dir=tmp, imgsz=IMGSZ, batch=1)


def models(tmp: Path) -> dict[str, Any]:
    """{"dense", "l1-channel", "l1-unstructured"}: the three torch models."""
    from prunebench_builtins.channel import L1Channel
    from prunebench_builtins.unstructured import L1Unstructured

    dense = yolov8n()
    channel, unstructured = copy.deepcopy(dense), copy.deepcopy(dense)
    L1Channel().prune(channel, 0.5, context(tmp))
    L1Unstructured().prune(unstructured, 0.5, context(tmp))
    return {"dense": dense, "l1-channel": channel, "l1-unstructured": unstructured}


def record(label: str, key: str, *, amount: float, structured: bool | None, model_file: dict | None,
           status: str = "ok") -> dict[str, Any]:
    from prunebench.records.store import SCHEMA_VERSION

    name = f"yolov8n.buds-mini.{label}.a{amount:.2f}.s0"
    metrics = {"map50": 0.5 + amount / 10, "map50_95": 0.3, "precision": 0.6, "recall": 0.4, "params": 3_011_043,
               "gflops": 0.2, "latency_ms": 9.0, "latency_iqr_ms": 0.1, "speedup_vs_dense": None}
    return {
        "schema_version": SCHEMA_VERSION, "key": key, "measure_key": "m0", "name": name, "suite": "mini",
        "spec": {"model": {"name": "yolov8n", "plugin": "ultralytics", "params": {"arch": "yolov8n.yaml"},
                           "role": "study"},
                 "dataset": DATASET,
                 "strategy": {"name": "dense" if label == "dense" else label, "label": label, "params": {},
                              "structured": structured},
                 "amount": amount, "target": None, "seed": 0,
                 "finetune": None if label == "dense" else {"epochs": 3, "optimizer": "SGD", "lr0": 0.01},
                 "schedule": None,
                 "evaluation": {"imgsz": IMGSZ, "batch": 4, "conf": 0.001, "iou": 0.7, "split": "auto",
                                "measure": dict(MEASURE)}},
        "status": status,
        "error": None if status == "ok" else {"type": "RuntimeError", "message": "boom in fine-tuning",
                                              "hint": "lower finetune.lr0", "phase": "finetune", "traceback": "..."},
        "metrics": metrics if status == "ok" else {},
        "details": {"eval_split": "test",
                    "metrics_by_split": {"val": {"map50": 0.61, "map50_95": 0.41, "precision": 0.7, "recall": 0.5},
                                         "test": {k: metrics[k] for k in ("map50", "map50_95", "precision", "recall")}},
                    "metrics_before_finetune": {"map50": 0.01, "map50_95": 0.002, "precision": 0.02, "recall": 0.03},
                    "model_file": model_file},
        "timings": {"load": 0.4, "prune": 0.5, "finetune": 12.0, "evaluate": 1.5, "measure": 3.0, "total": 17.4},
        "environment": {"device": "cpu", "device_name": "test cpu", "threads": 1, "torch": "x", "ultralytics": "y",
                        "prunebench": "z", "hostname": "here", "git_sha": None},
        "started_at": "2026-11-28T10:00:00+00:00", "finished_at": "2026-11-28T10:00:17+00:00",
    }


def keep(model, results: Path, name: str, key: str) -> dict[str, Any]:
    """Save `model` as the kept checkpoint of cell `name` and return its details.model_file entry."""
    from prunebench.yolo.checkpoints import save_model

    relative = f"models/{name}.{key}.pt"
    path = save_model(model, results / relative)
    data = path.read_bytes()
    return {"path": relative, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


CELLS = {  # label: (key, amount, structured)
    "dense": ("k0dense00000000", 0.0, None),
    "l1-channel": ("k1chan000000000", 0.5, True),
    "l1-unstructured": ("k2unst000000000", 0.5, False),
}


def build_results(results: Path, tmp: Path, *, without_model: bool = False) -> dict[str, Path]:
    """A results folder with the three cells kept; `without_model` adds a fourth ok cell that kept none.
    Returns {label: record path}."""
    from prunebench.records.store import write_record

    nets = models(tmp)
    paths = {}
    for label, (key, amount, structured) in CELLS.items():
        name = f"yolov8n.buds-mini.{label}.a{amount:.2f}.s0"
        entry = keep(nets[label], results, name, key)
        rec = record(label, key, amount=amount, structured=structured, model_file=entry)
        paths[label] = write_record(results, f"{name}.{key}.json", rec)
    if without_model:
        rec = record("random-unstructured", "k3rand000000000", amount=0.5, structured=False, model_file=None)
        paths["random-unstructured"] = write_record(results, f"{rec['name']}.{rec['key']}.json", rec)
    return paths


def fresh_copy(template: tuple[Path, dict[str, Path]], tmp: Path) -> tuple[Path, dict[str, Path]]:
    """A copy of a module's template results folder for one test (tests change records and files), with the
    template's labelled paths pointing into the copy."""
    import shutil

    source, paths = template
    folder = tmp / "results"
    shutil.copytree(source, folder)
    return folder, {label: folder / path.relative_to(source) for label, path in paths.items()}
