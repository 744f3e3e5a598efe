"""What a report may claim about a row, decided from the 95 % intervals (prunebench.report.intervals), once, so
the leaderboard, the plots, compare and the site cannot disagree.

The rules (each has one function; docs/leaderboard-columns.md states them to readers):
- Reference (`choose_reference`): the row a pruned row must really beat. The user can always ship the dense
  model as it is, so a fine-tuned pruned row is compared with the BETTER of the plain dense row and the
  fine-tuned dense control with its recipe: the control when it is better beyond its interval, dense when dense
  is, and, when the two tie, whichever scores higher (never the weaker one). A row without fine-tuning, and a
  control itself, compare with the plain dense row. Without a control of the row's recipe, the plain dense row
  (flagged: `reference_matches` False).
- Verdict (`Row.verdict`): the row's mAP50-95 against its reference: better or worse when the paired Δ's
  interval excludes 0, else tie; none without intervals.
- Collapsed (`collapsed`): mAP50-95 below max(0.01, 10 % of its reference's): never starred, ranked or counted
  as undominated.
- Latency (`latency_order`, the one rule every latency comparison uses): two rows' placed latencies are equal
  unless the interval of their ratio (`speed_ratio`) excludes 1. The ratio is the pair one cell timed between
  the two when there is one (a row against its dense reference, dense torch or its FP32 export); else it is
  derived from each row's speed-up over the common dense row they stand on, with the conservative endpoint
  interval (prunebench.report.speed.ratio); rows on different anchors (separate timings) add the two anchors'
  latency IQR bands. A record timed before intervals gives its IQR band (median ± IQR) in place of an
  interval; with no spread at all, two latencies are equal.
- Pareto ★ (`mark_pareto`): among the section's rows that are not collapsed and have intervals, a row is
  off the frontier when another is at least as fast (`latency_order` not slower) and more accurate beyond the
  interval, or faster (`latency_order`) and not less accurate beyond the interval.
- Ranks (`rank_within_classes`): within a cost class, 1 + the rows more accurate beyond the interval; ties
  share a rank.
- Domination (`judge_domination`): each pruned row against every cheaper alternative on its dataset, split
  and device: the dense rows of the other models (in every deployment and input size), and its own model's
  dense rows deployed otherwise (INT8 and other exports, smaller inputs); never its own reference (the same
  deployment's dense row: that is Δ's job). Cheaper: in the same runtime and precision, GFLOPs no higher and
  placed latency not slower (`latency_order`, as for ★) when both were timed; across runtimes or precisions
  (an INT8 model has its FP32 model's GFLOPs, and they say nothing of what its kernels cost), placed latency
  alone (the same rule), which every row of a section has on one axis
  (prunebench.report.rows.place_variants). Accuracy compares on the same images at any input size: the
  bootstrap pairs by image names. "dominated" by those more accurate beyond the interval; else "collapsed"
  for a row at about 0 mAP; else "tie" with those whose interval holds 0 (or that have none); else "none"
  when every cheaper alternative is less accurate beyond the interval (pruning paid off); "none as cheap"
  when no alternative costs as little.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prunebench.report.intervals import BETTER, TIE, WORSE, Estimate, verdict
from prunebench.report.speed import ONE, Speed, latency, product, ratio

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.report.rows import Row, Section

METRIC = "map50_95"  # the figure verdicts are taken on
FASTER, SLOWER, EQUAL = "faster", "slower", "equal"  # latency_order
# Collapsed: mAP50-95 below max(COLLAPSE_FLOOR, COLLAPSE_FRACTION x the reference's).
COLLAPSE_FLOOR = 0.01
COLLAPSE_FRACTION = 0.10
GFLOPS_EPSILON = 1e-9  # FLOPs are counted, not timed: "no more" is exact up to float rounding

DOMINATED, TIED, NONE, NONE_AS_CHEAP, COLLAPSED = "dominated", "tie", "none", "none as cheap", "collapsed"


# ---------------------------------------------------------------- pairs of rows
def compared(a: Row, b: Row, metric: str = METRIC) -> str | None:
    """a against b on `metric`: "better" / "worse" beyond the interval, "tie", or None without intervals."""
    found = difference(a, b, metric)
    return None if found is None else verdict(found)


def difference(a: Row, b: Row, metric: str = METRIC) -> Estimate | None:
    """a - b, paired by image resample and by seed. When each seed has its own baseline, rows of different seeds
    (an entry run at fewer of the suite's seeds) are compared over the seeds they share, so a seed's baseline
    still cancels (with none shared the difference has no interval: no verdict). With one baseline the seeds
    vary the fine-tuning only, independently in each row, and every seed counts."""
    ea, eb = a.accuracy.get(metric), b.accuracy.get(metric)
    if ea is None or eb is None:
        return None
    shared = paired_seeds(a, b)
    if shared is not None:
        if not shared:
            return Estimate(ea.value - eb.value)  # nothing to pair: no interval
        ea, eb = a.accuracy_over(metric, shared), b.accuracy_over(metric, shared)
        if ea is None or eb is None:
            return None
    return ea.minus(eb)


def paired_seeds(a: Row, b: Row) -> set | None:
    """The seeds `difference(a, b)` narrows both rows to (each seed its own baseline, rows of different seeds), so a
    sentence quoting b's figure beside that difference quotes it over the same seeds; None when every seed counts."""
    if set(a.seeds) != set(b.seeds) and len({c.baseline for c in (*a.cells, *b.cells) if c.baseline}) > 1:
        return set(a.seeds) & set(b.seeds)
    return None


# ---------------------------------------------------------------- the reference
@dataclass(frozen=True)
class ReferenceChoice:
    row: Row | None
    matches: bool  # False: fine-tuned, but no control with its recipe
    why: str  # "control" | "dense" | "dense: the control fell below it" | "dense: ties the control, scores higher"


def choose_reference(row: Row, rows: list[Row]) -> ReferenceChoice:
    if row.is_smaller_input:  # the dense model at a smaller input: against itself at the suite's
        home = [r for r in rows if r.ok and r.is_plain_dense and not r.is_smaller_input and r.variant == row.variant
                and r.evaluation[0] == row.evaluation[0]]
        home.sort(key=lambda r: r.strategy)
        return ReferenceChoice(home[0] if home else None, True, "dense at the suite's input")
    if row.is_plain_dense:
        return ReferenceChoice(None, True, "")
    # Within one deployment: a pruned INT8 row against the dense INT8 row (the conversion's own cost is Row.conversion).
    dense = [r for r in rows if r.ok and r.is_dense and r.evaluation == row.evaluation and r.variant == row.variant]
    plain = sorted((r for r in dense if r.is_plain_dense), key=lambda r: r.strategy)
    plain_row = plain[0] if plain else None
    if row.is_dense or row.recipe is None:
        return ReferenceChoice(plain_row, True, "dense")
    controls = sorted((r for r in dense if r.is_control and r.recipe == row.recipe), key=lambda r: r.strategy)
    if not controls:
        return ReferenceChoice(plain_row, False, "dense")
    control = controls[0]
    if plain_row is None:
        return ReferenceChoice(control, True, "control")
    which = compared(control, plain_row)
    if which == BETTER:
        return ReferenceChoice(control, True, "control")
    if which == WORSE:
        return ReferenceChoice(plain_row, True, "dense: the control fell below it")
    if (plain_row.mean(METRIC) or 0.0) > (control.mean(METRIC) or 0.0):
        return ReferenceChoice(plain_row, True, "dense: ties the control, scores higher")
    return ReferenceChoice(control, True, "control")


def deltas(row: Row) -> dict[str, Estimate | None]:
    if row.reference is None:
        return {m: None for m in ("map50", METRIC)}
    return {m: difference(row, row.reference, m) for m in ("map50", METRIC)}


def collapse_floor(row: Row) -> float:
    reference = (row.reference.mean(METRIC) if row.reference else None) or row.mean(METRIC) or 0.0
    return max(COLLAPSE_FLOOR, COLLAPSE_FRACTION * reference)


def collapsed(row: Row) -> bool:
    value = row.mean(METRIC)
    return not row.ok or value is None or value < collapse_floor(row)


def has_interval(row: Row) -> bool:
    estimate = row.accuracy.get(METRIC)
    return estimate is not None and estimate.replicates is not None


# ---------------------------------------------------------------- latency
def _on_root(row: Row) -> tuple[Row, Speed] | None:
    """The row its placement stands on at the end of its anchors (a row placed at its own latency), and the row's
    speed over it (a product along the way, for verdicts only). None when the row is not placed."""
    found: Speed = ONE
    for _ in range(8):  # anchors chain at most study dense -> a model's dense -> its export
        if row.anchor is None or row.axis is None:
            return None
        if row.anchor is row:
            return row, found
        found, row = product(found, row.axis), row.anchor
    return None


def _root_latency(row: Row) -> Speed | None:
    iqrs = [c.metric("latency_iqr_ms") for c in row.cells]
    return latency(row.placed_latency, sum(iqrs) / len(iqrs) if iqrs and None not in iqrs else None)


def speed_ratio(a: Row, b: Row) -> Speed | None:
    """How many times faster a runs than b (b's placed latency over a's), with the interval of that ratio: the
    pair a cell timed between the two when there is one, else derived (module docstring). None when either row
    is not placed."""
    for ref, found in a.paired_with:
        if ref is b:
            return found
    for ref, found in b.paired_with:
        if ref is a:
            return found.inverse()
    placed_a, placed_b = _on_root(a), _on_root(b)
    if placed_a is None or placed_b is None:
        return None
    found = ratio(placed_a[1], placed_b[1])
    if placed_a[0] is not placed_b[0]:  # two separate timings: their anchors' latencies compare by IQR bands
        anchor_a, anchor_b = _root_latency(placed_a[0]), _root_latency(placed_b[0])
        if anchor_a is None or anchor_b is None:
            return None
        found = product(found, ratio(anchor_b, anchor_a))
    return found


def latency_order(a: Row, b: Row) -> str | None:
    """FASTER or SLOWER when the interval of a's speed over b's excludes 1, else EQUAL; None unless both rows are
    placed on the latency axis."""
    found = speed_ratio(a, b)
    if found is None:
        return None
    bounds = found.bounds()
    if bounds is None or bounds[0] <= 1 <= bounds[1]:
        return EQUAL
    return FASTER if bounds[0] > 1 else SLOWER


# ---------------------------------------------------------------- Pareto
def pareto_dominates(b: Row, a: Row) -> bool:
    """b keeps a off the frontier (see the module docstring)."""
    order = latency_order(b, a)
    if order is None:
        return False
    accuracy = compared(b, a)
    if accuracy is None:
        return False
    return order != SLOWER and (accuracy == BETTER or (order == FASTER and accuracy in (TIE, BETTER)))


def mark_pareto(rows: list[Row]) -> None:
    eligible = [r for r in rows if r.eligible and has_interval(r) and r.placed_latency is not None]
    for row in rows:
        row.pareto = row in eligible and not any(other is not row and pareto_dominates(other, row)
                                                 for other in eligible)


# ---------------------------------------------------------------- ranks
def rank_within_classes(rows: list[Row]) -> None:
    classes: dict[int, list[Row]] = {}
    for row in rows:
        if row.cost_class is not None and not row.collapsed and not row.undelivered and has_interval(row):
            classes.setdefault(row.cost_class, []).append(row)
    for members in classes.values():
        for row in members:
            row.rank = 1 + sum(compared(other, row) == BETTER for other in members if other is not row)
            row.class_size = len(members)


# ---------------------------------------------------------------- is pruning worth it: domination
@dataclass(frozen=True)
class Alternative:
    """A cheaper way to deploy than the row, named in "Dominated by"."""

    model: str
    label: str
    gflops_only: bool  # latency was missing on one side: judged on GFLOPs alone
    deployment: str = "torch"  # "torch", "torch @320", "openvino-int8", ...

    @property
    def text(self) -> str:
        deployed = "" if self.deployment == "torch" else f" {self.deployment}"
        return f"{self.model} {self.label}{deployed}" + (" (GFLOPs only)" if self.gflops_only else "")


@dataclass
class Domination:
    kind: str  # dominated | tie | none | none as cheap | collapsed
    by: list[Alternative] = field(default_factory=list)  # dominated: the better ones; tie: the tied ones

    @property
    def text(self) -> str:
        names = ", ".join(a.text for a in self.by[:2]) + (f" (+{len(self.by) - 2})" if len(self.by) > 2 else "")
        if self.kind == DOMINATED:
            return names
        if self.kind == TIED:
            return f"tie: {names}"
        return self.kind


def same_runtime(a: Row, b: Row) -> bool:
    """Deployed in one runtime and precision (input sizes may differ): GFLOPs compare between them."""
    return a.variant == b.variant


def no_more_costly(alternative: Row, row: Row) -> tuple[bool, bool]:
    """(no more costly, judged on GFLOPs alone). Across runtimes or precisions on placed latency alone, and not
    at all (False) when either was not timed."""
    order = latency_order(alternative, row)  # the rule ★ uses: not slower beyond the ratio's interval
    timed = order is not None
    if not same_runtime(alternative, row):
        return timed and order != SLOWER, False
    cheap = alternative.mean("gflops") <= row.mean("gflops") * (1 + GFLOPS_EPSILON)
    if timed:
        cheap = cheap and order != SLOWER
    return cheap, not timed


def _judgeable(row: Row) -> bool:
    return row.ok and row.mean(METRIC) is not None and row.mean("gflops") is not None


def alternatives(row: Row, sections: list[Section]) -> list[Row]:
    """The dense rows (plain and controls) on the row's dataset, split and device that deploy otherwise: every
    row of the OTHER models (each deployment and input size), and the own model's rows of another deployment
    (exports, smaller inputs). Rows of one model compare within one baseline (section) only."""
    section_of = {id(r): s for s in sections for r in s.rows}
    own = section_of.get(id(row))
    found = []
    for section in sections:
        if own is not None and (section.dataset != own.dataset or section.device != own.device):
            continue
        mine = own is not None and section.model == own.model
        if mine and section is not own:
            continue  # the same model from another baseline
        found += [r for r in section.rows if r.is_dense and _judgeable(r) and r.evaluation[0] == row.evaluation[0]
                  and (not mine or r.deployment != row.deployment)]
    return found


def judge(row: Row, candidates: list[Row]) -> Domination | None:
    if not candidates:
        return None
    cheap = [(c, gflops_only) for c in candidates for ok, gflops_only in [no_more_costly(c, row)] if ok]
    if not cheap:
        return Domination(COLLAPSED if row.collapsed else NONE_AS_CHEAP)

    def named(items):
        items = sorted(items, key=lambda item: (item[0].recipe != row.recipe, item[1], -(item[0].mean(METRIC) or 0),
                                                item[0].model, item[0].strategy))
        return [Alternative(c.model, c.strategy, gflops_only, c.deploy_label) for c, gflops_only in items]

    verdicts = [(c, gflops_only, compared(c, row)) for c, gflops_only in cheap]
    better = [(c, g) for c, g, v in verdicts if v == BETTER]
    if better:
        return Domination(DOMINATED, named(better))
    if row.collapsed:  # about 0 mAP: a "tie" (say, with an alternative that has no interval) would flatter it
        return Domination(COLLAPSED)
    tied = [(c, g) for c, g, v in verdicts if v != WORSE]
    if tied:
        return Domination(TIED, named(tied))
    return Domination(NONE)


def judge_domination(sections: list[Section]) -> None:
    for section in sections:
        for row in section.pruned:
            if _judgeable(row):
                row.domination = judge(row, alternatives(row, sections))


def other_dense_models(section: Section, sections: list[Section]) -> list[str]:
    return sorted({s.model for s in sections if s.dataset == section.dataset and s.model != section.model
                   and s.device == section.device and any(r.is_dense and r.ok for r in s.rows)})


def other_deployments(section: Section) -> list[str]:
    """The deployments of the section's own dense rows besides torch at the suite's imgsz ("torch @320",
    "openvino-int8", ...): alternatives every pruned row is checked against too."""
    return list(dict.fromkeys(r.deploy_label for r in section.rows if r.ok and r.is_dense and
                              (r.variant != "torch" or r.is_smaller_input)))


def recipe_hurts(section: Section) -> list[tuple[Row, Estimate]]:
    """The fine-tuned controls that fall below the plain dense row beyond the interval."""
    found = []
    for row in section.rows:
        if row.ok and row.is_control and row.reference is not None and row.verdict == WORSE:
            found.append((row, row.delta[METRIC]))
    return found
