"""Timing on real images, as a deployed detector runs: letterbox, forward, NMS.

Every figure comes from `torch.utils.benchmark.Timer.blocked_autorange`. Its default timer
calls `torch.accelerator.synchronize()` before reading the clock when an accelerator is
present (torch/utils/benchmark/utils/timer.py: `timer()`), so CUDA kernels are waited for;
on CPU it is `timeit.default_timer`. The Timer runs at the thread count we give it (its own
default is 1), and we pin `torch.set_num_threads` for warm-up as well, restoring it after.
"""

from __future__ import annotations

import itertools
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from prunebench.measure.noise import load_average
from prunebench.measure.pairs import PairRule
from torch.utils import benchmark

WARMUP_RUNS = 3  # at least this many untimed runs, and at least WARMUP_SHARE of min_run_time
WARMUP_SHARE = 0.1
# What Ultralytics' predictor uses by default (cfg/default.yaml: conf 0.25, iou 0.7, max_det 300).
NMS_CONF = 0.25
NMS_IOU = 0.7
NMS_MAX_DET = 300


@contextmanager
def fixed_threads(threads: int) -> Iterator[None]:
    """Run the block with `threads` intra-op threads; the caller's setting comes back after."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def time_it(step: Callable[[], Any], *, threads: int, min_run_time: float, label: str) -> dict[str, Any]:
    """Warm `step` up, then time it with blocked_autorange; returns the Measurement as plain numbers (ms)."""
    warm_until = time.perf_counter() + WARMUP_SHARE * min_run_time
    for run in itertools.count():
        if run >= WARMUP_RUNS and time.perf_counter() >= warm_until:
            break
        step()
    timer = benchmark.Timer(stmt="step()", globals={"step": step}, num_threads=threads, label=label)
    return summarize(timer.blocked_autorange(min_run_time=min_run_time))


def summarize(measurement: benchmark.Measurement) -> dict[str, Any]:
    """Statistics over the timed blocks; each block ran `number_per_run` calls and counts as their mean
    (blocked_autorange makes blocks long enough that reading the clock costs under 0.01 %)."""
    times_ms = [t * 1e3 for t in measurement.times]
    q1, _, q3 = statistics.quantiles(times_ms, n=4, method="inclusive") if len(times_ms) > 1 else (times_ms * 3)
    return {
        "median_ms": measurement.median * 1e3,
        "iqr_ms": measurement.iqr * 1e3,
        "mean_ms": measurement.mean * 1e3,
        "std_ms": statistics.pstdev(times_ms),
        "min_ms": min(times_ms),
        "max_ms": max(times_ms),
        "p25_ms": q1,
        "p75_ms": q3,
        "runs": len(times_ms),
        "number_per_run": measurement.number_per_run,
        "calls": len(times_ms) * measurement.number_per_run,
        "total_s": sum(measurement.raw_times),
        "significant_figures": measurement.significant_figures,
        "iqr_over_median": measurement.iqr / measurement.median if measurement.median else None,
        "times_ms": [round(t, 4) for t in times_ms],
    }


def read_images(paths: list[Path], limit: int) -> list[np.ndarray]:
    """Decode up to `limit` images (BGR uint8, as cv2 reads them); decoding is not part of any timing."""
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.utils.patches import imread

    images = []
    for path in list(paths)[:limit]:
        image = imread(str(path))
        if image is None:
            raise ValueError(f"latency measurement: cannot read image {str(path)!r} (missing, or not an image "
                             "OpenCV can decode). Latency is timed on the dataset's validation images: check that "
                             "the dataset's val folder holds readable .jpg/.png files, or turn latency off with "
                             "`evaluation: {measure: {latency: false}}`.")
        images.append(image)
    return images


class Preprocess:
    """Ultralytics' predictor preprocessing for one BGR image: letterbox to a square imgsz
    (LetterBox(auto=False)), HWC->CHW, BGR->RGB, uint8 -> float32 / 255, on the device."""

    def __init__(self, imgsz: int, stride: int, device: torch.device):
        from ultralytics.data.augment import LetterBox

        self.letterbox = LetterBox((imgsz, imgsz), auto=False, stride=stride)
        self.device = device

    def __call__(self, image: np.ndarray) -> torch.Tensor:
        boxed = self.letterbox(image=image)
        x = torch.from_numpy(boxed).unsqueeze(0).to(self.device)  # moved as uint8, converted on the device
        x = x.permute(0, 3, 1, 2).contiguous().flip(1)
        return x.float().div_(255)


def model_stride(model: torch.nn.Module) -> int:
    """The model's largest stride (Ultralytics models carry `stride`), at least 32."""
    return max(int(torch.as_tensor(getattr(model, "stride", 32)).max()), 32)


def cycling(items: list[Any]) -> Callable[[], Any]:
    """A zero-argument callable returning the items in turn, forever: timed runs see every image."""
    source = itertools.cycle(items)
    return lambda: next(source)


def time_model(model: torch.nn.Module, raw_images: list[np.ndarray], *, imgsz: int, device: torch.device,
               threads: int, batch_throughput: int, min_run_time: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Forward-only latency (batch 1), end to end latency (preprocess + forward + NMS, batch 1) with its
    phases, and forward-only throughput at `batch_throughput`. `model` is ready to run (fused, eval, on device)."""
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.utils.nms import non_max_suppression

    stride = model_stride(model)
    end2end = bool(getattr(model, "end2end", False))
    preprocess = Preprocess(imgsz, stride, device)

    def nms(predictions):
        return non_max_suppression(predictions, NMS_CONF, NMS_IOU, max_det=NMS_MAX_DET, end2end=end2end)

    with torch.inference_mode():
        inputs = [preprocess(image) for image in raw_images]
        predictions = [model(x) for x in inputs]
        batch = torch.cat([inputs[i % len(inputs)] for i in range(batch_throughput)])

    next_raw, next_input, next_prediction = cycling(raw_images), cycling(inputs), cycling(predictions)

    @torch.inference_mode()
    def forward():
        return model(next_input())

    @torch.inference_mode()
    def end_to_end():
        return nms(model(preprocess(next_raw())))

    @torch.inference_mode()
    def forward_batch():
        return model(batch)

    @torch.inference_mode()
    def preprocess_only():
        return preprocess(next_raw())

    @torch.inference_mode()
    def nms_only():
        return nms(next_prediction())

    load_before = load_average()
    run = dict(threads=threads, min_run_time=min_run_time)
    forward_stats = time_it(forward, label="forward, batch 1", **run)
    e2e_stats = time_it(end_to_end, label="preprocess + forward + NMS, batch 1", **run)
    throughput_stats = time_it(forward_batch, label=f"forward, batch {batch_throughput}", **run)
    phases = {"preprocess": time_it(preprocess_only, label="preprocess", **run),
              "forward": forward_stats,
              "nms": time_it(nms_only, label="NMS", **run)}

    metrics = {
        "latency_ms": forward_stats["median_ms"],
        "latency_iqr_ms": forward_stats["iqr_ms"],
        "e2e_latency_ms": e2e_stats["median_ms"],
        "throughput_ips": batch_throughput / (throughput_stats["median_ms"] / 1e3),
    }
    details = {
        "timer": "torch.utils.benchmark.Timer.blocked_autorange (synchronizes the accelerator before each clock read)",
        "threads": threads,
        "min_run_time_s": min_run_time,
        "warmup": f"at least {WARMUP_RUNS} runs and {WARMUP_SHARE} x min_run_time before each timer",
        # Other processes (or, in a VM, other guests taking vCPUs) inflate multi-threaded CPU timings most.
        "load_average_1m": {"before": load_before, "after": load_average()},
        "imgsz": imgsz,
        "dtype": "float32",
        "images": len(raw_images),
        "batch_sizes": {"latency": 1, "e2e": 1, "throughput": batch_throughput},
        "forward": forward_stats,
        "e2e": e2e_stats,
        "e2e_phases_median_ms": {name: stats["median_ms"] for name, stats in phases.items()},
        "e2e_phases": {name: stats for name, stats in phases.items() if name != "forward"},
        "throughput": throughput_stats,
        "nms": {"function": "ultralytics.utils.nms.non_max_suppression", "conf": NMS_CONF, "iou": NMS_IOU,
                "max_det": NMS_MAX_DET, "end2end": end2end},
        "preprocess": "letterbox to imgsz (ultralytics LetterBox, auto=False), BGR->RGB, /255, CHW float32; "
                      "image decoding excluded",
    }
    return metrics, details


def paired_speedup(model: torch.nn.Module, reference: torch.nn.Module, raw_images: list[np.ndarray], *, imgsz: int,
                   device: torch.device, threads: int, rule: PairRule, min_run_time: float) -> dict[str, Any]:
    """How much faster `model` runs than `reference` (both ready to run), forward pass at batch 1, timed in
    back-to-back pairs with the order swapped every pair until `rule` is met (prunebench.measure.pairs): the
    median of the pairs' ratios and its 95 % interval.

    Latency on a shared machine drifts by tens of percent over minutes; two models timed seconds apart
    see the same drift, so their ratio holds where two cells' separate latencies do not."""
    from prunebench.measure.pairs import time_pairs

    stride = max(model_stride(model), model_stride(reference))
    preprocess = Preprocess(imgsz, stride, device)
    with torch.inference_mode():
        inputs = [preprocess(image) for image in raw_images]

    def timer_of(net):
        next_input = cycling(inputs)

        @torch.inference_mode()
        def forward():
            return net(next_input())

        return lambda label: time_it(forward, label=label, threads=threads, min_run_time=min_run_time)["median_ms"]

    found = time_pairs(timer_of(model), timer_of(reference), rule)
    return {**found.details(), "min_run_time_s": min_run_time, "threads": threads,
            "method": "forward pass, batch 1, on the dataset's images; pruned and dense timed back to back, order "
                      "swapped every pair, until the 95 % interval is within the rule's width or its cap; "
                      "speed-up = median over pairs of dense / pruned"}, found
