"""`check_strategy`: a strategy run through what prunebench will ask of it, measured rather than trusted.

Every check is recorded in the report and none raises, so an author's test asserts `report.passed` and reads
every verdict at once. What the checks are and why: `check_strategy`'s docstring and
docs/writing-a-strategy-plugin.md.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prunebench.testing import measured
from prunebench.testing.baseline import TINY_IMGSZ, TrainedBaseline, tiny_context, tiny_model
from prunebench.testing.failures import ConformanceFailure, require
from prunebench.testing.protected import ProtectedLayers
from prunebench.testing.validation import validate_checkpoint

# The accuracy check prunes the trained baseline by SMALL_AMOUNT (no fine-tuning) and asks that it keeps this
# share of its mAP50. Measured at 0.05 on the baseline above: l1-unstructured 102 %, global-l1-unstructured
# 100 %; l1-channel and channel 94 %, fpgm-channel 99 %, channel with random importance 88-99 % (seeds 0-2);
# network-slimming 55 % and global l1 channel 60 % (a global ranking empties some layers far more than others,
# and slimming's |gamma| ranking means little without sparsity training); a strategy that zeroes half the DFL
# bins 0 %. Removing whole channels moves an un-fine-tuned nano model far more than zeroing its smallest
# weights, hence a threshold per kind, each loose enough for the built-ins and tight enough for breakage.
# (random-unstructured keeps 0 %, 102 % or 74 % with seeds 0, 1, 2: a random baseline may fail this check.)
SMALL_AMOUNT = 0.05
MIN_KEPT_SHARE = {"unstructured": 0.8, "structured": 0.4}
# How far a report's figure may be from the measured one. The built-ins' reports match to rounding (6 decimals
# for achieved_sparsity, 4 for channel_reduction); a report that says 0.50 where 0.25 was done is far beyond.
REPORT_TOLERANCE = 0.005

# The amounts the kit prunes the untrained model by (a strategy that ignores `amount`, or always prunes 50 %, fails
# at one of them at least), and the MACs speed-up a structured strategy must reach by bisection on the amount, as
# a suite's `amounts: [2x]` asks (prunebench.run.targets; within its 5 %).
AMOUNTS = (0.3, 0.6)
SPEEDUP_TARGET, SPEEDUP_TOLERANCE, SPEEDUP_TRIALS = 1.5, 0.05, 8

PARAMS, REPORT, NO_GRADIENTS = "params validate", "prune returns a report", "prune leaves no gradients"
AMOUNT, REPORT_MATCHES, PROTECTED = "requested amount is achieved", "the report matches the model", \
    "protected layers are untouched"
DETERMINISTIC, SPEEDUP = "the same seed prunes the same weights", "a speed-up target is reached"
VALIDATES, ACCURACY = "pruned model runs and validates", "a small amount keeps a trained model's accuracy"
FINETUNE, ROUND_TRIP = "fine-tuning keeps the pruning", "save / YOLO(path) round trip keeps the pruning"
CHECKS = (PARAMS, REPORT, NO_GRADIENTS, AMOUNT, DETERMINISTIC, SPEEDUP, REPORT_MATCHES, PROTECTED, VALIDATES,
          ACCURACY, FINETUNE, ROUND_TRIP)  # SPEEDUP for structured strategies only


@dataclass
class ConformanceReport:
    strategy: str
    checks: dict[str, str] = field(default_factory=dict)  # check name -> "ok" or what went wrong
    details: dict[str, Any] = field(default_factory=dict)
    tracebacks: dict[str, str] = field(default_factory=dict)  # check name -> the traceback of what raised in it

    @property
    def passed(self) -> bool:
        return all(result == "ok" for result in self.checks.values())

    def failed(self) -> list[str]:
        return [name for name, result in self.checks.items() if result != "ok"]

    def __str__(self) -> str:
        lines = [f"conformance of strategy {self.strategy!r}:"]
        for name, result in self.checks.items():
            lines.append(f"  {'PASS' if result == 'ok' else 'FAIL'} {name}{'' if result == 'ok' else ': ' + result}")
            if name in self.tracebacks:
                lines += ["      " + line for line in self.tracebacks[name].rstrip().splitlines()]
        return "\n".join(lines)


@dataclass
class PruneRun:
    """One prune() of a fresh untrained model: the model, its counts before and after, the report or the error."""

    amount: float
    seed: int
    model: Any
    protected: ProtectedLayers
    before: measured.Counts
    after: measured.Counts | None = None
    result: dict[str, Any] | None = None
    error: str | None = None  # "IndexError: ..." when prune() raised or returned no dict
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _params_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _conv_zero_masks(model) -> dict[str, Any]:
    import torch

    return {name: (m.weight == 0).clone() for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}


def as_the_runner_gives_it(model):
    """The state a cell hands a model to prune(): as `ultralytics.YOLO(path)` loads it, in eval mode with every
    parameter frozen (requires_grad=False), float32, on the CPU, no gradients (docs/strategy-contract.md)."""
    model.float().cpu().eval()
    for p in model.parameters():
        p.requires_grad_(False)
        p.grad = None
    return model


def _traceback(exc: BaseException) -> str:
    """The exception's traceback without the kit's own frames above the strategy's."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    inside = [i for i, frame in enumerate(frames) if not frame.filename.endswith(("conformance.py", "failures.py"))]
    shown = traceback.format_list(frames[inside[0]:] if inside else frames)
    return "Traceback (most recent call last):\n" + "".join(shown) + "".join(
        traceback.format_exception_only(type(exc), exc))


@contextmanager
def _other_global_seeds(seed: int):
    """Python's, NumPy's and torch's global generators seeded with `seed` for a while, then put back: a strategy
    that draws from them (instead of from ctx.seed) prunes differently the second time."""
    import random

    import numpy as np
    import torch

    state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng():
        random.seed(seed), np.random.seed(seed), torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(state[0]), np.random.set_state(state[1])


def weight_differences(a, b) -> list[str]:
    """What differs between two models' state dicts (names, shapes, values); empty when they are identical."""
    import torch

    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys():
        only = sorted(set(sa) ^ set(sb))
        return [f"the two models have different layers ({len(only)} differ, e.g. {', '.join(only[:3])})"]
    shapes = [k for k in sa if sa[k].shape != sb[k].shape]
    if shapes:
        return [f"{len(shapes)} tensors differ in shape (e.g. {shapes[0]}: {tuple(sa[shapes[0]].shape)} vs "
                f"{tuple(sb[shapes[0]].shape)}): different channels were removed"]
    values = [k for k in sa if sa[k].is_floating_point() and not torch.equal(sa[k], sb[k])]
    if values:
        count = sum(int((sa[k] != sb[k]).sum()) for k in values)
        return [f"{count:,} values differ in {len(values)} tensors (e.g. {', '.join(values[:3])})"]
    return []


def check_strategy(strategy_cls, dataset, work_dir: Path, *, amounts: tuple[float, ...] = AMOUNTS,
                   tolerance: float = 0.05, params: dict[str, Any] | None = None, arch: str = "yolov8n.yaml",
                   finetune_epochs: int = 1, baseline: TrainedBaseline | None = None,
                   small_amount: float = SMALL_AMOUNT, min_kept_share: float | None = None,
                   report_tolerance: float = REPORT_TOLERANCE, speedup_target: float | None = SPEEDUP_TARGET,
                   amount: float | None = None) -> ConformanceReport:
    """Run a strategy through what prunebench will ask of it; every check is recorded, none raises.

    The model is an untrained `arch` with the dataset's classes, handed over as a cell hands it (eval mode,
    frozen: `as_the_runner_gives_it`), a fresh one for every prune; counts are taken on it before and after
    `prune()` (testing.measured). `amount=` checks that one amount instead of `amounts`.

    - params: the defaults validate, an unknown key is rejected;
    - prune returns a dict report at every amount in `amounts` (a crash is recorded with its traceback, and every
      other check still runs on the amounts that did prune), and leaves no gradients behind;
    - amount, measured at each of `amounts` (two at least: a strategy that ignores `amount` fails at one):
      unstructured, the weights newly zeroed over the weights it prunes (its report's `prunable_weights`, else
      prunebench.pruning.prunable_convs) within `tolerance` of the amount; structured, the output channels removed
      over the prunable channels (or over the reported `removable_channels`) within `tolerance`; and a larger
      amount must leave fewer non-zero parameters (unstructured) or fewer parameters and MACs (structured);
    - determinism: the first amount pruned twice with seed 0, the global random generators seeded differently the
      second time, gives identical weights (draw anything random from ctx.seed);
    - speed-up target (structured): bisection on the amount, as a suite's `amounts: [2x]` does, reaches
      `speedup_target` x fewer MACs within 5 % (prune() must remove more as the amount grows);
    - the report matches the model: every figure it gives of `achieved_sparsity`, `model_sparsity`,
      `channel_reduction`, `removed_channels`, `params_before` / `params_after`, `param_reduction`,
      `macs_before` / `macs_after`, `macs_reduction`, `gflops_before` / `gflops_after` within `report_tolerance`
      of what was measured (a cell records the measured figures in their place);
    - protected layers, by shape and value (testing.protected): the DFL conv keeps its fixed bins 0..reg_max-1,
      each head branch's output conv its width and a live weight in every output;
    - the pruned model runs a forward pass and validates with Ultralytics (from a saved checkpoint, as
      records are measured), with every metric finite and in [0, 1];
    - accuracy: `baseline` (the `prunebench_trained_baseline` fixture) pruned by `small_amount`, with no
      fine-tuning, keeps at least `min_kept_share` of its mAP50 (default MIN_KEPT_SHARE: 0.8 for an
      unstructured strategy, 0.4 for a structured one), and scores above 0; without a baseline this
      check fails and says how to pass one;
    - fine-tuning keeps the pruning (the zeros, or the smaller architecture);
    - the pruned, fine-tuned model survives a save / `ultralytics.YOLO(path)` round trip.
    """
    import torch
    from pydantic import ValidationError

    from prunebench.yolo import checkpoints, training

    work_dir = Path(work_dir)
    amounts = (amount,) if amount is not None else tuple(amounts)
    report = ConformanceReport(getattr(strategy_cls, "name", repr(strategy_cls)))

    def check(name: str, fn) -> Any:
        try:
            result = fn()
            report.checks[name] = "ok"
            return result
        except ConformanceFailure as exc:  # the report says what failed; the author's test asserts on it
            report.checks[name] = str(exc)
        except Exception as exc:  # a crash in the strategy (or the kit): its traceback goes with it
            report.checks[name] = f"{type(exc).__name__}: {exc}"
            report.tracebacks[name] = _traceback(exc)
        return None

    def params_validate():
        validated = strategy_cls.Params.model_validate(params or {})
        try:
            strategy_cls.Params.model_validate({**(params or {}), "no_such_param_xyz": 1})
        except ValidationError:
            return validated
        raise ConformanceFailure("Params accepted an unknown key; subclass prunebench.Params (extra='forbid')")

    validated = check(PARAMS, params_validate)
    if validated is None:
        return report
    strategy = strategy_cls(validated)

    def fresh_model():
        with torch.random.fork_rng():  # the same untrained model every time; the caller's RNG left alone
            torch.manual_seed(0)
            return as_the_runner_gives_it(tiny_model(arch, nc=len(dataset.names)))

    def prune_fresh(amount: float, seed: int = 0, tag: str = "") -> PruneRun:
        model = fresh_model()
        run = PruneRun(amount, seed, model, ProtectedLayers.capture(model), measured.Counts.of(model))
        ctx = tiny_context(dataset, work_dir / f"prune-{amount:g}{tag}", seed=seed)
        try:
            result = strategy_cls(validated).prune(model, amount, ctx)
        except Exception as exc:
            run.error, run.traceback = f"{type(exc).__name__}: {exc}", _traceback(exc)
            return run
        if not isinstance(result, dict):
            run.error = f"prune() must return a dict report, got {type(result).__name__}"
            return run
        run.result, run.after = result, measured.Counts.of(model)
        return run

    runs = [prune_fresh(a) for a in amounts]
    done = [run for run in runs if run.ok]
    crashed = [run for run in runs if not run.ok]
    report.details["prune_reports"] = {run.amount: run.result for run in done}
    if done:
        report.details["prune_report"] = done[0].result

    def returns_reports():
        for run in crashed:
            if run.traceback:
                report.tracebacks[REPORT] = run.traceback
        require(not crashed, lambda: "; ".join(
            f"at amount {run.amount:g}: {run.error}" + (" (prune() raised; its traceback is below)" if run.traceback
                                                        else "") for run in crashed))

    check(REPORT, returns_reports)

    def needs_a_prune():
        require(done, lambda: "not checked: prune() failed at every amount (see 'prune returns a report')")

    def no_gradients():
        needs_a_prune()
        for run in done:
            left = [name for name, p in run.model.named_parameters() if p.grad is not None]
            require(not left, f"prune() left gradients in {len(left)} parameters (e.g. {', '.join(left[:3])}); clear "
                              "them (model.zero_grad(set_to_none=True)) before returning: fine-tuning would add them "
                              "to its first step")

    check(NO_GRADIENTS, no_gradients)
    kind = measured.structured if strategy.structured else measured.unstructured
    figures = {run.amount: kind(run.before, run.after, run.result) for run in done}
    report.details["measured"] = figures[done[0].amount] if done else {}
    report.details["measured_by_amount"] = figures
    if strategy.structured and done:
        report.details["param_reduction"] = figures[done[0].amount]["param_reduction"]

    def amounts_achieved():
        needs_a_prune()
        problems = []
        for run in done:
            try:
                measured.check_amount_achieved(figures[run.amount], run.result, run.amount, tolerance,
                                               strategy.structured)
            except ConformanceFailure as exc:
                problems.append(f"at amount {run.amount:g}: {exc}")
        problems += measured.more_for_more(sorted(done, key=lambda run: run.amount), strategy.structured)
        require(not problems, lambda: "; ".join(problems))

    check(AMOUNT, amounts_achieved)

    def deterministic():
        needs_a_prune()
        first = done[0]
        with _other_global_seeds(12345):
            again = prune_fresh(first.amount, seed=first.seed, tag="-again")
        require(again.ok, lambda: f"the second prune() at amount {first.amount:g} with seed {first.seed} failed: "
                                  f"{again.error}")
        differences = weight_differences(first.model, again.model)
        require(not differences, lambda: (
            f"pruning the same model twice at amount {first.amount:g} with seed {first.seed} gave different weights: "
            f"{differences[0]}. The contract promises that a seed always prunes the same weights: draw anything "
            "random from ctx.seed (torch.Generator().manual_seed(ctx.seed), random.Random(ctx.seed), "
            "prunebench.pruning.training_batches(..., seed=ctx.seed)), never from the global random generators, "
            "and break ties by position"))

    check(DETERMINISTIC, deterministic)

    if strategy.structured and speedup_target:
        def speedup_reached():
            needs_a_prune()
            found = _bisect_to_speedup(prune_fresh, speedup_target, done[0].before.macs)
            report.details["speedup"] = found
            best = min(found["trials"], key=lambda t: abs(t["speedup"] / speedup_target - 1))
            require(abs(best["speedup"] / speedup_target - 1) <= SPEEDUP_TOLERANCE, lambda: (
                f"asked for {speedup_target:g}x fewer MACs by bisection on the amount (as a suite's `amounts: "
                f"[{speedup_target:g}x]` does), the closest of {len(found['trials'])} trials reached "
                f"{best['speedup']:.3f}x at amount {best['amount']:.4f} (trials: "
                + ", ".join(f"{t['amount']:.3f} -> {t['speedup']:.3f}x" for t in found["trials"])
                + "); prune() must remove more as the amount grows"))

        check(SPEEDUP, speedup_reached)

    def reports_match():
        needs_a_prune()
        problems = []
        for run in done:
            try:
                measured.check_report_matches(figures[run.amount], run.result, report_tolerance, strategy.structured)
            except ConformanceFailure as exc:
                problems.append(str(exc) if len(done) == 1 else f"at amount {run.amount:g}: {exc}")
        require(not problems, lambda: "; ".join(problems))

    check(REPORT_MATCHES, reports_match)

    def protected_kept():
        needs_a_prune()
        for run in done:
            run.protected.assert_kept(run.model)

    check(PROTECTED, protected_kept)
    model = done[0].model if done else fresh_model()

    def runs_and_validates():
        needs_a_prune()
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, TINY_IMGSZ, TINY_IMGSZ))
        report.details["metrics"] = _validate_model(model, dataset, work_dir / "val", TINY_IMGSZ)

    check(VALIDATES, runs_and_validates)

    def small_amount_keeps_accuracy():
        if baseline is None:
            raise ConformanceFailure("no trained model to check accuracy on: pass baseline=prunebench_trained_baseline "
                                     "(the kit's session fixture); an untrained model scores 0 whatever is done to it")
        share = min_kept_share if min_kept_share is not None else \
            MIN_KEPT_SHARE["structured" if strategy.structured else "unstructured"]
        before_map = baseline.metrics["map50"]
        trained = checkpoints.load_yolo(baseline.checkpoint).model  # as a cell loads it: frozen, eval mode
        guard = ProtectedLayers.capture(trained)
        strategy_cls(validated).prune(trained, small_amount, tiny_context(baseline.dataset, work_dir / "small",
                                                                         imgsz=baseline.imgsz))
        after_map = _validate_model(trained, baseline.dataset, work_dir / "small", baseline.imgsz)["map50"]
        report.details["accuracy"] = {"amount": small_amount, "map50_before": before_map, "map50_after": after_map,
                                      "min_kept_share": share}
        failures = [f"on the trained model too, {problem}" for problem in guard.problems(trained)]
        if not (after_map > 0 and after_map >= share * before_map):
            failures.insert(0, (
                f"pruning {small_amount:.0%} of a trained YOLOv8n took its mAP50 from {before_map:.3f} to "
                f"{after_map:.3f}; a {'structured' if strategy.structured else 'unstructured'} strategy must keep at "
                f"least {share:.0%} of it ({share * before_map:.3f}) at so small an amount. Something the model needs "
                "was pruned (the DFL conv? a head output? the wrong end of the ranking?)"))
        require(not failures, "; ".join(failures))

    check(ACCURACY, small_amount_keeps_accuracy)

    keep = "structure" if strategy.structured else "masks"
    masks, params_before = _conv_zero_masks(model), _params_count(model)

    def finetune_keeps_pruning():
        needs_a_prune()
        trained, _ = training.train(model, dataset.data_yaml, epochs=finetune_epochs, imgsz=TINY_IMGSZ, batch=4,
                                    device="cpu", seed=0, work_dir=work_dir / "finetune", keep=keep)
        _assert_kept(trained, masks, params_before, keep)
        return trained

    trained = check(FINETUNE, finetune_keeps_pruning)

    def round_trip():
        from prunebench.yolo.env import import_ultralytics

        needs_a_prune()
        import_ultralytics()
        from ultralytics import YOLO

        path = checkpoints.save_model(trained if trained is not None else model, work_dir / "pruned.pt")
        _assert_kept(YOLO(str(path)).model.float(), masks, params_before, keep)

    check(ROUND_TRIP, round_trip)
    return report


def _bisect_to_speedup(prune_fresh, target: float, dense_macs: int) -> dict[str, Any]:
    """Bisection on the amount for `target` x fewer MACs (as prunebench.run.targets does on GFLOPs)."""
    low, high, trials = 0.0, 0.95, []
    for _ in range(SPEEDUP_TRIALS):
        fraction = (low + high) / 2
        run = prune_fresh(fraction, tag="-target")
        if not run.ok:
            raise ConformanceFailure(f"prune() at amount {fraction:.4f} (a bisection trial) failed: {run.error}")
        speedup = dense_macs / max(run.after.macs, 1)
        trials.append({"amount": round(fraction, 5), "speedup": round(speedup, 4)})
        if abs(speedup / target - 1) <= SPEEDUP_TOLERANCE:
            break
        low, high = (fraction, high) if speedup < target else (low, fraction)
    return {"target": target, "trials": trials}


def _validate_model(model, dataset, work_dir: Path, imgsz: int) -> dict[str, float]:
    """Accuracy as a record measures it (the model saved, then `YOLO(path).val`), checked to be real numbers."""
    from prunebench.yolo import checkpoints

    path = checkpoints.save_model(model, Path(work_dir) / "validated.pt")
    return validate_checkpoint(path, dataset, work_dir, imgsz)


def _assert_kept(model, masks, params_before: int, keep: str) -> None:
    if keep == "structure":
        after = _params_count(model)
        require(after == params_before, f"the architecture changed: {params_before} -> {after} parameters")
        return
    now = _conv_zero_masks(model)
    lost = sum(int((masks[name] & ~now[name]).sum()) for name in masks if name in now)
    require(lost == 0, f"{lost} pruned weights are no longer zero")
