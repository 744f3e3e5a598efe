"""compare: cells matched by what was run (not by key), changes above the threshold shown, those below hidden.

Fixtures: tests/fixtures/records/cpu and cpu-v2 (the same suite re-run by a newer code version: every key
differs; l1-channel 30 % seed 0 lost 3.8 mAP50 points and got 16 % slower; the dense seed 0 latency moved
0.2 %; random-unstructured was dropped and l1-channel 90 % added).
"""

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from prunebench.report.compare import compare
from tests.golden import check_golden

FIXTURES = Path(__file__).parent / "fixtures" / "records"
CPU, CPU_V2, GPU = FIXTURES / "cpu", FIXTURES / "cpu-v2", FIXTURES / "gpu"


def table_rows(text):
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| Result")]


def test_compare_matches_golden():
    check_golden("compare.md", compare(CPU, CPU_V2).replace(str(FIXTURES), "FIXTURES"))


def test_cells_match_by_spec_not_by_key():
    text = compare(CPU, CPU_V2)
    assert "Cells matched: 11; only in A: 1; only in B: 1." in text
    assert "only in A: yolov8n.buds.random-unstructured.a0.60.s0 (" in text
    assert "only in B: yolov8n.buds.l1-channel.a0.90.s0 (" in text


def test_change_above_threshold_is_shown_and_below_is_hidden():
    rows = table_rows(compare(CPU, CPU_V2))
    assert len(rows) == 3
    shown = {(cells[1], cells[4], cells[5], cells[6], cells[7]) for cells in (r.split("|") for r in rows)}
    assert (" worse    ", " mAP50 (%)               ", " 85.0  ", " 81.2  ", " -3.8 pts       ") in shown
    assert any("latency (ms)" in r and "+16.1% (x1.16)" in r and "worse" in r for r in rows)
    # dense seed 0: 43.6 -> 43.7 ms is 0.23 %, under the 1 % threshold
    assert not any("dense" in r for r in rows)
    loose = table_rows(compare(CPU, CPU_V2, threshold=0.001))
    assert any("dense.a0.00.s0" in r and "latency (ms)" in r and "+0.2% (x1.00)" in r for r in loose)
    strict = table_rows(compare(CPU, CPU_V2, threshold=0.2))
    assert strict == []


def test_accuracy_threshold_is_absolute_points():
    # 3.8 points: shown at 0.03 (3 points), hidden at 0.04 (4 points)
    assert any("mAP50 (%)" in r for r in table_rows(compare(CPU, CPU_V2, threshold=0.03)))
    assert not any("mAP50 (%)" in r for r in table_rows(compare(CPU, CPU_V2, threshold=0.04)))


def test_a_cell_that_starts_failing_is_always_shown(tmp_path):
    b = tmp_path / "b"
    shutil.copytree(CPU_V2, b)
    path = next((b / "cells").glob("yolov8n.buds.l1-unstructured.a0.30.s1.*.json"))
    record = json.loads(path.read_text())
    record.update(status="failed", metrics={}, error={"type": "MemoryError", "message": "out of memory\nmore",
                                                      "traceback": "..."})
    path.write_text(json.dumps(record))
    rows = table_rows(compare(CPU, b, threshold=10))
    assert len(rows) == 1
    assert "| failed " in rows[0] and "l1-unstructured.a0.30.s1" in rows[0]
    assert "MemoryError: out of memory |" in rows[0]  # the first line of the error only
    fixed = table_rows(compare(b, CPU, threshold=10))
    assert len(fixed) == 1 and "| fixed " in fixed[0]


def test_different_devices_pair_across_and_say_so():
    text = compare(CPU, GPU, metrics=("latency_ms",))
    assert "Cells matched: 3; only in A: 9; only in B: 0." in text
    rows = table_rows(text)
    assert len(rows) == 3
    assert all("Intel(R) Xeon(R) CPU @ 2.20GHz (cpu) -> NVIDIA H100 80GB HBM3 (cuda:0)" in r and "better" in r
               for r in rows)


def test_machine_formats():
    data = json.loads(compare(CPU, CPU_V2, fmt="json"))
    assert data["matched"] == 11 and data["only_in_b"] == ["yolov8n.buds.l1-channel.a0.90.s0 (Intel(R) Xeon(R) "
                                                           "CPU @ 2.20GHz (cpu))"]
    [change] = [c for c in data["changes"] if c["metric"] == "map50"]
    assert (change["a"], change["b"], change["result"]) == (0.85, 0.812, "worse")
    rows = list(csv.DictReader(io.StringIO(compare(CPU, CPU_V2, fmt="csv"))))
    assert [r["metric"] for r in rows] == ["map50", "latency_ms", "e2e_latency_ms"]


def test_identical_folders_show_no_change():
    text = compare(CPU, CPU)
    assert "Cells matched: 12; only in A: 0; only in B: 0." in text and "No change above the threshold." in text


def test_user_errors(tmp_path):
    with pytest.raises(ValueError) as error:
        compare(CPU, CPU_V2, metrics=("map", "latency_ms"))
    assert str(error.value).startswith("unknown metric(s) 'map' for compare: choose from map50, map50_95,")
    with pytest.raises(ValueError, match=r"threshold -0.1 is negative: use 0 or more"):
        compare(CPU, CPU_V2, threshold=-0.1)
    with pytest.raises(ValueError, match=r"unknown output format 'latex': use one of github, csv, json"):
        compare(CPU, CPU_V2, fmt="latex")
    with pytest.raises(ValueError, match=r"no records found in .*: compare needs two results folders"):
        compare(CPU, tmp_path)
