"""A cell compares what it asked for with what the model lost (prunebench.run.delivered): a strategy that removed
nothing, or another amount than asked, is flagged in its record and on the leaderboard, and is never starred or
ranked; the measured figures replace the strategy's where they disagree."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from prunebench.report import leaderboard
from prunebench.report.rows import build_sections
from prunebench.run.delivered import DELIVERY_TOLERANCE, Delivered, ModelSize, judge, measured_wins
from tests.test_leaderboard import load, row, table

DENSE = ModelSize(params=2_600_000, nonzero_params=2_590_000, prunable_weights=2_400_000, prunable_zeros=100,
                  conv_channels=5_000, prunable_channels=4_000, gflops=6.5)


def test_a_no_op_is_flagged_as_removing_nothing():
    for structured in (True, False):
        found = judge(DENSE, DENSE, amount=0.3, target=None, structured=structured, report={"channel_reduction": 0.3})
        assert found.flagged and found.removed_nothing
        assert found.why.startswith("asked 30 %, removed nothing: ".replace(" %", "%"))
    at_target = judge(DENSE, DENSE, amount=None, target=2.0, structured=True, report={})
    assert at_target.flagged and at_target.why == ("asked 2x, removed nothing: reached 1.00x fewer GFLOPs "
                                                   "(6.500 -> 6.500)")


def test_a_strategy_that_ignores_the_amount_is_flagged_beyond_the_stated_tolerance():
    half = replace(DENSE, params=1_300_000, nonzero_params=1_295_000, conv_channels=3_000, gflops=3.3)
    found = judge(DENSE, half, amount=0.1, target=None, structured=True, report={})  # removed 50 %, asked 10 %
    assert found.flagged and not found.removed_nothing and found.measure == "channel_reduction"
    assert found.measured == 0.5 and found.tolerance == DELIVERY_TOLERANCE
    assert found.why == ("asked 10%, delivered another amount (beyond ±0.05): removed 2,000 of 4,000 prunable "
                         "channels (50.0%)")
    # the same model, asked 50 %: delivered
    assert not judge(DENSE, half, amount=0.5, target=None, structured=True, report={}).flagged
    # over the channels a cut can reach, as the strategy reports them (bounded by what was removed and all)
    assert judge(DENSE, half, amount=0.6, target=None, structured=True,
                 report={"removable_channels": 3_333}).measured == pytest.approx(2_000 / 3_333, abs=1e-6)


def test_unstructured_sparsity_and_speed_up_targets_are_judged_on_the_model():
    zeroed = replace(DENSE, nonzero_params=1_870_000, prunable_zeros=720_100)
    found = judge(DENSE, zeroed, amount=0.3, target=None, structured=False, report={"achieved_sparsity": 0.9})
    assert not found.flagged and found.measured == pytest.approx(0.300042, abs=1e-6)
    assert judge(DENSE, replace(DENSE, params=1_000_000, gflops=3.2), amount=None, target=2.0, structured=True,
                 report={}).flagged is False
    assert judge(DENSE, replace(DENSE, params=2_000_000, gflops=5.0), amount=None, target=2.0, structured=True,
                 report={}).why.startswith("asked 2x, delivered another amount (beyond 5% relative): reached 1.30x")


def test_measured_figures_replace_the_reported_ones_that_disagree():
    half = replace(DENSE, params=1_300_000, conv_channels=3_000, gflops=3.25)
    found = judge(DENSE, half, amount=0.5, target=None, structured=True, report={})
    honest = {"channel_reduction": 0.5, "param_reduction": 0.5, "macs_reduction": 0.49, "importance": "hrank"}
    assert measured_wins(honest, DENSE, half, found, True) == honest  # within rounding: left as reported
    inflated = {**honest, "param_reduction": 0.7, "macs_reduction": 0.7, "channel_reduction": 0.6}
    fixed = measured_wins(inflated, DENSE, half, found, True)
    assert (fixed["param_reduction"], fixed["macs_reduction"], fixed["channel_reduction"]) == (0.5, 0.5, 0.5)
    assert fixed["reported_by_strategy"] == {"param_reduction": 0.7, "macs_reduction": 0.7, "channel_reduction": 0.6}
    assert fixed["importance"] == "hrank"
    assert Delivered.from_json(found.to_json()) == found


def test_a_flagged_row_is_never_starred_or_ranked_and_says_why():
    records = load("cpu", "gpu")
    section = {(s.model, s.dataset): s for s in build_sections(records)}[("yolo11n", "tea_bud")]
    assert row(section, "l1-channel", 0.3).pareto  # starred before (tests/test_leaderboard.py)
    flagged = copy.deepcopy(records)
    why = judge(DENSE, DENSE, amount=0.3, target=None, structured=True, report={})
    for record in flagged:
        spec = record["spec"]
        if (spec["model"]["name"], spec["dataset"]["name"]) == ("yolo11n", "tea_bud") and \
                spec["strategy"].get("label", spec["strategy"].get("name")) == "l1-channel" and spec.get("amount") == 0.3:
            record["details"]["delivered"] = why.to_json()
    section = {(s.model, s.dataset): s for s in build_sections(flagged) if "cuda" not in s.device}[("yolo11n", "tea_bud")]
    cut = row(section, "l1-channel", 0.3)
    assert not cut.pareto and cut.rank is None and not cut.eligible
    assert cut.undelivered == why.why
    [shown] = [cells for (strategy, amount, _), cells in table(section).items()
               if strategy.startswith("l1-channel") and amount == "30%"]
    assert shown["★"] == ""  # (its rank is None, above: the table shows none)
    assert f"[{cut.notes[-1]}]" in shown["Strategy"]  # the row points to its note
    notes = "\n".join(leaderboard.section_notes(section))
    assert f"l1-channel 30%: not what was asked ({why.why}); never starred or ranked." in notes


def test_the_run_says_so_on_the_cell_line():
    from prunebench.records.record import Record
    from prunebench.run.driver import cell_line

    [record] = [r for r in load("cpu") if r["status"] == "ok" and r["spec"].get("amount") == 0.3][:1]
    why = judge(DENSE, DENSE, amount=0.3, target=None, structured=True, report={})
    assert "not what was asked" not in cell_line(1, 2, "x", Record.from_json(record))
    record["details"]["delivered"] = why.to_json()
    assert cell_line(1, 2, "x", Record.from_json(record)).endswith(f"; not what was asked: {why.why}")
