"""Failures inside real cells (out of memory, NaN loss while fine-tuning, a plugin's bug) are
recorded as failed cells with the error and a hint; the other cells still run; the exit status is 1."""

from pathlib import Path

import pytest

from tests.conftest import TINY_MODEL_AND_DATA, load_records, run_cli

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

SUITE = "name: faults\n" + TINY_MODEL_AND_DATA + """\
strategies:
  - {name: oom, amounts: [0.5]}
  - {name: nan-weights, amounts: [0.5]}
  - {name: plugin-bug, amounts: [0.5]}
  - {name: prunes-nothing, amounts: [0.3]}
  - {name: l1-unstructured, amounts: [0.5]}
seeds: [0]
finetune: {epochs: 1, lr0: 0.001}
evaluation:
  imgsz: 160
  batch: 16
  device: cpu
  measure: {latency: false}
"""


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("faults")
    (work / "suite.yaml").write_text(SUITE)
    proc = run_cli("--plugins-dir", str(REPO / "tests" / "plugins" / "faulty"), "run", "suite.yaml", cwd=work)
    return work / "results" / "faults", proc


def test_failed_cells_are_recorded_and_the_others_run(faulty_run):
    results, proc = faulty_run
    assert proc.returncode == 1, proc.stderr[-3000:]
    records = load_records(results)
    status = {name.split(".")[2]: record["status"] for name, record in records.items()}
    assert status == {"dense": "ok", "dense-ft": "ok", "l1-unstructured": "ok", "oom": "failed",
                      "nan-weights": "failed", "plugin-bug": "failed", "prunes-nothing": "ok"}
    assert "3 failed" in proc.stderr and "Traceback" not in proc.stderr


def test_out_of_memory_says_what_to_lower(faulty_run):
    results, _ = faulty_run
    error = load_records(results)["yolo11n.coco128.oom.a0.50.s0"]["error"]
    assert error["type"] == "OutOfMemoryError" and "Tried to allocate 20.00 GiB" in error["message"]
    assert "evaluation.batch" in error["hint"] and "finetune.batch" in error["hint"]


def test_nan_loss_stops_fine_tuning_with_a_clear_error(faulty_run):
    results, _ = faulty_run
    record = load_records(results)["yolo11n.coco128.nan-weights.a0.50.s0"]
    assert record["error"]["type"] == "FloatingPointError"
    assert "fine-tuning loss became NaN/Inf at epoch 1" in record["error"]["message"]
    assert "finetune.lr0" in record["error"]["hint"]
    assert "finetune" in record["timings"], "it failed in fine-tuning, not before"


def test_a_plugin_bug_is_recorded_with_its_traceback(faulty_run):
    results, _ = faulty_run
    error = load_records(results)["yolo11n.coco128.plugin-bug.a0.50.s0"]["error"]
    assert error["type"] == "KeyError" and "faulty.py" in error["traceback"]
    assert "plugin-bug" in error["hint"]


def test_a_strategy_that_removed_nothing_is_flagged_and_never_starred(faulty_run):
    """It finishes ok (nothing failed), but the run measured the model: nothing was removed, its claimed
    achieved_sparsity is replaced by the measured one, and the leaderboard notes it and never stars it."""
    results, _ = faulty_run
    records = load_records(results)
    record = records["yolo11n.coco128.prunes-nothing.a0.30.s0"]
    delivered = record["details"]["delivered"]
    assert delivered["flagged"] and delivered["removed_nothing"]
    assert delivered["why"].startswith("asked 30%, removed nothing: ")
    report = record["details"]["prune_report"]
    assert report["achieved_sparsity"] < 0.05 and report["reported_by_strategy"] == {"achieved_sparsity": 0.3}
    honest = records["yolo11n.coco128.l1-unstructured.a0.50.s0"]["details"]["delivered"]
    assert not honest["flagged"] and abs(honest["measured"] - 0.5) < 0.01
    board = (results / "LEADERBOARD-full.md").read_text()
    [line] = [row for row in board.splitlines() if "| prunes-nothing" in row]
    assert "★" not in line
    assert f"prunes-nothing 30%: not what was asked ({delivered['why']}); never starred or ranked." in board
