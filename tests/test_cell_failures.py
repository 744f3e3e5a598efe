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
                      "nan-weights": "failed", "plugin-bug": "failed"}
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
