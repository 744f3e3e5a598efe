"""The first screen: the answer sentence (prunebench.report.answer) and the accuracy-against-speed chart
(prunebench.report.first_screen), on the published deploy records and the test fixtures. Fast: no browser."""

import re
from pathlib import Path

import pytest

from prunebench.records.store import iter_records
from prunebench.report import answer, first_screen
from prunebench.report.rows import build_sections
from prunebench.report.verdicts import FASTER, latency_order

REPO = Path(__file__).resolve().parents[1]


def sections_of(folder: Path):
    return build_sections([r for _, r in iter_records([folder], warn=False)])


@pytest.fixture(scope="module")
def deploy():
    sections = sections_of(REPO / "results" / "deploy")
    return first_screen.study_section(sections), sections


def test_the_deploy_answer_names_what_to_ship_its_speed_and_its_interval(deploy):
    section, _ = deploy
    text = answer.plain_answer(section)
    assert text.startswith("Ship the dense model as OpenVINO INT8: 4.3x faster than the dense model in PyTorch, "
                           "no measurable loss (")
    assert "pruning on top adds at most 1.2x and costs" in text
    base, judged = answer.judge(section)
    keep = [j for j in judged if j.no_loss and j.faster]
    [shipped] = [j for j in keep if j.row.variant == "openvino-int8" and j.row.is_plain_dense]
    # no row that keeps the accuracy is faster beyond the interval of the ratio (the pruned INT8 rows' own pairs
    # against dense torch are as fast as the dense INT8 export's: pruning buys nothing measurable on top)
    assert not any(latency_order(j.row, shipped.row) == FASTER for j in keep)
    assert shipped.low <= 0 <= shipped.high  # what "no measurable loss" means


def test_no_loss_needs_an_interval_and_a_worse_interval_is_a_loss(deploy):
    section, _ = deploy
    _, judged = answer.judge(section)
    for j in judged:
        assert j.no_loss == (j.low is not None and j.high >= 0), (answer.describe(j.row), j.low, j.high)


def test_a_study_where_nothing_keeps_the_accuracy_names_the_fastest_and_its_cost():
    section = first_screen.study_section(sections_of(REPO / "results" / "bccd"))
    text = answer.plain_answer(section)
    # bccd's most accurate dense row is its fine-tuned control (62.5; dense 61.6): the sentence says whose it is
    assert re.match(r"No faster option keeps the fine-tuned dense control's accuracy \(\d+\.\d mAP50-95\): "
                    r"the fastest, .+, is \d+\.\dx faster for -\d+\.\d \[-\d+\.\d, -\d+\.\d\] points of mAP50-95\.$", text), text


def test_the_chart_has_a_panel_per_runtime_and_every_point_its_intervals(deploy):
    section, _ = deploy
    svg = first_screen.chart_svg(section, href=lambda row: f"cells/{row.cells[0].record.name}.html")
    panels = re.findall(r'<g class="panel" data-runtime="([^"]+)">', svg)
    assert panels == ["torch", "onnx", "openvino"]
    drawn = first_screen.points(section)
    count = sum(len(p) for p in drawn.values())
    assert svg.count('class="point ') == count > 50
    assert svg.count("<title>") == count  # every point names itself on hover
    assert svg.count('href="cells/') == count  # and opens its cell on click
    with_y = sum(p.y_low is not None for ps in drawn.values() for p in ps)
    with_x = sum(p.x_low is not None for ps in drawn.values() for p in ps)
    assert with_y == count and with_x > count // 2
    dense = sum(p.row.is_dense for ps in drawn.values() for p in ps)
    assert svg.count('class="point dense"') == dense > 0 and "dense alternatives" in svg


def test_a_points_error_bars_span_its_intervals(deploy):
    section, _ = deploy
    for runtime, panel in first_screen.points(section).items():
        for p in panel:
            assert p.y_low <= p.y <= p.y_high
            if p.x_low is not None:
                assert p.x_low <= p.x <= p.x_high
            assert p.x == answer.over_dense_torch(p.row, section).value and first_screen.runtime_of(p.row) == runtime
            if p.row.variant != "torch" and not (p.row.is_dense or p.row.unstructured):
                assert p.x == p.row.speedup_vs_torch  # an export's own pairs against dense torch, never a chain


def test_the_table_shows_pareto_rows_and_references_first(deploy):
    section, _ = deploy
    shown = first_screen.first_rows(section)
    assert any(shown) and not all(shown)
    for row, first in zip(section.rows, shown):
        assert first == (row.pareto or row.is_dense)


def test_every_leaderboard_is_headed_by_the_sentence(tmp_path):
    from prunebench.report import leaderboard

    records = [r for _, r in iter_records([REPO / "results" / "deploy"], warn=False)]
    text = leaderboard.render(records, generated="2026-12-07")
    lines = text.splitlines()
    assert lines[0].startswith("# prunebench leaderboard")
    section = first_screen.study_section(build_sections(records))
    assert any(answer.plain_answer(section) in line for line in lines[1:6])
