"""The one-line answers that head each leaderboard (prunebench.report.answer) say only what their records bear out:
the Δ and reference the table prints, whose accuracy a figure is, a faster dense model of another family where one
keeps the accuracy, and collapsed rows left out of "the fastest" only where the sentence says so. On the published
records (read, never re-run). Fast: no browser, no models."""

from functools import lru_cache
from pathlib import Path

import pytest

from prunebench.records.store import iter_records
from prunebench.report import answer, first_screen
from prunebench.report.answers import _interval_text
from prunebench.report.rows import build_sections
from prunebench.report.verdicts import FASTER, METRIC, latency_order

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = ["bccd", "deploy", "frontier", "slimming", "tea_bud_laptop", "tea_bud_targets", "tutorial"]


@lru_cache(maxsize=None)
def sections_of(name: str):
    return build_sections([r for _, r in iter_records([REPO / "results" / name], warn=False)])


def studies(name: str):
    return [s for s in sections_of(name) if s.role == "study" and (s.pruned or s.controls)]


def section_titled(name: str, title: str):
    [found] = [s for s in sections_of(name) if s.title == title]
    return found


def test_tea_bud_targets_quotes_the_delta_and_reference_its_table_prints():
    """l1-channel-90ep (one seed) is judged in its table against the 90-epoch control (55.2): +0.8 [-7.3, +10.0].
    The sentence used to pair it with seed 0 of the 30-epoch control (-0.6) and quote that control's 3-seed mean
    (57.8)."""
    [section] = studies("tea_bud_targets")
    text = answer.plain_answer(section, sections_of("tea_bud_targets"))
    [row] = [r for r in section.rows if r.strategy == "l1-channel-90ep"]
    assert row.reference.strategy == "dense-ft-78f4e0"
    table = _interval_text(row.delta[METRIC])
    assert table == "+0.8 [-7.3, +10.0]"
    assert text.startswith("Ship l1-channel-90ep at 2x: ")
    assert f"({table} points of mAP50-95 against the fine-tuned dense control dense-ft-78f4e0's "
    f"{100 * row.reference.mean(METRIC):.1f} mAP50-95)" in text, text
    assert "57.8" not in text and "-0.6" not in text


@pytest.mark.parametrize("name", PUBLISHED)
def test_a_pruned_row_at_home_is_judged_as_its_table_judges_it(name):
    """Every pruned row in the home deployment carries the table's Δ vs row and Δ, and the reference's figure over
    the seeds that Δ pairs on, so no sentence can quote another Δ than the table's."""
    for section in studies(name):
        base, judged = answer.judge(section, sections_of(name))
        for j in judged:
            if j.row.is_dense or j.row.model != section.model or j.row.deployment != base.deployment:
                assert j.against is base
                continue
            assert j.against is j.row.reference, (name, answer.describe(j.row))
            assert round(j.delta, 6) == round(100 * j.row.delta[METRIC].value, 6)
            if not j.seeds:
                assert round(j.scored, 6) == round(100 * j.row.reference.mean(METRIC), 6)


def test_bccd_names_the_fine_tuned_control_whose_accuracy_it_quotes():
    """62.5 is dense-ft's mAP50-95; the dense model scores 61.6."""
    [section] = studies("bccd")
    text = answer.plain_answer(section, sections_of("bccd"))
    assert text.startswith("No faster option keeps the fine-tuned dense control's accuracy (62.5 mAP50-95): "), text
    assert "the dense model's" not in text


@pytest.mark.parametrize("name", PUBLISHED)
def test_a_controls_figure_is_never_called_the_dense_models(name):
    for section in studies(name):
        base = answer.yardstick(section)
        text = answer.plain_answer(section, sections_of(name))
        figure = f"{100 * base.mean(METRIC):.1f} mAP50-95"
        if base.is_control:
            assert f"the dense model's accuracy ({figure})" not in text
            assert f"the dense model's {figure}" not in text
            assert f"the dense model in PyTorch ({figure})" not in text
            assert figure not in text or "fine-tuned dense control" in text, text


def test_frontier_coco128_says_to_switch_to_the_faster_dense_yolo26n():
    """yolo26n's dense row scores 52.7 (yolov8n's 52.1: a tie within the interval) and ran faster than dense
    yolov8n in its own pairs, beyond the interval of the ratio: "no faster option" was false."""
    sections = sections_of("frontier")
    section = section_titled("frontier", "yolov8n × coco128")
    text = answer.plain_answer(section, sections)
    [other] = [r for r in answer.other_models(section, sections) if r.model == "yolo26n" and r.is_plain_dense]
    assert latency_order(other, answer.dense_torch(section)) == FASTER
    assert text.startswith("Switch to the dense yolo26n: 1.1x faster than the dense yolov8n in PyTorch, no "
                           "measurable loss (+0.6 ["), text
    assert "against the dense yolov8n's 52.1 mAP50-95)" in text
    assert "No faster option" not in text
    assert any(text in line for line in first_screen.leaderboard_answers(sections))


@pytest.mark.parametrize("name", PUBLISHED)
def test_no_sentence_denies_a_faster_dense_model_that_keeps_the_accuracy(name):
    sections = sections_of(name)
    for section in studies(name):
        _, judged = answer.judge(section, sections)
        switch = [j for j in judged if j.row.model != section.model and j.faster and j.no_loss]
        text = answer.plain_answer(section, sections)
        if switch:
            assert not text.startswith(("No faster option", "Nothing")), text


def test_the_fastest_that_did_not_collapse_says_so():
    """Without the reference models, frontier's coco128 answer names l1-channel at 1.33x (1.12x) as the fastest,
    while its collapsed 1.6x rows ran 1.26x and 1.28x."""
    section = section_titled("frontier", "yolov8n × coco128")
    text = answer.plain_answer(section)
    assert "the fastest that did not collapse, l1-channel at 1.33x, is 1.1x faster for -39.9 [" in text, text
    assert max(speed for _, speed in answer.collapsed_faster(section)) > 1.25


def test_the_fastest_is_unqualified_where_nothing_faster_collapsed():
    [section] = studies("bccd")
    assert not answer.collapsed_faster(section)
    assert ": the fastest, lamp at 2x, is 1.6x faster for -18.9 [-21.9, -15.3] points of mAP50-95." in \
        answer.plain_answer(section, sections_of("bccd"))


def test_slimming_does_not_say_nothing_runs_faster_when_collapsed_rows_do():
    """network-slimming at 50 % and 70 % ran 1.58x and 1.78x (beyond their IQR bands) and collapsed."""
    [section] = studies("slimming")
    gone = {answer.describe(r) for r, _ in answer.collapsed_faster(section)}
    assert gone == {"network-slimming at 50%", "network-slimming at 70%"}
    text = answer.plain_answer(section, sections_of("slimming"))
    assert text.startswith("Nothing that did not collapse runs measurably faster than the dense model in PyTorch "
                           "on this machine"), text
    assert "network-slimming at 50% and 70% do, up to 1.8x, but collapsed" in text
    assert text.endswith("; the fine-tuned dense control scores 57.7 mAP50-95.")


@pytest.mark.parametrize("name", PUBLISHED)
def test_a_sentence_naming_the_fastest_leaves_out_collapsed_rows_only_when_it_says_so(name):
    for section in studies(name):
        text = answer.plain_answer(section, sections_of(name))
        gone = answer.collapsed_faster(section)
        if "the fastest" in text:
            _, judged = answer.judge(section, sections_of(name))
            fastest = max(j.speed for j in judged if j.faster)
            assert ("the fastest that did not collapse" in text) == any(s > fastest for _, s in gone), text
        if text.startswith("Nothing"):
            assert text.startswith("Nothing that did not collapse") == bool(gone), text
