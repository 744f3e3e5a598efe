"""Benchmarks of the measurements themselves (run with `pytest tests/benchmarks --benchmark-only -s`).

- latency noise: coefficient of variation of `measure()`'s latency median over 5 calls on a
  dense yolov8n at 320 px. Target < 5 % on CPU.
- unstructured honesty: latency of l1-unstructured at 0.9 over dense. Dense kernels do every
  multiply, zero or not: expected ~1.0 (what `nonzero_gflops` promises is not what runs).
- structured speed-up: l1-channel 0.5 on yolov8n, measured speed-up over FLOPs speed-up.
  Target >= 0.7.
- the same two in ONNX Runtime (`-k onnx`): l1-channel 0.5 on yolov8n and on the pretrained yolo11n,
  ONNX Runtime speed-up over FLOPs speed-up (target >= 0.7), torch's from the same measure() call beside
  it; l1-unstructured 0.9 in ONNX Runtime (expected ~1.0: its CPU kernels are dense too).
Dense and pruned are measured in back-to-back pairs (order swapped every pair) and the ratio is
the median of the pairs' ratios: on a shared machine latency drifts by tens of percent over
minutes, and a pair sees the same drift on both sides. Ratios are printed and written to results/benchmarks/measure.json; nothing is asserted about
time. The models are untrained: latency does not depend on weight values (NMS, which could,
is outside `latency_ms`).
"""

import copy
import json
import os
import statistics
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from prunebench.plugin.base import CellContext
from prunebench.measure.cell import measure
from prunebench.yolo.env import import_ultralytics

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "results" / "benchmarks" / "measure.json"
IMGSZ = 320
REPEATS = 5
PAIRS = 5
# All cores (torch's default) and one: on a small shared machine, one thread is the steadier figure.
THREADS = pytest.mark.parametrize("threads", [None, 1], ids=["default-threads", "1-thread"])


def save(key, value, load_before):
    """Store one benchmark's result, with the 1-minute load average around it: on a shared machine
    a load above the core count means the figures were taken under contention."""
    value = dict(value, load_average_1m={"before": load_before, "after": round(os.getloadavg()[0], 2)},
                 cpu_count=os.cpu_count())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data[key] = value
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def yolov8n():
    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    return DetectionModel("yolov8n.yaml", verbose=False).eval()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Eight 320x240 photos-to-be: green ellipses on a soil-coloured, noisy background."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(8):
        image = np.clip(rng.normal((40, 70, 100), 25, (240, 320, 3)), 0, 255).astype(np.uint8)
        for _ in range(rng.integers(1, 6)):
            center = (int(rng.integers(20, 300)), int(rng.integers(20, 220)))
            axes = (int(rng.integers(5, 30)), int(rng.integers(5, 30)))
            cv2.ellipse(image, center, axes, float(rng.uniform(0, 180)), 0, 360, (40, 180, 60), -1)
        path = folder / f"img{i}.jpg"
        cv2.imwrite(str(path), image)
        paths.append(path)
    return paths


def context(tmp_path) -> CellContext:
    return CellContext(device="cpu", seed=0, cache_dir=tmp_path, work_dir=tmp_path, imgsz=IMGSZ, batch=1)


def pairs(dense, pruned, images, count: int, threads: int | None) -> tuple[list[dict], list[dict]]:
    """`count` back-to-back measure() pairs of dense and pruned, the order swapped every pair."""
    dense_runs, pruned_runs = [], []
    for i in range(count):
        order = [(dense, dense_runs), (pruned, pruned_runs)]
        for model, runs in order if i % 2 == 0 else order[::-1]:
            runs.append(measure(model, imgsz=IMGSZ, device="cpu", images=images, threads=threads).metrics)
    return dense_runs, pruned_runs


def median_of(runs, key):
    return statistics.median(m[key] for m in runs)


def paired_ratio(numerator, denominator, key) -> tuple[float, list[float]]:
    """Median over pairs of numerator[key] / denominator[key], and each pair's ratio."""
    ratios = [n[key] / d[key] for n, d in zip(numerator, denominator)]
    return statistics.median(ratios), [round(r, 3) for r in ratios]


@THREADS
def test_latency_noise(benchmark, images, threads):
    load_before = round(os.getloadavg()[0], 2)
    model = yolov8n()
    calls = []
    benchmark.pedantic(lambda: calls.append(measure(model, imgsz=IMGSZ, device="cpu", images=images,
                                                    threads=threads).metrics),
                       rounds=REPEATS, iterations=1)
    threads = threads or torch.get_num_threads()
    result = {"threads": threads, "imgsz": IMGSZ, "calls": REPEATS, "target": "latency cv < 0.05"}
    for key in ("latency_ms", "e2e_latency_ms", "throughput_ips"):
        values = [m[key] for m in calls]
        result[key] = {"values": [round(v, 3) for v in values], "mean": round(statistics.mean(values), 3),
                       "cv": round(statistics.pstdev(values) / statistics.mean(values), 4)}
    print(f"\nlatency noise over {REPEATS} measure() calls, yolov8n {IMGSZ} px, {result['threads']} threads: "
          f"cv {result['latency_ms']['cv']:.3f} (median latency {result['latency_ms']['values']} ms; target < 0.05); "
          f"e2e cv {result['e2e_latency_ms']['cv']:.3f}, throughput cv {result['throughput_ips']['cv']:.3f}")
    save(f"latency_noise_{threads}_threads", result, load_before)


@THREADS
def test_unstructured_honesty(benchmark, images, tmp_path, threads):
    load_before = round(os.getloadavg()[0], 2)
    from prunebench_builtins.unstructured import L1Unstructured

    dense = yolov8n()
    pruned = copy.deepcopy(dense)
    report = L1Unstructured().prune(pruned, 0.9, context(tmp_path))
    d, p = benchmark.pedantic(pairs, args=(dense, pruned, images, PAIRS, threads), rounds=1, iterations=1)
    ratio, per_pair = paired_ratio(p, d, "latency_ms")
    result = {
        "strategy": "l1-unstructured", "amount": 0.9, "achieved_sparsity": report["achieved_sparsity"],
        "dense_latency_ms": round(median_of(d, "latency_ms"), 3), "pruned_latency_ms": round(median_of(p, "latency_ms"), 3),
        "latency_ratio": round(ratio, 3), "latency_ratio_per_pair": per_pair,
        "e2e_ratio": round(paired_ratio(p, d, "e2e_latency_ms")[0], 3),
        "nonzero_gflops_ratio": round(median_of(p, "nonzero_gflops") / median_of(d, "nonzero_gflops"), 3),
        "gzip_size_ratio": round(p[0]["size_fp16_gzip_bytes"] / d[0]["size_fp16_gzip_bytes"], 3),
        "threads": threads or torch.get_num_threads(), "imgsz": IMGSZ, "pairs": PAIRS, "expected": "~1.0",
    }
    print(f"\nunstructured honesty ({result['threads']} threads): l1-unstructured 0.9 / dense latency {ratio:.3f} "
          f"({result['pruned_latency_ms']} vs {result['dense_latency_ms']} ms; pairs {per_pair}; expected ~1.0) while "
          f"nonzero GFLOPs ratio is {result['nonzero_gflops_ratio']} and gzip size ratio {result['gzip_size_ratio']}")
    save(f"unstructured_honesty_{result['threads']}_threads", result, load_before)


@THREADS
def test_structured_speedup(benchmark, images, tmp_path, threads):
    load_before = round(os.getloadavg()[0], 2)
    from prunebench_builtins.channel import L1Channel

    dense = yolov8n()
    pruned = copy.deepcopy(dense)
    L1Channel().prune(pruned, 0.5, context(tmp_path))
    d, p = benchmark.pedantic(pairs, args=(dense, pruned, images, PAIRS, threads), rounds=1, iterations=1)
    speedup, per_pair = paired_ratio(d, p, "latency_ms")
    flops_speedup = d[0]["gflops"] / p[0]["gflops"]
    result = {
        "strategy": "l1-channel", "amount": 0.5,
        "dense_gflops": round(d[0]["gflops"], 4), "pruned_gflops": round(p[0]["gflops"], 4),
        "dense_params": d[0]["params"], "pruned_params": p[0]["params"],
        "dense_latency_ms": round(median_of(d, "latency_ms"), 3), "pruned_latency_ms": round(median_of(p, "latency_ms"), 3),
        "measured_speedup": round(speedup, 3), "measured_speedup_per_pair": per_pair, "flops_speedup": round(flops_speedup, 3),
        "speedup_over_flops_speedup": round(speedup / flops_speedup, 3),
        "e2e_speedup": round(paired_ratio(d, p, "e2e_latency_ms")[0], 3),
        "throughput_speedup": round(paired_ratio(p, d, "throughput_ips")[0], 3),
        "throughput_speedup_over_flops_speedup": round(paired_ratio(p, d, "throughput_ips")[0] / flops_speedup, 3),
        "threads": threads or torch.get_num_threads(), "imgsz": IMGSZ, "pairs": PAIRS, "target": ">= 0.7",
    }
    print(f"\nstructured speed-up ({result['threads']} threads): l1-channel 0.5 runs {speedup:.2f}x faster for {flops_speedup:.2f}x fewer FLOPs: "
          f"{result['speedup_over_flops_speedup']:.3f} (target >= 0.7; pairs {per_pair}); at batch 8 throughput "
          f"{result['throughput_speedup']:.2f}x: {result['throughput_speedup_over_flops_speedup']:.3f}")
    save(f"structured_speedup_{result['threads']}_threads", result, load_before)


# ---------------------------------------------------------------- ONNX Runtime (`-k onnx`)
# The same questions asked of the exported model in ONNX Runtime (CPU provider, intra-op threads = the timing
# threads): measure(runtimes=("torch", "onnxruntime")) exports dense and pruned with Ultralytics' exporter and
# times each runtime in its own alternating pairs, so both speed-ups come from the same minutes of the machine.
ONNX_MODELS = pytest.mark.parametrize("model_name", ["yolov8n", "yolo11n"])


def load(model_name: str):
    """yolov8n: untrained, from its YAML (seeded); yolo11n: the COCO-pretrained weights shipped in weights/."""
    if model_name == "yolov8n":
        return yolov8n()
    from prunebench.yolo.checkpoints import load_model

    return load_model(REPO / "weights" / "yolo11n.pt")


def runtime_summary(metrics: dict, details: dict, runtime: str) -> dict:
    """One runtime's paired speed-up, its spread and the busy-machine flags, from one measure() call."""
    if runtime == "torch":
        paired, noisy = details["paired_speedup"], details["latency"]["noisy"]
        latency = metrics["latency_ms"]
    else:
        info = details["runtimes"][runtime]
        paired, noisy, latency = info["paired_speedup"], info["noisy"], metrics[f"latency_ms_{runtime}"]
    return {"pruned_latency_ms": round(latency, 3), "dense_latency_ms": round(statistics.median(paired["reference_ms"]), 3),
            "speedup": round(paired["speedup"], 3), "speedup_iqr": round(paired["iqr"], 3),
            "speedup_per_pair": paired["per_pair"], "noisy": noisy}


@ONNX_MODELS
@THREADS
def test_structured_speedup_onnxruntime(benchmark, images, tmp_path, model_name, threads):
    load_before = round(os.getloadavg()[0], 2)
    from prunebench_builtins.channel import L1Channel

    dense = load(model_name)
    pruned = copy.deepcopy(dense)
    L1Channel().prune(pruned, 0.5, context(tmp_path))
    dense_gflops = measure(dense, imgsz=IMGSZ, device="cpu", images=[]).metrics["gflops"]
    measured = benchmark.pedantic(
        lambda: measure(pruned, imgsz=IMGSZ, device="cpu", images=images, threads=threads, reference=dense,
                        pairs=PAIRS, runtimes=("torch", "onnxruntime")), rounds=1, iterations=1)
    metrics, details = measured.metrics, measured.details
    flops_speedup = dense_gflops / metrics["gflops"]
    ort, torch_side = runtime_summary(metrics, details, "onnxruntime"), runtime_summary(metrics, details, "torch")
    ort_info = details["runtimes"]["onnxruntime"]
    result = {
        "model": model_name, "strategy": "l1-channel", "amount": 0.5, "imgsz": IMGSZ, "pairs": PAIRS,
        "threads": threads or torch.get_num_threads(), "dense_gflops": round(dense_gflops, 4),
        "pruned_gflops": round(metrics["gflops"], 4), "flops_speedup": round(flops_speedup, 3),
        "onnxruntime": {**ort, "speedup_over_flops_speedup": round(ort["speedup"] / flops_speedup, 3),
                        "providers": ort_info["providers"], "version": ort_info["onnxruntime"],
                        "parity_max_abs_diff": ort_info["parity_vs_torch"].get("max_abs_diff")},
        "torch": {**torch_side, "speedup_over_flops_speedup": round(torch_side["speedup"] / flops_speedup, 3)},
        "target": "onnxruntime speed-up / FLOPs speed-up >= 0.7 (reported, not asserted)",
    }
    print(f"\nstructured speed-up in ONNX Runtime ({model_name}, {IMGSZ} px, {result['threads']} threads): l1-channel "
          f"0.5 runs {ort['speedup']:.2f}x (IQR {ort['speedup_iqr']:.3f}; {ort['pruned_latency_ms']} vs "
          f"{ort['dense_latency_ms']} ms) for {flops_speedup:.2f}x fewer FLOPs: "
          f"{result['onnxruntime']['speedup_over_flops_speedup']:.3f} (target >= 0.7); torch in the same call "
          f"{torch_side['speedup']:.2f}x (IQR {torch_side['speedup_iqr']:.3f}): "
          f"{result['torch']['speedup_over_flops_speedup']:.3f}; noisy ort={ort['noisy']} torch={torch_side['noisy']}")
    save(f"structured_speedup_onnxruntime_{model_name}_{result['threads']}_threads", result, load_before)


@THREADS
def test_unstructured_onnxruntime(benchmark, images, tmp_path, threads):
    load_before = round(os.getloadavg()[0], 2)
    from prunebench_builtins.unstructured import L1Unstructured

    dense = yolov8n()
    pruned = copy.deepcopy(dense)
    report = L1Unstructured().prune(pruned, 0.9, context(tmp_path))
    measured = benchmark.pedantic(
        lambda: measure(pruned, imgsz=IMGSZ, device="cpu", images=images, threads=threads, reference=dense,
                        pairs=PAIRS, runtimes=("torch", "onnxruntime")), rounds=1, iterations=1)
    metrics, details = measured.metrics, measured.details
    ort, torch_side = runtime_summary(metrics, details, "onnxruntime"), runtime_summary(metrics, details, "torch")
    result = {
        "model": "yolov8n", "strategy": "l1-unstructured", "amount": 0.9,
        "achieved_sparsity": report["achieved_sparsity"], "imgsz": IMGSZ, "pairs": PAIRS,
        "threads": threads or torch.get_num_threads(),
        "nonzero_gflops_ratio": round(metrics["nonzero_gflops"] / metrics["gflops"], 3),
        "onnxruntime": ort, "torch": torch_side, "expected": "speed-up ~1.0 (dense kernels multiply the zeros too)",
    }
    print(f"\nunstructured in ONNX Runtime ({result['threads']} threads): l1-unstructured 0.9 runs {ort['speedup']:.3f}x "
          f"the dense model's speed (IQR {ort['speedup_iqr']:.3f}; {ort['pruned_latency_ms']} vs "
          f"{ort['dense_latency_ms']} ms; expected ~1.0) while non-zero GFLOPs are {result['nonzero_gflops_ratio']} of "
          f"dense; torch {torch_side['speedup']:.3f}x (IQR {torch_side['speedup_iqr']:.3f}); "
          f"noisy ort={ort['noisy']} torch={torch_side['noisy']}")
    save(f"unstructured_onnxruntime_{result['threads']}_threads", result, load_before)
