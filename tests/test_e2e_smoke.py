"""End to end: `prunebench run suites/smoke.yaml` on CPU, then resume, then the leaderboard.

Slow (trains a tiny baseline, prunes, fine-tunes, validates): about two minutes on 2 cores.
The baseline lands in the session's cache, where the other slow tests find it.
"""

from pathlib import Path

import pytest

from prunebench.results import cells_dir

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


from tests.conftest import load_records as load
from tests.conftest import run_cli


def test_smoke_suite_runs_every_cell_ok(smoke_run):
    work, results, proc = smoke_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = load(results)
    assert set(records) == {"yolov8n.buds-tiny.dense.a0.00.s0", "yolov8n.buds-tiny.l1-unstructured.a0.50.s0",
                            "yolov8n.buds-tiny.l1-channel.a0.50.s0"}
    for name, record in records.items():
        assert record["status"] == "ok", record["error"]
        metrics = record["metrics"]
        for key in ("map50", "map50_95", "precision", "recall", "params", "nonzero_params", "gflops",
                    "size_fp16_bytes", "latency_ms"):
            assert metrics.get(key) is not None, (name, key)
        assert record["environment"]["device"] == "cpu" and record["environment"]["torch"]


def test_pruning_really_happened_and_survived_finetuning(smoke_run):
    _, results, _ = smoke_run
    records = load(results)
    dense = records["yolov8n.buds-tiny.dense.a0.00.s0"]["metrics"]
    unstructured = records["yolov8n.buds-tiny.l1-unstructured.a0.50.s0"]
    channel = records["yolov8n.buds-tiny.l1-channel.a0.50.s0"]
    # unstructured: same shape, about half the conv weights zero after fine-tuning (measured on the final model)
    assert unstructured["metrics"]["params"] == dense["params"]
    assert unstructured["metrics"]["nonzero_params"] < 0.6 * dense["params"]
    assert unstructured["details"]["prune_report"]["achieved_sparsity"] == pytest.approx(0.5, abs=0.01)
    assert unstructured["metrics"]["gflops"] == pytest.approx(dense["gflops"], rel=1e-6)
    # structured: fewer parameters and FLOPs in the fine-tuned, measured model
    assert channel["metrics"]["params"] < 0.5 * dense["params"]
    assert channel["metrics"]["gflops"] < 0.6 * dense["gflops"]
    for record in (unstructured, channel):
        assert record["details"]["loss_curve"], "fine-tuning loss curve recorded"
        assert "map50" in record["details"]["metrics_before_finetune"]


def test_outputs_stay_out_of_the_working_directory(smoke_run):
    work, results, _ = smoke_run
    assert sorted(p.name for p in work.iterdir()) == ["results"]


def test_second_run_does_no_model_work(smoke_run):
    work, results, _ = smoke_run
    before = {p.name: p.read_bytes() for p in cells_dir(results).glob("*.json")}
    proc = run_cli("run", str(REPO / "suites" / "smoke.yaml"), "--results", str(results), "--device", "cpu", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert "ran 0 cells" in proc.stderr and "3 cached" in proc.stderr
    assert before == {p.name: p.read_bytes() for p in cells_dir(results).glob("*.json")}


def test_leaderboard_is_rendered_from_the_records(smoke_run):
    _, results, _ = smoke_run
    board = (results / "LEADERBOARD.md").read_text()
    assert "l1-unstructured" in board and "l1-channel" in board and "dense" in board
    assert "synthetic" in board.lower()
