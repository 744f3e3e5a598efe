"""Prune to a speed-up measured on a named deploy runtime ("2x@openvino-int8"), by timing, not by counting.

1. Predict: the fraction whose GFLOPs ratio is the target (run.targets.prune_to_speedup, the GFLOPs target's own
   bisection). Measured speed lags FLOPs (0.76-0.89 of the FLOPs ratio in FINDINGS), so this first ratio
   usually falls short; it costs nothing to time.
2. Measure: prune a copy at the ratio, deploy it on the runtime (PyTorch: the fused module; otherwise Ultralytics'
   export, INT8 calibrated on CALIBRATION_IMAGES train images: latency does not depend on how good the
   calibration is), and time it against the dense model deployed the same way, in alternating pairs
   (measure.deployed.paired, the suite's pair rule): the median ratio with its 95 % interval.
3. Correct: the next ratio by regula falsi between the highest ratio below the target and the lowest above it
   (dense, ratio 0, is the point (0, 1x) and needs no timing), or by the secant through the two highest ratios
   while none is above; never beyond MAX_FRACTION. Stop when the measured speed-up is within LATENCY_TOLERANCE
   of the target, after MAX_STEPS timed steps, or when the next ratio would repeat one tried.
The step closest to the target is kept; the record says whether it met the target and, if not, why (the
runtime's fixed overhead, the step budget, or ratios too coarse to change the model), with every step tried.
The kept model then goes on as any pruned cell's: fine-tuning (which keeps its shapes, so its latency), save,
evaluate, measure; the runtime's deployment variant cell evaluates the real export.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from prunebench.records.latency_target import LatencyStep, LatencyTargetOutcome
from prunebench.run.phases import CellWork
from prunebench.run.variants import TORCH, VARIANTS, Variant

LATENCY_TOLERANCE = 0.10  # the measured speed-up within ±10 % of the target
MAX_STEPS = 5  # timed steps; each costs an export (INT8: ~10-30 s) and a pair timing
MAX_FRACTION = 0.9  # the most a step asks a strategy to remove: past it a nano model has almost no channels left
MIN_MOVE = 0.005  # a next ratio this close to one tried would time the same model again
CALIBRATION_IMAGES = 8  # INT8 exports for timing only: the final variant cell calibrates on the suite's images


@dataclass(frozen=True)
class Trial:
    """One ratio pruned and timed: what the record keeps of it, and the pruned model with the strategy's report."""

    step: LatencyStep
    model: Any
    report: dict[str, Any]


@dataclass(frozen=True)
class Search:
    """What the search found: every trial's step in order, the kept trial, whether it met the target, and why not."""

    steps: tuple[LatencyStep, ...]
    kept: Trial
    met: bool
    why: str | None


def next_fraction(points: list[tuple[float, float]], target: float, max_fraction: float = MAX_FRACTION) -> float:
    """The next ratio to try from (fraction, measured speed-up) points, dense (0, 1) among them: regula falsi
    inside the bracket when one ratio fell short and another overshot, else the secant through the two highest
    ratios (a noisy flat or falling pair doubles the step instead), clamped to [0, max_fraction]."""
    below = [p for p in points if p[1] < target]
    above = [p for p in points if p[1] >= target]
    low = max(below, key=lambda p: p[0]) if below else (0.0, 1.0)
    if above:
        high = min(above, key=lambda p: p[0])
        if high[0] > low[0]:
            guess = low[0] + (target - low[1]) * (high[0] - low[0]) / (high[1] - low[1])
            margin = 0.1 * (high[0] - low[0])  # stay inside: regula falsi can stall on a bracket's end
            return min(max(guess, low[0] + margin), high[0] - margin)
        return (high[0] + low[0]) / 2  # noise put an overshoot below a shortfall: time between the two
    ordered = sorted(points)
    (f1, s1), (f2, s2) = ordered[-2], ordered[-1]
    if s2 > s1 and f2 > f1:
        guess = f2 + (target - s2) * (f2 - f1) / (s2 - s1)
    else:
        guess = f2 + (max_fraction - f2) / 2
    return min(max(guess, 0.0), max_fraction)


def search(measure: Callable[[float], Trial], target: float, first: float, *, runtime: str,
           tolerance: float = LATENCY_TOLERANCE, max_steps: int = MAX_STEPS,
           max_fraction: float = MAX_FRACTION) -> Search:
    """Time `measure(fraction)` at `first`, then at corrected ratios, until a speed-up within `tolerance` of
    `target` or a stop; the trial closest to the target is kept (its model only: the others are dropped)."""
    if target <= 1.0:
        raise ValueError(f"measured speed-up target {target!r} must be above 1 (e.g. 2.0 for '2x@{runtime}')")
    points: list[tuple[float, float]] = [(0.0, 1.0)]
    steps: list[LatencyStep] = []
    best: Trial | None = None
    fraction, stop = min(max(first, 0.0), max_fraction), "budget"
    for _ in range(max_steps):
        trial = measure(fraction)
        steps.append(trial.step)
        points.append((trial.step.fraction, trial.step.speedup))
        if best is None or _distance(trial.step, target) < _distance(best.step, target):
            best = trial
        if _distance(best.step, target) <= tolerance:
            stop = "met"
            break
        if all(s < target for _, s in points) and fraction >= max_fraction - MIN_MOVE:
            stop = "ceiling"
            break
        following = next_fraction(points, target, max_fraction)
        if any(abs(following - f) < MIN_MOVE for f, _ in points):
            stop = "stalled"
            break
        fraction = following
    assert best is not None  # max_steps >= 1
    met = stop == "met"
    return Search(tuple(steps), best, met, None if met else _why(stop, steps, best.step, target, runtime, tolerance))


def _distance(step: LatencyStep, target: float) -> float:
    return abs(step.speedup / target - 1)


def _why(stop: str, steps: list[LatencyStep], kept: LatencyStep, target: float, runtime: str,
         tolerance: float) -> str:
    highest = max(steps, key=lambda s: s.fraction)
    at_highest = (f"at the highest ratio tried ({highest.fraction:.2f}: {highest.gflops_ratio:.2f}x fewer GFLOPs) "
                  f"{runtime} measured {highest.speedup:.2f}x")
    if stop == "ceiling":
        return (f"{target:g}x on {runtime} is beyond what pruning this model buys there: {at_highest}, short of the "
                f"target; the runtime's fixed, FLOPs-independent time caps the speed-up (docs/latency-targets.md)")
    kept_text = f"the closest step, ratio {kept.fraction:.2f}, measured {kept.speedup:.2f}x"
    if stop == "stalled":
        return (f"no ratio the search could still try changes the model: {kept_text}, outside ±{tolerance:.0%} of "
                f"{target:g}x ({at_highest}); the strategy's channel steps are coarser than the target's tolerance")
    return f"the step budget ({len(steps)} timed steps) ran out: {kept_text}, outside ±{tolerance:.0%} of {target:g}x"


# ---------------------------------------------------------------------- the cell's side: prune, deploy, time
class RuntimeTimer:
    """Times pruned models against the dense model on one deploy variant's runtime, in pairs (the dense model
    deployed once). Exports go to `work_dir`; the dense export is cached by content like a variant cell's."""

    def __init__(self, work: CellWork, variant: Variant, dense_model):
        from prunebench.measure.cell import MAX_TIMING_IMAGES
        from prunebench.measure.latency import read_images
        from prunebench.measure.pairs import PairRule
        from prunebench.util.environment import timing_threads

        ev, settings, ctx = work.evaluation, work.settings, work.ctx
        self.variant, self.imgsz, self.device = variant, ev.imgsz, settings.device
        self.threads = timing_threads(settings.device, ev.measure.threads)
        # A measured target needs pairs even in a suite that compares separate latencies (speedup_pairs 0).
        self.rule = PairRule.from_settings(ev.measure) or PairRule()
        self.min_run_time = ev.measure.min_run_time
        self.raw = read_images(ctx.dataset.val_images, MAX_TIMING_IMAGES)
        self.folder = Path(ctx.work_dir) / "latency-target"
        self.calibration = self._calibration(work) if variant.int8 else None
        self.dense = self._deploy(dense_model, "dense", cached_in=ctx.cache_dir)

    def _calibration(self, work: CellWork):
        from prunebench.yolo.calibration import calibration_data

        return calibration_data(work.ctx.dataset.data_yaml, self.folder / "calibration", CALIBRATION_IMAGES)

    def _deploy(self, model, tag: str, cached_in: Path | None = None):
        from prunebench.measure.deployed import deployment

        if self.variant.format is None:
            return deployment(TORCH, model, self.raw, self.imgsz, threads=self.threads, device=self.device)
        from prunebench.yolo.checkpoints import save_model

        checkpoint = save_model(model, self.folder / tag / "model.pt")
        if cached_in is not None:
            from prunebench.yolo.export_cache import cached_export

            identity = {"purpose": "latency-target timing", "images": self.calibration.summary()["images_sha"]} \
                if self.calibration is not None else None
            artefact, _ = cached_export(checkpoint, self.variant.format, self.imgsz, cached_in,
                                        calibration=self.calibration, calibration_id=identity)
        else:
            from prunebench.yolo.export import export_checkpoint

            artefact = export_checkpoint(checkpoint, self.variant.format, imgsz=self.imgsz,
                                         out_dir=self.folder / tag, calibration=self.calibration)
        return deployment(self.variant.runtime, artefact, self.raw, self.imgsz, threads=self.threads,
                          device=self.device)

    def speedup(self, model, tag: str):
        """The SpeedupEstimate of `model` over the dense model on this runtime."""
        from prunebench.measure.deployed import paired
        from prunebench.measure.latency import fixed_threads
        from prunebench.measure.pairs import pair_run_time

        own = self._deploy(model, tag)
        with fixed_threads(self.threads):
            _, found = paired(own, self.dense, threads=self.threads, rule=self.rule,
                              min_run_time=pair_run_time(self.min_run_time))
        return found

    def describe(self) -> str:
        made = "the fused PyTorch module" if self.variant.format is None else (
            f"Ultralytics' {self.variant.format} export"
            + (f", INT8 calibrated on {CALIBRATION_IMAGES} train images (timing only)" if self.variant.int8 else ""))
        return (f"{made} at {self.imgsz} px, batch 1, {self.threads} thread(s), timed against the dense model "
                f"deployed the same way in alternating pairs (at least {self.rule.min_pairs}, until the 95 % "
                f"interval is within ±{self.rule.halfwidth:.0%} or {self.rule.cap_s:g} s)")


def prune_to_latency(work: CellWork, gflops_of: Callable[[Any], float]) -> tuple[Any, dict[str, Any],
                                                                                  LatencyTargetOutcome]:
    """Prune `work.model` (left as it was) to the cell's measured-latency target: (the kept pruned model, its
    prune report, the outcome for details.latency_target)."""
    from prunebench.run.targets import prune_to_speedup

    cell, strategy, ctx, dense = work.cell, work.strategy, work.ctx, work.model
    target, variant = float(cell.target), VARIANTS[cell.target_runtime]
    dense_gflops = gflops_of(dense)
    predicted = prune_to_speedup(dense, lambda m, fraction: strategy.prune(m, fraction, ctx), target, gflops_of,
                                 dense_gflops=dense_gflops)
    first = float(predicted.summary["fraction"])
    timer = RuntimeTimer(work, variant, dense)

    def measure(fraction: float) -> Trial:
        if abs(fraction - first) < 1e-9:
            model, report = predicted.model, predicted.report
        else:
            model = copy.deepcopy(dense)
            report = strategy.prune(model, fraction, ctx)
        found = timer.speedup(model, f"ratio-{fraction:.4f}")
        step = LatencyStep(fraction=round(fraction, 5), gflops_ratio=round(dense_gflops / gflops_of(model), 4),
                           speedup=round(found.speedup, 4), low=found.low, high=found.high, pairs=found.pairs,
                           capped=found.capped)
        ctx.log(f"{cell.name}: ratio {step.fraction:.3f} ({step.gflops_ratio:.2f}x fewer GFLOPs) runs "
                f"{step.speedup:.2f}x faster on {variant.name} (target {target:g}x)")
        return Trial(step, model, dict(report or {}))

    found = search(measure, target, first, runtime=variant.name)
    outcome = LatencyTargetOutcome(
        target=target, runtime=variant.name, tolerance=LATENCY_TOLERANCE, met=found.met, why=found.why,
        kept=found.kept.step, steps=found.steps,
        first_prediction=(f"the ratio whose GFLOPs ratio is {target:g}x ({first:.3f}, by the GFLOPs target's "
                          f"bisection: {predicted.summary['achieved_speedup']:.2f}x fewer GFLOPs)"),
        timing=timer.describe())
    if not found.met:
        ctx.log(f"{cell.name}: {found.why}")
    kept = found.kept.step
    report = {**found.kept.report, "target": target, "target_runtime": variant.name,
              "achieved_speedup": kept.speedup, "gflops_speedup": kept.gflops_ratio, "fraction": kept.fraction,
              "within_tolerance": found.met, "tolerance": LATENCY_TOLERANCE}
    return found.kept.model, report, outcome


__all__ = ["CALIBRATION_IMAGES", "LATENCY_TOLERANCE", "MAX_FRACTION", "MAX_STEPS", "RuntimeTimer", "Search",
           "Trial", "next_fraction", "prune_to_latency", "search"]
