"""Leaderboards from fixed v2 records (tests/fixtures/records, written by generate.py): goldens per format, plus
the rules a reader relies on (the reference row, cost classes, the Pareto star, domination, the busy mark),
checked one by one so a regenerated golden cannot quietly break them."""

import copy
import csv
import io
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from prunebench.report import answers, leaderboard, verdicts
from prunebench.report.leaderboard import render, write
from prunebench.report.rows import Row, as_records, assign_cost_classes, build_sections, entries, without_superseded
from prunebench.records.record import SCHEMA_VERSION
from prunebench.records.store import iter_records
from tests.golden import check_golden

FIXTURES = Path(__file__).parent / "fixtures" / "records"
DATE = "2025-01-31"
PLOT_LINKS = ["plots/yolov8n__buds__accuracy_vs_amount.png", "plots/extra.png"]
CPU = "Intel(R) Xeon(R) CPU @ 2.20GHz (cpu)"


def load(*folders):
    return [record.to_json() for _, record in iter_records([FIXTURES / f for f in folders])]


@pytest.fixture(scope="module")
def merged():
    return load("cpu", "gpu")


def by_key(records):
    """(model, dataset) -> the CPU's section; (model, dataset, "gpu") -> the GPU's."""
    return {(s.model, s.dataset) + (("gpu",) if "cuda" in s.device else ()): s for s in build_sections(records)}


@pytest.fixture(scope="module")
def sections(merged):
    return by_key(merged)


@pytest.fixture(scope="module")
def tea(sections):
    return sections[("yolo11n", "tea_bud")]


def row(section, strategy, amount=None, *, target=None, device_part="cpu", ok=True):
    [found] = [r for r in section.rows if r.strategy == strategy and r.amount == amount and r.target == target
               and device_part in r.device and r.ok == ok]
    return found


def table(section, full=True):
    """Each row of the (full, by default) table as {header: cell}, keyed by (strategy cell, amount cell, ""); of
    an ok and a failed row with one key, the ok one (it comes first)."""
    headers, cells = leaderboard.display_table(section, full=full)
    out = {}
    for c in cells:
        out.setdefault((c[headers.index("Strategy")], c[headers.index("Amount")], ""), dict(zip(headers, c)))
    return out


def section_text(text, title, nth=1):
    return text.split(f"## {title}\n")[nth].split("\n## ")[0]


def mean(*values):
    return statistics.fmean(values)


# ---------------------------------------------------------------- goldens and the document
@pytest.mark.parametrize("fmt, ext", [("github", "md"), ("csv", "csv"), ("json", "json"), ("latex", "tex"),
                                      ("html", "html")])
def test_render_matches_golden(merged, fmt, ext):
    check_golden(f"leaderboard.{ext}", render(merged, fmt, suite="fixture", generated=DATE, plot_links=PLOT_LINKS))


def test_header_names_suite_model_dataset_split_reference_devices_and_date(merged):
    text = render(merged, suite="tea-study", generated=DATE)
    tea, buds = section_text(text, "yolo11n × tea_bud"), section_text(text, "yolov8n × buds")
    assert "Suite: fixture" in tea and "Suite: tea-study" not in tea  # a section names its records' suite
    assert "- Model: yolo11n (under study)" in tea
    assert "- Dataset: tea_bud\n" in tea and "Dataset: buds (SYNTHETIC stand-in data" in buds
    # the headline split, and why
    assert "Accuracy: on the test split (held out: the val split chose the baseline's best epoch, so val figures " \
           "would be optimistic); " in tea
    assert "Accuracy: on the val split (the dataset has no test split; val also chose the baseline's best epoch, " \
           "so these figures are optimistic); " in buds
    assert ("; 95 % intervals from 200 paired bootstrap resamples of its 9 images and of the seeds (2 seeds, "
            "resampled: their spread is understated, at 0.71 of the sample SD; rows of one seed carry no seed "
            "spread).") in tea
    # which row is the reference
    assert "Reference for Δ: each fine-tuned pruned row against the better of dense (as loaded) and the " \
           "fine-tuned control with its recipe (dense-ft = dense + 25 epochs, SGD, lr0 0.01, warm-up 0 epochs, " \
           "batch 8, imgsz 640); rows without fine-tuning and the controls against dense." in tea
    assert f"Device: {CPU}: 1 timing thread, 2 cores, torch 2.14.1" in tea
    assert "Provenance: prunebench commit aaaaaaaaaa; one baseline checkpoint for every seed." in tea
    gpu = section_text(text, "yolov8n × buds", 2)
    assert "Device: NVIDIA H100 80GB HBM3 (cuda:0): 16 timing threads, 16 cores, torch 2.14.1, CUDA 12.8" in gpu
    assert f"Date: {DATE}" in tea and text.startswith("# prunebench leaderboard: tea-study\n")
    # the answer first, from the intervals
    assert tea.startswith("\n- Answer: C1 (30%, 6.44 GFLOPs): best l1-unstructured, a tie with dense-ft (Δ mAP50-95 -1.1 [")


def test_reference_models_have_their_own_section_that_says_so(merged, sections):
    reference = sections[("yolo26n", "tea_bud")]
    assert reference.role == "reference" and all(r.is_dense for r in reference.rows)
    text = section_text(render(merged, generated=DATE), "yolo26n × tea_bud")
    assert "Model: yolo26n (reference model: dense only, never pruned" in text
    assert "Controls: dense-ft = dense + 25 epochs, SGD" in text and "Is pruning worth it" not in text


def test_every_column_and_mark_is_explained(merged, sections):
    text = render(merged, generated=DATE)
    notes = text.split("## Columns")[1]
    for section in sections.values():
        for full in (False, True):
            headers, _ = leaderboard.display_table(section, full=full)
            for header in headers:
                name = header.replace(" [95% CI]", "").replace(" onnxruntime", "").replace(" torch", "")
                assert f"- {name}" in notes or f", {name}" in notes or f". {name}" in notes, header
    for mark in ("†", "‡", "§", "★", "[n]", "[95% CI]", "(GFLOPs only)", '"none"', '"none as cheap"', '"tie: X"',
                 '"collapsed"', "IQR", "Verdict"):
        assert mark in notes, mark


def test_the_column_notes_page_is_the_generated_text():
    page = Path(__file__).resolve().parents[1] / "docs" / "leaderboard-columns.md"
    assert page.read_text(encoding="utf-8") == leaderboard.column_notes_markdown(), \
        "regenerate it: python -c 'from prunebench.report.leaderboard import column_notes_markdown as m; " \
        "open(\"docs/leaderboard-columns.md\", \"w\").write(m())'"


def test_the_compact_table_has_about_twelve_columns_and_links_the_full_one(tmp_path, sections):
    headers, _ = leaderboard.display_table(sections[("yolo11n", "tea_bud")])
    assert headers == ["Strategy", "Amount", "n", "mAP50-95 [95% CI]", "Δ vs", "Δ mAP50-95 [95% CI]", "Verdict",
                       "GFLOPs −%", "Speed-up torch", "Speed-up onnxruntime", "Size (MB)", "★", "Dominated by"]
    results = tmp_path / "results"
    shutil.copytree(FIXTURES / "cpu", results)
    board = write([results], plots=False)
    full = results / "LEADERBOARD-full.md"
    assert "[every figure of every row](LEADERBOARD-full.md)" in board.read_text(encoding="utf-8")
    assert "| Class " in full.read_text(encoding="utf-8") and "(full tables)" in full.read_text(encoding="utf-8")


# ---------------------------------------------------------------- rows, seeds, failures
def test_dense_rows_come_first_then_cost_classes_then_accuracy(tea):
    assert [(r.strategy, r.is_plain_dense) for r in tea.rows[:2]] == [("dense", True), ("dense-ft", False)]
    pruned = [r for r in tea.rows[2:] if r.ok]
    keys = [(r.cost_class, -r.mean("map50_95")) for r in pruned]
    assert keys == sorted(keys)
    assert not tea.rows[-1].ok and tea.rows[-1].rank is None  # the failed seed sorts last


def test_several_seeds_give_mean_and_sample_std(tea):
    control = row(tea, "dense-ft", 0.0)
    assert len(control.cells) == 2
    assert control.stats["map50_95"] == (pytest.approx(mean(0.452, 0.446)), pytest.approx(statistics.stdev([0.452,
                                                                                                             0.446])))
    cells = table(tea)[("dense-ft", "0%", "")]
    assert cells["mAP50-95 [95% CI]"].startswith("44.9 [") and cells["Seeds"] == "0 1"
    low, high = control.interval()
    assert low < 0.449 < high


def test_failed_cells_are_rows_with_a_footnote_of_the_errors_first_line(merged):
    tea = section_text(render(merged, generated=DATE), "yolo11n × tea_bud")
    failed = [line for line in tea.splitlines() if "failed [2]" in line]
    assert len(failed) == 1 and "| l1-channel " in failed[0] and "| 50% " in failed[0]
    assert "- [2] RuntimeError: fine-tuning diverged: loss is nan at epoch 2\n" in tea
    assert "second line of the message" not in tea


# ---------------------------------------------------------------- issue 14: the fine-tuned control is the reference
def test_fine_tuned_rows_are_compared_with_the_control_of_their_recipe(tea):
    channel = row(tea, "l1-channel", 0.3)
    assert channel.reference.strategy == "dense-ft" and channel.reference_matches
    assert channel.reference_why == "control"  # the control is better than dense beyond the interval
    assert channel.delta["map50_95"].value == pytest.approx(mean(0.431, 0.425) - mean(0.452, 0.446))
    assert channel.delta["map50"].value == pytest.approx(mean(0.662, 0.655) - mean(0.702, 0.690))
    cells = table(tea)[("l1-channel", "30%", "")]
    assert cells["Δ vs"] == "dense-ft" and cells["Δ mAP50-95 [95% CI]"].startswith("-2.1 [")
    assert cells["Verdict"] == channel.verdict == "worse"


def test_rows_without_fine_tuning_and_the_controls_compare_with_the_plain_dense_row(tea):
    no_finetune = row(tea, "l1-unstructured-noft", 0.3)
    assert no_finetune.reference.strategy == "dense" and no_finetune.reference_matches
    assert no_finetune.delta["map50_95"].value == pytest.approx(0.388 - 0.402)
    control = row(tea, "dense-ft", 0.0)
    assert control.reference.strategy == "dense" and control.delta["map50_95"].value == pytest.approx(0.449 - 0.402)
    assert row(tea, "dense", 0.0).reference is None


def test_a_recipe_no_control_has_falls_back_to_dense_and_is_flagged(merged, tea):
    iterative = row(tea, "l1-channel-iter", 0.5)
    assert iterative.finetune["epochs"] == 50 and not iterative.reference_matches
    assert iterative.reference.strategy == "dense"
    assert iterative.delta["map50_95"].value == pytest.approx(0.362 - 0.402)  # -4.0, against the control it is -8.7
    assert table(tea)[("l1-channel-iter, 5 steps", "50%", "")]["Δ vs"] == "dense ‡"
    text = section_text(render(merged, generated=DATE), "yolo11n × tea_bud")
    assert "- ‡ no fine-tuned control with this recipe: Δ is against the un-fine-tuned dense model and flatters " \
           "fine-tuned rows." in text
    assert "‡" not in section_text(render(merged, generated=DATE), "yolov8n × buds")


def test_several_recipes_each_find_their_own_control(merged):
    records = copy.deepcopy(merged)
    other = {"epochs": 10, "optimizer": "SGD", "lr0": 0.001, "warmup_epochs": 0.0, "imgsz": 640, "batch": 8}
    for record in records:
        if record["name"] == "yolo11n.tea_bud.dense-ft.a0.00.s1":  # becomes a second control, with another recipe
            record["spec"]["strategy"]["label"] = "dense-ft-3f9a1c"
            record["spec"]["finetune"] = other
            record["name"] = "yolo11n.tea_bud.dense-ft-3f9a1c.a0.00.s1"
            record["metrics"]["map50_95"] = 0.300
            boot = record["details"]["bootstrap"]
            boot["map50_95"] = [v - 0.146 for v in boot["map50_95"]]  # the resamples move with it
        if record["name"] == "yolo11n.tea_bud.l1-channel.a0.15.s0":
            record["spec"]["finetune"] = other
    section = by_key(records)[("yolo11n", "tea_bud")]
    # the other recipe's control scored 0.300: below dense (0.402) beyond the interval, so 0.15 must beat dense
    assert row(section, "l1-channel", 0.15).reference.strategy == "dense"
    assert row(section, "l1-channel", 0.15).reference_why == "dense: the control fell below it"
    assert row(section, "dense-ft-3f9a1c", 0.0).verdict == "worse"
    assert row(section, "l1-channel", 0.3).reference.strategy == "dense-ft"
    assert row(section, "l1-channel", 0.3).reference.mean("map50_95") == pytest.approx(0.452)  # seed 0 only now
    header = render(records, generated=DATE)
    assert "(dense-ft = dense + 25 epochs, SGD, lr0 0.01, warm-up 0 epochs, batch 8, imgsz 640; dense-ft-3f9a1c = " \
           "dense + 10 epochs, SGD, lr0 0.001" in header


def test_without_any_control_fine_tuned_rows_are_all_flagged(merged):
    records = [r for r in merged if not r["spec"]["strategy"]["label"].startswith("dense-ft")]
    section = by_key(records)[("yolo11n", "tea_bud")]
    fine_tuned = [r for r in section.pruned if r.ok and r.finetune]
    assert fine_tuned and all(r.reference.strategy == "dense" and not r.reference_matches for r in fine_tuned)
    assert row(section, "l1-unstructured-noft", 0.3).reference_matches  # no recipe: dense is its fair reference


def test_the_reference_is_measured_on_the_same_split(merged):
    records = copy.deepcopy(merged)
    for record in records:
        if record["name"].startswith("yolo11n.tea_bud.dense-ft"):
            record["details"]["eval_split"] = "val"
    section = by_key(records)[("yolo11n", "tea_bud")]
    channel = row(section, "l1-channel", 0.3)
    assert channel.reference.strategy == "dense" and not channel.reference_matches
    assert "Accuracy: rows use different splits (test, val)" in render(records, generated=DATE)


# ---------------------------------------------------------------- issue 14: before fine-tuning, costs achieved
def test_accuracy_before_fine_tuning_is_shown_beside_after(tea):
    cells = table(tea)
    assert cells[("l1-channel", "15%", "")]["mAP50-95 before FT"] == "19.0"
    assert cells[("l1-channel", "15%", "")]["mAP50-95 [95% CI]"].startswith("46.2 [")
    assert cells[("l1-unstructured-noft", "30%", "")]["mAP50-95 before FT"] == "—"  # not fine-tuned
    assert cells[("dense-ft", "0%", "")]["mAP50-95 before FT"] == "—"
    assert row(tea, "l1-channel", 0.3).before["map50_95"] == pytest.approx(mean(0.001, 0.002))


def test_before_fine_tuning_on_another_split_is_not_shown(merged):
    records = copy.deepcopy(merged)
    for record in records:
        if record["name"] == "yolo11n.tea_bud.l1-channel.a0.15.s0":
            record["details"]["metrics_before_finetune_split"] = "val"
    section = by_key(records)[("yolo11n", "tea_bud")]
    assert row(section, "l1-channel", 0.15).before["map50_95"] is None


def test_reductions_achieved_are_measured_against_the_dense_row(tea):
    channel = row(tea, "l1-channel", 0.3)
    assert channel.reductions["params"] == pytest.approx(1 - 1_682_105 / 2_582_737)
    assert channel.reductions["gflops"] == pytest.approx(1 - 4.26 / 6.44)
    assert channel.reductions["nonzero_params"] == pytest.approx(1 - 1_682_090 / (2_582_737 - 31))
    cells = table(tea)
    assert (cells[("l1-channel", "30%", "")]["GFLOPs −%"], cells[("l1-channel", "30%", "")]["Params −%"]) == \
           ("33.9", "34.9")
    unstructured = cells[("l1-unstructured", "30%", "")]
    assert (unstructured["GFLOPs −%"], unstructured["Params −%"], unstructured["Non-zero −%"]) == ("0.0", "0.0", "29.5")
    assert cells[("dense", "0%", "")]["GFLOPs −%"] == "—"


def test_speedup_targets_show_as_targets_with_what_they_achieved(tea):
    cells = table(tea)
    assert ("l1-channel", "2x (achieved 1.96x)", "") in cells
    assert row(tea, "l1-channel", target=2.0).amount is None


def test_iterative_schedules_show_their_steps(tea):
    assert ("l1-channel-iter, 5 steps", "50%", "") in table(tea)


# ---------------------------------------------------------------- issue 14: cost classes instead of nominal amounts
def test_rows_rank_within_their_cost_class(tea):
    classes = {}
    for r in tea.pruned:
        if r.ok:
            classes.setdefault(r.cost_class, []).append((r.rank, r.strategy, r.target or r.amount))
    # ranks follow the intervals: rows whose difference is within it share a rank; the collapsed row is not ranked
    assert classes == {
        1: [(1, "l1-unstructured", 0.3), (2, "l1-unstructured-noft", 0.3)],
        2: [(1, "l1-channel", 0.15)],
        3: [(1, "l1-channel", 0.3), (1, "network-slimming", 0.3)],  # 4.26 and 4.31 GFLOPs: one class, a tie
        4: [(1, "l1-channel-iter", 0.5), (2, "l1-channel", 2.0), (2, "l1-channel", 0.5)],
        5: [(None, "l1-channel", 0.7)],
    }
    cells = table(tea)
    assert (cells[("l1-channel", "50%", "")]["Class"], cells[("l1-channel", "50%", "")]["#"]) == ("C4", "2/3")
    # the two 30 % rows of one kind of amount are in different classes: unstructured 30 % costs dense GFLOPs
    assert row(tea, "l1-unstructured", 0.3).cost_class != row(tea, "l1-channel", 0.3).cost_class


def cost_row(name, gflops, nonzero):
    record = {"schema_version": SCHEMA_VERSION, "key": f"k-{name}", "name": f"m.d.{name}.a0.30.s0",
              "spec": {"model": {"name": "m"}, "dataset": {"name": "d"}, "strategy": {"name": "s", "label": name},
                       "amount": 0.3, "seed": 0}, "status": "ok", "environment": {"device": "cpu"}}
    [entry] = entries([record])
    r = Row(name, 0.3, None, entry.device, [entry], model="m")
    r.stats = {"gflops": (gflops, None), "nonzero_params": (nonzero, None)}
    return r


def test_cost_class_rule_is_anchored_at_the_most_costly_row_and_needs_both_costs_close():
    rows = [cost_row("a", 10.0, 100), cost_row("b", 9.0, 95), cost_row("c", 8.9, 100),
            cost_row("d", 9.5, 120), cost_row("e", 8.5, 99)]
    assign_cost_classes(rows)
    by_name = {r.strategy: r for r in rows}
    # a anchors C1: b is within 10 % on both; c is 11 % fewer GFLOPs; d has 20 % more non-zero params
    assert by_name["a"].cost_class == by_name["b"].cost_class == 1
    assert by_name["d"].cost_class == 2  # d anchors the next class (9.5 GFLOPs) alone: c's params are 17 % off
    assert by_name["c"].cost_class == by_name["e"].cost_class == 3  # 8.9 anchors; 8.5 is within 10 %


# ---------------------------------------------------------------- issue 14: noise in plain sight
def test_paired_speedups_show_their_spread(tea):
    cells = table(tea)
    assert cells[("l1-channel", "30%", "")]["Speed-up"] == "1.30x (no CI; IQR 0.09)"
    assert table(tea, full=False)[("l1-channel", "30%", "")]["Speed-up torch"] == "1.30x (no CI; IQR 0.09)"
    assert row(tea, "l1-channel", 0.3).speedup == pytest.approx(mean(1.31, 1.29))
    assert row(tea, "l1-channel", 0.3).speedup_iqr == pytest.approx(mean(0.08, 0.10))
    assert cells[("dense", "0%", "")]["Speed-up"] == "1.00x"  # the reference itself: no pairs


def test_a_speed_up_shows_its_95_interval_pairs_and_the_cap_and_seeds_combine(merged):
    """Records timed to the pair rule: "1.31x [1.27, 1.35] ·31p", with "capped" when the time cap came before the
    ±3 % width in any seed; two seeds average each end of the interval and keep the fewer pairs. A row with one
    seed from before intervals has no interval at all: never a made-up one."""
    import copy

    records = copy.deepcopy(merged)
    timed = [r for r in records if r["name"].startswith("yolo11n.tea_bud.l1-channel.a0.30.") and "cuda" not in
             r["environment"].get("device", "")]
    assert len(timed) == 2
    for r, (low, high, pairs, capped) in zip(sorted(timed, key=lambda r: r["spec"]["seed"]),
                                              ((1.27, 1.35, 31, False), (1.25, 1.33, 40, True))):
        r["metrics"] |= {"speedup_low": low, "speedup_high": high, "speedup_pairs": pairs, "speedup_capped": capped}
    tea = by_key(records)[("yolo11n", "tea_bud")]
    assert table(tea)[("l1-channel", "30%", "")]["Speed-up"] == "1.30x [1.26, 1.34] ·31p capped"
    timed[1]["metrics"] |= {"speedup_low": None, "speedup_high": None}  # one seed without an interval
    tea = by_key(records)[("yolo11n", "tea_bud")]
    assert table(tea)[("l1-channel", "30%", "")]["Speed-up"] == "1.30x (no CI; IQR 0.09) ·31p capped"


def test_rows_timed_while_busy_are_marked_and_explained(merged, tea):
    busy = row(tea, "l1-channel", target=2.0)
    assert busy.noisy and not row(tea, "l1-channel", 0.5).noisy
    cells = table(tea)[("l1-channel", "2x (achieved 1.96x)", "")]
    assert cells["Latency (ms)"] == "53.90 §" and cells["Speed-up"] == "1.64x (no CI; IQR 0.31) §"
    text = section_text(render(merged, generated=DATE), "yolo11n × tea_bud")
    assert "- § torch timed on a busy machine: l1-channel 2x: busy" in text  # an old record: its flag alone
    assert "§" not in section_text(render(merged, generated=DATE), "yolov8n × buds")


def test_a_busy_extra_runtime_marks_the_row_too(merged):
    records = copy.deepcopy(merged)
    for record in records:
        if record["name"] == "yolo11n.tea_bud.l1-channel.a0.50.s0":
            record["details"]["measure"]["runtimes"]["onnxruntime"]["noisy"] = True
    section = by_key(records)[("yolo11n", "tea_bud")]
    channel = row(section, "l1-channel", 0.5)
    assert channel.noisy_on("onnxruntime") and not channel.noisy_on("torch")
    cells = table(section)[("l1-channel", "50%", "")]
    assert cells["Speed-up onnxruntime"].endswith("§") and not cells["Speed-up"].endswith("§")


def test_extra_runtimes_get_their_own_columns(sections, tea):
    headers, _ = leaderboard.display_table(tea, full=True)
    assert headers[headers.index("Speed-up") + 1:headers.index("★")] == ["Latency onnxruntime (ms)",
                                                                        "Speed-up onnxruntime"]
    cells = table(tea)[("l1-channel", "50%", "")]
    assert (cells["Latency onnxruntime (ms)"], cells["Speed-up onnxruntime"]) == ("15.40", "1.43x (no CI; IQR 0.07)")
    assert table(tea)[("l1-channel", "15%", "")]["Speed-up onnxruntime"] == "—"
    buds_headers, _ = leaderboard.display_table(sections[("yolov8n", "buds")], full=True)
    assert not any("onnxruntime" in h for h in buds_headers)


def test_unstructured_rows_are_marked_and_sit_at_dense_latency(tea):
    unstructured = row(tea, "l1-unstructured", 0.3)
    assert unstructured.unstructured and not row(tea, "l1-channel", 0.3).unstructured
    assert table(tea)[("l1-unstructured", "30%", "")]["Speed-up"] == "0.99x (no CI; IQR 0.04) †"  # as measured
    assert unstructured.placed_latency == pytest.approx(85.0)  # dense latency, whatever its own timing said


# ---------------------------------------------------------------- issue 14: one Pareto rule, no star at 0 mAP
def test_pareto_stars_follow_placed_latency_and_the_intervals(sections, tea):
    starred = {(r.strategy, r.amount) for r in tea.rows if r.pareto}
    # network-slimming ties l1-channel 0.3 in accuracy at the same placed latency: both keep their star
    assert starred == {("l1-channel", 0.15), ("l1-channel", 0.3), ("network-slimming", 0.3), ("l1-channel-iter", 0.5)}
    # the speed-up target row is 1 % faster than the iterative row but less accurate beyond the interval
    assert row(tea, "l1-channel", target=2.0).placed_latency == pytest.approx(85.0 / 1.64)
    assert not row(tea, "l1-channel", target=2.0).pareto
    for key in (("yolov8n", "buds"), ("yolov8n", "buds", "gpu")):
        # dense and its control tie: both starred; the pruned row is faster beyond the tie
        assert {r.strategy for r in sections[key].rows if r.pareto} == {"dense", "dense-ft", "l1-channel"}


def test_a_collapsed_row_is_never_starred_however_fast(tea):
    from prunebench.report.verdicts import collapse_floor

    collapsed = row(tea, "l1-channel", 0.7)
    assert collapsed.placed_latency < min(r.placed_latency for r in tea.rows if r.ok and r is not collapsed)
    assert collapse_floor(collapsed) == pytest.approx(max(0.01, 0.1 * mean(0.452, 0.446)))
    assert collapsed.collapsed and not collapsed.pareto and collapsed.rank is None
    assert table(tea)[("l1-channel", "70%", "")]["★"] == ""
    assert table(tea)[("l1-channel", "70%", "")]["Dominated by"] == "collapsed"


# ---------------------------------------------------------------- issue 17: network slimming that did not slim
def test_sparsity_training_that_did_not_slim_gets_a_footnote(merged, tea):
    assert table(tea)[("network-slimming [1]", "30%", "")]["mAP50-95 [95% CI]"].startswith("41.0 [")
    text = section_text(render(merged, generated=DATE), "yolo11n × tea_bud")
    assert "- [1] network-slimming 30%: sparsity training did not produce near-dead channels (no BatchNorm |γ| fell " \
           "below 0.01): BatchNorm |γ| p10 0.9907 → 0.9906, median 1 → 0.9998 (s 0.01, lr0 0.001, epochs 3)" in text
    records = copy.deepcopy(merged)
    for record in records:
        if "network-slimming" in record["name"]:
            record["details"]["sparsity_training"]["effective"] = True
    assert "sparsity training did not produce" not in render(records, generated=DATE)


# ---------------------------------------------------------------- issue 18: is pruning worth it
def test_dominated_by_names_the_dense_model_of_another_model(merged, tea):
    cells = table(tea)
    # yolo26n's control costs less; 43.9 against this row's 43.9: within the interval, a tie
    assert cells[("l1-unstructured", "30%", "")]["Dominated by"] == "tie: yolo26n dense-ft"
    # no fine-tuning, 38.8: yolo26n's control is better beyond the interval
    assert cells[("l1-unstructured-noft", "30%", "")]["Dominated by"] == "yolo26n dense-ft"
    assert cells[("l1-channel", "15%", "")]["Dominated by"] == "none"  # yolo26n costs less and is worse beyond it
    assert cells[("l1-channel", "30%", "")]["Dominated by"] == "none as cheap"  # every dense model costs more
    assert cells[("dense", "0%", "")]["Dominated by"] == "—"
    text = section_text(render(merged, generated=DATE), "yolo11n × tea_bud")
    assert "- Is pruning worth it (against the dense rows of yolo26n): of 9 pruned rows, 1 beat every dense model " \
           "that costs no more beyond the interval, 5 cost less than all of them (nothing to beat), 1 tie with one " \
           "that costs no more, 1 are dominated" in text
    buds = section_text(render(merged, generated=DATE), "yolov8n × buds")
    assert "Is pruning worth it: no other model has dense rows on buds" in buds


def test_domination_in_the_fixture_without_latency_says_gflops_only(merged):
    records = copy.deepcopy(merged)
    for record in records:
        if record["spec"]["model"]["name"] == "yolo26n":
            record["metrics"]["latency_ms"] = None
            record["metrics"]["speedup_vs_dense"] = None
    section = by_key(records)[("yolo11n", "tea_bud")]
    assert table(section)[("l1-unstructured-noft", "30%", "")]["Dominated by"] == "yolo26n dense-ft (GFLOPs only)"


# ---------------------------------------------------------------- machine formats, folders, errors
def test_csv_has_raw_numbers_and_empty_missing_values(merged):
    rows = list(csv.DictReader(io.StringIO(render(merged, "csv"))))
    control = next(r for r in rows if r["strategy"] == "dense-ft" and r["model"] == "yolo11n")
    assert float(control["map50_95"]) == pytest.approx(0.449) and control["n"] == "2"
    assert json.loads(control["finetune"])["epochs"] == 25 and control["reference"] == "dense"
    assert float(control["map50_95_low"]) < 0.449 < float(control["map50_95_high"])
    assert control["verdict"] == "better" and float(control["delta_map50_95_low"]) > 0
    target = next(r for r in rows if r["target"] == "2.0")
    assert (target["amount"], target["achieved_speedup"], target["noisy_runtimes"]) == ("", "1.96", "torch: busy")
    unstructured = next(r for r in rows if r["strategy"] == "l1-unstructured" and r["model"] == "yolo11n")
    assert unstructured["dominated_by"] == "tie: yolo26n dense-ft" and unstructured["domination"] == "tie"
    assert unstructured["latency_ms_onnxruntime"] == ""
    failed = [r for r in rows if r["status"] == "failed"]
    assert [r["footnotes"] for r in failed] == ["RuntimeError: fine-tuning diverged: loss is nan at epoch 2"]
    assert json.loads(render(merged, "json"))[0].keys() == rows[0].keys()
    assert all(r.keys() == rows[0].keys() for r in rows)  # runtimes' columns in every row


def test_merging_two_folders_gives_each_device_its_own_section(tmp_path):
    first = tmp_path / "laptop"
    shutil.copytree(FIXTURES / "cpu", first)
    path = write([first, FIXTURES / "gpu"], tmp_path / "merged" / "LEADERBOARD.md", plots=False)
    assert path == tmp_path / "merged" / "LEADERBOARD.md"
    text = path.read_text(encoding="utf-8")
    cpu, gpu = section_text(text, "yolov8n × buds", 1), section_text(text, "yolov8n × buds", 2)
    assert "Device: Intel(R) Xeon(R)" in cpu and "Device: NVIDIA H100" in gpu
    full = (tmp_path / "merged" / "LEADERBOARD-full.md").read_text(encoding="utf-8")
    gpu_full = section_text(full, "yolov8n × buds", 2)
    channel = [line for line in gpu_full.splitlines() if "| l1-channel " in line and "30%" in line]
    assert len(channel) == 1 and "| 1.56 " in channel[0]  # the GPU's own latency, in its own table
    assert sorted(p.name for p in first.iterdir()) == ["cells"]  # the inputs are left as they were


def test_several_folders_are_never_rendered_into_one_of_them(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    shutil.copytree(FIXTURES / "cpu", first)
    shutil.copytree(FIXTURES / "gpu", second)
    with pytest.raises(ValueError, match="write their leaderboard to a folder of its own with `-o DIR`"):
        write([first, second], plots=False)
    with pytest.raises(ValueError, match=f"is inside the results folder {first}"):
        write([first, second], first / "sub" / "LEADERBOARD.md", plots=False)
    proc = subprocess.run([sys.executable, "-m", "prunebench", "leaderboard", str(first), str(second), "--no-plots"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1 and "-o DIR" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in first.iterdir()) == ["cells"]
    ok = subprocess.run([sys.executable, "-m", "prunebench", "leaderboard", str(first), str(second), "--no-plots",
                         "-o", str(tmp_path / "both")], capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "both" / "LEADERBOARD.md").is_file() and sorted(p.name for p in first.iterdir()) == ["cells"]


def test_two_suites_rendered_together_keep_every_row_and_compare_costs_at_their_own_input_size():
    """Two results folders of two suites whose cells share names: neither folder's rows supersede the other's
    (a suite's dense-ft and 2x rows were dropped), and a suite run at another input size is not given a GFLOPs
    reduction against the other suite's dense row ("GFLOPs −% −250.6")."""
    records = load("cpu")
    other = copy.deepcopy(records)
    for record in other:
        record["suite"], record["key"] = "other", "other-" + record["key"]
        record["finished_at"] = "2099-01-01T00:00:00+00:00"  # newer: it would have superseded the first suite's
        record["spec"]["evaluation"]["imgsz"] = 320
        for metric in ("gflops", "nonzero_gflops"):
            if isinstance(record["metrics"].get(metric), (int, float)):
                record["metrics"][metric] /= 4  # a quarter of the pixels
    one = {(s.model, s.dataset): s for s in build_sections(records)}[("yolo11n", "tea_bud")]
    both = {(s.model, s.dataset): s for s in build_sections(records + other)}[("yolo11n", "tea_bud")]
    assert sum(len(r.cells) for r in both.rows) == 2 * sum(len(r.cells) for r in one.rows)
    for row in both.rows:
        if row.ok and not row.is_dense and row.reductions.get("gflops") is not None:
            assert row.reductions["gflops"] > -0.5, (row.strategy, row.amount, row.first.imgsz, row.reductions)
    small = [r for r in both.rows if r.ok and r.first.imgsz == 320 and not r.is_dense and r.strategy == "l1-channel"]
    large = {(r.amount, r.target): r for r in one.rows if r.ok and r.strategy == "l1-channel"}
    assert small and all(r.reductions["gflops"] == pytest.approx(large[(r.amount, r.target)].reductions["gflops"])
                         for r in small)


def test_the_same_folder_twice_is_not_counted_twice():
    once, twice = load("cpu"), load("cpu", "cpu")
    assert render(once, generated=DATE) == render(twice, generated=DATE)


def test_two_machines_with_the_same_device_name_are_told_apart_by_hostname():
    records = load("cpu")
    other = json.loads(json.dumps(next(r for r in records if r["key"] == "k8-dense")))
    other["environment"]["hostname"] = "desktop"
    devices = {s.device for s in build_sections(records + [other]) if s.model == "yolov8n"}
    assert devices == {f"{CPU} @ laptop", f"{CPU} @ desktop"}


def test_write_links_plots_and_honours_output_and_format(tmp_path):
    results = tmp_path / "results"
    (results / "cells").mkdir(parents=True)
    for path in (FIXTURES / "cpu" / "cells").glob("yolov8n.buds.*.json"):  # one section: few figures to draw
        shutil.copy(path, results / "cells")
    path = write([results])
    text = path.read_text(encoding="utf-8")
    pngs = sorted((results / "plots").glob("*.png"))
    assert pngs and all(f"](plots/{p.name})" in text for p in pngs)
    board_csv = write([results], fmt="csv", plots=False)
    assert board_csv == results / "LEADERBOARD.csv" and board_csv.read_text().startswith("suite,model,role,dataset,")
    assert not [p for p in results.iterdir() if p.name.startswith(".")]  # no temp files left behind


def test_links_are_relative_to_an_output_elsewhere(tmp_path):
    results = tmp_path / "results"
    (results / "cells").mkdir(parents=True)
    for name in ("yolov8n.buds.dense.a0.00.s0.k8-dense.json", "yolov8n.buds.l1-channel.a0.30.s0.k8-ch30-s0.json"):
        shutil.copy(FIXTURES / "cpu" / "cells" / name, results / "cells")
    board = write([results], tmp_path / "site" / "board.html", fmt="html", plots=True)
    pngs = sorted((results / "plots").glob("*.png"))
    html = board.read_text(encoding="utf-8")
    assert pngs and all(f'<img src="../results/plots/{p.name}"' in html for p in pngs)


def test_user_errors_say_what_and_how_to_fix(tmp_path):
    with pytest.raises(ValueError) as error:
        render([], "markdown")
    assert str(error.value) == "unknown output format 'markdown': use one of github, csv, json, latex, html " \
                               "(e.g. `--format github`)."
    (tmp_path / "cells").mkdir()
    with pytest.raises(ValueError, match=r"no records found in .* run the suite first"):
        write([tmp_path])


def test_no_records_renders_a_hint():
    assert "No records yet" in render([], generated=DATE)


def test_leaderboard_and_compare_import_neither_torch_nor_matplotlib():
    code = ("import sys, prunebench.report.leaderboard, prunebench.report.compare; "
            "print([m for m in ('torch', 'matplotlib', 'ultralytics') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_without_a_dense_row_deltas_and_speedups_are_dashes_and_said_why():
    pruned = [r for r in load("cpu") if r["spec"]["strategy"]["name"] != "dense"]
    section = by_key(pruned)[("yolov8n", "buds")]
    assert all(r.delta.get("map50_95") is None and r.reference is None and r.verdict is None for r in section.rows)
    assert all(r.speedup is not None for r in section.rows if r.ok)  # paired in the cell: still measured
    assert "No dense baseline finished for this model and dataset" in render(pruned, generated=DATE)


def test_speedup_timed_in_the_cell_is_preferred_to_separate_latencies(merged):
    records = copy.deepcopy(merged)
    for record in records:
        if record["name"] == "yolov8n.buds.l1-channel.a0.30.s1":
            record["metrics"]["speedup_vs_dense"] = None  # one seed without pairs: the row falls back
    buds = by_key(records)[("yolov8n", "buds")]
    channel = row(buds, "l1-channel", 0.3)
    assert channel.speedup == pytest.approx(21.8 / mean(15.6, 15.8)) and channel.speedup_iqr is None
    before = by_key(merged)[("yolov8n", "buds")]
    assert row(before, "l1-channel", 0.3).speedup == pytest.approx(mean(1.40, 1.38))


def test_a_record_superseded_on_its_own_machine_is_left_out(merged):
    records = copy.deepcopy(merged)
    newer = next(r for r in records if r["status"] == "ok" and r["spec"]["strategy"]["name"] == "l1-channel")
    older = copy.deepcopy(newer)
    older.update(key="0" * 16, finished_at="2000-01-01T00:00:00+00:00")
    older["metrics"] = dict(older["metrics"], map50_95=0.0)
    on_other_machine = copy.deepcopy(older)
    on_other_machine["environment"] = dict(older["environment"], hostname="elsewhere")
    kept = [r.to_json() for r in without_superseded(as_records(records + [older]))]
    assert older not in kept and newer in kept and len(kept) == len(records)
    # the same stale key from another machine is not superseded by this machine's newer run
    assert on_other_machine in [r.to_json() for r in without_superseded(as_records(records + [on_other_machine]))]


def test_a_reference_timed_in_pairs_with_the_studied_model_is_placed_on_its_footing(merged):
    """Cells are timed minutes apart and a shared machine drifts (here: up to 40 % between two timings of one
    model). A reference's dense rows timed in alternating pairs against the studied model's dense one are placed
    at that model's dense latency over the paired ratio, as the pruned rows are over theirs: a slow moment
    during the reference's own timing no longer decides whether it dominates."""
    def variant(paired: bool):
        records = copy.deepcopy(merged)
        for r in records:
            spec = r["spec"]
            if spec["model"]["name"] == "yolo26n" and spec["strategy"]["name"] == "dense" and "Intel" in str(
                    r["environment"].get("device_name")):
                r["metrics"]["latency_ms"] *= 2  # timed during a slow moment
                if paired:
                    r["metrics"]["speedup_vs_study"] = 85.0 / 70.0  # yolo11n's dense latency / yolo26n's, in pairs
                    r["details"].setdefault("measure", {})["timed_against"] = {"model": "yolo11n"}
        return by_key(records)

    slow, paired = variant(False), variant(True)
    assert row(slow[("yolo26n", "tea_bud")], "dense-ft", 0.0).placed_latency == pytest.approx(140.2, abs=0.2)
    assert row(slow[("yolo11n", "tea_bud")], "l1-unstructured-noft", 0.3).domination.kind == "none as cheap"
    reference = row(paired[("yolo26n", "tea_bud")], "dense-ft", 0.0)
    assert reference.placed_latency == pytest.approx(70.0)
    assert row(paired[("yolo11n", "tea_bud")], "l1-unstructured-noft", 0.3).domination.text == "yolo26n dense-ft"


def test_a_references_dense_row_and_its_control_share_one_place(merged):
    """One architecture, one cost: a reference's plain dense row and its fine-tuned control, each timed in pairs
    against the studied model, sit at one latency from all their pairs pooled, not 3 % apart by their timings'
    noise (which put frontier's yolo26n dense just inside a pruned row's latency tie and its control just out)."""
    records = copy.deepcopy(merged)
    ratios = []
    for r in records:
        spec = r["spec"]
        if spec["model"]["name"] == "yolo26n" and spec["strategy"]["name"] == "dense" and "Intel" in str(
                r["environment"].get("device_name")):
            r["metrics"]["speedup_vs_study"] = 85.0 / (72.0 if ".dense-ft." in r["name"] else 70.0)
            r["details"].setdefault("measure", {})["timed_against"] = {"model": "yolo11n"}
            ratios.append(r["metrics"]["speedup_vs_study"])
    section = by_key(records)[("yolo26n", "tea_bud")]
    dense, control = row(section, "dense", 0.0), row(section, "dense-ft", 0.0)
    assert len(ratios) == 3
    assert dense.placed_latency == control.placed_latency == pytest.approx(85.0 / (sum(ratios) / 3))


def test_a_reference_sections_answer_says_what_its_control_did(merged):
    """A reference is never pruned, so "no pruned row to judge" says nothing: its line judges its control against
    its dense row, as that control is what stands in "Dominated by", and says when the recipe hurt."""
    records = copy.deepcopy(merged)
    for r in records:
        if r["name"].startswith("yolo26n.tea_bud.dense-ft."):
            r["metrics"]["map50_95"] -= 0.2
            boot = r["details"]["bootstrap"]
            boot["map50_95"] = [v - 0.2 for v in boot["map50_95"]]
    section = by_key(records)[("yolo26n", "tea_bud")]
    line = answers.answer(section)
    assert line.startswith("Answer: A reference model, never pruned: dense-ft is worse than dense (Δ mAP50-95 -14.1 [")
    assert line.endswith("(the fine-tuning recipe hurts).")


def test_a_suite_still_being_run_is_marked_partial(merged):
    records = copy.deepcopy(merged)
    for record in records:
        record["details"]["suite_cells"] = 40
    text = render(records, generated=DATE)
    assert text.split("\n")[2].startswith("PARTIAL: cells with an ok record, of those planned: fixture 23 of 40;")
    for record in records:
        record["details"]["suite_cells"] = 23
    assert "PARTIAL" not in render(records, generated=DATE)


def test_a_sparsity_matched_control_names_the_epochs_it_trained_first():
    """Network slimming's control trains the sparsity training's epochs without the penalty before its fine-tuning:
    the header must not say "dense + 15 epochs" for a model that trained 95."""
    recipe = {"epochs": 15, "optimizer": "AdamW", "lr0": 0.0005, "batch": 4, "sparsity": {"epochs": 80, "lr0": 0.01}}
    assert leaderboard.recipe_text(recipe) == ("80 epochs (lr0 0.01, the sparsity training's budget without its "
                                               "penalty), then 15 epochs, AdamW, lr0 0.0005, batch 4")
    assert leaderboard.recipe_text({"epochs": 15, "batch": 4}) == "15 epochs, batch 4"
