"""One cell's measurement: the costs of `prunebench.measure.costs` and, on real images, the latency of
`prunebench.measure.latency`, with the paired speed-up against the dense model. The caller's model is
never changed (see costs.py for the conventions every record states)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunebench.measure.costs import (count_flops, deployable, deployable_copy, effective_copy, parameter_counts,
                                      state_dict_sizes, stride_multiple)

# Enough images that timed runs cycle through several, few enough to keep memory small at 640 px.
MAX_TIMING_IMAGES = 16


def measure(model: nn.Module, *, imgsz: int, device: str, images: list[Path], threads: int | None = None,
            batch_throughput: int = 8, min_run_time: float = 1.0, reference: nn.Module | None = None,
            pairs: int = 5) -> tuple[dict[str, Any], dict[str, Any]]:
    """Params, sparsity, FLOPs, sizes and (when `images` is not empty) latency and throughput of `model`.

    With a `reference` (the dense model a pruned one came from) and images, also `speedup_vs_dense`:
    the two timed in `pairs` alternating pairs, so the machine's drift cancels out of the ratio.
    Returns `(metrics, details)`: metrics are the record's flat numbers (latency ones None when no
    images are given); details hold the full timing statistics and the conventions used.
    """
    _check_arguments(imgsz, batch_throughput, min_run_time, threads)
    threads = threads or torch.get_num_threads()
    effective = effective_copy(model)
    metrics: dict[str, Any] = {**parameter_counts(effective), **state_dict_sizes(effective)}

    target = torch.device(device)
    runnable = deployable(effective, target)
    requested, imgsz = imgsz, stride_multiple(imgsz, runnable)
    dense, nonzero = count_flops(runnable, imgsz)
    metrics.update(gflops=dense / 1e9, nonzero_gflops=nonzero / 1e9)
    details: dict[str, Any] = {
        "flops": {"counter": "torch.utils.flop_counter.FlopCounterMode", "multiply_add_flops": 2,
                  "counted": "convolutions and linear layers (matmul-like ops); bias, activations, resize free",
                  "model": "fused Conv+BN, float32", "batch": 1, "imgsz": imgsz,
                  "imgsz_requested": requested, "dense": dense, "nonzero": nonzero},
        "params": {"counted_on": "the model as given (unfused; pruning masks applied)",
                   "fused_params": sum(p.numel() for p in runnable.parameters())},
        "size": {"format": "torch.save(state_dict) of the model as given (pruning masks applied)", "gzip_level": 9},
    }

    metrics.update(latency_ms=None, latency_iqr_ms=None, e2e_latency_ms=None, throughput_ips=None,
                   speedup_vs_dense=None)
    if not images:
        details["latency"] = {"skipped": "no images given (latency measurement off)"}
        return metrics, details
    # Imported here: torch.utils.benchmark costs ~0.1 s to import, wasted when latency is off.
    from prunebench.measure.latency import fixed_threads, paired_speedup, read_images, time_model

    raw = read_images(images, MAX_TIMING_IMAGES)
    with fixed_threads(threads):
        timed, details["latency"] = time_model(runnable, raw, imgsz=imgsz, device=target, threads=threads,
                                               batch_throughput=batch_throughput, min_run_time=min_run_time)
        if reference is not None:
            details["paired_speedup"] = paired_speedup(
                runnable, deployable_copy(reference, target), raw, imgsz=imgsz, device=target, threads=threads,
                pairs=pairs, min_run_time=max(min_run_time / 4, 0.05))
            timed["speedup_vs_dense"] = details["paired_speedup"]["speedup"]
    metrics.update(timed)
    return metrics, details


def _check_arguments(imgsz: int, batch_throughput: int, min_run_time: float, threads: int | None) -> None:
    if imgsz < 1:
        raise ValueError(f"measure: imgsz {imgsz} must be a positive number of pixels (`evaluation.imgsz`).")
    if batch_throughput < 1:
        raise ValueError(f"measure: batch_throughput {batch_throughput} must be at least 1 "
                         "(`evaluation.measure.throughput_batch`).")
    if min_run_time <= 0:
        raise ValueError(f"measure: min_run_time {min_run_time} must be positive seconds "
                         "(`evaluation.measure.min_run_time`).")
    if threads is not None and threads < 1:
        raise ValueError(f"measure: threads {threads} must be at least 1, or None for torch's default "
                         "(`evaluation.measure.threads`).")
