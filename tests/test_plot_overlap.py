"""No clutter in the figures a reader gets: every figure drawn from the shipped records (results/*/cells) and from a
constructed crowded case is checked with matplotlib's renderer (tests/plot_geometry.py): no label over a title, a
legend or another label, no legend over a data point, no label off the page."""

import copy
from pathlib import Path

import pytest

from prunebench.report.plots import draw_figures
from prunebench.records.store import iter_records
from tests.plot_geometry import problems

RESULTS = Path(__file__).resolve().parents[1] / "results"
SUITES = sorted(p.parent.name for p in RESULTS.glob("*/cells"))


def records_of(*suites):
    return [record.to_json() for _, record in iter_records([RESULTS / s for s in suites])]


def clutter(records) -> list[str]:
    found = []
    for stem, figure in draw_figures(records):
        found += problems(figure, stem)
    return found


def test_the_shipped_results_are_there():
    assert {"tea_bud_laptop", "tea_bud_targets", "frontier", "tutorial", "slimming"} <= set(SUITES)


@pytest.mark.parametrize("suite", SUITES)
def test_shipped_figures_have_no_overlap(suite):
    assert clutter(records_of(suite)) == []


def crowded_records() -> list[dict]:
    """tea_bud_targets with each pruned cell of seed 0 cloned twice under new labels, a hair apart in accuracy and
    speed-up: 14 rows become 42, in a few clusters, many at the same place."""
    records = records_of("tea_bud_targets")
    out = list(records)
    for record in records:
        spec = record["spec"]
        if spec["strategy"]["name"] == "dense" or spec["seed"] != 0:
            continue
        for i in (1, 2):
            clone = copy.deepcopy(record)
            clone["spec"]["strategy"]["label"] = f"{spec['strategy']['label']}-v{i}"
            clone["name"] = f"{record['name']}-v{i}"
            clone["key"] = f"{record['key'][:-2]}v{i}"
            metrics = clone["metrics"]
            metrics["map50_95"] = max(0.0, metrics["map50_95"] + 0.004 * i)
            if metrics.get("speedup_vs_dense"):
                metrics["speedup_vs_dense"] *= 1 + 0.01 * i
            out.append(clone)
    return out


def test_a_crowded_figure_has_no_overlap():
    records = crowded_records()
    pruned = [r for r in records if r["spec"]["strategy"]["name"] != "dense"]
    assert len({r["spec"]["strategy"]["label"] + str(r["spec"]["target"] or r["spec"]["amount"])
                for r in pruned}) == 3 * 14
    assert clutter(records) == []


def test_the_checker_sees_a_label_over_a_title_and_a_legend_over_points():
    """The checker itself: a figure made to be cluttered is reported."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 3))
    ax = figure.subplots()
    ax.scatter([0, 1, 2], [0, 1, 2], label="points")
    ax.set_title("a title")
    ax.annotate("over the title", (1, 2.1), xytext=(0, 3), textcoords="offset points", ha="center")
    ax.annotate("twice", (0, 0))
    ax.annotate("twice", (0, 0))
    ax.legend(loc="center")
    found = problems(figure)
    assert any("'over the title'" in p and "title 'a title'" in p for p in found)
    assert any("'twice'" in p and "overlaps label 'twice'" in p for p in found)
    assert any("legend 0 covers" in p for p in found)
