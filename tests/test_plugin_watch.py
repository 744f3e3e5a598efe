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
