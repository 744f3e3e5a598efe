"""Plugins watched: a model with non-finite weights after pruning (or fine-tuning) fails its cell with that reason,
instead of being evaluated to mAP 0 and recorded as ok; a cell past its time limit fails with that reason."""

from pathlib import Path

import pytest

from tests.conftest import TINY_MODEL_AND_DATA, load_records, run_cli

REPO = Path(__file__).resolve().parents[1]


def test_check_finite_names_the_tensors():
    import torch

    from prunebench.yolo.finite import NonFiniteWeights, check_finite

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    check_finite(model, "pruning")
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] = float("nan")
        model[1].running_var[1] = float("inf")
    with pytest.raises(NonFiniteWeights, match=r"after pruning by x: 0.weight \(1 values\), 1.running_var \(1 values\)"):
        check_finite(model, "pruning by x")


@pytest.mark.slow
def test_a_strategy_writing_nan_weights_without_fine_tuning_fails_its_cell(tmp_path):
    (tmp_path / "suite.yaml").write_text("name: nan\n" + TINY_MODEL_AND_DATA + """\
strategies:
  - {name: nan-weights, amounts: [0.5]}
seeds: [0]
finetune: {epochs: 0}
evaluation: {imgsz: 64, device: cpu, measure: {latency: false}}
""")
    proc = run_cli("--plugins-dir", str(REPO / "tests" / "plugins" / "faulty"), "run", "suite.yaml", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    record = load_records(tmp_path / "results" / "nan")["yolo11n.coco128.nan-weights.a0.50.s0"]
    assert record["status"] == "failed" and record["error"]["type"] == "NonFiniteWeights"
    assert "NaN or infinite weights after pruning" in record["error"]["message"]


def test_the_time_limit_interrupts_a_block_that_overruns():
    import time

    from prunebench.run.time_limit import CellTimeLimit, time_limit

    with pytest.raises(CellTimeLimit, match="time limit of 0.2 s"):
        with time_limit(0.2):
            time.sleep(30)
    with time_limit(None):  # no limit: nothing armed
        time.sleep(0.01)


@pytest.mark.slow
def test_a_strategy_that_hangs_fails_its_cell_at_the_time_limit_and_the_limit_is_recorded(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "sleepy.py").write_text(
        "import time\nfrom prunebench import Strategy, hookimpl\n\n"
        "class Sleepy(Strategy):\n    name = 'sleepy'\n\n    def prune(self, model, amount, ctx):\n"
        "        time.sleep(3600)\n\n@hookimpl\ndef register_strategies(register):\n    register(Sleepy)\n")
    (tmp_path / "suite.yaml").write_text("name: hang\n" + TINY_MODEL_AND_DATA + """\
strategies:
  - {name: sleepy, amounts: [0.5]}
seeds: [0]
finetune: {epochs: 0}
cell_time_limit: 60
evaluation: {imgsz: 64, device: cpu, measure: {latency: false}}
""")
    proc = run_cli("--plugins-dir", str(plugins), "run", "suite.yaml", cwd=tmp_path, timeout=600)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    records = load_records(tmp_path / "results" / "hang")
    record = records["yolo11n.coco128.sleepy.a0.50.s0"]
    assert record["error"]["type"] == "CellTimeLimit" and "time limit of 60 s" in record["error"]["message"]
    assert record["details"]["time_limit"] == {"seconds": 60.0, "enforced": True}
    assert records["yolo11n.coco128.dense.a0.00.s0"]["status"] == "ok"
