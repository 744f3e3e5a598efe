"""The phases of a trained cell and of a re-measured kept model, as lists `run.phases.run_phases` runs.

dense:      load -> save -> evaluate -> measure
control:    load -> [sparsity_train (as long, no penalty)] -> finetune -> save -> evaluate -> measure
pruned:     load -> [sparsity_train] -> prune -> [evaluate_before_finetune -> finetune] -> save -> evaluate -> measure
            (a speed-up target prunes by bisection inside `prune`; a measured one, "2x@onnx", by timing each
            step on the runtime: run.latency_target)
iterative:  load -> [sparsity_train] -> (prune_step_i -> finetune_step_i) x steps -> save -> evaluate -> measure
kept:       load_kept -> evaluate -> measure (training, and its timings, carried over from the earlier record of
            the same key)
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

from prunebench.records.finetuning import FineTuning
from prunebench.records.index import RecordIndex
from prunebench.records.prune_report import PruneReport
from prunebench.records.record import Record, study_model_for
from prunebench.records.store import MODELS_DIRNAME
from prunebench.run import delivered
from prunebench.run.phases import CellWork, Phase, baseline_identity, evaluate_checkpoint, evaluate_every_split
from prunebench.run.plan import Cell
from prunebench.util.atomic import atomic_write_text
from prunebench.util.canonical import short_hash
from prunebench.util.environment import timing_threads
from prunebench.util.filehash import hash_file

# Sparsity training has worked when at least 10 % of the prunable |gamma| sit below a tenth of the median
# before it (near-dead channels the cut can take); Liu et al. and Lam1360/YOLOv3-model-pruning train until
# the histogram is bimodal with a mass near 0.
SLIM_DEAD_FRACTION_OF_MEDIAN = 0.1


def trained_phases(cell: Cell, strategy) -> list[Phase]:
    """The phases of a cell that trains (dense, control, pruned, target, iterative); `strategy` is the pruned
    cell's strategy instance (None for dense rows)."""
    phases = [Phase("load", load_dense)]
    if cell.is_control:
        if cell.spec["finetune"].get("sparsity"):
            phases.append(Phase("sparsity_train", train_as_long_as_sparsity))
        phases.append(Phase("finetune", finetune_control))
    elif not cell.is_dense:
        phases += pruning_phases(cell, strategy)
    return phases + [Phase("save", save), Phase("evaluate", evaluate), Phase("measure", measure)]


def pruning_phases(cell: Cell, strategy) -> list[Phase]:
    phases = [Phase("sparsity_train", sparsity_train)] if strategy.sparsity_epochs() > 0 else []
    schedule = cell.spec.get("schedule")
    if schedule:
        steps = int(schedule["steps"])
        for index in range(1, steps + 1):
            phases += [Phase(f"prune_step_{index}", prune_step(index)),
                       Phase(f"finetune_step_{index}", finetune_step(index, steps))]
        return phases
    phases.append(Phase("prune", prune))
    if cell.spec["finetune"] is not None:
        phases += [Phase("evaluate_before_finetune", evaluate_before_finetune), Phase("finetune", finetune_pruned)]
    return phases


def kept_phases(earlier: Record) -> list[Phase]:
    """Keep what training produced (losses, pruning report, model file); evaluate and measure anew, against the
    same timing reference a `prunebench measure` would use (run.remeasure.timing_reference)."""
    return [Phase("load_kept", lambda work: load_kept(work, earlier)), Phase("evaluate", evaluate),
            Phase("measure", measure)]


# ---------------------------------------------------------------------- load, save, evaluate, measure
def load_dense(work: CellWork) -> None:
    source = work.loaded.models[work.cell.model].instance()
    source.check()
    work.dense = source.load(work.ctx)
    work.model = work.dense.model
    work.record.set_detail("baseline", baseline_identity(work.dense))
    work.reference = timing_reference(work, dense=work.model)
    if work.strategy is not None:  # what pruning starts from, to compare with what it left (asked vs lost)
        work.size_before = delivered.ModelSize.of(work.model, work.evaluation.imgsz)


def load_kept(work: CellWork, earlier: Record) -> None:
    from prunebench.run.remeasure import carry_training
    from prunebench.yolo import checkpoints

    carry_training(earlier, work.record)
    work.checkpoint = earlier.model_file.resolve(work.settings.results_dir)
    work.model = checkpoints.load_yolo(work.checkpoint).model
    work.reference = kept_reference(work, earlier)
    if work.reference is None:
        work.reference = timing_reference(work)


def save(work: CellWork) -> None:
    """Save the cell's final model as an Ultralytics checkpoint: in <results>/models/ (keep_models: all), else in
    the cell's scratch folder. Evaluation reads this very file, so `yolo val` on it reproduces the record."""
    from prunebench.yolo import checkpoints
    from prunebench.yolo.finite import check_finite

    cell, record, results_dir = work.cell, work.record, work.settings.results_dir
    if work.size_before is not None:  # a pruned cell: what its strategy delivered against what was asked
        delivered.settle(record, cell, work.size_before, work.model, work.evaluation.imgsz)
    check_finite(work.model, "fine-tuning" if cell.spec.get("finetune") else "pruning")
    if work.loaded.suite.keep_models == "all" and results_dir is not None:
        path = Path(results_dir) / MODELS_DIRNAME / f"{cell.name}.{cell.key}.pt"
        checkpoints.save_model(work.model, path)
        record.set_detail("model_file", {"path": path.relative_to(results_dir).as_posix(),
                                         "sha256": hash_file(path), "bytes": path.stat().st_size})
        work.checkpoint = path
        return
    record.set_detail("model_file", None)
    work.checkpoint = checkpoints.save_model(work.model, work.work_dir / "model.pt")


def evaluate(work: CellWork) -> None:
    evaluate_every_split(work, work.checkpoint)


def measure(work: CellWork) -> None:
    from prunebench.measure import cell as measure_cell
    from prunebench.measure.pairs import PairRule
    from prunebench.yolo import checkpoints

    ev, settings, ctx, reference = work.evaluation, work.settings, work.ctx, work.reference
    m = ev.measure
    threads = timing_threads(settings.device, m.threads)
    images = ctx.dataset.val_images if m.latency else []
    extra: dict[str, Any] = {}
    if m.runtimes != ["torch"]:
        reference_checkpoint = None
        if reference is not None:
            reference_checkpoint = checkpoints.save_model(reference, ctx.work_dir / "reference.pt")
        extra = dict(runtimes=tuple(m.runtimes), checkpoint=work.checkpoint, reference_checkpoint=reference_checkpoint)
    measured = measure_cell.measure(
        work.model, imgsz=ev.imgsz, device=settings.device, images=images, threads=threads,
        batch_throughput=m.throughput_batch, min_run_time=m.min_run_time, reference=reference,
        pairs=m.speedup_pairs, rule=PairRule.from_settings(m), **extra)
    if reference is not None and (study := study_model(work)) is not None:
        measured = measured.against_study(study)
    work.record.put_measurement(measured)  # with its threads: what timing really used


def timing_reference(work: CellWork, dense=None):
    """The model a cell's latency is timed against in pairs (see measure.cell), or None: for a pruned cell the
    dense model it starts from (a copy of `dense` when given, else loaded); for a reference model's dense
    cells the dense model under study."""
    cell, m = work.cell, work.evaluation.measure
    if not cell.is_dense and m.latency and m.speedup_pairs:
        if dense is not None:
            return copy.deepcopy(dense)
        return work.loaded.models[cell.model].instance().load(work.ctx).model
    if (study := study_model(work)) is not None:
        return work.loaded.models[study].instance().load(work.ctx).model
    return None


def study_model(work: CellWork) -> str | None:
    """For a dense cell of a reference model (with paired timing on): the model under study its latency is
    paired with (records.record.study_model_for over the suite's study models on the cell's dataset, the rule
    a re-measure applies to the records too); None otherwise."""
    cell, m, models = work.cell, work.evaluation.measure, work.loaded.models
    if not (cell.is_dense and m.latency and m.speedup_pairs and models[cell.model].entry.role == "reference"):
        return None
    return study_model_for(name for name, model in models.items() if model.entry.role == "study"
                           and (model.entry.datasets is None or cell.dataset in model.entry.datasets))


def kept_reference(work: CellWork, record: Record):
    """The kept dense model the record's latency pairs with, loaded, when the results folder has it."""
    m = work.evaluation.measure
    if not (m.latency and m.speedup_pairs):
        return None
    from prunebench.run.remeasure import timing_reference as kept_timing_reference
    from prunebench.yolo.checkpoints import load_model

    found = kept_timing_reference(record, RecordIndex(work.settings.results_dir))
    return load_model(found.checkpoint) if found.checkpoint is not None else None


# ---------------------------------------------------------------------- training
def train_kwargs(cell: Cell, device: str, verbose: bool) -> dict[str, Any]:
    recipe = cell.spec["finetune"]
    return dict(imgsz=int(recipe["imgsz"]), batch=int(recipe["batch"]), device=device,
                seed=cell.seed, lr0=None if recipe["optimizer"] == "auto" else float(recipe["lr0"]),
                optimizer=recipe["optimizer"], warmup_epochs=float(recipe["warmup_epochs"]),
                verbose=verbose, amp=recipe.get("amp", False))


def finetune(work: CellWork, keep: str, epochs: int | None = None, label: str = "fine-tuning",
             tag: str = "finetune") -> None:
    """Fine-tune with the cell's recipe (or `epochs` of it); appends to the loss curve and the fine-tuning log."""
    from prunebench.yolo import training

    cell, record, ctx = work.cell, work.record, work.ctx
    recipe = cell.spec["finetune"]
    total, steps = training.resolve_epochs(recipe, ctx.dataset.data_yaml)
    epochs = total if epochs is None else epochs
    work.model, info = training.train(work.model, ctx.dataset.data_yaml, epochs=epochs, work_dir=ctx.work_dir / tag,
                                      keep=keep, label=label, **train_kwargs(cell, work.settings.device,
                                                                             work.settings.verbose),
                                      **distill_kwargs(cell, record))
    so_far = record.finetuned or FineTuning(recipe, total, steps)
    record.put_finetuning(so_far.after(info))


def distill_kwargs(cell: Cell, record: Record) -> dict[str, Any]:
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


def finetune_control(work: CellWork) -> None:
    finetune(work, keep="none")


def finetune_pruned(work: CellWork) -> None:
    finetune(work, keep=keep_of(work.strategy))


def keep_of(strategy) -> str:
    return "structure" if strategy.structured else "masks"


def sparsity_kwargs(work: CellWork, lr0: float | None) -> dict[str, Any]:
    cell, settings, ctx = work.cell, work.settings, work.ctx
    kwargs = train_kwargs(cell, settings.device, settings.verbose) if cell.spec.get("finetune") else dict(
        imgsz=ctx.imgsz, batch=ctx.batch, device=settings.device, seed=cell.seed, lr0=None, optimizer=None,
        warmup_epochs=0.0, verbose=settings.verbose)
    if lr0 is not None:
        kwargs.update(lr0=float(lr0), optimizer="SGD")
    return kwargs


def train_as_long_as_sparsity(work: CellWork) -> None:
    """The control's counterpart of a strategy's sparsity training: plain training for as many epochs."""
    from prunebench.yolo import training

    sparsity = work.cell.spec["finetune"]["sparsity"]
    work.model, info = training.train(work.model, work.ctx.dataset.data_yaml, epochs=sparsity["epochs"],
                                      work_dir=work.ctx.work_dir / "sparsity_train", keep="none",
                                      label="training as long as sparsity training (no penalty)",
                                      **sparsity_kwargs(work, sparsity["lr0"]))
    work.record.set_detail("sparsity_train", dict(info))


def sparsity_train(work: CellWork) -> None:
    """The model after the strategy's sparsity training, and what to record of it. The result depends on the
    model, data, strategy params, recipe and seed, not on the amount: it is cached, so the 0.3, 0.5 and 0.7
    cells of one strategy train it once."""
    from filelock import FileLock

    from prunebench.yolo import checkpoints, training

    cell, spec, strategy, ctx = work.cell, work.cell.spec, work.strategy, work.ctx
    identity = {"model": spec["model"], "dataset": spec["dataset"], "strategy": spec["strategy"], "seed": cell.seed,
                "recipe": spec.get("finetune"), "dataset_fingerprint": ctx.dataset.fingerprint,
                "model_fingerprint": work.loaded.models[cell.model].instance().fingerprint()}
    folder = (Path(work.settings.cache_dir) / "sparsity"
              / f"{cell.model}.{cell.strategy}.s{cell.seed}.{short_hash(identity)}")
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        cached, summary = folder / "model.pt", folder / "sparsity.json"
        if cached.is_file() and summary.is_file():
            work.model = checkpoints.load_yolo(cached).model
            work.record.set_detail("sparsity_training", dict(json.loads(summary.read_text()), cached=True))
            return
        before = strategy.snapshot(work.model)
        model, info = training.train(work.model, ctx.dataset.data_yaml, epochs=strategy.sparsity_epochs(),
                                     work_dir=ctx.work_dir / "sparsity", keep="none",
                                     regularize=strategy.regularize, label="sparsity training",
                                     **sparsity_kwargs(work, strategy.sparsity_lr0()))
        after = strategy.snapshot(model)
        found = {"before": before, "after": after, **sparsity_verdict(before, after),
                 **{k: v for k, v in info.items()}, "s": getattr(strategy.params, "s", None)}
        checkpoints.save_model(model, cached)
        atomic_write_text(summary, json.dumps(found, sort_keys=True) + "\n")
    work.model = model
    work.record.set_detail("sparsity_training", dict(found, cached=False))


# ---------------------------------------------------------------------- pruning
def prune(work: CellWork) -> None:
    if work.cell.target_runtime is not None:  # a speed-up measured on a runtime: prune, deploy, time, correct
        from prunebench.run.latency_target import prune_to_latency

        imgsz = work.evaluation.imgsz
        work.model, report, outcome = prune_to_latency(work, lambda m: fused_gflops(m, imgsz))
        work.record.set_detail("latency_target", outcome.to_details())
    else:
        work.model, report = pruned(work, amount=work.cell.amount, target=work.cell.target)
    work.record.put_prune_report(PruneReport(report))


def evaluate_before_finetune(work: CellWork) -> None:
    from prunebench.yolo import checkpoints, evaluate

    ctx = work.ctx
    path = checkpoints.save_model(work.model, ctx.work_dir / "pruned.pt")
    split = evaluate.headline_split(ctx.dataset.data_yaml, work.evaluation.split)
    before = evaluate_checkpoint(work, path, split, ctx.work_dir / "val-before")
    work.record.set_detail("metrics_before_finetune", before["metrics"])
    work.record.set_detail("metrics_before_finetune_split", split)


def pruned(work: CellWork, *, amount: float | None = None, target: float | None = None,
           dense_gflops: float | None = None):
    """Prune to `amount` (in place) or to the speed-up `target` (bisection on copies); (model, report)."""
    strategy, ctx, model = work.strategy, work.ctx, work.model
    if target is None:
        return model, strategy.prune(model, amount, ctx)
    from prunebench.run.targets import prune_to_speedup

    imgsz = work.evaluation.imgsz
    found = prune_to_speedup(model, lambda m, fraction: strategy.prune(m, fraction, ctx), target,
                             lambda m: fused_gflops(m, imgsz), dense_gflops=dense_gflops)
    if not found.summary["within_tolerance"]:
        ctx.log(f"{work.cell.name}: reached {found.summary['achieved_speedup']:.2f}x of the {target:g}x asked "
                f"(closest of {len(found.summary['trials'])} trials)")
    return found.model, {**found.report, **found.summary}


def prune_step(index: int) -> Callable[[CellWork], None]:
    """Step `index` of an iterative schedule: prune to this step's goal (a fraction of what is left, or the
    speed-up target of the step)."""
    def run(work: CellWork) -> None:
        from prunebench.run.targets import step_fraction, step_goals

        cell, state = work.cell, work.steps
        if index == 1:
            dense_gflops = fused_gflops(work.model, work.evaluation.imgsz)
            state.update(dense_gflops=dense_gflops, previous=0.0, rows=[], reports=[],
                         goals=step_goals(int(cell.spec["schedule"]["steps"]), amount=cell.amount, target=cell.target))
        goal = state["goals"][index - 1]
        if cell.target is None:
            work.model, report = pruned(work, amount=step_fraction(state["previous"], goal))
            state["previous"] = goal
        else:
            work.model, report = pruned(work, target=goal, dense_gflops=state["dense_gflops"])
        state["reports"].append(report)
    return run


def finetune_step(index: int, steps: int) -> Callable[[CellWork], None]:
    """Fine-tune after step `index`, then record the step's GFLOPs and val accuracy; the last step writes the
    schedule's rows and the prune report."""
    def run(work: CellWork) -> None:
        from prunebench.yolo import checkpoints

        state, ctx, imgsz = work.steps, work.ctx, work.evaluation.imgsz
        tag = f"finetune_step_{index}"
        finetune(work, keep=keep_of(work.strategy), epochs=int(work.cell.spec["schedule"]["finetune_epochs_per_step"]),
                 label=f"fine-tuning, step {index}/{steps}", tag=tag)
        path = checkpoints.save_model(work.model, ctx.work_dir / f"step{index}.pt")
        metrics = evaluate_checkpoint(work, path, "val", ctx.work_dir / f"val-step{index}")["metrics"]
        gflops = fused_gflops(work.model, imgsz)
        state["rows"].append({"step": index, "goal": round(state["goals"][index - 1], 5), "gflops": round(gflops, 5),
                              "speedup": round(state["dense_gflops"] / gflops, 4), "split": "val",
                              "map50": metrics["map50"], "map50_95": metrics["map50_95"]})
        if index == steps:
            record_schedule(work)
    return run


def record_schedule(work: CellWork) -> None:
    cell, state = work.cell, work.steps
    final = dict(state["reports"][-1])
    final.update(steps=state["reports"], schedule=cell.spec["schedule"])
    if cell.target is not None:
        final.update(target=cell.target, achieved_speedup=state["rows"][-1]["speedup"])
    work.record.put_prune_report(PruneReport(final, schedule_steps=tuple(state["rows"])))


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
