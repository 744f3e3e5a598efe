"""Latency of a deployment in its own runtime, and paired speed-ups against other deployments.

A `Deployment` is one model ready to run at batch 1 on the dataset's images in one runtime: PyTorch eager
(fused, float32), ONNX Runtime (`prunebench.measure.onnxrt.session`: CPU provider, `threads` intra-op
threads, sequential), or OpenVINO (`compile_model(..., "CPU", {INFERENCE_NUM_THREADS: threads, NUM_STREAMS: 1,
PERFORMANCE_HINT: LATENCY, INFERENCE_PRECISION_HINT: f32})`, one infer request reused; f32 because the CPU
plugin's default on a CPU with AMX runs an FP32 IR in bfloat16; the precision the compiled model reports is
recorded).
Inputs are the same real images everywhere, letterboxed by `prunebench.measure.latency.Preprocess` to the
deployment's own imgsz; each timed call is one forward pass (no NMS), through `latency.time_it`.

`paired(model, reference)` times the two back to back, order swapped every pair, and takes the median of the
per-pair ratios reference / model with its 95 % interval (prunebench.measure.pairs, as `latency.paired_speedup`
and `onnxrt.paired_speedup`), so the machine's drift cancels even between runtimes and input sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from prunebench.measure.noise import load_average, noisy_reasons
from prunebench.measure.pairs import PairRule, SpeedupEstimate, pair_run_time, speedup_metrics, time_pairs


@dataclass
class Deployment:
    runtime: str  # torch | onnxruntime | openvino
    imgsz: int
    step: Callable[[], Any]  # one forward pass at batch 1 on the next image
    info: dict[str, Any] = field(default_factory=dict)


def _inputs(raw_images: list[np.ndarray], imgsz: int) -> list[np.ndarray]:
    from prunebench.measure.onnxrt import letterboxed_inputs

    return letterboxed_inputs(raw_images, imgsz)


def torch_deployment(model, raw_images: list[np.ndarray], imgsz: int, device: str = "cpu") -> Deployment:
    """`model` (an nn.Module) fused, float32, eval, on `device`."""
    import torch

    from prunebench.measure.costs import deployable_copy, stride_multiple
    from prunebench.measure.latency import cycling

    target = torch.device(device)
    runnable = deployable_copy(model, target)
    size = stride_multiple(imgsz, runnable)
    inputs = [torch.from_numpy(x).to(target) for x in _inputs(raw_images, size)]
    next_input = cycling(inputs)

    @torch.inference_mode()
    def step():
        return runnable(next_input())

    return Deployment("torch", size, step, {"runtime": "torch", "imgsz": size, "dtype": "float32",
                                            "model": "fused Conv+BN, eval"})


def onnxruntime_deployment(path: Path, raw_images: list[np.ndarray], imgsz: int, *, threads: int,
                           device: str = "cpu") -> Deployment:
    from prunebench.measure.onnxrt import runner, session

    sess, info = session(Path(path), threads=threads, device=device)
    return Deployment("onnxruntime", imgsz, runner(sess, _inputs(raw_images, imgsz)),
                      {"runtime": "onnxruntime", "imgsz": imgsz, "file": Path(path).name, **info})


# What every OpenVINO deployment runs its floating-point ops in. The CPU plugin's default on a CPU with AMX or
# AVX512-BF16 is bf16, which would make an "FP32" row a bf16 one. INT8 models get f32 too: their quantized ops
# run in int8 whatever the hint (OpenVINO's CPU device docs: u8/i8 are used for quantized operations only), so
# "INT8 vs its FP32" measures the quantization alone.
OPENVINO_PRECISION = "f32"


def openvino_config(threads: int, props, hints, ov_type) -> dict:
    """The compile_model configuration of every OpenVINO deployment: `threads` threads, one stream, the latency
    hint, inference precision f32 (`props`, `hints`: openvino.properties and .hint; `ov_type`: openvino.Type)."""
    return {props.inference_num_threads: threads, props.num_streams: 1,
            hints.performance_mode: hints.PerformanceMode.LATENCY,
            hints.inference_precision: getattr(ov_type, OPENVINO_PRECISION)}


def openvino_deployment(path: Path, raw_images: list[np.ndarray], imgsz: int, *, threads: int) -> Deployment:
    """An OpenVINO IR (an `_openvino_model` folder or its .xml) compiled for the CPU with `threads` threads, its
    floating-point ops in f32 (OPENVINO_PRECISION); the precision the compiled model reports is recorded."""
    from prunebench.measure.latency import cycling
    from prunebench.yolo.export import runtime_for

    path = Path(path)
    xml = path if path.suffix == ".xml" else next(path.glob("*.xml"))
    with runtime_for(path):
        import openvino as ov
        import openvino.properties as props
        import openvino.properties.hint as hints

        core = ov.Core()
        compiled = core.compile_model(core.read_model(str(xml)), "CPU", openvino_config(threads, props, hints, ov.Type))
    request = compiled.create_infer_request()
    next_input = cycling(_inputs(raw_images, imgsz))

    def step():
        return request.infer({0: next_input()})

    info = {"runtime": "openvino", "imgsz": imgsz, "file": path.name, "openvino": ov.__version__,
            "device": "CPU", "inference_num_threads": compiled.get_property("INFERENCE_NUM_THREADS"),
            "num_streams": int(compiled.get_property("NUM_STREAMS")),
            "performance_hint": str(compiled.get_property("PERFORMANCE_HINT")),
            "inference_precision_requested": OPENVINO_PRECISION,
            # what the compiled model says it runs floating-point ops in: f32 unless the plugin overrode it
            "inference_precision": _type_name(compiled.get_property("INFERENCE_PRECISION_HINT")),
            "cpu_capabilities": list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))}
    return Deployment("openvino", imgsz, step, info)


def _type_name(value) -> str:
    """"bf16" for OpenVINO's Type bf16 (its str() is "<Type: 'bfloat16'>")."""
    name = getattr(value, "get_type_name", None)
    return str(name()) if callable(name) else str(value)


def deployment(runtime: str, artefact, raw_images: list[np.ndarray], imgsz: int, *, threads: int,
               device: str = "cpu") -> Deployment:
    """The deployment of `artefact` (an nn.Module for torch, an export's path otherwise) in `runtime`."""
    if runtime == "torch":
        return torch_deployment(artefact, raw_images, imgsz, device)
    if runtime == "onnxruntime":
        return onnxruntime_deployment(artefact, raw_images, imgsz, threads=threads, device=device)
    if runtime == "openvino":
        return openvino_deployment(artefact, raw_images, imgsz, threads=threads)
    raise ValueError(f"no deployment runtime {runtime!r}: torch, onnxruntime or openvino")


def paired(model: Deployment, reference: Deployment, *, threads: int, rule: PairRule,
           min_run_time: float) -> tuple[dict[str, Any], SpeedupEstimate]:
    """How much faster `model` runs than `reference`: back-to-back timings, order swapped every pair, until `rule`
    is met (prunebench.measure.pairs); the median of the per-pair ratios (reference / model), its 95 % interval,
    and the details behind it."""
    from prunebench.measure.latency import time_it

    def timer_of(step):
        return lambda label: time_it(step, threads=threads, min_run_time=min_run_time, label=label)["median_ms"]

    found = time_pairs(timer_of(model.step), timer_of(reference.step), rule)
    return {**found.details(), "min_run_time_s": min_run_time, "threads": threads, "model": dict(model.info),
            "reference": dict(reference.info),
            "method": "forward pass, batch 1, on the dataset's images, each in its own runtime and input size; "
                      "timed back to back, order swapped every pair, until the 95 % interval is within the "
                      "rule's width or its cap; speed-up = median over pairs of reference / model"}, found


def time_deployment(model: Deployment, references: dict[str, Deployment], *, threads: int, min_run_time: float,
                    rule: PairRule | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record's latency metrics of `model` and the details behind them: latency_ms / latency_iqr_ms (its own
    forward), and for each reference `name`, from `paired` (all None without a rule): speedup_vs_<name>,
    speedup_vs_<name>_iqr, its 95 % interval speedup_vs_<name>_low / _high, speedup_vs_<name>_pairs and
    speedup_vs_<name>_capped. Each reference is its own pair timing: no figure is a product of two others."""
    from prunebench.measure.latency import fixed_threads, time_it

    with fixed_threads(threads):  # the torch deployments' warm-up runs at the timed thread count too
        load_before = load_average()
        forward = time_it(model.step, threads=threads, min_run_time=min_run_time, label=f"{model.runtime}, batch 1")
        metrics: dict[str, Any] = {"latency_ms": forward["median_ms"], "latency_iqr_ms": forward["iqr_ms"]}
        details: dict[str, Any] = {"deployment": dict(model.info), "forward": forward, "threads": threads,
                                   "min_run_time_s": min_run_time, "batch": 1, "paired": {}}
        for name, reference in references.items():
            found = None
            if rule is not None:
                details["paired"][name], found = paired(model, reference, threads=threads, rule=rule,
                                                        min_run_time=pair_run_time(min_run_time))
            metrics.update(speedup_metrics(found, f"speedup_vs_{name}", f"speedup_vs_{name}_iqr"))
    details["load_average_1m"] = {"before": load_before, "after": load_average()}
    reasons = noisy_reasons(forward, None, details["load_average_1m"])
    for name, found in details["paired"].items():
        reasons += [f"vs {name}: {r}" for r in noisy_reasons(None, found, None)]
    details["noisy_reasons"], details["noisy"] = reasons, bool(reasons)
    return metrics, details


__all__ = ["Deployment", "deployment", "onnxruntime_deployment", "openvino_deployment", "paired",
           "time_deployment", "torch_deployment"]
