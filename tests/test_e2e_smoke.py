"""End to end: `prunebench run suites/smoke.yaml` on CPU (COCO yolo11n on coco128 at 160 px), then resume,
re-measure, the kept models and the leaderboard.

Slow (prunes, fine-tunes, validates real models): a few minutes on 2 cores.
"""

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from prunebench.records.store import cells_dir
from tests.conftest import load_records as load
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
NAMES = {"yolo11n.coco128.dense.a0.00.s0", "yolo11n.coco128.dense-ft.a0.00.s0",
         "yolo11n.coco128.l1-unstructured.a0.30.s0", "yolo11n.coco128.l1-channel.a0.30.s0",
         "yolo11n.coco128.l1-channel.x1.50.s0"}


def test_smoke_suite_runs_every_cell_ok(smoke_run):
    work, results, proc = smoke_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = load(results)
    assert set(records) == NAMES
    for name, record in records.items():
        assert record["status"] == "ok", record["error"]
        metrics = record["metrics"]
        for key in ("map50", "map50_95", "precision", "recall", "params", "nonzero_params", "gflops",
                    "size_fp16_bytes", "latency_ms"):
            assert metrics.get(key) is not None, (name, key)
        assert record["environment"]["device"] == "cpu" and record["environment"]["torch"]
        assert record["environment"]["threads"] == 1  # what CPU timing used, whatever torch's own default
        assert record["details"]["eval_split"] == "val"  # coco128 has no test split


def test_the_dense_model_scores_and_its_control_got_the_same_recipe(smoke_run):
    """A real detector: the smoke cells judge accuracy, not only plumbing."""
    _, results, _ = smoke_run
    records = load(results)
    dense, control = records["yolo11n.coco128.dense.a0.00.s0"], records["yolo11n.coco128.dense-ft.a0.00.s0"]
    assert dense["metrics"]["map50_95"] > 0.2
    assert dense["spec"]["finetune"] is None and control["spec"]["finetune"] is not None
    pruned = records["yolo11n.coco128.l1-unstructured.a0.30.s0"]
    assert control["spec"]["finetune"] == pruned["spec"]["finetune"]
    assert len(control["details"]["loss_curve"]) == len(pruned["details"]["loss_curve"]) == 1
    for record in (control, pruned):  # fp32 on the CPU, said in each training run; no GPU memory measured
        [run] = record["details"]["finetune"]["runs"]
        assert (run["amp"], run["amp_used"], run["autocast_dtype"]) == (False, False, "float32")
        assert "gpu_memory" not in record["details"] and "peak_gpu_memory_mb" not in record["metrics"]


def test_pruning_really_happened_and_survived_finetuning(smoke_run):
    _, results, _ = smoke_run
    records = load(results)
    dense = records["yolo11n.coco128.dense.a0.00.s0"]["metrics"]
    unstructured = records["yolo11n.coco128.l1-unstructured.a0.30.s0"]
    channel = records["yolo11n.coco128.l1-channel.a0.30.s0"]
    # unstructured: same shape, about 30 % of the conv weights zero after fine-tuning (measured on the final model)
    assert unstructured["metrics"]["params"] == dense["params"]
    assert unstructured["metrics"]["nonzero_params"] < 0.75 * dense["params"]
    assert unstructured["details"]["prune_report"]["achieved_sparsity"] == pytest.approx(0.3, abs=0.01)
    assert unstructured["metrics"]["gflops"] == pytest.approx(dense["gflops"], rel=1e-6)
    # 30 % of the weights by magnitude costs a COCO model some accuracy, not all of it (the tutorial's point)
    assert 0.5 * dense["map50_95"] < unstructured["details"]["metrics_before_finetune"]["map50_95"] < dense["map50_95"]
    # structured: fewer parameters and FLOPs in the fine-tuned, measured model
    assert channel["metrics"]["params"] < 0.8 * dense["params"]
    assert channel["metrics"]["gflops"] < 0.8 * dense["gflops"]
    for record in (unstructured, channel):
        assert record["details"]["loss_curve"], "fine-tuning loss curve recorded"
        assert "map50" in record["details"]["metrics_before_finetune"]


def test_a_speed_up_target_is_reached_within_five_percent(smoke_run):
    _, results, _ = smoke_run
    records = load(results)
    dense = records["yolo11n.coco128.dense.a0.00.s0"]["metrics"]["gflops"]
    target = records["yolo11n.coco128.l1-channel.x1.50.s0"]
    report = target["details"]["prune_report"]
    assert target["spec"]["target"] == 1.5 and target["spec"]["amount"] is None
    assert report["within_tolerance"] and report["achieved_speedup"] == pytest.approx(1.5, rel=0.05)
    # the record's own GFLOPs (counted on the fine-tuned model) agree with what the bisection aimed at
    assert dense / target["metrics"]["gflops"] == pytest.approx(1.5, rel=0.05)


def test_every_cell_keeps_a_model_that_yolo_val_scores_as_recorded(smoke_run, tmp_path):
    from prunebench.yolo.checkpoints import allow_own_classes
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    allow_own_classes()  # a channel-pruned model holds prunebench's blocks: run alone, nothing else registers them
    from ultralytics import YOLO

    _, results, _ = smoke_run
    records = load(results)
    for name, record in records.items():
        kept = record["details"]["model_file"]
        path = results / kept["path"]
        assert path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == kept["sha256"], name
    for name in ("yolo11n.coco128.l1-channel.a0.30.s0", "yolo11n.coco128.dense-ft.a0.00.s0"):
        record = records[name]
        path = results / record["details"]["model_file"]["path"]
        yolo = YOLO(str(path))
        assert sum(p.numel() for p in yolo.model.parameters()) == record["metrics"]["params"]  # smaller, as saved
        metrics = yolo.val(data=str(REPO / "data" / "coco128" / "data.yaml"), imgsz=160, batch=16, device="cpu",
                           plots=False, project=str(tmp_path), name=name, verbose=False)
        assert metrics.box.map == pytest.approx(record["metrics"]["map50_95"], abs=1e-3), name
        assert metrics.box.map50 == pytest.approx(record["metrics"]["map50"], abs=1e-3), name


def test_outputs_stay_out_of_the_working_directory(smoke_run):
    work, results, _ = smoke_run
    assert sorted(p.name for p in work.iterdir()) == ["results"]


def test_second_run_does_no_model_work(smoke_run):
    work, results, _ = smoke_run
    before = {p.name: p.read_bytes() for p in cells_dir(results).glob("*.json")}
    proc = run_cli("run", str(REPO / "suites" / "smoke.yaml"), "--results", str(results), "--device", "cpu", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert "ran 0 cells" in proc.stderr and "5 cached" in proc.stderr
    assert before == {p.name: p.read_bytes() for p in cells_dir(results).glob("*.json")}


def test_changed_measurement_settings_re_measure_the_kept_models_without_retraining(smoke_run, tmp_path):
    work, results, _ = smoke_run
    copied = tmp_path / "results"
    shutil.copytree(results, copied)
    # The same suite with one measurement setting changed, beside links to the repository's material, so that its
    # relative paths (part of the spec, hence of the key) read exactly as in suites/smoke.yaml.
    for folder in ("weights", "data"):
        (tmp_path / folder).symlink_to(REPO / folder)
    (tmp_path / "suites").mkdir()
    suite = tmp_path / "suites" / "smoke.yaml"
    suite.write_text((REPO / "suites" / "smoke.yaml").read_text().replace("speedup_pairs: 3, speedup_cap_s: 2",
                                                                             "speedup_pairs: 1, speedup_cap_s: 0.001"))
    before = load(copied)
    proc = run_cli("run", str(suite), "--results", str(copied), "--device", "cpu", "--only", "l1-channel.a0.30",
                   "--dry-run", cwd=tmp_path)
    assert "re-measure" in proc.stdout, proc.stdout
    proc = run_cli("run", str(suite), "--results", str(copied), "--device", "cpu", "--only", "l1-channel.a0.30",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = load(copied)["yolo11n.coco128.l1-channel.a0.30.s0"]
    old = before["yolo11n.coco128.l1-channel.a0.30.s0"]
    assert after["key"] == old["key"] and after["measure_key"] != old["measure_key"]
    assert after["details"]["remeasured_from"]["measure_key"] == old["measure_key"]
    assert "finetune" not in after["timings"] or after["timings"]["finetune"] == old["timings"]["finetune"]
    assert after["details"]["model_file"] == old["details"]["model_file"]  # the same kept model, not retrained
    assert after["details"]["measure"]["paired_speedup"]["pairs"] == 1
    assert after["metrics"]["map50_95"] == pytest.approx(old["metrics"]["map50_95"], abs=1e-6)
    assert json.loads(json.dumps(after["details"]["loss_curve"])) == old["details"]["loss_curve"]


def test_leaderboard_is_rendered_from_the_records(smoke_run):
    _, results, _ = smoke_run
    board = (results / "LEADERBOARD.md").read_text()
    assert "l1-unstructured" in board and "l1-channel" in board and "dense-ft" in board
    assert "1.5x" in board
    assert "synthetic" not in board.lower()


def test_records_name_the_plan_and_a_leaderboard_short_of_it_says_partial(smoke_run, tmp_path):
    from prunebench.report.leaderboard import write

    _, results, _ = smoke_run
    assert all(r["details"]["suite_cells"] == len(NAMES) for r in load(results).values())
    assert "PARTIAL" not in (results / "LEADERBOARD.md").read_text(), "every cell is in"
    copied = tmp_path / "results"
    shutil.copytree(results / "cells", copied / "cells")
    [dropped] = (copied / "cells").glob("yolo11n.coco128.l1-channel.x1.50.s0.*.json")
    dropped.unlink()
    board = write([copied], plots=False).read_text()
    assert "PARTIAL: cells with an ok record, of those planned: smoke 4 of 5;" in board
    assert board.index("PARTIAL") < board.index("## yolo11n"), "the mark heads the leaderboard"
