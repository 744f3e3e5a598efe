"""The one-line answer under each section, in words: what the intervals decided about its pruned rows, what a
reference model's controls did, and which deployment is fastest without losing accuracy. Only prose: every
decision it states is taken in report.verdicts (and report.rows) before it is read here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prunebench.report.answer import over_dense_torch
from prunebench.report.intervals import BETTER, TIE, WORSE, Estimate
from prunebench.report.verdicts import FASTER, METRIC, compared, difference, has_interval, latency_order, recipe_hurts
from prunebench.util.amount import size_label

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.report.rows import Row, Section


def _interval_text(estimate: Estimate | None, scale: float = 100) -> str:
    if estimate is None:
        return "—"
    if estimate.replicates is None:
        return f"{estimate.value * scale:+.1f} (no interval)"
    return f"{estimate.value * scale:+.1f} [{estimate.low * scale:+.1f}, {estimate.high * scale:+.1f}]"


def answer(section: Section) -> str:
    """One line, from the intervals: per cost class, the best pruned row against its reference, and how the
    others compare; and whether the recipe hurt."""
    if section.role == "reference" and not section.pruned:
        return reference_answer(section)
    parts = []
    hurt = recipe_hurts(section)
    if hurt:
        parts.append("The fine-tuning recipe hurts: " + "; ".join(
            f"{control.strategy} is {_interval_text(delta)} points against dense" for control, delta in hurt))
    classes: dict[int, list[Row]] = {}
    for row in section.pruned:
        if row.ok and row.cost_class is not None and row.variant == "torch":  # exports: deployment_answer
            classes.setdefault(row.cost_class, []).append(row)
    for number in sorted(classes):
        members = classes[number]
        judged = [r for r in members if r.delta.get(METRIC) is not None]
        if not judged:
            continue
        best = max(judged, key=lambda r: r.delta[METRIC].value)
        sizes = "/".join(dict.fromkeys(size_label(r.amount, r.target) for r in members))
        verb = {BETTER: "better than", WORSE: "worse than", TIE: "a tie with", None: "not judged against"}[best.verdict]
        text = (f"C{number} ({sizes}, {best.mean('gflops'):.2f} GFLOPs): best {best.strategy}, "
                f"{verb} {best.reference.strategy if best.reference else 'its reference'} "
                f"(Δ mAP50-95 {_interval_text(best.delta[METRIC])})")
        others = [r for r in judged if r is not best]
        if others:
            counts = {v: sum(r.verdict == v for r in others) for v in (BETTER, TIE, WORSE)}
            said = [f"{n} {v}" for v, n in counts.items() if n]
            text += f"; the class's other {len(others)} against theirs: {', '.join(said) or 'no verdict'}"
        parts.append(text)
    if deployed := deployment_answer(section):
        parts.append(deployed)
    if not parts:
        return "Answer: no pruned row with an interval to judge."
    return "Answer: " + ". ".join(parts) + "."


def reference_answer(section: Section) -> str:
    """A reference model is never pruned: its line says what its controls did against its dense row, as it is
    these rows that stand in "Dominated by" for the studied model's pruned ones."""
    said = []
    for row in section.rows:
        if row.ok and row.is_control and row.reference is not None and row.delta.get(METRIC) is not None:
            verb = {BETTER: "better than", WORSE: "worse than", TIE: "a tie with", None: "not judged against"}[
                row.verdict]
            said.append(f"{row.strategy} is {verb} dense (Δ mAP50-95 {_interval_text(row.delta[METRIC])})")
    text = "A reference model, never pruned"
    if said:
        text += ": " + "; ".join(said)
        if recipe_hurts(section):
            text += " (the fine-tuning recipe hurts)"
    return f"Answer: {text}."


def deployment_answer(section: Section) -> str | None:
    """For a section with exports or smaller inputs: the fastest row (placed latency, against dense torch) that
    is not less accurate than the best model a user could ship unpruned in torch beyond the interval, and the
    fastest row of all, by how much. Faster means faster by the table's latency rule (verdicts.latency_order: the
    interval of the ratio excludes 1), so a row no faster than dense torch beyond it is never the answer, and the
    fastest of all is named only when it is faster than that row by the same rule. That model is dense torch, or the fine-tuned control where it is better than
    dense beyond the interval: against dense alone, a pruned INT8 row that loses 15 points to the control's own
    INT8 export would read as the answer."""
    if not any(r.variant != "torch" or r.is_smaller_input for r in section.rows):
        return None
    home = [r for r in section.rows if r.ok and r.is_plain_dense and r.variant == "torch" and not r.is_smaller_input]
    if not home:
        return None
    dense = home[0]
    speed = {id(r): found.value for r in section.rows if r.ok and (found := over_dense_torch(r, section)) is not None}
    timed = [r for r in section.rows if r.ok and not r.collapsed and id(r) in speed and has_interval(r)]
    if not timed:
        return None
    # the verdict the table prints for each control (against dense in its deployment)
    lifted = [r for r in section.rows if r.ok and r.is_control and r.variant == "torch" and not r.is_smaller_input
              and r.verdict == BETTER]
    reference = max(lifted, key=lambda r: (r.mean(METRIC), r.strategy)) if lifted else dense
    against = ("dense torch" if reference is dense else
               f"{reference.strategy} torch (fine-tuned, better than dense beyond the interval)")

    def name(r: Row) -> str:
        what = r.strategy if r.is_dense else f"{r.strategy} {size_label(r.amount, r.target)}"
        return f"{what} {r.deploy_label}"

    def said(r: Row) -> str:
        return (f"{name(r)} ({speed[id(r)]:.2f}x dense torch, Δ mAP50-95 "
                f"{_interval_text(difference(r, reference))})")

    keeps = [r for r in timed if r is not reference and compared(r, reference) in (TIE, BETTER)
             and latency_order(r, dense) == FASTER]
    best = max(keeps, key=lambda r: speed[id(r)]) if keeps else None
    fastest = max(timed, key=lambda r: speed[id(r)])
    text = (f"Fastest without losing accuracy against {against} beyond the interval: {said(best)}" if best else
            f"No row faster than dense torch beyond the interval of its speed-up keeps the accuracy of {against} "
            "within the interval")
    if fastest is not best and latency_order(fastest, best or dense) == FASTER:
        text += f"; fastest of all: {said(fastest)}"
    return text
