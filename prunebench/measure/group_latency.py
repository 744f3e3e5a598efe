"""A per-group latency lookup table (as in HALP, arXiv 2110.10811): for each prunable channel group and each width
step, the latency the runtime saves when that group ALONE loses that fraction of its channels.

Runtimes: PyTorch on the CPU (forward pass, batch 1, Conv+BN fused, as `measure.cell` times a cell) and ONNX Runtime
on the CPU (Ultralytics' ONNX export of each pruned model, one session each, as `measure.onnxrt` times a cell). Each
entry is timed in alternating pairs against the dense model (`latency.paired_speedup`, order swapped every pair), so the
machine's drift over minutes cancels; the saving is the median over pairs of (dense − pruned) ms. The inputs are
synthetic images of imgsz × imgsz: a convolution's time does not depend on the pixels.

On a shared, loaded machine the entries are noisy (a saving under the dense model's IQR means little); the table
keeps each entry's pair count and the dense model's spread so a reader can judge. Cached by content: the model's
weights, runtime, imgsz, threads, the CPU's name, the steps and the timing settings and the code versions.

Not built yet: OpenVINO (FP32 / INT8) tables, and the allocation that reads the table.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from prunebench.util.atomic import atomic_write_text
from prunebench.util.canonical import short_hash

TABLE_VERSION = 1
RUNTIMES = ("torch", "onnxruntime")
DEFAULT_STEPS = (0.25, 0.5, 0.75)
CACHE_DIRNAME = "latency-tables"


@dataclass(frozen=True)
class GroupWidth:
    name: str  # the root conv's module path (as in the sensitivity map)
    label: str
    channels: int


@dataclass(frozen=True)
class LatencyTable:
    """saved_ms[group][step]: ms of one batch-1 forward pass saved by removing `steps[step]` of that group's channels
    (None where it could not be pruned); speedup[group][step]: dense / pruned, the median over pairs."""

    runtime: str
    imgsz: int
    threads: int
    cpu: str
    groups: tuple[GroupWidth, ...]
    steps: tuple[float, ...]
    dense_ms: float
    saved_ms: tuple[tuple[float | None, ...], ...]
    speedup: tuple[tuple[float | None, ...], ...]
    key: str
    provenance: dict[str, Any]

    def widest_saving(self) -> GroupWidth:
        """The group whose largest step saves the most time."""
        def best(i: int) -> float:
            return max((s for s in self.saved_ms[i] if s is not None), default=float("-inf"))

        return self.groups[max(range(len(self.groups)), key=best)]

    def to_json(self) -> dict[str, Any]:
        return {"table_version": TABLE_VERSION, "runtime": self.runtime, "imgsz": self.imgsz, "threads": self.threads,
                "cpu": self.cpu, "groups": [vars(g) for g in self.groups], "steps": list(self.steps),
                "dense_ms": self.dense_ms, "saved_ms": [list(r) for r in self.saved_ms],
                "speedup": [list(r) for r in self.speedup], "key": self.key, "provenance": self.provenance}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LatencyTable":
        if not isinstance(data, dict) or data.get("table_version") != TABLE_VERSION:
            raise ValueError(f"not a latency table of version {TABLE_VERSION}")
        rows = lambda key: tuple(tuple(None if v is None else float(v) for v in r) for r in data[key])  # noqa: E731
        return cls(runtime=str(data["runtime"]), imgsz=int(data["imgsz"]), threads=int(data["threads"]),
                   cpu=str(data["cpu"]), groups=tuple(GroupWidth(str(g["name"]), str(g["label"]), int(g["channels"]))
                                                      for g in data["groups"]),
                   steps=tuple(float(s) for s in data["steps"]), dense_ms=float(data["dense_ms"]),
                   saved_ms=rows("saved_ms"), speedup=rows("speedup"), key=str(data["key"]),
                   provenance=dict(data.get("provenance") or {}))


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _weights_digest(model: nn.Module) -> str:
    """A content hash of the model's weights and structure (its state dict, name, shape and bytes of each tensor)."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def table_key(model: nn.Module, *, runtime: str, imgsz: int, threads: int, steps: Sequence[float], pairs: int,
              min_run_time: float, groups: Sequence[str], cpu: str) -> str:
    return short_hash({"weights": _weights_digest(model), "runtime": runtime, "imgsz": imgsz, "threads": threads,
                       "cpu": cpu, "steps": list(steps), "pairs": pairs, "min_run_time": min_run_time,
                       "groups": list(groups), "table_version": TABLE_VERSION,
                       "code": {n: _version(n) for n in ("prunebench", "torch", "ultralytics", "torch-pruning")}}, 24)


def group_latency_table(model: nn.Module, *, imgsz: int, cache_dir: Path, runtime: str = "torch", threads: int = 1,
                        steps: Sequence[float] = DEFAULT_STEPS, pairs: int = 3, min_run_time: float = 0.2,
                        groups: Sequence[str] = (), log: Callable[[str], None] = print,
                        force: bool = False, timer: Callable[..., dict[str, Any]] | None = None) -> LatencyTable:
    """The table for `model` (a detection model; left unchanged), from the cache when this content was timed on this
    CPU before, else timed and cached. `groups`: names of the groups to time (default all). `timer`: what times a
    pruned model against the dense one, with `latency.paired_speedup`'s arguments and result (tests give a
    deterministic one; it is not in the cache key, so give such tables a cache folder of their own)."""
    from prunebench.util.environment import cpu_model_name

    if runtime not in RUNTIMES:
        raise ValueError(f"latency tables are built for {' and '.join(RUNTIMES)} so far, not {runtime!r}")
    if not steps or any(not 0 < s < 1 for s in steps):
        raise ValueError(f"width steps must be fractions of a group's channels in (0, 1); got {list(steps)}")
    cpu = cpu_model_name()
    key = table_key(model, runtime=runtime, imgsz=imgsz, threads=threads, steps=steps, pairs=pairs,
                    min_run_time=min_run_time, groups=groups, cpu=cpu)
    path = Path(cache_dir) / CACHE_DIRNAME / f"{key}.json"
    if path.is_file() and not force:
        try:
            return LatencyTable.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log(f"latency table: ignoring an unreadable cache file {path} ({exc}); timing again")
    table = _time_table(model, runtime=runtime, imgsz=imgsz, threads=threads, steps=tuple(steps), pairs=pairs,
                        min_run_time=min_run_time, groups=tuple(groups), cpu=cpu, key=key, log=log, timer=timer)
    atomic_write_text(path, json.dumps(table.to_json(), indent=1) + "\n")
    return table


def fixed_pairs(pairs: int):
    """A table entry times exactly `pairs` pairs (its figure is a step's saving, not a published speed-up): the
    interval's width never stops it early and the cap never cuts the minimum."""
    from prunebench.measure.pairs import PairRule

    return PairRule(min_pairs=pairs, halfwidth=0.999, cap_s=1e-9)


def _torch_timer(device: torch.device) -> Callable[..., dict[str, Any]]:
    """Times unfused models in PyTorch, fused as a cell's are (`latency.paired_speedup`); the dense copy made once."""
    from prunebench.measure.costs import deployable_copy
    from prunebench.measure.latency import paired_speedup

    fused: dict[int, nn.Module] = {}

    def timer(model, reference, images, *, imgsz, threads, pairs, min_run_time, **_):
        if id(reference) not in fused:
            fused[id(reference)] = deployable_copy(reference, device)
        details, _ = paired_speedup(deployable_copy(model, device), fused[id(reference)], images, imgsz=imgsz,
                                    device=device, threads=threads, rule=fixed_pairs(pairs),
                                    min_run_time=min_run_time)
        return details

    return timer


def _onnxruntime_timer(work_dir: Path) -> Callable[..., dict[str, Any]]:
    """Exports each model with Ultralytics (the dense one once) and times the sessions in pairs (`onnxrt`)."""
    from prunebench.measure import onnxrt
    from prunebench.yolo.checkpoints import save_model

    sessions: dict[int, Any] = {}

    def session_of(model: nn.Module, name: str, imgsz: int, threads: int):
        folder = Path(work_dir) / name
        onnx_path, _ = onnxrt.timed_export(save_model(model, folder / "model.pt"), imgsz, folder)
        return onnxrt.session(onnx_path, threads=threads, device="cpu")[0]

    def timer(model, reference, images, *, imgsz, threads, pairs, min_run_time, **_):
        if id(reference) not in sessions:
            sessions[id(reference)] = session_of(reference, "dense", imgsz, threads)
        details, _ = onnxrt.paired_speedup(session_of(model, "pruned", imgsz, threads), sessions[id(reference)],
                                           onnxrt.letterboxed_inputs(images, imgsz), threads=threads,
                                           rule=fixed_pairs(pairs), min_run_time=min_run_time)
        return details

    return timer


def _time_table(model: nn.Module, *, runtime: str, imgsz: int, threads: int, steps: tuple[float, ...], pairs: int,
                min_run_time: float, groups: tuple[str, ...], cpu: str, key: str,
                log: Callable[[str], None], timer: Callable[..., dict[str, Any]] | None) -> LatencyTable:
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="prunebench-latency-table-") as work:
        if timer is None:
            timer = _torch_timer(torch.device("cpu")) if runtime == "torch" else _onnxruntime_timer(Path(work))
        return _timed(model, runtime=runtime, imgsz=imgsz, threads=threads, steps=steps, pairs=pairs,
                      min_run_time=min_run_time, groups=groups, cpu=cpu, key=key, log=log, timer=timer,
                      started=started)


def _timed(model: nn.Module, *, runtime: str, imgsz: int, threads: int, steps: tuple[float, ...], pairs: int,
           min_run_time: float, groups: tuple[str, ...], cpu: str, key: str, log: Callable[[str], None],
           timer: Callable[..., dict[str, Any]], started: float) -> LatencyTable:
    from prunebench.measure.noise import load_average
    from prunebench.yolo import sensitivity as groups_of

    prepared = groups_of.prepare(model)
    every = groups_of.channel_groups(prepared)
    chosen = [g for g in every if not groups or g.name in groups]
    if not chosen:
        raise ValueError(f"none of the groups {list(groups)} is a prunable channel group of this model")
    dense = prepared  # each timer makes the dense model its runtime's way, once
    images = [np.random.default_rng(i).integers(0, 256, (imgsz, imgsz, 3), dtype=np.uint8) for i in range(4)]
    saved, speedups, dense_ms = [], [], []
    for number, group in enumerate(chosen, 1):
        saved_row: list[float | None] = []
        speed_row: list[float | None] = []
        for step in steps:
            pruned = groups_of.prune_group(prepared, group, step)
            if pruned.model is None:
                saved_row.append(None)
                speed_row.append(None)
                continue
            timed = timer(pruned.model, dense, images, imgsz=imgsz, threads=threads, pairs=pairs,
                          min_run_time=min_run_time)
            dense_ms += timed["reference_ms"]
            saved_row.append(round(statistics.median(r - m for r, m in zip(timed["reference_ms"], timed["model_ms"])),
                                   4))
            speed_row.append(round(timed["speedup"], 4))
        saved.append(tuple(saved_row))
        speedups.append(tuple(speed_row))
        log(f"  [{number}/{len(chosen)}] {group.label} ({group.channels} ch): saves "
            f"{', '.join('—' if s is None else f'{s:.2f}' for s in saved_row)} ms at steps "
            f"{', '.join(f'{s:g}' for s in steps)}")
    q = statistics.quantiles(dense_ms, n=4) if len(dense_ms) > 1 else [dense_ms[0]] * 3
    return LatencyTable(
        runtime=runtime, imgsz=imgsz, threads=threads, cpu=cpu,
        groups=tuple(GroupWidth(g.name, g.label, g.channels) for g in chosen), steps=steps,
        dense_ms=round(statistics.median(dense_ms), 4), saved_ms=tuple(saved), speedup=tuple(speedups), key=key,
        provenance={"method": f"{runtime} forward pass, batch 1, fused Conv+BN, float32, synthetic images; each entry "
                              "timed in "
                              f"{pairs} alternating pairs against the dense model; saved = median over pairs of "
                              "dense - pruned ms",
                    "dense_iqr_ms": round(q[2] - q[0], 4), "pairs": pairs, "min_run_time_s": min_run_time,
                    "load_average_at_end": load_average(), "groups_total": len(every),
                    "seconds": round(time.perf_counter() - started, 1)})
