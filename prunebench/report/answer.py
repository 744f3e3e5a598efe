"""A study's answer in one plain sentence: what to ship, how much faster than the dense model in PyTorch it runs,
and what it costs in accuracy, with the interval that decides "no measurable loss".

It heads the site's index, each study page and each LEADERBOARD.md (prunebench.report.first_screen). The rule:
- the yardstick is the most accurate dense model one could ship without pruning (the dense row in PyTorch at the
  suite's input size, or its fine-tuned control where that scores higher), and speed is measured against the plain
  dense row in PyTorch FP32 (`over_dense_torch`: the row's own pairs against it where its cell timed them, never a
  product of two ratios);
- a pruned row in that deployment is judged against the row its table's "Δ vs" names, with the table's Δ, so the
  sentence and the table never disagree; every other row (exports, smaller inputs, other models' dense rows)
  against the yardstick. The sentence names what the figure it quotes is (the dense model, the fine-tuned dense
  control) and gives it over the seeds the Δ pairs on;
- "no measurable loss": the paired 95 % interval of the mAP50-95 difference holds 0 or lies above it; a row
  without an interval is never said to lose nothing;
- candidates are the section's rows and, given the other sections, the dense rows of other models on the same
  dataset, split and device (the reference models): switching models is an option too;
- the answer is the fastest row with no measurable loss that is faster than dense PyTorch by the table's latency
  rule (`verdicts.latency_order`: the interval of the ratio excludes 1), a dense row first among those the rule
  calls as fast as the fastest (pruning that buys no measurable speed is not the answer); when it is a dense
  export or a smaller input and pruned rows of the same deployment run faster still by the same rule, the
  sentence adds what pruning on top buys and costs; with no such row, it names the fastest row and its cost;
- collapsed rows (verdicts.collapsed) are never the answer nor "the fastest"; where one runs faster than what the
  sentence names, the sentence says "that did not collapse".
Reads the row model only (prunebench.report.rows), like every report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from prunebench.report.intervals import BETTER, TIE, verdict
from prunebench.report.rows import Row, Section, size_label, torch_deployment
from prunebench.report.speed import Speed
from prunebench.report.verdicts import FASTER, METRIC, difference, latency_order, paired_seeds, speed_ratio

RUNTIME_NAMES = {"torch": "PyTorch", "onnx": "ONNX Runtime", "onnx-int8": "ONNX Runtime INT8",
                 "openvino": "OpenVINO", "openvino-int8": "OpenVINO INT8"}


@dataclass(frozen=True)
class Judged:
    """A row against what it is judged by: its speed over dense PyTorch, its mAP50-95 difference (points) and
    interval, and the row that difference is against with that row's figure over the same seeds."""

    row: Row
    speed: float  # over dense PyTorch FP32
    faster: bool  # than dense PyTorch FP32, beyond the interval of the ratio (verdicts.latency_order)
    delta: float | None  # points of mAP50-95, row minus `against`
    low: float | None
    high: float | None
    judgement: str | None  # better / worse / tie from the interval, None without one
    against: Row | None = None  # the table's "Δ vs" row for a pruned row at home, else the yardstick
    scored: float | None = None  # against's mAP50-95 (points) over the seeds the difference pairs on
    seeds: tuple[int, ...] = ()  # those seeds, when fewer than against's own (else empty)

    @property
    def no_loss(self) -> bool:
        """The interval holds 0 or lies above it (never without an interval)."""
        return self.judgement in (BETTER, TIE)


def describe(row: Row, model: str | None = None) -> str:
    """"the dense model as OpenVINO INT8", "l1-channel at 2x in ONNX Runtime", "the dense model at 320 px"; a row of
    another model than `model` is named by its model: "the dense yolo26n", "yolo26n's fine-tuned dense control"."""
    other = model is not None and row.model != model
    if row.is_plain_dense:
        what = f"the dense {row.model}" if other else "the dense model"
    elif row.is_dense:
        what = f"{row.model}'s fine-tuned dense control ({row.strategy})" if other else \
            f"the fine-tuned dense control ({row.strategy})"
    else:
        what = f"{row.strategy} at {size_label(row.amount, row.target)}"
    where = []
    if row.variant != "torch":
        where.append(f"as {RUNTIME_NAMES.get(row.variant, row.variant)}")
    if row.is_smaller_input:
        where.append(f"at {row.first.imgsz} px")
    return " ".join([what, *where])


def whose(row: Row, section: Section, named: bool = False) -> str:
    """What a quoted accuracy belongs to: "the dense model", "the fine-tuned dense control" (its label too where the
    section has several), so a control's figure is never read as the dense model's; `named`: with the model's name
    ("the dense yolov8n", "yolov8n's fine-tuned dense control"), where the sentence names another model too."""
    if row.is_plain_dense:
        return f"the dense {row.model}" if named else "the dense model"
    controls = {r.strategy for r in section.rows if r.ok and r.is_control and r.deployment == row.deployment}
    return (f"{row.model}'s" if named else "the") + " fine-tuned dense control" + (
        f" {row.strategy}" if len(controls) > 1 else "")


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


def other_models(section: Section, sections: Sequence[Section]) -> list[Row]:
    """The dense rows of the other models on the section's dataset, split and device: what one could switch to."""
    split = section.rows[0].evaluation[0] if section.rows else None
    return [r for s in sections if s is not section and s.model != section.model and s.dataset == section.dataset
            and s.device == section.device for r in s.rows if r.ok and r.is_dense and r.evaluation[0] == split]


def _against(row: Row, base: Row, section: Section) -> Row:
    """A pruned row at home is judged as its table judges it (its "Δ vs"); the rest against the yardstick."""
    if not row.is_dense and row.model == section.model and row.deployment == base.deployment and row.reference:
        return row.reference
    return base


def _candidates(section: Section, sections: Sequence[Section]) -> list[Row]:
    return [*section.rows, *other_models(section, sections)]


def judge(section: Section, sections: Sequence[Section] = ()) -> tuple[Row | None, list[Judged]]:
    """(yardstick, every other ok row with a speed and an accuracy, judged; see the module's docstring). Collapsed
    rows are left out (`collapsed_faster` names those that run faster)."""
    base = yardstick(section)
    dense = dense_torch(section)
    if base is None:
        return None, []
    judged = []
    for row in _candidates(section, sections):
        speed = over_dense_torch(row, section) if row is not dense else None
        if row is base or not row.ok or row.collapsed or speed is None or not row.accuracy.get(METRIC):
            continue
        against = _against(row, base, section)
        diff = difference(row, against, METRIC)
        if diff is None:
            continue
        seeds = paired_seeds(row, against)
        figure = against.accuracy_over(METRIC, seeds) if seeds else against.accuracy.get(METRIC)
        narrowed = tuple(sorted(seeds)) if seeds and set(against.seeds) - seeds else ()
        low, high = diff.low, diff.high
        judged.append(Judged(row, speed.value, latency_order(row, dense) == FASTER, 100 * diff.value,
                             None if low is None else 100 * low, None if high is None else 100 * high,
                             verdict(diff), against, None if figure is None else 100 * figure.value, narrowed))
    return base, judged


def collapsed_faster(section: Section) -> list[tuple[Row, float]]:
    """(row, speed over dense PyTorch) for the collapsed rows that run faster than it by the latency rule."""
    dense = dense_torch(section)
    found = []
    for row in section.rows:
        if row.ok and row.collapsed and row is not dense and (speed := over_dense_torch(row, section)) is not None \
                and latency_order(row, dense) == FASTER:
            found.append((row, speed.value))
    return found


def _owner(j: Judged, section: Section, named: bool = False) -> str:
    """ "the fine-tuned dense control's 55.2 mAP50-95" (on seed 0 where the Δ pairs on fewer seeds than it has)."""
    on = f" on seed{'s' if len(j.seeds) > 1 else ''} {', '.join(map(str, j.seeds))}" if j.seeds else ""
    return f"{whose(j.against, section, named)}'s {j.scored:.1f} mAP50-95{on}"


def _points(j: Judged) -> str:
    interval = f" [{j.low:+.1f}, {j.high:+.1f}]" if j.low is not None else " (no interval)"
    return f"{j.delta:+.1f}{interval} points of mAP50-95"


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _named(rows: list[Row]) -> str:
    """"network-slimming at 50% and 70%": one strategy's sizes together."""
    sizes: dict[str, list[str]] = {}
    for row in rows:
        head, _, size = describe(row).partition(" at ")
        sizes.setdefault(head, []).append(size)
    return _and([f"{head} at {_and(found)}" if all(found) else head for head, found in sizes.items()])


def plain_answer(section: Section, sections: Sequence[Section] = ()) -> str:
    """The sentence (see the module's docstring); `sections`, where given, adds the other models' dense rows."""
    base, judged = judge(section, sections)
    if base is None:
        return (f"{section.model} on {section.dataset}: no dense row in PyTorch with an accuracy to measure the "
                "others against, so no answer yet.")
    scored = f"{100 * base.accuracy[METRIC].value:.1f} mAP50-95"
    if not judged:
        return f"{section.model} on {section.dataset}: only the dense model ({scored}) so far; nothing to compare."
    faster = [j for j in judged if j.faster]
    keep = [j for j in faster if j.no_loss]
    gone = collapsed_faster(section)
    if keep:
        fastest = max(keep, key=lambda j: j.speed)
        # rows no slower than the fastest by the latency rule run as fast: the simplest of them is the answer (a
        # dense row, with nothing pruned, before a pruned one; as it is before a fine-tuned control), then the
        # faster point estimate
        level = [j for j in keep if latency_order(fastest.row, j.row) != FASTER]
        best = max(level, key=lambda j: (j.row.is_dense, j.row.is_plain_dense, j.speed))
        switch = best.row.model != section.model
        dense_name = f"the dense {section.model}" if switch else "the dense model"
        text = (f"{'Switch to' if switch else 'Ship'} {describe(best.row, section.model)}: {best.speed:.1f}x faster "
                f"than {dense_name} in PyTorch, no measurable loss ({_points(best)} against "
                f"{_owner(best, section, named=switch)})")
        if best.row.is_dense and not switch:
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
        figure = f" ({scored})" if base.is_plain_dense else ""
        text = (f"Nothing {'that did not collapse' if gone else 'here'} runs measurably faster than the dense model "
                f"in PyTorch{figure} on this machine (beyond the interval of its speed-up){why}")
        if gone:
            text += (f"{'; ' if why else ': '}{_named([r for r, _ in gone])} {'do' if len(gone) > 1 else 'does'}, "
                     f"up to {max(s for _, s in gone):.1f}x, but collapsed")
        if not base.is_plain_dense:
            text += f"; {whose(base, section)} scores {scored}"
        return text + "."
    fastest = max(faster, key=lambda j: j.speed)
    unqualified = not any(speed > fastest.speed for _, speed in gone)
    # the reference each row's Δ is against: one for all (say it once) or the row's own (say it with the row)
    if all(j.against is base and not j.seeds for j in faster):
        lead, tail = f"{whose(base, section)}'s accuracy ({scored})", ""
    else:
        lead, tail = "the accuracy of its reference (the table's Δ vs)", f" against {_owner(fastest, section)}"
    return (f"No faster option keeps {lead}: the fastest{'' if unqualified else ' that did not collapse'}, "
            f"{describe(fastest.row, section.model)}, is {fastest.speed:.1f}x faster for {_points(fastest)}{tail}.")
