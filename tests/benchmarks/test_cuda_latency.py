"""CUDA latency of the COCO yolo11n, dense and channel-pruned to 2x fewer GFLOPs (`pytest tests/benchmarks
--benchmark-only -k cuda -s`; skips without a GPU). The offline GPU kit runs it.

Both models are timed by `prunebench.measure.cell.measure` exactly as a cell times them: batch-1 forward latency
(torch.utils.benchmark, the GPU synchronised before each clock read, warm-up first), its IQR, and the speed-up from
alternating dense / pruned pairs. Asked of it: did the measured speed-up reach 0.8 of the FLOPs ratio? Printed and
written to results/benchmarks/cuda_latency.json; nothing is asserted about time. At batch 1 a nano detector on a
large GPU is bound by kernel launches more than by arithmetic, so the batch-32 throughput ratio is recorded beside
it. The models keep their COCO weights (latency does not depend on the values; NMS, which could, is outside
`latency_ms`).
"""

import copy
import json
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "results" / "benchmarks" / "cuda_latency.json"
IMGSZ = 640
PRUNE_IMGSZ = 320  # GFLOPs ratios barely depend on the size; counting at 320 px keeps the bisection quick
PAIRS = 9
TARGET = 2.0
THROUGHPUT_BATCH = 32

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(),
                                 reason=f"no CUDA GPU: torch {torch.__version__} reports torch.cuda.is_available() False")]


def test_cuda_latency_dense_and_2x_pruned_yolo11n(benchmark, tmp_path):
    from prunebench.plugin.base import CellContext
    from prunebench.util.environment import environment
    from prunebench.measure.cell import measure
    from prunebench.pruning import prune_to_speedup
    from prunebench.run.cell_phases import fused_gflops
    from prunebench.yolo.checkpoints import load_model
    from prunebench_builtins.channel import L1Channel

    dense = load_model(REPO / "weights" / "yolo11n.pt")
    ctx = CellContext(device="cpu", seed=0, cache_dir=tmp_path, work_dir=tmp_path, imgsz=IMGSZ, batch=1)
    found = prune_to_speedup(copy.deepcopy(dense), lambda m, fraction: L1Channel().prune(m, fraction, ctx), TARGET,
                             lambda m: fused_gflops(m, PRUNE_IMGSZ))
    images = sorted((REPO / "data" / "coco128" / "images" / "val").glob("*.jpg"))[:16]
    run = dict(imgsz=IMGSZ, device="cuda:0", images=images, min_run_time=1.0, batch_throughput=THROUGHPUT_BATCH)
    _measured = measure(dense, **run)
    dense_metrics, dense_details = _measured.metrics, _measured.details
    measured = benchmark.pedantic(measure, args=(found.model,), kwargs=dict(run, reference=dense, pairs=PAIRS),
                                  rounds=1, iterations=1)
    metrics, details = measured.metrics, measured.details
    flops_ratio = dense_metrics["gflops"] / metrics["gflops"]
    speedup = metrics["speedup_vs_dense"]
    throughput_ratio = metrics["throughput_ips"] / dense_metrics["throughput_ips"]
    env = environment("cuda:0")
    result = {
        "device_name": env["device_name"], "torch": env["torch"], "cuda": env.get("cuda"), "imgsz": IMGSZ,
        "strategy": "l1-channel to a 2x GFLOPs target", "achieved_flops_ratio": round(flops_ratio, 3),
        "dense_gflops": round(dense_metrics["gflops"], 3), "pruned_gflops": round(metrics["gflops"], 3),
        "dense_latency_ms": round(dense_metrics["latency_ms"], 4),
        "dense_latency_iqr_ms": round(dense_metrics["latency_iqr_ms"], 4),
        "pruned_latency_ms": round(metrics["latency_ms"], 4), "pruned_latency_iqr_ms": round(metrics["latency_iqr_ms"], 4),
        "paired_speedup": round(speedup, 4), "paired_speedup_iqr": round(metrics["speedup_iqr"], 4),
        "paired_speedup_per_pair": details["paired_speedup"]["per_pair"], "pairs": PAIRS,
        "speedup_over_flops_ratio": round(speedup / flops_ratio, 3),
        "reached_0.8_of_flops_ratio": bool(speedup >= 0.8 * flops_ratio),
        f"throughput_ratio_batch_{THROUGHPUT_BATCH}": round(throughput_ratio, 3),
        "throughput_ratio_over_flops_ratio": round(throughput_ratio / flops_ratio, 3),
        "timer": dense_details["latency"]["timer"], "warmup": dense_details["latency"]["warmup"],
        "threads": details["latency"]["threads"],
    }
    print(f"\nCUDA latency on {result['device_name']}, yolo11n at {IMGSZ} px, batch 1: dense "
          f"{result['dense_latency_ms']} ms (IQR {result['dense_latency_iqr_ms']}), 2x-pruned "
          f"{result['pruned_latency_ms']} ms (IQR {result['pruned_latency_iqr_ms']}); paired speed-up {speedup:.2f}x "
          f"(IQR {result['paired_speedup_iqr']}) for {flops_ratio:.2f}x fewer GFLOPs: {result['speedup_over_flops_ratio']} "
          f"of the FLOPs ratio (0.8 reached: {result['reached_0.8_of_flops_ratio']}); batch-{THROUGHPUT_BATCH} "
          f"throughput {throughput_ratio:.2f}x")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data["yolo11n_dense_vs_2x_l1_channel"] = dict(result, load_average_1m=round(os.getloadavg()[0], 2))
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
