"""A study's answer in one plain sentence: what to ship, how much faster than the dense model in PyTorch it runs,
and what it costs in accuracy, with the interval that decides "no measurable loss".

It heads the site's index, each study page and each LEADERBOARD.md (prunebench.report.first_screen). The rule:
- the yardstick is the most accurate dense model one could ship without pruning (the dense row in PyTorch at the
  suite's input size, or its fine-tuned control where that scores higher), and speed is measured against the plain
  dense row in PyTorch FP32 (`over_dense_torch`: the row's own pairs against it where its cell timed them, never a
  product of two ratios);
- "no measurable loss": the paired 95 % interval of the mAP50-95 difference to that yardstick holds 0 or lies
  above it; a row without an interval is never said to lose nothing;
- the answer is the fastest row with no measurable loss that is faster than dense PyTorch by the table's latency
  rule (`verdicts.latency_order`: the interval of the ratio excludes 1), a dense row first among those the rule
  calls as fast as the fastest (pruning that buys no measurable speed is not the answer); when it is a dense
  export or a smaller input and pruned rows of the same deployment run faster still by the same rule, the
  sentence adds what pruning on top buys and costs; with no such row, it names the fastest row and its cost.
Reads the row model only (prunebench.report.rows), like every report.
"""

from __future__ import annotations

from dataclasses import dataclass

from prunebench.report.intervals import BETTER, TIE, verdict
from prunebench.report.rows import Row, Section, size_label, torch_deployment
from prunebench.report.speed import Speed
from prunebench.report.verdicts import FASTER, METRIC, difference, latency_order, speed_ratio

RUNTIME_NAMES = {"torch": "PyTorch", "onnx": "ONNX Runtime", "onnx-int8": "ONNX Runtime INT8",
                 "openvino": "OpenVINO", "openvino-int8": "OpenVINO INT8"}


@dataclass(frozen=True)
class Judged:
    """A row against the yardstick: its speed over dense PyTorch, its mAP50-95 difference (points) and interval."""

    row: Row
    speed: float  # over dense PyTorch FP32
    faster: bool  # than dense PyTorch FP32, beyond the interval of the ratio (verdicts.latency_order)
    delta: float | None  # points of mAP50-95, row minus yardstick
    low: float | None
    high: float | None
    judgement: str | None  # better / worse / tie from the interval, None without one

    @property
    def no_loss(self) -> bool:
        """The interval holds 0 or lies above it (never without an interval)."""
        return self.judgement in (BETTER, TIE)


def describe(row: Row) -> str:
    """"the dense model as OpenVINO INT8", "l1-channel at 2x in ONNX Runtime", "the dense model at 320 px"."""
    what = "the dense model" if row.is_plain_dense else (
        f"the fine-tuned dense control ({row.strategy})" if row.is_dense else
        f"{row.strategy} at {size_label(row.amount, row.target)}")
    where = []
    if row.variant != "torch":
        where.append(f"as {RUNTIME_NAMES.get(row.variant, row.variant)}")
    if row.is_smaller_input:
        where.append(f"at {row.first.imgsz} px")
    return " ".join([what, *where])


def yardstick(section: Section) -> Row | None:
    """The most accurate dense row in PyTorch at the suite's input size (plain dense or a control)."""
    home = torch_deployment(section.rows)
    dense = [r for r in section.rows if r.ok and r.is_dense and r.deployment == home and r.accuracy.get(METRIC)]
    return max(dense, key=lambda r: r.accuracy[METRIC].value) if dense else None


def dense_torch(section: Section) -> Row | None:
    """The plain dense row in PyTorch FP32 at the suite's input: what every speed in the answer is over."""
    home = torch_deployment(section.rows)
    found = [r for r in section.rows if r.ok and r.is_plain_dense and r.deployment == home]
    return sorted(found, key=lambda r: r.strategy)[0] if found else None


def over_dense_torch(row: Row, section: Section) -> Speed | None:
    """How many times faster `row` runs than dense PyTorch FP32, with the interval of that ratio (the row's own
    pairs against it where its cell timed them; verdicts.speed_ratio)."""
    dense = dense_torch(section)
    return None if dense is None else speed_ratio(row, dense)


def judge(section: Section) -> tuple[Row | None, list[Judged]]:
    """(yardstick, every other ok row with a speed and an accuracy, judged against it)."""
    base = yardstick(section)
    dense = dense_torch(section)
    if base is None:
        return None, []
    judged = []
    for row in section.rows:
        speed = over_dense_torch(row, section) if row is not dense else None
        if row is base or not row.ok or row.collapsed or speed is None or not row.accuracy.get(METRIC):
            continue
        diff = difference(row, base, METRIC)
        if diff is None:
            continue
        low, high = diff.low, diff.high
        judged.append(Judged(row, speed.value, latency_order(row, dense) == FASTER, 100 * diff.value,
                             None if low is None else 100 * low, None if high is None else 100 * high,
                             verdict(diff)))
    return base, judged


def _points(j: Judged) -> str:
    interval = f" [{j.low:+.1f}, {j.high:+.1f}]" if j.low is not None else " (no interval)"
    return f"{j.delta:+.1f}{interval} points of mAP50-95"


def plain_answer(section: Section) -> str:
    """The sentence (see the module's docstring)."""
    base, judged = judge(section)
    if base is None:
        return (f"{section.model} on {section.dataset}: no dense row in PyTorch with an accuracy to measure the "
                "others against, so no answer yet.")
    scored = f"{100 * base.accuracy[METRIC].value:.1f} mAP50-95"
    if not judged:
        return f"{section.model} on {section.dataset}: only the dense model ({scored}) so far; nothing to compare."
    faster = [j for j in judged if j.faster]
    keep = [j for j in faster if j.no_loss]
    if keep:
        fastest = max(keep, key=lambda j: j.speed)
        # rows no slower than the fastest by the latency rule run as fast: the simplest of them is the answer (a
        # dense row, with nothing pruned, before a pruned one), then the faster point estimate
        level = [j for j in keep if latency_order(fastest.row, j.row) != FASTER]
        best = max(level, key=lambda j: (j.row.is_dense, j.speed))
        text = (f"Ship {describe(best.row)}: {best.speed:.1f}x faster than the dense model in PyTorch, no "
                f"measurable loss ({_points(best)} against {scored})")
        if best.row.is_dense:
            on_top = [j for j in judged if not j.row.is_dense and j.row.deployment == best.row.deployment
                      and latency_order(j.row, best.row) == FASTER]
            if on_top:
                more = max(j.speed for j in on_top) / best.speed
                lost = sorted(best.delta - j.delta for j in on_top)
                span = f"{lost[0]:.1f}" if len(lost) == 1 or abs(lost[-1] - lost[0]) < 0.05 else \
                    f"{lost[0]:.1f} to {lost[-1]:.1f}"
                verb = "costs" if lost[0] >= 0 else "changes accuracy by"
                text += f"; pruning on top adds at most {more:.1f}x and {verb} {span} points"
        return text + "."
    if not faster:
        why = (": unstructured pruning zeroes weights inside tensors of unchanged shape, which dense kernels "
               "multiply all the same" if section.pruned and all(r.unstructured for r in section.pruned) else "")
        return (f"Nothing here runs measurably faster than the dense model in PyTorch ({scored}) on this machine "
                f"(beyond the interval of its speed-up){why}.")
    fastest = max(faster, key=lambda j: j.speed)
    return (f"No faster option keeps the dense model's accuracy ({scored}): the fastest, {describe(fastest.row)}, "
            f"is {fastest.speed:.1f}x faster for {_points(fastest)}.")
