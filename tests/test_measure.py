"""prunebench.measure / latency / environment on an untrained yolov8n at 128 px (no timing assertions)."""

import copy
import re
import statistics
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from prunebench.util.environment import environment, git_sha, resolve_device
from prunebench.measure.cell import measure
from prunebench.measure.pairs import PairRule
from prunebench.measure.costs import count_flops, deployable_copy
from prunebench.yolo.env import import_ultralytics

IMGSZ = 128
METRIC_KEYS = {"params", "nonzero_params", "sparsity", "gflops", "nonzero_gflops", "size_fp32_bytes",
               "size_fp16_bytes", "size_fp16_gzip_bytes", "latency_ms", "latency_iqr_ms", "e2e_latency_ms",
               "throughput_ips", "speedup_vs_dense", "speedup_iqr", "speedup_low", "speedup_high", "speedup_pairs",
               "speedup_capped"}
SPEEDUP_KEYS = {"speedup_vs_dense", "speedup_iqr", "speedup_low", "speedup_high", "speedup_pairs", "speedup_capped"}
FAST = dict(imgsz=IMGSZ, device="cpu", min_run_time=0.01)


def yolov8n(width: float | None = None) -> nn.Module:
    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel, yaml_model_load

    cfg = yaml_model_load("yolov8n.yaml")
    if width is not None:  # a channel-pruned stand-in: the same architecture, narrower
        depth, _, max_channels = cfg["scales"]["n"]
        cfg["scales"] = {"n": [depth, width, max_channels]}
    torch.manual_seed(0)
    return DetectionModel(cfg, verbose=False)


def zero_half_of_every_conv(model: nn.Module) -> int:
    """L1-unstructured 50 % on every conv but the DFL (whose fixed weights decode boxes); returns conv weights."""
    total = 0
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and not name.endswith("dfl.conv"):
            prune.l1_unstructured(module, "weight", amount=0.5)
            prune.remove(module, "weight")
            total += module.weight.numel()
    return total


@pytest.fixture(scope="module")
def dense():
    return yolov8n()


@pytest.fixture(scope="module")
def dense_static(dense):
    """The dense model's measurements without latency (the cheap part): (metrics, details)."""
    measured = measure(dense, images=[], **FAST)
    return measured.metrics, measured.details


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, (h, w) in enumerate([(96, 160), (200, 120), (128, 128)]):  # letterbox must square each
        path = tmp_path / f"img{i}.jpg"
        cv2.imwrite(str(path), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        paths.append(path)
    return paths


def test_measure_reports_every_metric_and_restores_threads(dense, images):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _measured = measure(dense, images=images, threads=2, batch_throughput=2, **FAST)
        metrics, details = _measured.metrics, _measured.details
        assert torch.get_num_threads() == 1, "the caller's thread count comes back"
    finally:
        torch.set_num_threads(before)

    assert set(metrics) == METRIC_KEYS
    for key in METRIC_KEYS - {"sparsity", "latency_iqr_ms"} - SPEEDUP_KEYS:
        assert metrics[key] > 0, key
    assert all(metrics[k] is None for k in SPEEDUP_KEYS) and "paired_speedup" not in details, \
        "no reference, no pairs"
    assert 0 <= metrics["sparsity"] < 0.01 and metrics["latency_iqr_ms"] >= 0
    assert metrics["params"] == sum(p.numel() for p in dense.parameters())
    assert metrics["size_fp16_bytes"] < metrics["size_fp32_bytes"] * 0.6
    latency = details["latency"]
    assert latency["threads"] == 2 and latency["batch_sizes"] == {"latency": 1, "e2e": 1, "throughput": 2}
    assert latency["forward"]["runs"] >= 1 and latency["forward"]["median_ms"] == metrics["latency_ms"]
    assert set(latency["e2e_phases_median_ms"]) == {"preprocess", "forward", "nms"}
    assert latency["nms"]["function"] == "ultralytics.utils.nms.non_max_suppression"
    # timed and counted on the fused model: BatchNorms folded into the convs
    assert details["params"]["fused_params"] < metrics["params"]


def test_dense_model_has_nonzero_flops_equal_to_flops_but_for_the_dfl_zero(dense_static):
    metrics, _ = dense_static
    # The DFL conv's weights are the bin indices 0..15: bin 0 is a real zero weight, 1/16 of its FLOPs.
    assert metrics["nonzero_gflops"] == pytest.approx(metrics["gflops"], rel=1e-4)
    assert metrics["nonzero_gflops"] < metrics["gflops"]
    assert metrics["latency_ms"] is None and metrics["e2e_latency_ms"] is None and metrics["throughput_ips"] is None


def test_unstructured_zeros_count_in_params_nonzero_flops_and_gzip_not_in_flops(dense, dense_static):
    dense_metrics, _ = dense_static
    pruned = copy.deepcopy(dense)
    conv_weights = zero_half_of_every_conv(pruned)
    saved = {k: v.clone() for k, v in pruned.state_dict().items()}

    metrics = measure(pruned, images=[], **FAST).metrics

    zeros = metrics["params"] - metrics["nonzero_params"] - (dense_metrics["params"] - dense_metrics["nonzero_params"])
    assert zeros == pytest.approx(conv_weights / 2, rel=0.01)
    assert metrics["sparsity"] == pytest.approx(conv_weights / 2 / metrics["params"], abs=0.01)
    assert metrics["gflops"] == dense_metrics["gflops"], "dense kernels still do every multiply"
    assert metrics["nonzero_gflops"] == pytest.approx(0.5 * metrics["gflops"], rel=0.02)
    assert metrics["size_fp16_bytes"] == pytest.approx(dense_metrics["size_fp16_bytes"], rel=0.001)
    assert metrics["size_fp16_gzip_bytes"] < 0.8 * dense_metrics["size_fp16_gzip_bytes"]
    # the caller's model is untouched: same zeros, same weights, BatchNorms not fused away
    after = pruned.state_dict()
    assert after.keys() == saved.keys() and all(torch.equal(after[k], saved[k]) for k in saved)
    assert hasattr(pruned.model[0], "bn")


def test_masks_still_attached_are_measured_as_the_weights_that_run():
    """A model whose torch.nn.utils.prune masks are still attached (weight_orig * weight_mask) is
    measured like the same model with the masks made permanent, and keeps its masks."""
    attached, permanent = yolov8n(width=0.125), yolov8n(width=0.125)  # seeded: the same weights
    conv = attached.model[1].conv
    prune.l1_unstructured(conv, "weight", amount=0.5)
    prune.l1_unstructured(permanent.model[1].conv, "weight", amount=0.5)
    prune.remove(permanent.model[1].conv, "weight")

    with_masks = measure(attached, images=[], **FAST).metrics
    without = measure(permanent, images=[], **FAST).metrics
    assert with_masks == without
    assert with_masks["nonzero_gflops"] < with_masks["gflops"]
    assert prune.is_pruned(attached) and hasattr(conv, "weight_orig") and hasattr(conv, "weight_mask")


def test_narrower_model_has_fewer_flops_and_params(dense_static):
    dense_metrics, _ = dense_static
    metrics = measure(yolov8n(width=0.125), images=[], **FAST).metrics
    assert metrics["gflops"] < 0.5 * dense_metrics["gflops"]
    assert metrics["params"] < 0.5 * dense_metrics["params"]
    assert metrics["size_fp16_gzip_bytes"] < dense_metrics["size_fp16_gzip_bytes"]


def test_flop_counter_agrees_with_ultralytics_get_flops(dense, dense_static):
    """FlopCounterMode (2 FLOPs per multiply-add, convs only) vs Ultralytics' thop count (MACs x 2,
    also counting BatchNorm): equal on the fused model; thop's unfused count adds the BNs (about 1 %)."""
    from ultralytics.utils.torch_utils import get_flops

    metrics, details = dense_static
    fused = deployable_copy(dense, torch.device("cpu"))
    assert metrics["gflops"] == pytest.approx(get_flops(fused, IMGSZ), rel=0.02)
    assert metrics["gflops"] == pytest.approx(get_flops(dense, IMGSZ), rel=0.03)
    assert details["flops"]["counter"] == "torch.utils.flop_counter.FlopCounterMode"
    assert count_flops(fused, 2 * IMGSZ)[0] == pytest.approx(4 * details["flops"]["dense"], rel=1e-3)


def test_half_precision_model_is_measured_in_float32_and_left_half(dense_static):
    half = yolov8n().half()
    metrics = measure(half, images=[], **FAST).metrics
    assert metrics["gflops"] == pytest.approx(dense_static[0]["gflops"])
    assert next(half.parameters()).dtype == torch.float16


def test_imgsz_is_rounded_up_to_the_stride_like_ultralytics(dense):
    details = measure(dense, images=[], imgsz=100, device="cpu", min_run_time=0.01).details
    assert details["flops"]["imgsz"] == 128 and details["flops"]["imgsz_requested"] == 100


def test_unreadable_image_is_a_clear_error(dense, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"cannot read image '.*broken\.jpg'.*latency: false"):
        measure(dense, images=[bad], **FAST)


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_throughput=0), "batch_throughput 0 must be at least 1"),
    (dict(min_run_time=0.0), "min_run_time 0.0 must be positive seconds"),
    (dict(threads=0), "threads 0 must be at least 1"),
])
def test_bad_settings_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        measure(nn.Conv2d(3, 8, 3), images=[], **{**FAST, **kwargs})


def test_resolve_device_on_this_machine():
    assert resolve_device("cpu") == "cpu" and resolve_device(" CPU ") == "cpu"
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match=re.escape("device 'mps' is not one prunebench can run on")):
        resolve_device("mps")


def test_resolve_device_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    for requested in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match=re.escape("device 'cuda:0' was requested but torch sees no CUDA GPU")) as err:
            resolve_device(requested)
        assert "Use `device: auto` or `device: cpu`" in str(err.value)


def test_resolve_device_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda") == "cuda:0" and resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(ValueError, match=re.escape("device 'cuda:2' was requested but this machine has 2 CUDA GPU(s): "
                                                   "cuda:0, cuda:1")):
        resolve_device("cuda:2")


def test_environment_names_device_versions_and_git_sha(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    env = environment("cpu")
    assert {"device", "device_name", "cpu", "cpu_count", "threads", "torch", "cuda", "cudnn", "ultralytics",
            "torch_pruning", "prunebench", "python", "platform", "hostname", "git_sha"} <= set(env)
    assert env["device"] == "cpu" and env["device_name"] == env["cpu"] and env["cpu"]
    assert env["torch"] == torch.__version__ and env["threads"] == 1, "the CPU timing default (one thread)"
    assert env["ultralytics"] and env["torch_pruning"]
    assert env["git_sha"] == git_sha(Path(__file__).resolve().parents[1]), "prunebench's own sha, not the cwd's"
    repo = Path(__file__).resolve().parents[1]
    if (repo / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}", git_sha(repo) or "")


def test_timer_waits_for_the_accelerator_before_each_clock_read(monkeypatch):
    """torch.utils.benchmark's default timer synchronizes an available accelerator (CUDA) itself;
    checked here without a GPU by standing in for the accelerator API."""
    from prunebench.measure.latency import time_it

    syncs = []
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "synchronize", lambda *args: syncs.append(1))
    stats = time_it(lambda: None, threads=1, min_run_time=0.001, label="noop")
    assert stats["runs"] >= 1 and len(syncs) >= 2 * stats["runs"]


def test_speedup_against_the_dense_model_is_timed_in_alternating_pairs(dense, images):
    from prunebench_builtins.channel import L1Channel
    from prunebench.plugin.base import CellContext

    pruned = copy.deepcopy(dense)
    L1Channel().prune(pruned, 0.5, CellContext(device="cpu", seed=0, cache_dir=Path("."), work_dir=Path("."),
                                                imgsz=IMGSZ, batch=1))
    params_before = sum(p.numel() for p in dense.parameters())
    _measured = measure(pruned, images=images, threads=1, reference=dense, rule=PairRule(min_pairs=3, cap_s=0.001), **FAST)
    metrics, details = _measured.metrics, _measured.details
    paired = details["paired_speedup"]
    assert len(paired["per_pair"]) == len(paired["model_ms"]) == len(paired["reference_ms"]) == 3
    ratios = [r / m for r, m in zip(paired["reference_ms"], paired["model_ms"])]
    assert metrics["speedup_vs_dense"] == paired["speedup"] == pytest.approx(statistics.median(ratios), rel=1e-3)
    q1, _, q3 = statistics.quantiles(paired["per_pair"], n=4, method="inclusive")
    assert metrics["speedup_iqr"] == paired["iqr"] == pytest.approx(q3 - q1, abs=1e-3)  # per_pair is rounded
    assert sum(p.numel() for p in dense.parameters()) == params_before, "the reference is left as it was"
