"""prunebench.yolo.evaluate: accuracy exactly as `yolo val` computes it, on every split the data has."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.test_training import TINY_IMGSZ, tiny_model, write_tiny_dataset

REPO = Path(__file__).resolve().parents[1]
COCO128 = REPO / "data" / "coco128" / "data.yaml"
TEA = REPO / "data" / "tea_bud" / "data.yaml"
CURVE_KEYS = {"confidence", "precision", "recall", "f1"}


@pytest.fixture(scope="module")
def two_class_data(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("two-class"), names=("bud", "leaf"))


def _yolo():
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics import YOLO

    return YOLO


@pytest.mark.slow
def test_metrics_equal_yolo_val_on_real_data_and_differ_from_a_validator_without_rect(tmp_path):
    """The record's numbers are `YOLO(path).val(...)`'s, to 1e-3: here COCO-pretrained yolo11n on coco128's 32 val
    images at 320 px. A DetectionValidator built by hand without rect=True (prunebench's evaluator before) gives
    other numbers on the same checkpoint, so this test would fail for it."""
    from ultralytics.models.yolo.detect import DetectionValidator

    from prunebench.yolo.evaluate import evaluate

    weights = REPO / "weights" / "yolo11n.pt"
    ours = evaluate(weights, COCO128, split="val", imgsz=320, batch=16, device="cpu", work_dir=tmp_path / "ours")
    theirs = _yolo()(str(weights)).val(data=str(COCO128), imgsz=320, batch=16, device="cpu", plots=False,
                                        project=str(tmp_path / "theirs"), name="v", verbose=False)
    expected = {"precision": theirs.box.mp, "recall": theirs.box.mr, "map50": theirs.box.map50,
                "map50_95": theirs.box.map}
    for key, value in expected.items():
        assert ours["metrics"][key] == pytest.approx(float(value), abs=1e-3), key
    assert 0.3 < ours["metrics"]["map50_95"] < 0.6  # a real COCO model on COCO images: clearly not 0

    # The per-image matches captured from the validator give its mAP exactly, through Ultralytics' ap_per_class,
    # also after the compact form a record stores them in.
    from ultralytics.utils.metrics import ap_per_class

    from prunebench.records.matches import Matches

    matches = Matches.decode(Matches.from_stats(ours["per_image"]).encode())
    assert matches.images == 32 and len(set(matches.names)) == 32
    ap = ap_per_class(matches.tp, matches.conf, matches.pred_cls, matches.target_cls)[5]
    assert float(ap[:, 0].mean()) == ours["metrics"]["map50"] and float(ap.mean()) == ours["metrics"]["map50_95"]

    by_hand = DetectionValidator(args=dict(data=str(COCO128), imgsz=320, batch=16, device="cpu", conf=0.001,
                                           iou=0.7, plots=False, split="val", workers=0,
                                           project=str(tmp_path / "hand"), name="v"))
    by_hand(model=_yolo()(str(weights)).model)
    assert abs(by_hand.metrics.box.map - ours["metrics"]["map50_95"]) > 1e-4  # rect matters: the old numbers differ


@pytest.mark.slow
def test_evaluate_reads_the_test_split_and_names_classes(tmp_path):
    from prunebench.yolo import checkpoints
    from prunebench.yolo.evaluate import available_splits, evaluate, headline_split

    assert available_splits(TEA) == ["val", "test"] and headline_split(TEA) == "test"
    assert available_splits(COCO128) == ["val"] and headline_split(COCO128) == "val"
    with pytest.raises(ValueError, match="has no test split"):
        headline_split(COCO128, "test")
    path = checkpoints.save_model(tiny_model(nc=3), tmp_path / "tiny.pt")
    val = evaluate(path, TEA, split="val", imgsz=TINY_IMGSZ, batch=8, device="cpu", work_dir=tmp_path / "v")
    test = evaluate(path, TEA, split="test", imgsz=TINY_IMGSZ, batch=8, device="cpu", work_dir=tmp_path / "t")
    assert set(val["per_class_ap"]) <= {"good", "bad", "more_than_two"} and val["per_class_ap"]
    # tea_bud's val split holds 108 boxes and its test split 124 (data/SOURCES.md): each split was really read.
    assert (val["instances"], test["instances"]) == (108, 124)
    # and per class: the test split's 16 `more_than_two` boxes are what its AP is measured on
    assert sum(c["instances"] for c in test["per_class_ap"].values()) == 124
    assert test["per_class_ap"]["more_than_two"]["instances"] == 16


@pytest.mark.slow
def test_evaluate_returns_the_documented_result_and_writes_only_to_work_dir(two_class_data, tmp_path):
    from prunebench.yolo import checkpoints
    from prunebench.yolo.evaluate import evaluate

    path = checkpoints.save_model(tiny_model(nc=2), tmp_path / "tiny.pt")
    before = path.read_bytes()
    cwd_before = set(os.listdir("."))
    result = evaluate(path, two_class_data, imgsz=TINY_IMGSZ, batch=4, device="cpu", work_dir=tmp_path / "val")

    assert set(result) == {"metrics", "per_class_ap", "curves", "speed", "instances", "per_image"}
    assert [s["im_name"] for s in result["per_image"]] and all(s["tp"].shape[1] == 10 for s in result["per_image"])
    assert set(result["metrics"]) == {"precision", "recall", "map50", "map50_95"}
    assert set(result["per_class_ap"]) <= {"bud", "leaf"}
    assert set(result["curves"]) == CURVE_KEYS
    assert result["curves"]["confidence"] == [round(i / 100, 4) for i in range(101)]
    assert all(len(result["curves"][k]) == 101 for k in CURVE_KEYS)
    assert set(result["speed"]) == {"preprocess", "inference", "postprocess"} and result["speed"]["inference"] > 0
    assert path.read_bytes() == before  # the checkpoint is only read
    assert set(os.listdir(".")) == cwd_before  # nothing written outside work_dir, and no plots in it
    assert not list((tmp_path / "val").rglob("*.png"))


def test_confidence_curves_are_class_means_sampled_at_101_thresholds():
    import numpy as np

    from prunebench.yolo.evaluate import confidence_curves

    px = np.linspace(0, 1, 1000)
    box = SimpleNamespace(px=px, p_curve=np.vstack([px, 1 - px]), r_curve=np.vstack([np.ones(1000), np.zeros(1000)]),
                          f1_curve=np.vstack([px * 0.5, px * 0.5]))
    curves = confidence_curves(box)
    assert curves["precision"][30] == pytest.approx(0.5, abs=1e-3)  # mean of 0.3 and 0.7
    assert curves["recall"] == [0.5] * 101
    assert curves["f1"][100] == pytest.approx(0.5, abs=1e-3)


def test_confidence_curves_without_any_labelled_class_are_zero():
    import numpy as np

    from prunebench.yolo.evaluate import confidence_curves

    box = SimpleNamespace(px=np.linspace(0, 1, 1000), p_curve=np.zeros((0, 1000)), r_curve=np.zeros((0, 1000)),
                          f1_curve=np.zeros((0, 1000)))
    assert confidence_curves(box)["precision"] == [0.0] * 101
