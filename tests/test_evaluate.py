"""prunebench.yolo.evaluate: Ultralytics' DetectionValidator on a copy; the documented result, nothing written elsewhere."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.test_training import TINY_IMGSZ, tiny_model, write_tiny_dataset, zero_smallest_half

CURVE_KEYS = {"confidence", "precision", "recall", "f1"}


@pytest.fixture(scope="module")
def two_class_data(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("two-class"), names=("bud", "leaf"))


def run_evaluate(model, data_yaml, work_dir):
    from prunebench.yolo.evaluate import evaluate

    return evaluate(model, data_yaml, imgsz=TINY_IMGSZ, batch=4, device="cpu", work_dir=work_dir)


@pytest.mark.slow
def test_evaluate_returns_the_documented_result_and_leaves_the_model_alone(two_class_data, tmp_path):
    import torch

    model = tiny_model(nc=2)  # imports Ultralytics through prunebench.yolo.env first
    from ultralytics.nn.modules import Conv

    zero_smallest_half(model)
    model.eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    zeros = sum(int((p == 0).sum()) for p in model.parameters())
    modules = [type(m).__name__ for m in model.modules()]
    cwd_before = set(os.listdir("."))

    result = run_evaluate(model, two_class_data, tmp_path / "val")

    assert set(result) == {"metrics", "per_class_ap", "curves", "speed"}
    assert set(result["metrics"]) == {"precision", "recall", "map50", "map50_95"}
    assert all(0.0 <= v <= 1.0 for v in result["metrics"].values())
    assert set(result["per_class_ap"]) == {"bud", "leaf"}
    assert all(set(ap) == {"ap50", "ap50_95"} for ap in result["per_class_ap"].values())
    assert set(result["curves"]) == CURVE_KEYS
    assert result["curves"]["confidence"] == [round(i / 100, 4) for i in range(101)]
    assert all(len(result["curves"][k]) == 101 for k in CURVE_KEYS)
    assert set(result["speed"]) == {"preprocess", "inference", "postprocess"} and result["speed"]["inference"] > 0

    # The validator fuses Conv+BN in place; it only ever saw a copy.
    assert [type(m).__name__ for m in model.modules()] == modules
    assert all(hasattr(m, "bn") for m in model.modules() if isinstance(m, Conv))
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert sum(int((p == 0).sum()) for p in model.parameters()) == zeros
    # Nothing written outside work_dir, and no plots in it.
    assert set(os.listdir(".")) == cwd_before
    assert not list((tmp_path / "val").rglob("*.png"))


@pytest.mark.slow
def test_single_class_has_no_per_class_table(tmp_path):
    data_yaml = write_tiny_dataset(tmp_path / "one-class", names=("bud",), train=1, val=4)
    result = run_evaluate(tiny_model(nc=1), data_yaml, tmp_path / "val")
    assert result["per_class_ap"] == {}
    assert set(result["metrics"]) == {"precision", "recall", "map50", "map50_95"}


def test_confidence_curves_are_class_means_sampled_at_101_thresholds():
    import numpy as np

    from prunebench.yolo.evaluate import confidence_curves

    px = np.linspace(0, 1, 1000)
    box = SimpleNamespace(px=px, p_curve=np.stack([px, 1 - px]), r_curve=np.stack([px, px]),
                          f1_curve=np.stack([px ** 2, px ** 2]))
    curves = confidence_curves(box)
    assert curves["precision"] == [0.5] * 101  # mean of x and 1 - x
    assert curves["recall"] == curves["confidence"]
    assert curves["f1"][50] == 0.25 and curves["f1"][100] == 1.0


def test_confidence_curves_without_any_labelled_class_are_zero():
    import numpy as np

    from prunebench.yolo.evaluate import confidence_curves

    empty = np.zeros((0, 1000))
    curves = confidence_curves(SimpleNamespace(px=np.linspace(0, 1, 1000), p_curve=empty, r_curve=empty,
                                               f1_curve=empty))
    assert curves["precision"] == curves["recall"] == curves["f1"] == [0.0] * 101
