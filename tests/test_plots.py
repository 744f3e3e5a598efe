"""Figures from fixed records: every expected file is written and is a real PNG / SVG; figures whose data
is absent are skipped without error; the user's matplotlib settings are left alone."""

from pathlib import Path

import matplotlib
import pytest

from prunebench.report.plots import write_plots
from prunebench.results import iter_records

FIXTURES = Path(__file__).parent / "fixtures" / "records"
BUDS_FIGURES = ["accuracy_vs_amount", "accuracy_vs_cost", "model_size", "loss_curves", "pr_curves_l1-channel",
                "pr_curves_l1-unstructured", "pr_curves_random-unstructured"]


def load(*folders):
    return [record for _, record in iter_records([FIXTURES / f for f in folders])]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots")
    backend = matplotlib.rcParams["backend"]
    paths = write_plots(load("cpu", "gpu"), out)
    return out, paths, backend


def test_every_figure_is_written_as_png_and_svg(drawn):
    out, paths, _ = drawn
    # yolov5n x tea has only a dense baseline (its pruned cell failed): nothing to draw there
    expected = {f"yolov8n__buds__{name}{ext}" for name in BUDS_FIGURES for ext in (".png", ".svg")}
    assert {p.name for p in paths} == expected
    assert {p.name for p in out.iterdir()} == expected
    for path in paths:
        data = path.read_bytes()
        assert len(data) > 10_000, path
        if path.suffix == ".png":
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
        else:
            assert b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")


def test_figures_carry_titles_axes_and_legends(drawn):
    out, _, _ = drawn
    svg = (out / "yolov8n__buds__accuracy_vs_cost.svg").read_text()
    # one latency panel per device (times only compare on one device), one GFLOPs panel, a frontier each
    for text in ("vs latency on Intel Xeon (cpu)", "vs latency on NVIDIA H100 80GB HBM3 (cuda:0)", "vs GFLOPs",
                 "latency, batch 1 (ms)", "mAP50-95 (%)", "Pareto frontier", "synthetic data"):
        assert text in svg, text
    svg = (out / "yolov8n__buds__model_size.svg").read_text()
    for text in ("fp16 state dict, gzip -9 (MB)", "parameters (millions)", "dense baseline", "l1-channel: non-zero"):
        assert text in svg, text


def test_the_users_backend_is_left_alone(drawn):
    assert matplotlib.rcParams["backend"] == drawn[2]


def test_figures_without_data_are_skipped(tmp_path):
    records = load("cpu")
    for record in records:  # no curves, no loss curves, no latency: only accuracy, FLOPs and size remain
        record["details"] = {}
        for key in ("latency_ms", "e2e_latency_ms"):
            record["metrics"].pop(key, None)
    names = {p.name for p in write_plots(records, tmp_path)}
    assert names == {f"yolov8n__buds__{n}{ext}" for n in ("accuracy_vs_amount", "accuracy_vs_cost", "model_size")
                     for ext in (".png", ".svg")}
    svg = (tmp_path / "yolov8n__buds__accuracy_vs_cost.svg").read_text()
    assert "vs GFLOPs" in svg and "vs latency" not in svg


def test_only_failed_or_dense_records_draw_nothing(tmp_path):
    only_failed_and_dense = [r for r in load("cpu") if r["spec"]["model"]["name"] == "yolov5n"]
    assert write_plots(only_failed_and_dense, tmp_path / "plots") == []
    assert not (tmp_path / "plots").exists()


def test_ultralytics_curve_layout_and_plain_loss_numbers_are_read(tmp_path):
    records = [r for r in load("cpu") if r["spec"]["model"]["name"] == "yolov8n" and r["status"] == "ok"
               and r["spec"]["strategy"]["name"] in ("dense", "l1-channel")]
    for record in records:
        mine = record["details"]["curves"]
        conf = mine["confidence"]
        # Ultralytics' curves_results layout: [x, y per class, x label, y label]; two classes here
        record["details"]["curves"] = {
            "Precision-Recall(B)": [conf, [mine["recall"]] * 2, "Recall", "Precision"],
            "F1-Confidence(B)": [conf, [mine["f1"], mine["f1"]], "Confidence", "F1"],
            "Precision-Confidence(B)": [conf, [mine["precision"]] * 2, "Confidence", "Precision"],
            "Recall-Confidence(B)": [conf, [mine["recall"]] * 2, "Confidence", "Recall"]}
        if "loss_curve" in record["details"]:
            record["details"]["loss_curve"] = [sum(v for k, v in e.items() if "loss" in k)
                                               for e in record["details"]["loss_curve"]]
    names = {p.name for p in write_plots(records, tmp_path)}
    assert {"yolov8n__buds__pr_curves_l1-channel.png", "yolov8n__buds__loss_curves.png"} <= names
