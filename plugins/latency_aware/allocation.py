"""The allocation itself, free of torch: given for every channel group what removing its k lowest-scoring channels
saves (MACs or measured ms) and costs (accuracy), choose how many channels each group keeps.

A greedy knapsack in the manner of HALP (arXiv 2110.10811) and NetAdapt: every group offers its next width step
(one channel, or down to the next multiple of `round_to`); the step with the largest saving per unit of cost is
taken, the group then offers its following step, until `amount` of all the groups' channels is removed (a channel
counted once per conv whose output it leaves, as the kit and `channel_reduction` count). The order of the steps does
not depend on `amount`, so a larger amount takes a longer prefix of the same order: removes a superset, hence fewer
MACs, which the runner's bisection on the amount needs to reach a GFLOPs or a measured-latency target.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

# A step's cost is floored at this, so a harmless step (cost 0, or a noisy negative drop) still ranks by what it
# saves instead of dividing by zero; far below any measured drop (0.001 mAP points) or L1 proxy step.
MIN_COST = 1e-9


@dataclass(frozen=True)
class GroupCurve:
    """One channel group: saving[k] and cost[k] are what removing its k lowest-scoring channels saves and costs
    (k = 0..channels; both start at 0 and never fall)."""

    name: str
    convs: int  # convs whose output channels this group removes: its weight in counting channels
    saving: tuple[float, ...]
    cost: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.saving) != len(self.cost) or len(self.saving) < 2:
            raise ValueError(f"group {self.name}: saving and cost need one value per channel count 0..n "
                             f"(got {len(self.saving)} and {len(self.cost)})")
        if self.saving[0] != 0 or self.cost[0] != 0:
            raise ValueError(f"group {self.name}: removing no channel must save and cost nothing")
        if any(b < a for a, b in zip(self.saving, self.saving[1:])) or any(b < a for a, b in zip(self.cost,
                                                                                                 self.cost[1:])):
            raise ValueError(f"group {self.name}: saving and cost must never fall as more channels go")

    @property
    def channels(self) -> int:
        return len(self.saving) - 1


@dataclass(frozen=True)
class Allocation:
    """What the greedy chose: channels kept per group (in the order given), and its totals."""

    kept: tuple[int, ...]
    removed_channels: int  # weighted by convs
    removable_channels: int  # weighted by convs
    predicted_saving: float  # the sum of the chosen steps' savings (the table's additive prediction)
    predicted_cost: float  # the sum of the chosen steps' costs

    def ratios(self, curves: list[GroupCurve]) -> tuple[float, ...]:
        """The fraction of each group's channels removed."""
        return tuple(round(1 - k / c.channels, 4) for k, c in zip(self.kept, curves))


def widths(channels: int, floor: int, round_to: int | None) -> list[int]:
    """The kept counts a group may step down through, widest first: every count to `floor` (round_to None), else
    the multiples of round_to below `channels`; a group of round_to channels or fewer stays whole."""
    if not round_to or round_to <= 1:
        return list(range(channels - 1, floor - 1, -1))
    if channels <= round_to:
        return []
    top = (channels - 1) // round_to * round_to
    return [w for w in range(top, 0, -round_to) if w >= floor]


def floor_of(channels: int, min_keep_ratio: float) -> int:
    return max(1, math.ceil(round(min_keep_ratio * channels, 9)))


def allocate(curves: list[GroupCurve], amount: float, *, round_to: int | None = None,
             min_keep_ratio: float = 0.0) -> Allocation:
    """Kept channels per group for `amount` (a fraction in [0, 1)) of the weighted channels removed; the last step
    is taken only when it brings the total at least as close to the amount as stopping before it."""
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"amount {amount!r} is not a fraction of channels to remove in [0, 1)")
    kept = [c.channels for c in curves]
    ladders = [widths(c.channels, floor_of(c.channels, min_keep_ratio), round_to) for c in curves]
    position = [0] * len(curves)
    removable = sum(c.channels * c.convs for c in curves)
    goal = math.floor(amount * removable + 0.5)
    heap: list[tuple[float, float, int]] = []

    def offer(i: int) -> None:
        if position[i] < len(ladders[i]):
            curve, now, nxt = curves[i], curves[i].channels - kept[i], curves[i].channels - ladders[i][position[i]]
            saved = curve.saving[nxt] - curve.saving[now]
            cost = max(curve.cost[nxt] - curve.cost[now], MIN_COST)
            # best first: largest saving per cost, then the larger saving, then the earlier group (reproducible)
            heapq.heappush(heap, (-saved / cost, -saved, i))

    for i in range(len(curves)):
        offer(i)
    removed = saving = cost = 0.0
    while heap and removed < goal:
        _, _, i = heapq.heappop(heap)
        curve, before = curves[i], curves[i].channels - kept[i]
        width = ladders[i][position[i]]
        after = curve.channels - width
        step = (after - before) * curve.convs
        if removed + step > goal and (removed + step - goal) > (goal - removed):
            break  # overshooting by more than stopping short: stop here
        kept[i], position[i] = width, position[i] + 1
        removed += step
        saving += curve.saving[after] - curve.saving[before]
        cost += curve.cost[after] - curve.cost[before]
        offer(i)
    return Allocation(tuple(kept), int(removed), removable, saving, cost)


def interpolated(points: list[tuple[float, float]], channels: int) -> tuple[float, ...]:
    """values[k] for k = 0..channels, piecewise linear through (0, 0) and `points` (k, value), clamped at 0, made
    non-decreasing (a noisy dip is read as no change), and extended past the last point along the last segment's
    slope (a measured table stops at its largest step; removing more saves, and costs, at least as fast)."""
    known = sorted({(0.0, 0.0), *((float(k), max(0.0, float(v))) for k, v in points if 0 < k <= channels)})
    running, monotone = 0.0, []
    for k, v in known:
        running = max(running, v)
        monotone.append((k, running))
    values = []
    for k in range(channels + 1):
        right = next((j for j, (x, _) in enumerate(monotone) if x >= k), None)
        if right is None:  # beyond the last point
            (x0, y0), (x1, y1) = monotone[-2] if len(monotone) > 1 else (0.0, 0.0), monotone[-1]
            slope = (y1 - y0) / (x1 - x0) if x1 > x0 else 0.0
            values.append(y1 + slope * (k - x1))
        elif monotone[right][0] == k or right == 0:
            values.append(monotone[right][1])
        else:
            (x0, y0), (x1, y1) = monotone[right - 1], monotone[right]
            values.append(y0 + (y1 - y0) * (k - x0) / (x1 - x0))
    return tuple(values)
