"""How a cell prunes: to a fraction in one shot, to a speed-up target, or in steps with fine-tuning between.

A speed-up target ("2x") is reached by bisection on the fraction a structured strategy is asked for: each
trial prunes a deep copy and counts its GFLOPs exactly as the record will (`prunebench.measure.costs`, fused
model), until the pruned GFLOPs are dense GFLOPs / target within `TARGET_TOLERANCE`. Works for any strategy
whose `prune(model, amount, ctx)` removes more as the amount grows, third-party ones included.

An iterative schedule prunes in `steps` steps, the cumulative fraction (or speed-up) growing evenly, and
fine-tunes `finetune_epochs_per_step` epochs after each (Torch-Pruning's iterative recipe): at nano scale one
shot hurts badly. Each step's GFLOPs and val accuracy are recorded.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

TARGET_TOLERANCE = 0.05  # pruned GFLOPs within 5 % of dense / target
MAX_TRIALS = 14  # bisection steps (2^-14 of the fraction: far finer than any layer's channel count)
MAX_FRACTION = 0.98


@dataclass
class TargetResult:
    model: Any  # the pruned model (a new object: shapes changed)
    report: dict[str, Any]  # the strategy's own report of the chosen trial
    summary: dict[str, Any]  # target, achieved speed-up, fraction, trials


def prune_to_speedup(model, prune: Callable[[Any, float], dict[str, Any]], target: float,
                     gflops_of: Callable[[Any], float], *, dense_gflops: float | None = None,
                     tolerance: float = TARGET_TOLERANCE, max_trials: int = MAX_TRIALS) -> TargetResult:
    """Prune a copy of `model` with `prune(copy, fraction)` so that its GFLOPs are `dense_gflops / target`.

    `dense_gflops` is the GFLOPs the speed-up is counted against (default: `model`'s own; an iterative step
    passes the original dense model's). The trial closest to the goal is kept; its summary says how close.
    """
    if target <= 1.0:
        raise ValueError(f"speed-up target {target!r} must be above 1 (e.g. 2.0 for '2x')")
    dense = gflops_of(model) if dense_gflops is None else dense_gflops
    goal = dense / target
    low, high = 0.0, MAX_FRACTION
    best = None
    trials = []
    for _ in range(max_trials):
        fraction = (low + high) / 2
        candidate = copy.deepcopy(model)
        report = prune(candidate, fraction)
        gflops = gflops_of(candidate)
        error = gflops / goal - 1
        trials.append({"fraction": round(fraction, 5), "gflops": round(gflops, 5), "speedup": round(dense / gflops, 4)})
        if best is None or abs(error) < abs(best[0]):
            best = (error, fraction, candidate, report, gflops)
        if abs(error) <= tolerance:
            break
        if gflops > goal:
            low = fraction  # not enough removed
        else:
            high = fraction
    error, fraction, candidate, report, gflops = best
    summary = {"target": target, "achieved_speedup": round(dense / gflops, 4), "gflops_goal": round(goal, 5),
               "gflops": round(gflops, 5), "dense_gflops": round(dense, 5), "fraction": round(fraction, 5),
               "within_tolerance": abs(error) <= tolerance, "tolerance": tolerance, "trials": trials}
    return TargetResult(candidate, report, summary)


def step_goals(steps: int, *, amount: float | None = None, target: float | None = None) -> list[float]:
    """The cumulative goal after each step: fractions of the original channels (even steps: a/N, 2a/N, ...)
    or speed-ups (geometric: target^(1/N), target^(2/N), ...), ending at the cell's amount or target."""
    if (amount is None) == (target is None):
        raise ValueError("step_goals needs exactly one of amount or target")
    if amount is not None:
        return [amount * (i + 1) / steps for i in range(steps)]
    return [target ** ((i + 1) / steps) for i in range(steps)]


def step_fraction(previous: float, cumulative: float) -> float:
    """The fraction of the channels left after `previous` that must go for `cumulative` of the original to be gone."""
    return 1 - (1 - cumulative) / (1 - previous)
