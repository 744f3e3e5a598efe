"""Run one cell and return its record. Never writes records itself (the executor's caller does).

A cell: load the dense model (trained or adapted once, cached) -> [sparsity training] -> prune (to a
fraction, to a speed-up target, or in steps) -> [fine-tune] -> keep the model as an Ultralytics
checkpoint -> evaluate that file exactly as `yolo val` does, on every split -> measure. A dense control
skips the pruning and gets the same fine-tuning. A cell whose record already holds this training (same
key) but other evaluation settings is re-evaluated and re-measured from its kept model instead. Each kind is a
list of phases (run.cell_phases, run.deployed) run by run.phases.run_phases.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from prunebench.config.suite import LoadedSuite
from prunebench.plugin.base import CellContext, PreparedDataset
from prunebench.records.kept import has_kept_model
from prunebench.records.record import Record
from prunebench.records.store import cells_dir, load_record
from prunebench.run.cell_phases import kept_phases, trained_phases
from prunebench.run.phases import CellWork, Phase, RunSettings, run_phases, scratch_folder
from prunebench.run.plan import Cell
from prunebench.run.time_limit import enforceable, time_limit
from prunebench.util.canonical import short_hash
from prunebench.util.filehash import hash_file
from prunebench.util.leftovers import scratch_dir
from prunebench.measure.gpu_memory import CellMemory

__all__ = ["CellRunner", "RunSettings", "failure_hint", "suite_file_entry"]


class CellRunner:
    """Runs cells of one suite; prepares each dataset once per run."""

    def __init__(self, loaded: LoadedSuite, settings: RunSettings):
        self.loaded = loaded
        self.settings = settings
        self._datasets: dict[str, PreparedDataset] = {}

    # ------------------------------------------------------------------ inputs
    def dataset(self, name: str) -> PreparedDataset:
        if name not in self._datasets:
            source = self.loaded.datasets[name].instance()
            source.check()
            prepared = source.prepare(self.settings.cache_dir)
            prepared.fingerprint = short_hash(source.fingerprint())
            for warning in prepared.warnings:
                self.settings.log(f"warning: {warning}")
            self._datasets[name] = prepared
        return self._datasets[name]

    def prepare_inputs(self, cells: list[Cell]) -> None:
        """Before any cell runs: prepare each dataset, load (or train, once) each model's dense baseline, and
        check what would make every cell of it fail (a checkpoint whose classes are not the dataset's, a model
        channel strategies cannot prune). ValueError says what is wrong and what to do."""
        seen = set()
        for cell in cells:
            slot = (cell.model, cell.dataset, cell.spec.get("baseline_seed"))  # a baseline per seed, when asked
            if slot in seen:
                continue
            seen.add(slot)
            channel_specs = [c.spec["strategy"] for c in cells
                             if c.model == cell.model and c.spec["strategy"].get("structured")]
            with scratch_dir(scratch_folder(self.settings.cache_dir), "prepare") as tmp:
                source = self.loaded.models[cell.model].instance()
                source.check()
                model = source.load(self.context(cell, Path(tmp))).model
                if channel_specs:
                    from prunebench.yolo.channels import check_channel_prunable

                    prune_head = any(spec["params"].get("prune_head") for spec in channel_specs)
                    try:
                        check_channel_prunable(model, prune_head=prune_head)
                    except ValueError as exc:
                        raise ValueError(f"model {cell.model!r}: {exc}") from None

    def context(self, cell: Cell, work_dir: Path) -> CellContext:
        """What the plugins see of `cell` while it runs in `work_dir`."""
        ev, settings = self.loaded.suite.evaluation, self.settings
        recipe = cell.spec.get("finetune") or {}
        return CellContext(device=settings.device, seed=cell.seed, cache_dir=settings.cache_dir, work_dir=work_dir,
                           imgsz=int(recipe.get("imgsz") or ev.imgsz), batch=int(recipe.get("batch") or ev.batch),
                           verbose=settings.verbose, dataset=self.dataset(cell.dataset), log=settings.log,
                           baseline_seed=cell.spec.get("baseline_seed"), target_runtime=cell.target_runtime)

    # ------------------------------------------------------------------ a cell
    def run(self, cell: Cell) -> Record:
        record = Record.new(cell, self.settings.environment)
        if self.loaded.path is not None:  # where the suite's relative paths start, for `prunebench measure` later
            record.suite_file = suite_file_entry(Path(self.loaded.path), self.settings.results_dir)
        if self.settings.suite_cells is not None:
            record.set_detail("suite_cells", self.settings.suite_cells)
        started = time.perf_counter()
        memory = CellMemory(self.settings.device)  # GPU peak statistics from here; released after the cell
        limit = self.loaded.suite.cell_time_limit
        if limit:
            record.set_detail("time_limit", {"seconds": limit, "enforced": enforceable()})
        try:
            with time_limit(limit):
                kind, strategy, phases = self.phases_for(cell)
                with scratch_dir(scratch_folder(self.settings.cache_dir), kind) as tmp:
                    work = CellWork(cell, record, self.loaded, self.settings, self.context, Path(tmp),
                                    strategy=strategy)
                    failed = run_phases(work, phases)
            if failed is None:
                record.mark_ok()
            else:  # one cell's failure is recorded; the run goes on
                record.mark_failed(failed.error, phase=failed.name,
                                   hint=failure_hint(failed.error, cell, failed.name, self.settings.device))
        except Exception as exc:  # before any phase: choosing them (an unreadable earlier record, a strategy's init)
            record.mark_failed(exc, hint=failure_hint(exc, cell, None, self.settings.device))
        finally:
            memory.finish(record)  # the cell's GPU peak into the record, then its cached memory given back
            record.finish(time.perf_counter() - started)
        return record

    def phases_for(self, cell: Cell) -> tuple[str, object, list[Phase]]:
        """(kind, strategy instance or None, phases) of `cell`: a deployment variant of another cell's kept model
        (nothing trained), a re-measure of this training's kept model, or a cell that trains."""
        if cell.spec.get("deploy"):
            from prunebench.run.deployed import variant_phases

            return "variant", None, variant_phases()
        earlier = None if self.settings.force else self._kept_training(cell)
        if earlier is not None:
            return "remeasure", None, kept_phases(earlier)
        strategy = None if cell.is_dense else self.loaded.strategies[cell.strategy].instance()
        return "cell", strategy, trained_phases(cell, strategy)

    def remote_cells(self):
        """Shipping cells to machines that do not share this disk, running them there, landing their outputs
        here (run.remote; the Ray executor's steps)."""
        from prunebench.run.remote import RemoteCells

        return RemoteCells(self, suite_file_entry)

    def failed_record(self, cell: Cell, exc: BaseException, hint: str | None = None) -> Record:
        """The record of a cell that died outside `run` (an executor's worker lost, say)."""
        return Record.new(cell, self.settings.environment).mark_failed(exc, hint=hint, phase="executor")

    def _kept_training(self, cell: Cell) -> Record | None:
        """An ok record of this very training (same key) measured with other settings, whose kept model is on
        disk with the recorded sha256: the cell is re-evaluated and re-measured from it, not retrained."""
        results_dir = self.settings.results_dir
        if results_dir is None:
            return None
        earlier = load_record(cells_dir(results_dir) / cell.filename)
        if earlier is None or not earlier.ok or earlier.key != cell.key or earlier.measure_key == cell.measure_key:
            return None
        kept = earlier.model_file
        if kept is None or not has_kept_model(earlier, results_dir):  # missing, or named outside the folder
            return None
        if hash_file(kept.resolve(results_dir)) != kept.sha256:
            return None
        return earlier


def suite_file_entry(suite: Path, results_dir: Path | None) -> str:
    """The suite file as a record names it: relative to the results folder when both are on one tree (a clone
    moved elsewhere still finds it), else absolute."""
    suite = suite.resolve()
    if results_dir is not None:
        try:
            return os.path.relpath(suite, Path(results_dir).resolve())
        except ValueError:  # another drive (Windows)
            pass
    return str(suite)


def failure_hint(exc: BaseException, cell: Cell, phase: str | None, device: str) -> str | None:
    """What a user can do about a failed cell, when the error's kind says it."""
    where = f" while {phase.replace('_', ' ')}" if phase else ""
    if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower():
        return (f"out of memory on {device}{where}: lower `evaluation.batch` and `finetune.batch` (or "
                "`evaluation.imgsz`), or give each cell a whole GPU (ray executor: num_gpus: 1)")
    if isinstance(exc, FloatingPointError):
        return ("training diverged: lower `finetune.lr0` (or fine-tune fewer epochs); a model pruned too far, "
                "or a strategy that leaves NaN/Inf weights, cannot be trained back either")
    if phase and (phase.startswith("prune") or phase == "sparsity_train") and cell.strategy:
        return (f"raised inside strategy {cell.strategy!r}{where}: the traceback shows where; "
                "`prunebench plugins` shows which plugin provides it")
    return None
