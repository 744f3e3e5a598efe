"""Export of kept models through Ultralytics' exporter (prunebench.yolo.export), ONNX Runtime timing
(prunebench.measure.onnxrt, measure(runtimes=...)) and `prunebench export`, on a tiny yolov8n at 64 px."""

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from prunebench.cli import main
from prunebench.measure.pairs import PairRule
from prunebench.records.store import load_record
from tests.kept_models import CELLS, IMGSZ, build_results

REPO = Path(__file__).resolve().parents[1]
TEA_VAL = sorted((REPO / "data" / "tea_bud" / "images" / "val").glob("*.jpg"))[:3]
ORT_KEYS = {"latency_ms_onnxruntime", "latency_iqr_ms_onnxruntime", "speedup_vs_dense_onnxruntime",
            "speedup_iqr_onnxruntime", "speedup_low_onnxruntime", "speedup_high_onnxruntime",
            "speedup_pairs_onnxruntime", "speedup_capped_onnxruntime"}


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """(results folder, {label: record path}, {label: kept .pt}) with dense, l1-channel 0.5, l1-unstructured 0.5."""
    results = tmp_path_factory.mktemp("results")
    paths = build_results(results, tmp_path_factory.mktemp("work"))
    checkpoints = {label: results / load_record(p).model_file.path for label, p in paths.items()}
    return results, paths, checkpoints


@pytest.fixture(scope="module")
def onnx_files(kept, tmp_path_factory):
    from prunebench.yolo.export import export_checkpoint

    out = tmp_path_factory.mktemp("onnx")
    return {label: export_checkpoint(pt, "onnx", imgsz=IMGSZ, out_dir=out) for label, pt in kept[2].items()}


def initializer_elements(path: Path) -> tuple[int, int]:
    """(elements, zero elements) over the ONNX graph's initializers (its weights)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    arrays = [numpy_helper.to_array(t) for t in graph.initializer]
    return sum(a.size for a in arrays), sum(int((a == 0).sum()) for a in arrays if a.dtype.kind == "f")


def fused_torch(pt: Path):
    from prunebench.measure.costs import deployable
    from prunebench.yolo.checkpoints import load_model

    return deployable(load_model(pt), torch.device("cpu"))


def test_channel_pruned_onnx_has_fewer_parameters_and_unstructured_keeps_its_zeros(kept, onnx_files):
    dense, dense_zeros = initializer_elements(onnx_files["dense"])
    channel, _ = initializer_elements(onnx_files["l1-channel"])
    unstructured, unstructured_zeros = initializer_elements(onnx_files["l1-unstructured"])
    assert channel < 0.6 * dense, "the smaller shapes survive the export"
    # the export holds the fused model's weights: its count follows the fused torch model's, pruned or not
    fused = {label: sum(p.numel() for p in fused_torch(pt).parameters()) for label, pt in kept[2].items()}
    assert channel / dense == pytest.approx(fused["l1-channel"] / fused["dense"], rel=0.05)
    assert unstructured == dense, "unstructured pruning changes no shape"
    # half of every prunable conv's weights are zero in torch; BN folding scales each filter, zeros stay zeros
    assert unstructured_zeros - dense_zeros > 0.4 * dense


def test_onnxruntime_output_matches_torch_on_a_letterboxed_photo(kept, onnx_files):
    from prunebench.measure.latency import read_images
    from prunebench.measure.onnxrt import letterboxed_inputs, runner, session

    (x,) = letterboxed_inputs(read_images(TEA_VAL[:1], 1), IMGSZ)  # a real 4:3 photo, letterboxed to 64x64
    assert x.shape == (1, 3, IMGSZ, IMGSZ) and x.dtype == np.float32
    for label in ("l1-channel", "l1-unstructured"):
        sess, info = session(onnx_files[label], threads=1, device="cpu")
        assert info["providers"] == ["CPUExecutionProvider"] and info["cuda_unavailable"] is None
        got = runner(sess, [x])()[0]
        with torch.inference_mode():
            want = fused_torch(kept[2][label])(torch.from_numpy(x))[0].numpy()
        assert got.shape == want.shape
        scale = float(np.abs(want).max())
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * max(scale, 1.0))


def test_ort_timing_returns_its_statistics_and_paired_speedup(kept, onnx_files):
    from prunebench.measure.latency import read_images
    from prunebench.measure.onnxrt import time_onnxruntime

    metrics, details = time_onnxruntime(onnx_files["l1-channel"], onnx_files["dense"], read_images(TEA_VAL, 3),
                                        imgsz=IMGSZ, device="cpu", threads=1, min_run_time=0.02,
                                        rule=PairRule(min_pairs=3, cap_s=0.001),
                                        torch_model=fused_torch(kept[2]["l1-channel"]))
    assert set(metrics) == ORT_KEYS
    forward = details["forward"]
    assert metrics["latency_ms_onnxruntime"] == forward["median_ms"] > 0
    assert metrics["latency_iqr_ms_onnxruntime"] == forward["iqr_ms"] >= 0
    assert forward["runs"] >= 1 and forward["calls"] >= forward["runs"] and forward["min_ms"] <= forward["max_ms"]
    paired = details["paired_speedup"]
    assert len(paired["per_pair"]) == len(paired["model_ms"]) == len(paired["reference_ms"]) == 3
    ratios = [r / m for r, m in zip(paired["reference_ms"], paired["model_ms"])]
    assert metrics["speedup_vs_dense_onnxruntime"] == pytest.approx(statistics.median(ratios), rel=1e-3)
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    assert metrics["speedup_iqr_onnxruntime"] == pytest.approx(q3 - q1, abs=1e-3)
    assert details["threads"] == 1 and details["images"] == 3 and details["imgsz"] == IMGSZ
    assert details["session_options"]["intra_op_num_threads"] == 1
    assert isinstance(details["noisy"], bool) and set(details["load_average_1m"]) == {"before", "after"}
    assert details["noisy"] == bool(details["noisy_reasons"])
    assert details["parity_vs_torch"]["compared"] and details["parity_vs_torch"]["max_abs_diff"] < 1e-2


def test_a_busy_machine_is_flagged_with_its_reasons(monkeypatch):
    from prunebench.measure.noise import noisy_reasons

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    steady = {"iqr_over_median": 0.02}
    assert noisy_reasons(steady, {"speedup": 1.8, "iqr": 0.05}, {"before": 0.5, "after": 1.9}) == []
    reasons = noisy_reasons({"iqr_over_median": 0.3}, {"speedup": 1.5, "iqr": 0.6}, {"before": 7.5, "after": 6.0})
    assert reasons == ["forward IQR is 0.30 of the median (> 0.1)", "per-pair speed-up IQR is 0.40 of the median (> 0.1)",
                       "1-minute load average 7.5 above the 2 cores"]
    # A steady ratio behind a dense latency that jumped between 38 and 68 ms within the pairs: drift, flagged.
    drifting = {"speedup": 1.02, "iqr": 0.01, "reference_ms": [38.0, 41.0, 68.0, 39.5, 66.0]}
    assert noisy_reasons(steady, drifting, {"before": 0.5, "after": 0.9}) == [
        "the dense model's latency moved 73% across the pairs (38.0 to 68.0 ms; > 25%)"]


def test_cuda_requested_without_the_cuda_provider_is_said_and_timed_on_cpu(onnx_files):
    from prunebench.measure.onnxrt import CUDA_PROVIDER, session
    from prunebench.yolo.export import import_onnxruntime

    if CUDA_PROVIDER in import_onnxruntime().get_available_providers():
        pytest.skip("this ONNX Runtime has the CUDA provider")
    _, info = session(onnx_files["dense"], threads=1, device="cuda:0")
    assert info["providers"] == ["CPUExecutionProvider"]
    assert re.search(r"CUDA ONNX Runtime unavailable.*onnxruntime-gpu", info["cuda_unavailable"])


def test_measure_times_both_runtimes_from_the_kept_checkpoints(kept):
    from prunebench.measure.cell import measure
    from prunebench.yolo.checkpoints import load_model

    _, _, pts = kept
    _measured = measure(load_model(pts["l1-channel"]), imgsz=IMGSZ, device="cpu", images=TEA_VAL, threads=1,
                        batch_throughput=2, min_run_time=0.02, rule=PairRule(min_pairs=6, cap_s=0.001),
                        runtimes=("torch", "onnxruntime"),
                        checkpoint=pts["l1-channel"], reference_checkpoint=pts["dense"])
    metrics, details = _measured.metrics, _measured.details
    assert ORT_KEYS <= set(metrics) and all(metrics[k] is not None for k in ORT_KEYS)
    assert metrics["speedup_vs_dense"] > 0 and metrics["speedup_iqr"] == details["paired_speedup"]["iqr"] >= 0
    ort = details["runtimes"]["onnxruntime"]
    assert ort["export"]["from"] == str(pts["l1-channel"]) and ort["reference_export"]["from"] == str(pts["dense"])
    assert ort["paired_speedup"]["pairs"] == 6 and ort["parity_vs_torch"]["max_abs_diff"] < 1e-2
    # ONNX Runtime alone: no torch figures, the ORT ones still there
    _measured = measure(load_model(pts["dense"]), imgsz=IMGSZ, device="cpu", images=TEA_VAL, threads=1,
                        min_run_time=0.02, runtimes=["onnxruntime"])
    only, only_details = _measured.metrics, _measured.details
    assert only["latency_ms"] is None and "skipped" in only_details["latency"]
    assert only["latency_ms_onnxruntime"] > 0 and only["speedup_vs_dense_onnxruntime"] is None
    with pytest.raises(ValueError, match="runtimes .* must be a non-empty list of torch, onnxruntime"):
        measure(load_model(pts["dense"]), imgsz=IMGSZ, device="cpu", images=[], runtimes=("tensorrt",))


def test_torchscript_export_runs_offline(kept, tmp_path):
    from prunebench.yolo.export import export_checkpoint

    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        path = export_checkpoint(kept[2]["l1-channel"], "torchscript", imgsz=IMGSZ, out_dir=tmp_path)
        # Ultralytics' select_device("cpu") sets cpu_count - 1 threads for the whole process; the caller's come back
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    assert path == tmp_path / f"{kept[2]['l1-channel'].stem}.torchscript" and path.is_file()
    scripted = torch.jit.load(str(path))
    out = scripted(torch.zeros(1, 3, IMGSZ, IMGSZ))
    assert (out[0] if isinstance(out, (list, tuple)) else out).shape[0] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "no staging folder or copy left behind"


@pytest.mark.skipif(__import__("importlib").util.find_spec("openvino") is None,
                    reason="openvino is an extra (pip install 'prunebench[openvino]')")
def test_openvino_export_offline_without_telemetry_files(kept, tmp_path, monkeypatch):
    from prunebench.yolo.export import export_checkpoint

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    path = export_checkpoint(kept[2]["dense"], "openvino", imgsz=IMGSZ, out_dir=tmp_path / "out")
    assert path.is_dir() and any(path.glob("*.xml")) and any(path.glob("*.bin"))
    assert list((tmp_path / "home").iterdir()) == [], "OpenVINO's telemetry wrote into the home folder"


def test_missing_export_package_is_refused_naming_it(kept, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    results = kept[0]
    assert main(["export", str(results), "--format", "openvino"]) == 1
    err = capsys.readouterr().err
    assert "openvino export needs the Python package openvino" in err and 'pip install "prunebench[openvino]"' in err
    assert not list((results / "models").glob("*_openvino_model"))
    assert main(["export", str(results), "--format", "engine"]) == 1
    assert "export format 'engine' is not one prunebench exports" in capsys.readouterr().err


def test_onnxruntime_import_keeps_its_files_out_of_the_home_cache(tmp_path):
    """ONNX Runtime writes a device id and an event database under $XDG_CACHE_HOME (~/.cache) when imported."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}
    env.update(HOME=str(tmp_path / "home"), PRUNEBENCH_CACHE=str(tmp_path / "cache"))
    code = ("from prunebench.yolo.export import import_onnxruntime; import os; ort = import_onnxruntime(); "
            "assert 'XDG_CACHE_HOME' not in os.environ; print(ort.__version__)")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "home" / ".cache").exists()
    assert (tmp_path / "cache" / "onnxruntime").is_dir()


def test_cli_export_writes_onnx_next_to_the_kept_model(kept, tmp_path, monkeypatch, capsys):
    import onnx

    results, paths, pts = kept
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(results), "--only", "l1-channel", "--format", "onnx"]) == 0
    onnx_path = pts["l1-channel"].with_suffix(".onnx")
    assert capsys.readouterr().out.split() == [str(onnx_path)]
    assert onnx_path.is_file() and not pts["dense"].with_suffix(".onnx").exists(), "--only selects"
    model = onnx.load(str(onnx_path))
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, IMGSZ, IMGSZ]
    entry = load_record(paths["l1-channel"]).exports["onnx"]
    assert entry["path"] == f"models/{onnx_path.name}" and entry["imgsz"] == IMGSZ
    assert entry["bytes"] == onnx_path.stat().st_size
    assert entry["model_sha256"] == load_record(paths["l1-channel"]).model_file.sha256
    assert list(tmp_path.iterdir()) == [], "the current folder gets nothing"
    assert not [p for p in (results / "models").iterdir() if p.name.startswith(".export-")]


def test_cli_export_of_a_record_without_kept_model_exits_1(tmp_path, capsys):
    results = tmp_path / "results"
    build_results(results, tmp_path, without_model=True)
    assert main(["export", str(results), "--format", "onnx"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("prunebench: error: cannot export 1 of 4 selected cells: "
                          "yolov8n.buds-mini.random-unstructured.a0.50.s0 kept no model file")
    assert "keep_models: all" in err and "rerun" in err and len(err.strip().splitlines()) == 1
    assert not list((results / "models").glob("*.onnx")), "nothing is exported when one cell cannot be"
    # the cells that kept their model still export, selected by --only
    assert main(["export", str(results), "--only", "dense", "--format", "onnx"]) == 0
    (key, _, _) = CELLS["dense"]
    assert (results / "models" / f"yolov8n.buds-mini.dense.a0.00.s0.{key}.onnx").is_file()
    assert json.loads((results / "cells" / f"yolov8n.buds-mini.dense.a0.00.s0.{key}.json").read_text())[
        "details"]["exports"]["onnx"]["imgsz"] == IMGSZ
