"""Run one cell and return its record. Never writes records itself (the executor does)."""

from __future__ import annotations

import copy
import hashlib
import tempfile
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from prunebench.base import CellContext, PreparedDataset
from prunebench.plan import Cell, canonical_json
from prunebench.results import SCHEMA_VERSION
from prunebench.suite import LoadedSuite


@dataclass
class RunSettings:
    device: str  # resolved: "cpu" or "cuda:N"
    cache_dir: Path
    verbose: bool = False
    log: Callable[[str], None] = print
    environment: dict[str, Any] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class CellRunner:
    """Runs cells of one suite; prepares each dataset once per run."""

    def __init__(self, loaded: LoadedSuite, settings: RunSettings):
        self.loaded = loaded
        self.settings = settings
        self._datasets: dict[str, PreparedDataset] = {}

    def dataset(self, name: str) -> PreparedDataset:
        if name not in self._datasets:
            source = self.loaded.datasets[name].instance()
            source.check()
            prepared = source.prepare(self.settings.cache_dir)
            prepared.fingerprint = hashlib.sha256(canonical_json(source.fingerprint()).encode()).hexdigest()[:16]
            self._datasets[name] = prepared
        return self._datasets[name]

    def prepare_inputs(self, cells: list[Cell]) -> None:
        """Prepare each dataset and each model's baseline (training it if needed) once, up front,
        so that executors running cells in parallel find them in the cache."""
        seen = set()
        for cell in cells:
            if (cell.model, cell.dataset) in seen:
                continue
            seen.add((cell.model, cell.dataset))
            with tempfile.TemporaryDirectory(prefix="prepare-", dir=_scratch(self.settings.cache_dir)) as tmp:
                source = self.loaded.models[cell.model].instance()
                source.check()
                source.load(self._context(cell, Path(tmp)))

    def _context(self, cell: Cell, work_dir: Path) -> CellContext:
        ev, settings = self.loaded.suite.evaluation, self.settings
        return CellContext(device=settings.device, seed=cell.seed, cache_dir=settings.cache_dir, work_dir=work_dir,
                           imgsz=ev.imgsz, batch=ev.batch, verbose=settings.verbose,
                           dataset=self.dataset(cell.dataset), log=settings.log)

    def run(self, cell: Cell) -> dict[str, Any]:
        record = new_record(cell, self.settings.environment)
        started = time.perf_counter()
        try:
            self._run(cell, record)
            record.pop("phase", None)
            record["status"] = "ok"
        except Exception as exc:  # one cell's failure is recorded; the run goes on
            phase = record.pop("phase", None)
            mark_failed(record, exc, hint=failure_hint(exc, cell, phase, self.settings.device))
            record["error"]["phase"] = phase
            _release_accelerator_memory()
        finally:
            record["timings"]["total"] = round(time.perf_counter() - started, 3)
            record["finished_at"] = _now()
        return record

    @contextmanager
    def _phase(self, record: dict[str, Any], name: str):
        start = time.perf_counter()
        record["phase"] = name  # where a failure happened: moved into record["error"]
        try:
            yield
        finally:
            record["timings"][name] = round(time.perf_counter() - start, 3)

    def _run(self, cell: Cell, record: dict[str, Any]) -> None:
        from prunebench.measure import cell as measure
        from prunebench.yolo import evaluate

        suite, settings = self.loaded.suite, self.settings
        ev = suite.evaluation
        with tempfile.TemporaryDirectory(prefix="cell-", dir=_scratch(settings.cache_dir)) as tmp:
            work_dir = Path(tmp)
            with self._phase(record, "load"):
                ctx = self._context(cell, work_dir)
                prepared = ctx.dataset
                source = self.loaded.models[cell.model].instance()
                source.check()
                model = source.load(ctx).model
            details = record["details"]
            m = ev.measure
            # The dense model this cell starts from, timed against the pruned one in pairs (see measure.measure).
            reference = copy.deepcopy(model) if not cell.is_dense and m.latency and m.speedup_pairs else None
            if not cell.is_dense:
                model = self._prune_and_finetune(cell, model, ctx, record)

            with self._phase(record, "evaluate"):
                result = evaluate.evaluate(model, prepared.data_yaml, imgsz=ev.imgsz, batch=ev.batch,
                                           device=settings.device, work_dir=work_dir / "val",
                                           verbose=settings.verbose, conf=ev.conf, iou=ev.iou)
            record["metrics"].update(result["metrics"])
            details.update(per_class_ap=result.get("per_class_ap", {}), curves=result.get("curves"),
                           ultralytics_speed=result.get("speed"))

            with self._phase(record, "measure"):
                images = prepared.val_images if m.latency else []
                metrics, measure_details = measure.measure(
                    model, imgsz=ev.imgsz, device=settings.device, images=images,
                    threads=m.threads or (1 if settings.device == "cpu" else None),
                    batch_throughput=m.throughput_batch, min_run_time=m.min_run_time, reference=reference,
                    pairs=m.speedup_pairs)
            record["metrics"].update(metrics)
            details["measure"] = measure_details

    def _prune_and_finetune(self, cell: Cell, model, ctx: CellContext, record: dict[str, Any]):
        from prunebench.yolo import evaluate, training

        suite, settings = self.loaded.suite, self.settings
        ev, ft = suite.evaluation, suite.finetune
        strategy = self.loaded.strategies[cell.strategy].instance()
        details = record["details"]
        data_yaml = ctx.dataset.data_yaml
        train_kwargs = dict(imgsz=ft.imgsz or ev.imgsz, batch=ft.batch or ev.batch, device=settings.device,
                            seed=cell.seed, lr0=None if ft.optimizer == "auto" else ft.lr0, optimizer=ft.optimizer,
                            warmup_epochs=ft.warmup_epochs, verbose=settings.verbose)

        if strategy.sparsity_epochs() > 0:
            with self._phase(record, "sparsity_train"):
                before = strategy.snapshot(model)
                model, info = training.train(model, data_yaml, epochs=strategy.sparsity_epochs(),
                                             work_dir=ctx.work_dir / "sparsity", keep="none",
                                             regularize=strategy.regularize, label="sparsity training",
                                             **train_kwargs)
                details["sparsity_training"] = {"before": before, "after": strategy.snapshot(model), **info}

        with self._phase(record, "prune"):
            details["prune_report"] = strategy.prune(model, cell.amount, ctx)

        if ft.epochs > 0:
            with self._phase(record, "evaluate_before_finetune"):
                before = evaluate.evaluate(model, data_yaml, imgsz=ev.imgsz, batch=ev.batch, device=settings.device,
                                           work_dir=ctx.work_dir / "val-before", verbose=settings.verbose,
                                           conf=ev.conf, iou=ev.iou)
            details["metrics_before_finetune"] = before["metrics"]
            with self._phase(record, "finetune"):
                keep = "structure" if strategy.structured else "masks"
                model, info = training.train(model, data_yaml, epochs=ft.epochs, work_dir=ctx.work_dir / "finetune",
                                             keep=keep, label="fine-tuning", **train_kwargs)
            details["loss_curve"] = info.get("loss_curve", [])
            details["finetune"] = {k: v for k, v in info.items() if k != "loss_curve"}
        return model


def new_record(cell: Cell, environment: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "key": cell.key, "suite": cell.suite, "name": cell.name,
            "spec": cell.spec, "status": "failed", "error": None, "metrics": {}, "details": {},
            "timings": {}, "environment": environment, "started_at": _now()}


def mark_failed(record: dict[str, Any], exc: BaseException, hint: str | None = None) -> dict[str, Any]:
    record["status"] = "failed"
    record["error"] = {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__, "hint": hint,
                       "traceback": "".join(traceback.format_exception(exc, limit=20))}
    record.setdefault("finished_at", _now())
    return record


def failure_hint(exc: BaseException, cell: Cell, phase: str | None, device: str) -> str | None:
    """What a user can do about a failed cell, when the error's kind says it."""
    where = f" while {phase.replace('_', ' ')}" if phase else ""
    if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower():
        return (f"out of memory on {device}{where}: lower `evaluation.batch` and `finetune.batch` (or "
                "`evaluation.imgsz`), or give each cell a whole GPU (ray executor: num_gpus: 1)")
    if isinstance(exc, FloatingPointError):
        return ("training diverged: lower `finetune.lr0` (or fine-tune fewer epochs); a model pruned too far, "
                "or a strategy that leaves NaN/Inf weights, cannot be trained back either")
    if phase in ("prune", "sparsity_train") and cell.strategy:
        return (f"raised inside strategy {cell.strategy!r}{where}: the traceback shows where; "
                "`prunebench plugins` shows which plugin provides it")
    return None


def _release_accelerator_memory() -> None:
    """After a failed cell (an out-of-memory one above all), give cached GPU memory back for the next cell."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _scratch(cache_dir: Path) -> Path:
    path = Path(cache_dir) / "scratch"
    path.mkdir(parents=True, exist_ok=True)
    return path
