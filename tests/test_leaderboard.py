"""Leaderboards from fixed records (tests/fixtures/records): goldens per format, plus the rules a reader
relies on, checked one by one so a regenerated golden cannot quietly break them."""

import csv
import io
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from prunebench.report import leaderboard
from prunebench.report.leaderboard import render, write
from prunebench.report.rows import build_sections, pareto_front, without_superseded
from prunebench.results import iter_records
from tests.golden import check_golden

FIXTURES = Path(__file__).parent / "fixtures" / "records"
DATE = "2025-01-31"
PLOT_LINKS = ["plots/yolov8n__buds__accuracy_vs_amount.png", "plots/extra.png"]


def load(*folders):
    return [record for _, record in iter_records([FIXTURES / f for f in folders])]


@pytest.fixture(scope="module")
def merged():
    return load("cpu", "gpu")


@pytest.fixture(scope="module")
def sections(merged):
    return {(s.model, s.dataset): s for s in build_sections(merged)}


def row(section, strategy, amount, device_part="cpu", ok=True):
    [found] = [r for r in section.rows if r.strategy == strategy and r.amount == amount and device_part in r.device
               and r.ok == ok]
    return found


@pytest.mark.parametrize("fmt, ext", [("github", "md"), ("csv", "csv"), ("json", "json"), ("latex", "tex"),
                                      ("html", "html")])
def test_render_matches_golden(merged, fmt, ext):
    check_golden(f"leaderboard.{ext}", render(merged, fmt, suite="fixture", generated=DATE, plot_links=PLOT_LINKS))


def test_header_names_suite_dataset_devices_and_date(merged):
    text = render(merged, suite="tea-study", generated=DATE)
    buds, tea = text.split("## yolov8n × buds")[1], text.split("## yolov5n × tea")[1].split("## ")[0]
    assert "Suite: tea-study" not in buds  # a section says the suite its records came from
    assert "Suite: fixture" in buds and f"Date: {DATE}" in buds
    assert "Dataset: buds (SYNTHETIC stand-in data" in buds and "SYNTHETIC" not in tea
    assert "Devices: Intel(R) Xeon(R) CPU @ 2.20GHz (cpu): 2 threads" in buds
    assert "NVIDIA H100 80GB HBM3 (cuda:0): 16 threads, torch 2.14.1, CUDA 12.8" in buds
    assert text.startswith("# prunebench leaderboard: tea-study\n")


def test_dense_rows_come_first_then_amounts_then_accuracy(sections):
    rows = sections[("yolov8n", "buds")].rows
    assert [r.strategy for r in rows[:2]] == ["dense", "dense"]
    pruned = [r for r in rows[2:] if r.ok]
    keys = [(r.amount, r.device, -r.mean("map50_95")) for r in pruned]
    assert keys == sorted(keys)
    assert [(r.strategy, r.rank) for r in pruned if r.amount == 0.6] == [
        ("l1-unstructured", 1), ("l1-channel", 2), ("random-unstructured", 3)]
    assert not rows[-1].ok and rows[-1].rank is None  # the failed seed sorts last within its amount


def test_several_seeds_give_mean_and_sample_std(sections):
    dense = row(sections[("yolov8n", "buds")], "dense", 0.0)
    mean, std = dense.stats["map50_95"]
    assert len(dense.cells) == 2
    assert mean == pytest.approx(statistics.fmean([0.629, 0.621]))
    assert std == pytest.approx(statistics.stdev([0.629, 0.621]))
    headers, cells = leaderboard.display_table(sections[("yolov8n", "buds")])
    first = dict(zip(headers, cells[0]))
    assert first["mAP50-95"] == "62.5 ± 0.6" and first["n"] == "2"


def test_deltas_are_points_against_the_same_devices_dense(sections):
    section = sections[("yolov8n", "buds")]
    channel_cpu, channel_gpu = row(section, "l1-channel", 0.3), row(section, "l1-channel", 0.3, "cuda")
    cpu_dense = statistics.fmean([0.629, 0.621])
    assert channel_cpu.delta["map50_95"] == pytest.approx(statistics.fmean([0.58, 0.59]) - cpu_dense)
    assert channel_gpu.delta["map50_95"] == pytest.approx(0.58 - 0.629)
    assert channel_cpu.speedup == pytest.approx(statistics.fmean([43.6, 44.0]) / statistics.fmean([31.0, 31.4]))
    assert channel_gpu.speedup == pytest.approx(2.10 / 1.70)


def test_failed_cells_are_rows_with_a_footnote_of_the_errors_first_line(merged):
    text = render(merged, generated=DATE)
    buds = text.split("## yolov8n × buds")[1]
    failed = [line for line in buds.splitlines() if "failed [1]" in line]
    assert len(failed) == 1 and "l1-channel" in failed[0] and "60%" in failed[0]
    assert "- [1] IndexError: index 384 is out of bounds for dimension 0 with size 256\n" in buds
    assert "second line of the message" not in text
    tea = text.split("## yolov5n × tea")[1].split("## yolov8n")[0]
    assert "- [1] RuntimeError: fine-tuning diverged: loss is nan at epoch 2" in tea


def test_missing_metrics_show_a_dash_and_no_speedup_is_invented(sections):
    headers, cells = leaderboard.display_table(sections[("yolov8n", "buds")])
    [random] = [dict(zip(headers, c)) for c in cells if c[1] == "random-unstructured"]
    assert random["GFLOPs"] == "—" and random["Latency (ms)"] == "—"
    assert random["Speed-up"] == "— †"  # no latency: no speed-up, whatever was removed
    assert random["mAP50"] == "30.0"


def test_unstructured_rows_are_marked_and_explained(merged, sections):
    section = sections[("yolov8n", "buds")]
    marked = {(r.strategy, r.amount) for r in section.rows if r.unstructured}
    assert marked == {("l1-unstructured", 0.3), ("l1-unstructured", 0.6), ("random-unstructured", 0.6)}
    assert row(section, "l1-unstructured", 0.3).speedup == pytest.approx(43.8 / 44.0)  # measured, about 1.0x
    text = render(merged, generated=DATE)
    assert "† Unstructured pruning zeros weights inside tensors of unchanged shape" in text
    assert "†" not in text.split("## yolov5n × tea")[1].split("## yolov8n")[0]  # no unstructured row there


def test_pareto_mark_follows_latency_and_accuracy(sections):
    section = sections[("yolov8n", "buds")]
    on_front = {(r.strategy, r.amount, "cuda" in r.device) for r in section.rows if r.pareto}
    assert on_front == {("dense", 0.0, False), ("l1-channel", 0.3, False), ("l1-channel", 0.6, False),
                        ("dense", 0.0, True), ("l1-channel", 0.3, True)}


def test_pareto_front_rules():
    # (cost, gain): the third is dominated by the first; equal points are both kept
    assert pareto_front([(1, 5), (2, 6), (2, 4), (3, 6), (1, 5)]) == [True, True, False, False, True]
    assert pareto_front([]) == []
    # a collapsed model 3 % faster than dense is timing noise under a 5 % tie, not a frontier point
    assert pareto_front([(26.4, 0.336), (25.7, 0.0)]) == [True, True]
    assert pareto_front([(26.4, 0.336), (25.7, 0.0)], cost_tie=0.05) == [True, False]
    assert pareto_front([(26.4, 0.336), (20.0, 0.1)], cost_tie=0.05) == [True, True]


def test_every_column_is_explained(merged):
    text = render(merged, generated=DATE)
    headers, _ = leaderboard.display_table(build_sections(merged)[1])
    notes = text.split("## Columns")[1]
    for header in headers:
        if header not in ("Strategy", "Device"):
            assert f"- {header}" in notes or f", {header}" in notes, header


def test_csv_has_raw_numbers_and_empty_missing_values(merged):
    rows = list(csv.DictReader(io.StringIO(render(merged, "csv"))))
    dense_cpu = next(r for r in rows if r["strategy"] == "dense" and r["model"] == "yolov8n" and "cpu" in r["device"])
    assert float(dense_cpu["map50_95"]) == pytest.approx(0.625) and dense_cpu["n"] == "2"
    random = next(r for r in rows if r["strategy"] == "random-unstructured")
    assert random["latency_ms"] == "" and random["speedup"] == ""
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["error"] for r in failed} == {"IndexError: index 384 is out of bounds for dimension 0 with size 256",
                                            "RuntimeError: fine-tuning diverged: loss is nan at epoch 2"}
    assert json.loads(render(merged, "json"))[0].keys() == rows[0].keys()


def test_merging_two_folders_keeps_both_devices(tmp_path):
    first = tmp_path / "laptop"
    shutil.copytree(FIXTURES / "cpu", first)
    path = write([first, FIXTURES / "gpu"], plots=False)
    assert path == first / "LEADERBOARD.md"
    text = path.read_text(encoding="utf-8")
    buds = text.split("## yolov8n × buds")[1]
    dense_rows = [line for line in buds.splitlines() if "dense (baseline)" in line]
    assert len(dense_rows) == 2
    assert any("Intel(R) Xeon(R)" in line for line in dense_rows) and any("H100" in line for line in dense_rows)
    # the same key on two machines: two rows, each with its own latency
    channel = [line for line in buds.splitlines() if "| l1-channel " in line and "30%" in line]
    assert len(channel) == 2 and any("| 1.70 " in line for line in channel)
    assert not (first / "plots").exists() and sorted(p.name for p in first.iterdir()) == ["LEADERBOARD.md", "cells"]


def test_the_same_folder_twice_is_not_counted_twice():
    once, twice = load("cpu"), load("cpu", "cpu")
    assert render(once, generated=DATE) == render(twice, generated=DATE)


def test_two_machines_with_the_same_device_name_are_told_apart_by_hostname():
    records = load("cpu")
    other = json.loads(json.dumps(next(r for r in records if r["key"] == "k-dense-s0")))
    other["environment"]["hostname"] = "desktop"
    devices = {r.device for r in build_sections(records + [other])[1].rows}
    assert devices == {"Intel(R) Xeon(R) CPU @ 2.20GHz (cpu) @ laptop",
                       "Intel(R) Xeon(R) CPU @ 2.20GHz (cpu) @ desktop"}


def test_write_links_plots_and_honours_output_and_format(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURES / "cpu", results)
    path = write([results])
    text = path.read_text(encoding="utf-8")
    pngs = sorted((results / "plots").glob("*.png"))
    assert pngs and all(f"](plots/{p.name})" in text for p in pngs)
    board_csv = write([results], fmt="csv", plots=False)
    assert board_csv == results / "LEADERBOARD.csv" and board_csv.read_text().startswith("suite,model,dataset,")
    assert not [p for p in results.iterdir() if p.name.startswith(".")]  # no temp files left behind


def test_links_are_relative_to_an_output_elsewhere(tmp_path):
    results = tmp_path / "results"
    (results / "cells").mkdir(parents=True)
    for name in ("yolov5n.tea.dense.a0.00.s0.k-v5-dense.json", "yolov8n.buds.dense.a0.00.s0.k-dense-s0.json",
                 "yolov8n.buds.l1-channel.a0.60.s0.k-chan-60-s0.json"):  # a few cells: few figures to draw
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


def test_without_a_dense_baseline_deltas_and_speedups_are_dashes_and_said_why():
    pruned = [r for r in load("cpu") if r["spec"]["strategy"]["name"] != "dense"]
    section = build_sections(pruned)[1]
    assert all(r.delta.get("map50_95") is None and r.speedup is None for r in section.rows)
    assert "No dense baseline finished for this model and dataset" in render(pruned, generated=DATE)


def test_speedup_timed_in_the_cell_is_preferred_to_separate_latencies(merged):
    import copy

    records = copy.deepcopy(merged)
    paired = [r for r in records if r["status"] == "ok" and r["spec"]["strategy"]["name"] == "l1-channel"
              and r["spec"]["amount"] == 0.3 and r["environment"]["device"] == "cpu"]
    assert paired, "the fixture has l1-channel 0.3 cells on cpu"
    for i, record in enumerate(paired):
        record["metrics"]["speedup_vs_dense"] = 1.5 + 0.1 * i
    section = {(s.model, s.dataset): s for s in build_sections(records)}[("yolov8n", "buds")]
    expected = statistics.mean(1.5 + 0.1 * i for i in range(len(paired)))
    assert row(section, "l1-channel", 0.3).speedup == pytest.approx(expected)
    # rows without the paired figure keep the ratio of separate latencies
    before = {(s.model, s.dataset): s for s in build_sections(merged)}[("yolov8n", "buds")]
    assert row(section, "l1-channel", 0.6).speedup == pytest.approx(row(before, "l1-channel", 0.6).speedup)
    assert row(before, "l1-channel", 0.3).speedup != pytest.approx(expected)


def test_a_record_superseded_on_its_own_machine_is_left_out(merged):
    import copy

    records = copy.deepcopy(merged)
    newer = next(r for r in records if r["status"] == "ok" and r["spec"]["strategy"]["name"] == "l1-channel")
    older = copy.deepcopy(newer)
    older.update(key="0" * 16, finished_at="2000-01-01T00:00:00+00:00")
    older["metrics"] = dict(older["metrics"], map50_95=0.0)
    on_other_machine = copy.deepcopy(older)
    on_other_machine["environment"] = dict(older["environment"], hostname="elsewhere")
    kept = without_superseded(records + [older])
    assert older not in kept and newer in kept and len(kept) == len(records)
    # the same stale key from another machine is not superseded by this machine's newer run
    assert on_other_machine in without_superseded(records + [on_other_machine])
