"""95 % intervals for a row's accuracy and for the difference of two rows, and the verdict they allow.

Each record holds its mAP50 and mAP50-95 on B bootstrap resamples of the headline split's images
(details.bootstrap, prunebench.records.matches), drawn over the image names with one seed, so two records on
the same images share the resamples. A row of k seeds combines the images with the seeds: its b-th replicate
is the mean, over k seeds drawn with replacement (the b-th row of one draw matrix shared by every row with k
seeds), of those seeds' b-th image resample. The difference of two rows takes the same image resample and the
same seed positions for both, so both the images' difficulty and a seed's luck (its shared baseline, when a
suite trains one per seed) cancel; there, rows of different seeds are compared over the seeds they share
(prunebench.report.verdicts.difference). An interval is, by default, the 2.5th to 97.5th percentile of the
replicates (PERCENTILE). Two bias-correcting alternatives are offered (`Estimate(..., method=...)`, carried
through `minus` and `combine`): BASIC, the reverse percentile (2·v − q97.5, 2·v − q2.5), and BC, the bias-
corrected percentile (Efron's BCa with the acceleration 0, since the replicates alone give no jackknife): the
percentiles are moved by z0 = Φ⁻¹(share of replicates below v). Resampled mAP sits above the figure on all
images (a resample repeats images, whose duplicated boxes raise precision), and both alternatives take that
offset out; docs/speed-measurement.md measures each method's coverage and how far its endpoints move between
two draws of the resamples.

A difference is decided only when its interval excludes zero: "better" or "worse"; otherwise "tie". Without
replicates on both sides there is no interval, and no verdict (None): nothing is claimed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

LEVEL = 0.95
PERCENTILE, BASIC, BC = "percentile", "basic", "bc"
METHODS = (PERCENTILE, BASIC, BC)
DEFAULT_METHOD = PERCENTILE
SEED_DRAWS_SEED = 20_261_201  # fixed: the seed draws are the same in every report
BETTER, WORSE, TIE = "better", "worse", "tie"


def seed_spread_note(seeds: int) -> str:
    """What resampling `seeds` seeds does to their spread, for a section's accuracy line. Drawing n seeds with
    replacement gives their mean a variance of (n - 1) / n of the sample variance over n, so the seed part of an
    interval is √((n - 1) / n) of what the sample SD implies (0.71 for 2 seeds, 0.82 for 3): below 5 seeds this
    is said with its factor, and with one seed no seed-to-seed spread is in the interval at all."""
    if seeds <= 1:
        return ("one seed, so no seed-to-seed spread is in the intervals: training again, or on another processor, "
                "can move a figure beyond them")
    if seeds < 5:
        return (f"{seeds} seeds, resampled: their spread is understated, at {((seeds - 1) / seeds) ** 0.5:.2f} of "
                "the sample SD")
    return f"{seeds} seeds, resampled"


@dataclass(frozen=True)
class Estimate:
    """A point estimate (the mean over seeds of the validator's figures) and its bootstrap replicates."""

    value: float
    replicates: np.ndarray | None = None  # (B,), or None when not every cell has them
    pairing: tuple | None = None  # (images_sha, resamples, seed): replicates pair only with equal pairing
    method: str = DEFAULT_METHOD  # how the interval is read off the replicates (PERCENTILE, BASIC, BC)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"interval method {self.method!r}: one of {', '.join(METHODS)}")

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.replicates is None:
            return None
        return interval_of(self.value, self.replicates, self.method)

    @property
    def low(self) -> float | None:
        return None if self.replicates is None else self.interval[0]

    @property
    def high(self) -> float | None:
        return None if self.replicates is None else self.interval[1]

    @property
    def half_width(self) -> float | None:
        return None if self.replicates is None else (self.high - self.low) / 2

    def minus(self, other: Estimate) -> Estimate:
        """The paired difference self - other (no replicates when the two were not resampled alike)."""
        paired = (self.replicates is not None and other.replicates is not None and self.pairing == other.pairing
                  and len(self.replicates) == len(other.replicates))
        return Estimate(self.value - other.value, self.replicates - other.replicates if paired else None,
                        self.pairing if paired else None, self.method)


def interval_of(value: float, replicates: np.ndarray, method: str = DEFAULT_METHOD,
                level: float = LEVEL) -> tuple[float, float]:
    """The `level` interval of an estimate `value` from its bootstrap `replicates` by `method` (module docstring)."""
    alpha = 1 - level
    replicates = np.asarray(replicates, dtype=float)
    if method == BC:
        from scipy.stats import norm  # here: importing scipy.stats costs every report about a second

        below = (np.count_nonzero(replicates < value) + 0.5 * np.count_nonzero(replicates == value)) / len(replicates)
        z0 = norm.ppf(min(max(below, 0.5 / len(replicates)), 1 - 0.5 / len(replicates)))  # finite at the edges
        shares = norm.cdf(2 * z0 + norm.ppf([alpha / 2, 1 - alpha / 2]))
        low, high = np.percentile(replicates, 100 * shares)
        return float(low), float(high)
    low, high = np.percentile(replicates, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    if method == BASIC:
        return float(2 * value - high), float(2 * value - low)
    return float(low), float(high)


def verdict(difference: Estimate) -> str | None:
    """"better" / "worse" when the difference's interval excludes 0, "tie" when it holds 0, None without one."""
    if difference.replicates is None:
        return None
    if difference.low > 0:
        return BETTER
    if difference.high < 0:
        return WORSE
    return TIE


def seed_draws(k: int, resamples: int) -> np.ndarray:
    """(resamples, k) positions into a row's sorted seeds, drawn with replacement; the same for every row of k
    seeds, so rows with the same seeds are paired seed by seed."""
    if k == 1:
        return np.zeros((resamples, 1), dtype=np.int64)
    return np.random.default_rng(SEED_DRAWS_SEED + k).integers(0, k, size=(resamples, k))


def combine(values: Sequence[float], replicates: Sequence[Sequence[float] | None], pairings: Iterable[tuple | None],
            seeds: Sequence[int | None], method: str = DEFAULT_METHOD) -> Estimate:
    """A row's estimate from its cells (one per seed): the mean value, and replicates over seeds x images when
    every cell has replicates resampled alike; its interval read by `method`."""
    value = statistics.fmean(values)
    pairings = list(pairings)
    if not replicates or any(r is None for r in replicates) or len(set(pairings)) != 1 or pairings[0] is None:
        return Estimate(value, method=method)
    order = sorted(range(len(seeds)), key=lambda i: (seeds[i] is None, seeds[i] if seeds[i] is not None else 0))
    matrix = np.asarray([replicates[i] for i in order], dtype=float)  # (k, B), cells in seed order
    if matrix.ndim != 2 or len({len(r) for r in replicates}) != 1:
        return Estimate(value, method=method)
    k, resamples = matrix.shape
    draws = seed_draws(k, resamples)  # (B, k)
    combined = matrix[draws, np.arange(resamples)[:, None]].mean(axis=1)
    return Estimate(value, combined, pairings[0], method)
