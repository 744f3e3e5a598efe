"""Run one cell and return its record. Never writes records itself (the executor's caller does).

A cell: load the dense model (trained or adapted once, cached) -> [sparsity training] -> prune (to a
fraction, to a speed-up target, or in steps) -> [fine-tune] -> keep the model as an Ultralytics
checkpoint -> evaluate that file exactly as `yolo val` does, on every split -> measure. A dense control
skips the pruning and gets the same fine-tuning. A cell whose record already holds this training (same
key) but other evaluation settings is re-evaluated and re-measured from its kept model instead.
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from prunebench.config.suite import LoadedSuite
from prunebench.plugin.base import CellContext, PreparedDataset
from prunebench.records.index import RecordIndex
from prunebench.records.record import Record, study_model_for
from prunebench.records.store import MODELS_DIRNAME, cells_dir, load_record
from prunebench.run.phases import baseline_identity, per_image_results, scratch_folder
from prunebench.run.plan import Cell
from prunebench.util.atomic import atomic_write_text
from prunebench.util.canonical import short_hash
from prunebench.util.environment import timing_threads
from prunebench.util.filehash import hash_file
from prunebench.util.leftovers import scratch_dir
from prunebench.measure.gpu_memory import CellMemory

# Sparsity training has worked when at least 10 % of the prunable |gamma| sit below a tenth of the median
# before it (near-dead channels the cut can take); Liu et al. and Lam1360/YOLOv3-model-pruning train until
# the histogram is bimodal with a mass near 0.
SLIM_DEAD_FRACTION_OF_MEDIAN = 0.1


@dataclass
class RunSettings:
    device: str  # resolved: "cpu" or "cuda:N"
    cache_dir: Path
    verbose: bool = False
    log: Callable[[str], None] = print
    environment: dict[str, Any] = field(default_factory=dict)
    results_dir: Path | None = None  # where kept models go (and earlier records are looked up to re-measure)
    force: bool = False  # retrain even when a kept model of the same training exists
    suite_cells: int | None = None  # cells in the suite's whole plan: a leaderboard says "partial" until all are in


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
                model = source.load(self._context(cell, Path(tmp))).model
                if channel_specs:
                    from prunebench.yolo.channels import check_channel_prunable

                    prune_head = any(spec["params"].get("prune_head") for spec in channel_specs)
                    try:
                        check_channel_prunable(model, prune_head=prune_head)
                    except ValueError as exc:
                        raise ValueError(f"model {cell.model!r}: {exc}") from None

    def _context(self, cell: Cell, work_dir: Path) -> CellContext:
        ev, settings = self.loaded.suite.evaluation, self.settings
        recipe = cell.spec.get("finetune") or {}
        return CellContext(device=settings.device, seed=cell.seed, cache_dir=settings.cache_dir, work_dir=work_dir,
                           imgsz=int(recipe.get("imgsz") or ev.imgsz), batch=int(recipe.get("batch") or ev.batch),
                           verbose=settings.verbose, dataset=self.dataset(cell.dataset), log=settings.log,
                           baseline_seed=cell.spec.get("baseline_seed"))

    # ------------------------------------------------------------------ a cell
    def run(self, cell: Cell) -> Record:
        record = Record.new(cell, self.settings.environment)
        if self.loaded.path is not None:  # where the suite's relative paths start, for `prunebench measure` later
            record.suite_file = suite_file_entry(Path(self.loaded.path), self.settings.results_dir)
        if self.settings.suite_cells is not None:
            record.set_detail("suite_cells", self.settings.suite_cells)
        started = time.perf_counter()
        memory = CellMemory(self.settings.device)  # GPU peak statistics from here; released after the cell
        try:
            earlier = None if self.settings.force or cell.spec.get("deploy") else self._kept_training(cell)
            if cell.spec.get("deploy"):  # a deployment variant of another cell's kept model: nothing is trained
                from prunebench.run.deployed import run_variant

                run_variant(self, cell, record)
            elif earlier is not None:
                self._remeasure(cell, record, earlier)
            else:
                self._run(cell, record)
            record.mark_ok()
        except Exception as exc:  # one cell's failure is recorded; the run goes on
            record.mark_failed(exc, hint=failure_hint(exc, cell, record.current_phase, self.settings.device))
        finally:
            memory.finish(record)  # the cell's GPU peak into the record, then its cached memory given back
            record.finish(time.perf_counter() - started)
        return record

    def failed_record(self, cell: Cell, exc: BaseException, hint: str | None = None) -> Record:
        """The record of a cell that died outside `run` (an executor's worker lost, say)."""
        return Record.new(cell, self.settings.environment).mark_failed(exc, hint=hint, phase="executor")

    def _run(self, cell: Cell, record: Record) -> None:
        with scratch_dir(scratch_folder(self.settings.cache_dir), "cell") as tmp:
            work_dir = Path(tmp)
            with record.phase("load"):
                ctx = self._context(cell, work_dir)
                source = self.loaded.models[cell.model].instance()
                source.check()
                dense = source.load(ctx)
                model = dense.model
            record.set_detail("baseline", baseline_identity(dense))
            reference = self._timing_reference(cell, ctx, dense=model)
            if cell.is_control:
                if sparsity := cell.spec["finetune"].get("sparsity"):
                    model = self._train_phase(cell, model, ctx, record, epochs=sparsity["epochs"],
                                              lr0=sparsity["lr0"], tag="sparsity_train",
                                              label="training as long as sparsity training (no penalty)")
                model = self._finetune(cell, model, ctx, record, keep="none")
            elif not cell.is_dense:
                model = self._prune_and_finetune(cell, model, ctx, record)
            with record.phase("save"):
                checkpoint = self._keep(cell, model, work_dir, record)
            self._evaluate_and_measure(cell, model, checkpoint, reference, ctx, record)

    def _timing_reference(self, cell: Cell, ctx: CellContext, dense=None):
        """The model a cell's latency is timed against in pairs (see measure.cell), or None: for a pruned cell the
        dense model it starts from (a copy of `dense` when given, else loaded); for a reference model's dense
        cells the dense model under study."""
        m = self.loaded.suite.evaluation.measure
        if not cell.is_dense and m.latency and m.speedup_pairs:
            return copy.deepcopy(dense) if dense is not None else self.loaded.models[cell.model].instance().load(ctx).model
        if (study := self._study_model(cell)) is not None:
            return self.loaded.models[study].instance().load(ctx).model
        return None

    def _study_model(self, cell: Cell) -> str | None:
        """For a dense cell of a reference model (with paired timing on): the model under study its latency is
        paired with (records.record.study_model_for over the suite's study models on the cell's dataset, the rule
        a re-measure applies to the records too); None otherwise."""
        m = self.loaded.suite.evaluation.measure
        if not (cell.is_dense and m.latency and m.speedup_pairs
                and self.loaded.models[cell.model].entry.role == "reference"):
            return None
        return study_model_for(name for name, model in self.loaded.models.items() if model.entry.role == "study"
                               and (model.entry.datasets is None or cell.dataset in model.entry.datasets))

    def _keep(self, cell: Cell, model, work_dir: Path, record: Record) -> Path:
        """Save the cell's final model as an Ultralytics checkpoint: in <results>/models/ (keep_models: all), else in
        the cell's scratch folder. Evaluation reads this very file, so `yolo val` on it reproduces the record."""
        from prunebench.yolo import checkpoints

        results_dir = self.settings.results_dir
        if self.loaded.suite.keep_models == "all" and results_dir is not None:
            path = Path(results_dir) / MODELS_DIRNAME / f"{cell.name}.{cell.key}.pt"
            checkpoints.save_model(model, path)
            record.set_detail("model_file", {"path": path.relative_to(results_dir).as_posix(),
                                             "sha256": hash_file(path), "bytes": path.stat().st_size})
            return path
        record.set_detail("model_file", None)
        return checkpoints.save_model(model, work_dir / "model.pt")

    def _evaluate_and_measure(self, cell: Cell, model, checkpoint: Path, reference, ctx: CellContext,
                              record: Record) -> None:
        from prunebench.measure import cell as measure
        from prunebench.yolo import checkpoints, evaluate

        ev, settings = self.loaded.suite.evaluation, self.settings
        details = record.details
        data_yaml = ctx.dataset.data_yaml
        with record.phase("evaluate"):
            headline = evaluate.headline_split(data_yaml, ev.split)
            by_split = {}
            for split in evaluate.available_splits(data_yaml):
                result = self._evaluate(checkpoint, data_yaml, split, ctx.work_dir / f"val-{split}")
                by_split[split] = result["metrics"]
                if split == headline:
                    details.update(per_class_ap=result.get("per_class_ap", {}), curves=result.get("curves"),
                                   ultralytics_speed=result.get("speed"))
                    details.update(per_image_results(result["per_image"], split, ev.intervals))
        record.add_metrics(by_split[headline])
        details.update(eval_split=headline, metrics_by_split=by_split, evaluator=evaluate.EVALUATOR)

        with record.phase("measure"):
            m = ev.measure
            threads = timing_threads(settings.device, m.threads)
            images = ctx.dataset.val_images if m.latency else []
            extra: dict[str, Any] = {}
            if m.runtimes != ["torch"]:
                reference_checkpoint = None
                if reference is not None:
                    reference_checkpoint = checkpoints.save_model(reference, ctx.work_dir / "reference.pt")
                extra = dict(runtimes=tuple(m.runtimes), checkpoint=checkpoint,
                             reference_checkpoint=reference_checkpoint)
            metrics, measure_details = measure.measure(
                model, imgsz=ev.imgsz, device=settings.device, images=images, threads=threads,
                batch_throughput=m.throughput_batch, min_run_time=m.min_run_time, reference=reference,
                pairs=m.speedup_pairs, **extra)
        if reference is not None and (study := self._study_model(cell)) is not None:
            measure.as_speedup_vs_study(metrics, study, measure_details)
        record.add_metrics(metrics)
        record.set_detail("measure", measure_details)
        record.update_environment(threads=threads)  # what timing really used

    def _evaluate(self, checkpoint: Path, data_yaml: Path, split: str, work_dir: Path,
                  imgsz: int | None = None) -> dict[str, Any]:
        from prunebench.yolo import evaluate

        ev = self.loaded.suite.evaluation
        # A suite that deploys exports validates every row as Ultralytics validates a static export (rect=False).
        rect = False if ev.exports else None
        return evaluate.evaluate(checkpoint, data_yaml, split=split, imgsz=imgsz or ev.imgsz, batch=ev.batch,
                                 device=self.settings.device, work_dir=work_dir, verbose=self.settings.verbose,
                                 conf=ev.conf, iou=ev.iou, rect=rect)

    # ------------------------------------------------------------------ pruning and fine-tuning
    def _train_kwargs(self, cell: Cell) -> dict[str, Any]:
        recipe = cell.spec["finetune"]
        return dict(imgsz=int(recipe["imgsz"]), batch=int(recipe["batch"]), device=self.settings.device,
                    seed=cell.seed, lr0=None if recipe["optimizer"] == "auto" else float(recipe["lr0"]),
                    optimizer=recipe["optimizer"], warmup_epochs=float(recipe["warmup_epochs"]),
                    verbose=self.settings.verbose, amp=recipe.get("amp", False))

    def _finetune(self, cell: Cell, model, ctx: CellContext, record: Record, keep: str,
                  epochs: int | None = None, label: str = "fine-tuning", tag: str = "finetune"):
        """Fine-tune with the cell's recipe (or `epochs` of it); appends to the loss curve and the fine-tuning log."""
        from prunebench.yolo import training

        recipe = cell.spec["finetune"]
        total, steps = training.resolve_epochs(recipe, ctx.dataset.data_yaml)
        epochs = total if epochs is None else epochs
        distill = self._distill_kwargs(cell, record)
        with record.phase(tag):
            model, info = training.train(model, ctx.dataset.data_yaml, epochs=epochs, work_dir=ctx.work_dir / tag,
                                         keep=keep, label=label, **self._train_kwargs(cell), **distill)
        details = record.details
        if "distill" in info:
            details.setdefault("distillation", info["distill"])
        offset = len(details.setdefault("loss_curve", []))
        details["loss_curve"] += [dict(row, epoch=row["epoch"] + offset) for row in info.get("loss_curve", [])]
        finetune = details.setdefault("finetune", {"recipe": recipe, "epochs": total, "steps": steps, "runs": []})
        finetune["runs"].append({k: v for k, v in info.items() if k != "loss_curve"})
        return model

    def _distill_kwargs(self, cell: Cell, record: Record) -> dict[str, Any]:
        """Recipe `distill: dense`: the dense checkpoint the cell started from is the teacher (its sha256 is in
        details.baseline and, from the training, in details.distillation)."""
        recipe = cell.spec.get("finetune") or {}
        if recipe.get("distill") != "dense":
            return {}
        teacher = record.detail("baseline", "checkpoint")
        if not teacher or not Path(teacher).is_file():
            raise ValueError(f"{cell.name}: `finetune: {{distill: dense}}` distills from the dense checkpoint the cell "
                             f"started from, but model {cell.model!r}'s source gave no checkpoint file "
                             f"({record.detail('baseline', 'why') or 'none recorded'}); give the model `weights:` "
                             "(or a baseline to train), or drop `distill`")
        return {"distill": Path(teacher), "dis": float(recipe.get("dis", 6.0))}

    def _prune_and_finetune(self, cell: Cell, model, ctx: CellContext, record: Record):
        strategy = self.loaded.strategies[cell.strategy].instance()
        details = record.details
        recipe = cell.spec["finetune"]
        keep = "structure" if strategy.structured else "masks"

        if strategy.sparsity_epochs() > 0:
            with record.phase("sparsity_train"):
                model, details["sparsity_training"] = self._sparsity_trained(cell, strategy, model, ctx)

        schedule = cell.spec.get("schedule")
        if schedule:
            return self._iterative(cell, strategy, model, ctx, record, schedule)

        with record.phase("prune"):
            model, details["prune_report"] = self._prune(cell, strategy, model, ctx, amount=cell.amount,
                                                        target=cell.target)
        if recipe is None:
            return model
        with record.phase("evaluate_before_finetune"):
            from prunebench.yolo import checkpoints, evaluate

            path = checkpoints.save_model(model, ctx.work_dir / "pruned.pt")
            split = evaluate.headline_split(ctx.dataset.data_yaml, self.loaded.suite.evaluation.split)
            before = self._evaluate(path, ctx.dataset.data_yaml, split, ctx.work_dir / "val-before")
        details["metrics_before_finetune"] = before["metrics"]
        details["metrics_before_finetune_split"] = split
        return self._finetune(cell, model, ctx, record, keep=keep)

    def _sparsity_kwargs(self, cell: Cell, ctx: CellContext, lr0: float | None) -> dict[str, Any]:
        kwargs = self._train_kwargs(cell) if cell.spec.get("finetune") else dict(
            imgsz=ctx.imgsz, batch=ctx.batch, device=self.settings.device, seed=cell.seed, lr0=None, optimizer=None,
            warmup_epochs=0.0, verbose=self.settings.verbose)
        if lr0 is not None:
            kwargs.update(lr0=float(lr0), optimizer="SGD")
        return kwargs

    def _train_phase(self, cell: Cell, model, ctx: CellContext, record: Record, *, epochs: int,
                     lr0: float | None, tag: str, label: str):
        """Plain training for `epochs` (the control's counterpart of a strategy's sparsity training)."""
        from prunebench.yolo import training

        with record.phase(tag):
            model, info = training.train(model, ctx.dataset.data_yaml, epochs=epochs, work_dir=ctx.work_dir / tag,
                                         keep="none", label=label, **self._sparsity_kwargs(cell, ctx, lr0))
        record.set_detail(tag, dict(info))
        return model

    def _sparsity_trained(self, cell: Cell, strategy, model, ctx: CellContext):
        """The model after the strategy's sparsity training, and what to record of it. The result depends on the
        model, data, strategy params, recipe and seed, not on the amount: it is cached, so the 0.3, 0.5 and 0.7
        cells of one strategy train it once."""
        from filelock import FileLock

        from prunebench.yolo import checkpoints, training

        spec = cell.spec
        identity = {"model": spec["model"], "dataset": spec["dataset"], "strategy": spec["strategy"], "seed": cell.seed,
                    "recipe": spec.get("finetune"), "dataset_fingerprint": ctx.dataset.fingerprint,
                    "model_fingerprint": self.loaded.models[cell.model].instance().fingerprint()}
        folder = Path(self.settings.cache_dir) / "sparsity" / f"{cell.model}.{cell.strategy}.s{cell.seed}.{short_hash(identity)}"
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):
            cached, summary = folder / "model.pt", folder / "sparsity.json"
            if cached.is_file() and summary.is_file():
                return checkpoints.load_yolo(cached).model, dict(json.loads(summary.read_text()), cached=True)
            before = strategy.snapshot(model)
            kwargs = self._sparsity_kwargs(cell, ctx, strategy.sparsity_lr0())
            model, info = training.train(model, ctx.dataset.data_yaml, epochs=strategy.sparsity_epochs(),
                                         work_dir=ctx.work_dir / "sparsity", keep="none",
                                         regularize=strategy.regularize, label="sparsity training", **kwargs)
            after = strategy.snapshot(model)
            found = {"before": before, "after": after, **sparsity_verdict(before, after),
                     **{k: v for k, v in info.items()}, "s": getattr(strategy.params, "s", None)}
            checkpoints.save_model(model, cached)
            atomic_write_text(summary, json.dumps(found, sort_keys=True) + "\n")
        return model, dict(found, cached=False)

    def _prune(self, cell: Cell, strategy, model, ctx: CellContext, *, amount: float | None = None,
               target: float | None = None, dense_gflops: float | None = None):
        """Prune to `amount` (in place) or to the speed-up `target` (bisection on copies); (model, report)."""
        if target is None:
            return model, strategy.prune(model, amount, ctx)
        from prunebench.run.targets import prune_to_speedup

        imgsz = self.loaded.suite.evaluation.imgsz
        found = prune_to_speedup(model, lambda m, fraction: strategy.prune(m, fraction, ctx), target,
                                 lambda m: fused_gflops(m, imgsz), dense_gflops=dense_gflops)
        if not found.summary["within_tolerance"]:
            ctx.log(f"{cell.name}: reached {found.summary['achieved_speedup']:.2f}x of the {target:g}x asked "
                    f"(closest of {len(found.summary['trials'])} trials)")
        return found.model, {**found.report, **found.summary}

    def _iterative(self, cell: Cell, strategy, model, ctx: CellContext, record: Record,
                   schedule: dict[str, Any]):
        """Prune in steps, fine-tuning between them; each step's GFLOPs and val accuracy are recorded."""
        from prunebench.run.targets import step_fraction, step_goals
        from prunebench.yolo import checkpoints

        steps, per_step = int(schedule["steps"]), int(schedule["finetune_epochs_per_step"])
        keep = "structure" if strategy.structured else "masks"
        imgsz = self.loaded.suite.evaluation.imgsz
        dense_gflops = fused_gflops(model, imgsz)
        goals = step_goals(steps, amount=cell.amount, target=cell.target)
        rows, reports, previous = [], [], 0.0
        for index, goal in enumerate(goals, start=1):
            with record.phase(f"prune_step_{index}"):
                if cell.target is None:
                    model, report = self._prune(cell, strategy, model, ctx, amount=step_fraction(previous, goal))
                    previous = goal
                else:
                    model, report = self._prune(cell, strategy, model, ctx, target=goal, dense_gflops=dense_gflops)
            reports.append(report)
            model = self._finetune(cell, model, ctx, record, keep=keep, epochs=per_step,
                                   label=f"fine-tuning, step {index}/{steps}", tag=f"finetune_step_{index}")
            path = checkpoints.save_model(model, ctx.work_dir / f"step{index}.pt")
            metrics = self._evaluate(path, ctx.dataset.data_yaml, "val", ctx.work_dir / f"val-step{index}")["metrics"]
            gflops = fused_gflops(model, imgsz)
            rows.append({"step": index, "goal": round(goal, 5), "gflops": round(gflops, 5),
                         "speedup": round(dense_gflops / gflops, 4), "split": "val",
                         "map50": metrics["map50"], "map50_95": metrics["map50_95"]})
        record.set_detail("schedule_steps", rows)
        final = dict(reports[-1])
        final.update(steps=reports, schedule=schedule)
        if cell.target is not None:
            final.update(target=cell.target, achieved_speedup=rows[-1]["speedup"])
        record.set_detail("prune_report", final)
        return model

    # ------------------------------------------------------------------ re-measuring a kept model
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
        if kept is None or not kept.resolve(results_dir).is_file():
            return None
        if hash_file(kept.resolve(results_dir)) != kept.sha256:
            return None
        return earlier

    def _remeasure(self, cell: Cell, record: Record, earlier: Record) -> None:
        """Keep what training produced (losses, pruning report, model file); evaluate and measure anew, against the
        same timing reference a `prunebench measure` would use (run.remeasure.timing_reference)."""
        from prunebench.run.remeasure import carry_training
        from prunebench.yolo import checkpoints

        carry_training(earlier, record)
        with scratch_dir(scratch_folder(self.settings.cache_dir), "remeasure") as tmp:
            ctx = self._context(cell, Path(tmp))
            path = earlier.model_file.resolve(self.settings.results_dir)
            model = checkpoints.load_yolo(path).model
            reference = self._kept_reference(earlier)
            if reference is None:
                reference = self._timing_reference(cell, ctx)
            self._evaluate_and_measure(cell, model, path, reference, ctx, record)

    def _kept_reference(self, record: Record):
        """The kept dense model the record's latency pairs with, loaded, when the results folder has it."""
        m = self.loaded.suite.evaluation.measure
        if not (m.latency and m.speedup_pairs):
            return None
        from prunebench.run.remeasure import timing_reference
        from prunebench.yolo.checkpoints import load_model

        found = timing_reference(record, RecordIndex(self.settings.results_dir))
        return load_model(found.checkpoint) if found.checkpoint is not None else None


def fused_gflops(model, imgsz: int) -> float:
    """GFLOPs exactly as records count them (prunebench.measure.costs: fused copy, batch 1, imgsz x imgsz)."""
    import torch

    from prunebench.measure.costs import count_flops, deployable_copy, stride_multiple

    runnable = deployable_copy(model, torch.device("cpu"))
    dense, _ = count_flops(runnable, stride_multiple(imgsz, runnable))
    return dense / 1e9


def sparsity_verdict(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """Whether sparsity training produced near-dead channels: p10 of |gamma| after it below a tenth of the median
    before it. When it did not, the channel ranking is close to arbitrary, and the record says so."""
    if not before or not after or "p10" not in after or "median" not in before:
        return {"effective": None, "reason": "no scale statistics recorded"}
    bar = SLIM_DEAD_FRACTION_OF_MEDIAN * before["median"]
    effective = after["p10"] < bar
    reason = (f"p10 of |gamma| after sparsity training {after['p10']:.4g} "
              f"{'<' if effective else '>='} {SLIM_DEAD_FRACTION_OF_MEDIAN:g} x median before {before['median']:.4g}"
              + ("" if effective else ": no mass of near-dead channels, so channels were chosen by scales that "
                                      "barely differ; train sparsity longer, with a larger s or learning rate"))
    return {"effective": bool(effective), "reason": reason, "threshold": round(bar, 6)}


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
