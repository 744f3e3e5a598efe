"""One cell's measurement: the costs of `prunebench.measure.costs` and, on real images, the latency of
`prunebench.measure.latency` (PyTorch) and `prunebench.measure.onnxrt` (ONNX Runtime), each with the paired
speed-up against the dense model. The caller's model is never changed (see costs.py for the conventions
every record states)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from prunebench.measure.pairs import PairRule, pair_run_time, speedup_metrics
from prunebench.measure.costs import (count_flops, deployable, deployable_copy, effective_copy, parameter_counts,
                                      state_dict_sizes, stride_multiple)
from prunebench.util.measurement import Measurement
from prunebench.util.metrics import BY_NAME, TIMED, TIMED_PER_RUNTIME

# Enough images that timed runs cycle through several, few enough to keep memory small at 640 px.
MAX_TIMING_IMAGES = 16
RUNTIMES = ("torch", "onnxruntime")


def measure(model: nn.Module, *, imgsz: int, device: str, images: list[Path], threads: int | None = None,
            batch_throughput: int = 8, min_run_time: float = 1.0, reference: nn.Module | None = None,
            pairs: int = 15, runtimes: Sequence[str] = ("torch",), checkpoint: Path | None = None,
            reference_checkpoint: Path | None = None, rule: PairRule | None = None) -> Measurement:
    """Params, sparsity, FLOPs, sizes and (when `images` is not empty) latency and throughput of `model`.

    With a `reference` (the dense model a pruned one came from) and images, also `speedup_vs_dense`:
    the two timed in alternating pairs, so the machine's drift cancels out of the ratio, until `rule`
    (prunebench.measure.pairs; default: at least `pairs` pairs, ±3 %, 60 s) is met; 0 `pairs` and no rule:
    none. The median of the per-pair ratios, their IQR as `speedup_iqr`, the 95 % interval as
    `speedup_low` / `speedup_high`, the pairs timed as `speedup_pairs`, and `speedup_capped` (the cap came
    before the width).

    `runtimes` says where latency is timed: "torch" (eager PyTorch: latency, end-to-end, throughput) and/or
    "onnxruntime" (forward latency of the ONNX export, and its paired speed-up): metrics
    latency_ms_onnxruntime, latency_iqr_ms_onnxruntime, speedup_vs_dense_onnxruntime,
    speedup_iqr_onnxruntime, speedup_low_onnxruntime, ... (as torch's, suffixed);
    details["runtimes"]["onnxruntime"]. The ONNX files are exported by
    Ultralytics into a scratch folder from `checkpoint` / `reference_checkpoint` (the kept .pt files)
    when given, else from the models themselves saved as checkpoints. A `reference_checkpoint` without
    a `reference` module is loaded as the reference.

    Returns a Measurement: its metrics are the record's flat numbers (latency ones None when no images are given),
    its details the full timing statistics and the conventions used, its threads the count timing used.
    """
    runtimes = _check_arguments(imgsz, batch_throughput, min_run_time, threads, runtimes)
    threads = threads or torch.get_num_threads()
    if reference is None and reference_checkpoint is not None:
        from prunebench.yolo.checkpoints import load_model

        reference = load_model(reference_checkpoint)
    effective = effective_copy(model)
    metrics: dict[str, Any] = {**parameter_counts(effective), **state_dict_sizes(effective)}

    target = torch.device(device)
    runnable = deployable(effective_copy(effective), target)  # `effective` stays unfused, on the CPU: exportable
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
        "runtimes_requested": list(runtimes),
    }

    metrics.update(dict.fromkeys(TIMED))  # None until timed (latency off: they stay None)
    for runtime in runtimes:
        if runtime != "torch":
            metrics.update(dict.fromkeys(BY_NAME[name].for_runtime(runtime) for name in TIMED_PER_RUNTIME))
    if not images:
        details["latency"] = {"skipped": "no images given (latency measurement off)"}
        return Measurement(metrics, details, threads=threads)
    # Imported here: torch.utils.benchmark costs ~0.1 s to import, wasted when latency is off.
    from prunebench.measure.latency import fixed_threads, paired_speedup, read_images, time_model
    from prunebench.measure.noise import noisy_reasons

    if "onnxruntime" in runtimes:
        from prunebench.yolo.export import check_format

        check_format("onnx")  # a missing package fails now, not after minutes of torch timing
    raw = read_images(images, MAX_TIMING_IMAGES)
    if rule is None and pairs > 0:
        rule = PairRule(min_pairs=pairs)
    paired = reference is not None and rule is not None
    if "torch" in runtimes:
        with fixed_threads(threads):
            timed, details["latency"] = time_model(runnable, raw, imgsz=imgsz, device=target, threads=threads,
                                                   batch_throughput=batch_throughput, min_run_time=min_run_time)
            if paired:
                details["paired_speedup"], found = paired_speedup(
                    runnable, deployable_copy(reference, target), raw, imgsz=imgsz, device=target, threads=threads,
                    rule=rule, min_run_time=pair_run_time(min_run_time))
                timed.update(speedup_metrics(found, "speedup_vs_dense", "speedup_iqr"))
        latency = details["latency"]
        latency["noisy_reasons"] = noisy_reasons(latency["forward"], details.get("paired_speedup"),
                                                 latency["load_average_1m"])
        latency["noisy"] = bool(latency["noisy_reasons"])
        metrics.update(timed)
    else:
        details["latency"] = {"skipped": "torch is not among the runtimes timed", "runtimes": list(runtimes)}
    if "onnxruntime" in runtimes:
        details.setdefault("runtimes", {})["onnxruntime"] = _time_onnxruntime(
            metrics, effective, runnable, reference if paired else None, raw, imgsz=imgsz, device=device,
            threads=threads, min_run_time=min_run_time, rule=rule if paired else None, checkpoint=checkpoint,
            reference_checkpoint=reference_checkpoint)
    return Measurement(metrics, details, threads=threads)


def _time_onnxruntime(metrics: dict[str, Any], effective: nn.Module, runnable: nn.Module, reference: nn.Module | None,
                      raw: list, *, imgsz: int, device: str, threads: int, min_run_time: float, rule: PairRule | None,
                      checkpoint: Path | None, reference_checkpoint: Path | None) -> dict[str, Any]:
    """Export the model (and the reference) to ONNX in a scratch folder and time them in ONNX Runtime;
    updates `metrics`, returns the details."""
    from prunebench.measure.onnxrt import time_onnxruntime, timed_export
    from prunebench.yolo.checkpoints import save_model

    with tempfile.TemporaryDirectory(prefix="prunebench-onnx-") as tmp:
        scratch = Path(tmp)

        def exported(source: Path | None, module: nn.Module, name: str) -> tuple[Path, dict[str, Any]]:
            if source is None:  # no kept file: the model as measured, saved as an Ultralytics checkpoint
                source = save_model(effective_copy(module), scratch / "saved" / f"{name}.pt")
                origin = "the model given to measure(), saved with prunebench.yolo.checkpoints.save_model"
            else:
                origin = str(source)
            path, info = timed_export(Path(source), imgsz, scratch / name)
            return path, {**info, "from": origin}

        model_onnx, export_info = exported(checkpoint, effective, "model")
        reference_onnx, reference_info = (exported(reference_checkpoint, reference, "reference")
                                          if reference is not None else (None, None))
        timed, details = time_onnxruntime(model_onnx, reference_onnx, raw, imgsz=imgsz, device=device,
                                          threads=threads, min_run_time=min_run_time, rule=rule,
                                          torch_model=runnable)
    metrics.update(timed)
    details["export"] = export_info
    if reference_info is not None:
        details["reference_export"] = reference_info
    return details


def _check_arguments(imgsz: int, batch_throughput: int, min_run_time: float, threads: int | None,
                     runtimes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(runtimes, str) or not runtimes or any(r not in RUNTIMES for r in runtimes):
        raise ValueError(f"measure: runtimes {runtimes!r} must be a non-empty list of {', '.join(RUNTIMES)} "
                         "(`evaluation.measure.runtimes`, or --runtimes torch,onnxruntime)")
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
    return tuple(dict.fromkeys(runtimes))
