"""A speed-up as a report reads it: the median of a cell's per-pair ratios with its 95 % interval, how many pairs
were timed and whether the time cap stopped them (prunebench.measure.pairs), read from the record's metrics; and
the interval of the ratio of two such speed-ups, on which every latency verdict turns (report.verdicts).

Three kinds of spread, strongest first:
- CI: the 95 % distribution-free interval of the median ratio, as timed (records since the pair rule);
- IQR: records timed before intervals (5 pairs, too few for a 95 % interval of a median) keep only the per-pair
  ratios' interquartile range; the band median ± IQR stands in for an interval, and the report says so. It is
  wider than a normal-theory 95 % interval of the median of 5 pairs (± 1.96 x 1.2533 x (IQR / 1.349) / √5, about
  ± 0.81 IQR), so no verdict on an old record rests on a narrower band than its pairs allow; still not a 95 %
  interval, and never shown as one;
- exact: by definition (the dense row against itself, a row of dense shape placed at dense latency).
Without any of them a speed-up has no spread: nothing can be decided on it (two such latencies count as equal).

The ratio of two speed-ups timed against one common reference (`ratio`) has the interval of the endpoints'
ratios, [low_a / high_b, high_a / low_b]: it holds every ratio the two intervals allow together, so whatever the
two timings' dependence it is at least as wide as the ratio's own interval (conservative; the coverage of two
independent 95 % intervals taken together is at least 0.95² ≈ 90 %, and the endpoint ratio is wider than the
interval a joint 95 % would need). docs/leaderboard-columns.md says this to readers.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Sequence

from prunebench.util.measurement import OWN, speedup_names

CI, IQR, EXACT = "95% CI", "IQR", "exact"
TINY = 1e-9  # an IQR band never reaches 0 or below: a speed-up is positive


@dataclass(frozen=True)
class Speed:
    """A speed ratio (reference latency / this model's, or a latency in ms for an anchor) and its spread."""

    value: float
    low: float | None = None  # the 95 % interval (None: not timed with enough pairs, or a derived ratio without one)
    high: float | None = None
    pairs: int | None = None  # pairs timed (the fewest over a row's seeds)
    capped: bool = False  # the time cap came before the ±width the rule asked for (in any seed)
    iqr: float | None = None  # interquartile range of the per-pair ratios (mean over seeds)
    exact: bool = False  # by definition, no spread at all
    basis: str | None = None  # a derived ratio's: the weakest kind of spread it was built from

    @property
    def has_interval(self) -> bool:
        """A 95 % interval (a derived ratio's bounds from IQR bands are not one)."""
        return self.low is not None and self.high is not None and self.basis in (None, CI)

    @property
    def kind(self) -> str | None:
        """CI, IQR or EXACT: the spread `bounds` stands on (None: none)."""
        if self.basis is not None:
            return self.basis
        if self.exact:
            return EXACT
        if self.has_interval:
            return CI
        return IQR if self.iqr is not None else None

    def bounds(self) -> tuple[float, float] | None:
        """The interval verdicts read: the 95 % interval, else the IQR band, else None (no spread)."""
        kind = self.kind
        if kind == EXACT:
            return self.value, self.value
        if self.low is not None and self.high is not None:
            return self.low, self.high
        if self.iqr is not None:
            return max(self.value - self.iqr, TINY), self.value + self.iqr
        return None

    def inverse(self) -> Speed:
        bounds = self.bounds()
        if bounds is None:
            return Speed(1 / self.value, pairs=self.pairs, capped=self.capped)
        return Speed(1 / self.value, 1 / bounds[1], 1 / bounds[0], self.pairs, self.capped, exact=self.exact,
                     basis=self.kind)

    def excludes_one(self) -> bool:
        """Whether the spread lies wholly above or below 1 (never without a spread)."""
        bounds = self.bounds()
        return bounds is not None and (bounds[0] > 1 or bounds[1] < 1)


ONE = Speed(1.0, exact=True)


def _weakest(*kinds: str | None) -> str | None:
    if None in kinds:
        return None
    for kind in (IQR, CI):
        if kind in kinds:
            return kind
    return EXACT


def ratio(a: Speed, b: Speed) -> Speed:
    """a / b for two speeds against one common reference, with the conservative endpoint interval (module
    docstring); exact over exact stays exact, and without a spread on either side there is none."""
    value = a.value / b.value
    ba, bb = a.bounds(), b.bounds()
    kind = _weakest(a.kind, b.kind)
    if ba is None or bb is None or kind is None:
        return Speed(value)
    if kind == EXACT:
        return Speed(value, exact=True)
    return Speed(value, ba[0] / bb[1], ba[1] / bb[0], basis=kind)


def product(a: Speed, b: Speed) -> Speed:
    """a x b (a chain of two ratios, for verdicts only: never printed as a measured figure)."""
    return ratio(a, b.inverse())


def against(cells: Sequence[Any], reference: str, runtime: str = OWN) -> Speed | None:
    """A row's speed-up over `reference` (dense, torch, fp32, study) in `runtime`, from its cells' metrics (named
    by prunebench.util.measurement.speedup_names, as the measurement wrote them): the mean over seeds of the
    medians, of the IQRs and of each end of the interval (an interval only when every seed has one), the fewest
    pairs and whether any seed hit the cap. None unless every cell has the value."""
    names = speedup_names(reference, runtime)
    values = [c.metric(names["value"]) for c in cells]
    if not values or None in values:
        return None
    iqrs = [c.metric(names["iqr"]) for c in cells]
    lows = [c.metric(names["low"]) for c in cells]
    highs = [c.metric(names["high"]) for c in cells]
    pairs = [c.metric(names["pairs"]) for c in cells]
    capped = [c.record.metrics.get(names["capped"]) for c in cells]
    interval = None not in lows and None not in highs
    return Speed(statistics.fmean(values),
                 statistics.fmean(lows) if interval else None, statistics.fmean(highs) if interval else None,
                 int(min(pairs)) if None not in pairs else None, any(c is True for c in capped),
                 statistics.fmean(iqrs) if None not in iqrs else None)


def latency(value: float | None, iqr: float | None) -> Speed | None:
    """A latency (ms) of a separate timing, with the IQR of its runs: two such compare only through their IQR
    bands (rows placed on different anchors)."""
    return None if value is None else Speed(value, iqr=iqr)


def speed_text(speed: Speed | None, missing: str = "—") -> str:
    """"1.34x [1.29, 1.40] ·31p" (·31p capped: the time cap came before the ±width asked for); "1.34x (no CI; IQR
    0.05)" for a record timed before intervals, "·5p" after it when the count is known; "1.00x" by definition."""
    if speed is None:
        return missing
    text = f"{speed.value:.2f}x"
    if speed.exact:
        return text
    if speed.has_interval:
        text += f" [{speed.low:.2f}, {speed.high:.2f}]"
    else:
        text += f" (no CI; IQR {speed.iqr:.2f})" if speed.iqr is not None else " (no CI)"
    if speed.pairs is not None:
        text += f" ·{speed.pairs}p" + (" capped" if speed.capped else "")
    return text
