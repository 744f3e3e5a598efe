"""A speed-up as an estimate with a 95 % interval, timed in alternating pairs until it is precise enough.

The model and its reference are timed back to back, the order swapped every pair, so a machine's drift
(tens of percent over minutes on a shared CPU) hits both sides of a pair alike and cancels from its ratio
reference / model. The speed-up is the median of the per-pair ratios; its 95 % interval is the distribution-
free confidence interval of a median from order statistics (the sign-test interval: the k-th smallest and
k-th largest ratio, k from the binomial(n, 1/2) distribution), which holds its coverage for any shape of
per-pair noise and needs no resampling seed (docs/speed-measurement.md compares it with a bootstrap).

At least `min_pairs` pairs are timed; then more, until the interval lies within ±`halfwidth` of the speed-up
or `cap_s` seconds of pair timing have passed; the estimate says which (`capped`: the cap came first). Below 6 pairs no
95 % interval of a median exists (2 / 2^5 > 5 %), so timing goes on until there are enough or the cap.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from prunebench.measure.noise import iqr

LEVEL = 0.95
MIN_PAIRS_DEFAULT = 15
HALFWIDTH_DEFAULT = 0.03
CAP_S_DEFAULT = 60.0


def pair_run_time(min_run_time: float) -> float:
    """Seconds of timed runs for one side of one pair: a quarter of a latency figure's, at least 0.05 s."""
    return max(min_run_time / 4, 0.05)


@dataclass(frozen=True)
class PairRule:
    """When to stop timing pairs: at least `min_pairs`, then as soon as the interval lies within ±`halfwidth`
    (a fraction) of the speed-up, or once `cap_s` seconds of pair timing have passed (the minimum is timed even
    when it takes longer)."""

    min_pairs: int = MIN_PAIRS_DEFAULT
    halfwidth: float = HALFWIDTH_DEFAULT
    cap_s: float = CAP_S_DEFAULT

    def __post_init__(self):
        if self.min_pairs < 1:
            raise ValueError(f"paired speed-up: pairs {self.min_pairs} must be at least 1 "
                             "(`evaluation.measure.speedup_pairs`)")
        if not 0 < self.halfwidth < 1:
            raise ValueError(f"paired speed-up: halfwidth {self.halfwidth} must be a fraction in (0, 1) "
                             "(`evaluation.measure.speedup_halfwidth`)")
        if self.cap_s <= 0:
            raise ValueError(f"paired speed-up: cap {self.cap_s} s must be positive "
                             "(`evaluation.measure.speedup_cap_s`)")

    @classmethod
    def from_settings(cls, settings: Any) -> PairRule | None:
        """From a suite's MeasureSettings (speedup_pairs, speedup_halfwidth, speedup_cap_s); None when
        speedup_pairs is 0 (no pairs: the cells' separate latencies are compared instead)."""
        if not settings.speedup_pairs:
            return None
        return cls(settings.speedup_pairs, settings.speedup_halfwidth, settings.speedup_cap_s)

    def as_dict(self) -> dict[str, Any]:
        return {"min_pairs": self.min_pairs, "halfwidth": self.halfwidth, "cap_s": self.cap_s, "level": LEVEL}


def median_interval(ratios: list[float], level: float = LEVEL) -> tuple[float, float] | None:
    """The distribution-free `level` confidence interval of the median of `ratios`: (r_(k), r_(n+1-k)) in sorted
    order with the largest k such that P(Binomial(n, 1/2) < k) <= (1 - level) / 2; None when even (min, max)
    covers less than `level` (fewer than 6 values at 95 %)."""
    n = len(ratios)
    k, below = 0, 0.0  # below = P(X < k + 1) = P(X <= k) for X ~ Binomial(n, 1/2), exact in integers
    while k < n and (below := below + math.comb(n, k) / 2 ** n) <= (1 - level) / 2:
        k += 1
    if k < 1:
        return None
    ordered = sorted(ratios)
    return ordered[k - 1], ordered[n - k]


@dataclass(frozen=True)
class SpeedupEstimate:
    """A paired speed-up (reference / model), its 95 % interval, and how it was timed."""

    speedup: float
    low: float | None  # None: too few pairs for a 95 % interval
    high: float | None
    pairs: int
    capped: bool  # the time cap was reached before the interval was within ±halfwidth
    per_pair: tuple[float, ...]
    model_ms: tuple[float, ...]
    reference_ms: tuple[float, ...]
    seconds: float
    rule: PairRule = field(default_factory=PairRule)

    @property
    def iqr(self) -> float | None:
        return iqr(self.per_pair)

    @property
    def relative_halfwidth(self) -> float | None:
        """The larger distance of an interval end from the speed-up, as a fraction of it."""
        if self.low is None or self.high is None or not self.speedup:
            return None
        return max(self.speedup - self.low, self.high - self.speedup) / self.speedup

    def details(self) -> dict[str, Any]:
        """What a record's details keep of it (plain JSON)."""
        return {"speedup": self.speedup, "low": self.low, "high": self.high, "iqr": self.iqr,
                "relative_halfwidth": self.relative_halfwidth, "pairs": self.pairs, "capped": self.capped,
                "seconds": round(self.seconds, 3), "rule": self.rule.as_dict(),
                "per_pair": [round(r, 4) for r in self.per_pair],
                "model_ms": [round(v, 4) for v in self.model_ms],
                "reference_ms": [round(v, 4) for v in self.reference_ms],
                "interval": "95 % distribution-free interval of the median of the per-pair ratios (order "
                            "statistics, binomial); docs/speed-measurement.md"}


def estimate(ratios: list[float], **timing: Any) -> SpeedupEstimate:
    """A SpeedupEstimate of `ratios` (the other fields from `timing`)."""
    interval = median_interval(ratios)
    low, high = interval if interval is not None else (None, None)
    return SpeedupEstimate(statistics.median(ratios), low, high, len(ratios), per_pair=tuple(ratios), **timing)


def precise_enough(ratios: list[float], rule: PairRule) -> bool:
    if len(ratios) < rule.min_pairs:
        return False
    interval = median_interval(ratios)
    if interval is None:
        return False
    middle = statistics.median(ratios)
    return interval[0] >= middle * (1 - rule.halfwidth) and interval[1] <= middle * (1 + rule.halfwidth)


def time_pairs(time_model: Callable[[str], float], time_reference: Callable[[str], float], rule: PairRule,
               clock: Callable[[], float] = time.monotonic) -> SpeedupEstimate:
    """Time pairs until `rule` is met. `time_model(label)` / `time_reference(label)` time one side once and return
    its latency (ms); `clock` gives seconds (the cap is measured on it)."""
    start = clock()
    model_ms: list[float] = []
    reference_ms: list[float] = []
    ratios: list[float] = []
    capped = False
    while True:
        i = len(ratios)
        if i % 2 == 0:
            m, r = time_model(f"model, pair {i}"), time_reference(f"reference, pair {i}")
        else:
            r, m = time_reference(f"reference, pair {i}"), time_model(f"model, pair {i}")
        model_ms.append(float(m))
        reference_ms.append(float(r))
        ratios.append(float(r) / float(m))
        if len(ratios) < rule.min_pairs:
            continue  # the minimum is timed whatever the clock says
        if precise_enough(ratios, rule):
            break
        if clock() - start >= rule.cap_s:
            capped = True
            break
    return estimate(ratios, capped=capped, model_ms=tuple(model_ms), reference_ms=tuple(reference_ms),
                    seconds=float(clock() - start), rule=rule)


def speedup_metrics(found: SpeedupEstimate | None, value: str, spread: str, suffix: str = "") -> dict[str, Any]:
    """The record's metrics of one speed-up: `value` (the speed-up), `spread` (IQR of the per-pair ratios), and
    <stem>_low, <stem>_high, <stem>_pairs, <stem>_capped, where stem is `value` for names that carry a reference
    (speedup_vs_torch -> speedup_vs_torch_low) and "speedup" for the per-runtime names (speedup_low_onnxruntime),
    each followed by `suffix`. All None without an estimate."""
    stem = "speedup" if value.startswith("speedup_vs_dense") else value
    names = {"value": value + suffix, "spread": spread + suffix, "low": f"{stem}_low{suffix}",
             "high": f"{stem}_high{suffix}", "pairs": f"{stem}_pairs{suffix}", "capped": f"{stem}_capped{suffix}"}
    if found is None:
        return {name: None for name in names.values()}
    return {names["value"]: found.speedup, names["spread"]: found.iqr, names["low"]: found.low,
            names["high"]: found.high, names["pairs"]: found.pairs, names["capped"]: found.capped}


__all__ = ["PairRule", "SpeedupEstimate", "estimate", "median_interval", "pair_run_time", "precise_enough", "speedup_metrics",
           "time_pairs"]
