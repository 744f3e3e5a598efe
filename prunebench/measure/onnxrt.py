"""Latency in ONNX Runtime: the exported model as a deployment would run it.

The ONNX files come from Ultralytics' exporter (`prunebench.yolo.export`), float32, batch 1, static
imgsz x imgsz. Inputs are the same real images as the torch timing, letterboxed by the same
`prunebench.measure.latency.Preprocess`, handed to ONNX Runtime as float32 numpy arrays; each timed
call is one `InferenceSession.run` (host input in, host output out: on the CUDA provider the copies
are part of the figure, as they are in a deployment that reads its results).

Timing reuses `prunebench.measure.latency.time_it`: warm-up runs first, then
`torch.utils.benchmark.Timer.blocked_autorange`, whose clock on CPU is `time.perf_counter`
(`timeit.default_timer`); `InferenceSession.run` returns only when the outputs are on the host, so
every block is complete when the clock is read. The speed-up against the dense model uses the same
paired method as torch (prunebench.measure.pairs): alternating pairs until the 95 % interval of the median
ratio is narrow enough or the time cap is reached.

Sessions: CPUExecutionProvider with `intra_op_num_threads` = the timing thread count,
`inter_op_num_threads` = 1, sequential execution, all graph optimizations (ORT's default). On a CUDA
device the CUDAExecutionProvider is used when this ONNX Runtime build has it (the `onnxruntime-gpu`
package); otherwise the CPU figure is timed and the details say that CUDA ONNX Runtime was unavailable.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from prunebench.measure.noise import load_average, noisy_reasons
from prunebench.measure.pairs import PairRule, SpeedupEstimate, pair_run_time, speedup_metrics, time_pairs

RUNTIME = "onnxruntime"
CPU_PROVIDER = "CPUExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"


def session(onnx_path: Path, *, threads: int, device: str) -> tuple[Any, dict[str, Any]]:
    """An InferenceSession for `onnx_path` and what it runs on: {"providers", "requested_device",
    "cuda_unavailable" (None, or why the CUDA provider is not used), "session_options"}."""
    from prunebench.yolo.export import import_onnxruntime

    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: no provider-fallback chatter on stderr
    providers: list[Any] = [CPU_PROVIDER]
    unavailable = None
    if device.startswith("cuda"):
        if CUDA_PROVIDER in ort.get_available_providers():
            index = int(device.split(":", 1)[1]) if ":" in device else 0
            providers = [(CUDA_PROVIDER, {"device_id": index}), CPU_PROVIDER]
        else:
            unavailable = (f"CUDA ONNX Runtime unavailable: this onnxruntime {ort.__version__} build offers "
                           f"{', '.join(ort.get_available_providers())}; timed on the CPU provider instead "
                           "(install onnxruntime-gpu in place of onnxruntime for GPU figures)")
    sess = ort.InferenceSession(str(onnx_path), options, providers=providers)
    used = sess.get_providers()
    if device.startswith("cuda") and unavailable is None and CUDA_PROVIDER not in used:
        unavailable = (f"CUDA ONNX Runtime unavailable: the CUDA provider failed to load (ONNX Runtime fell back to "
                       f"{', '.join(used)}); check that the CUDA and cuDNN libraries onnxruntime-gpu "
                       f"{ort.__version__} needs are installed")
    info = {"providers": used, "requested_device": device, "cuda_unavailable": unavailable,
            "onnxruntime": ort.__version__,
            "session_options": {"intra_op_num_threads": threads, "inter_op_num_threads": 1,
                                "execution_mode": "ORT_SEQUENTIAL", "graph_optimization_level": "ORT_ENABLE_ALL"}}
    return sess, info


def letterboxed_inputs(raw_images: list[np.ndarray], imgsz: int) -> list[np.ndarray]:
    """The images as the torch timing sees them (latency.Preprocess on the CPU), as float32 NCHW arrays."""
    import torch

    from prunebench.measure.latency import Preprocess

    preprocess = Preprocess(imgsz, 32, torch.device("cpu"))  # auto=False: always imgsz x imgsz, stride unused
    with torch.inference_mode():
        return [np.ascontiguousarray(preprocess(image).numpy()) for image in raw_images]


def runner(sess, inputs: list[np.ndarray]) -> Callable[[], Any]:
    """A zero-argument call of `sess` on the inputs in turn (one image per call, batch 1)."""
    from prunebench.measure.latency import cycling

    name = sess.get_inputs()[0].name
    outputs = [o.name for o in sess.get_outputs()]
    next_input = cycling(inputs)
    return lambda: sess.run(outputs, {name: next_input()})


def time_session(sess, inputs: list[np.ndarray], *, threads: int, min_run_time: float) -> dict[str, Any]:
    """Forward latency statistics (ms) of one session at batch 1: warm-up, then blocked timing."""
    from prunebench.measure.latency import time_it

    return time_it(runner(sess, inputs), threads=threads, min_run_time=min_run_time, label="onnxruntime, batch 1")


def paired_speedup(sess, reference_sess, inputs: list[np.ndarray], *, threads: int, rule: PairRule,
                   min_run_time: float) -> tuple[dict[str, Any], SpeedupEstimate]:
    """How much faster `sess` runs than `reference_sess`: back-to-back timings, order swapped every pair, until
    `rule` is met (prunebench.measure.pairs); the median of the per-pair ratios (reference / model), its 95 %
    interval, and the details behind it."""
    from prunebench.measure.latency import time_it

    def timer_of(step):
        return lambda label: time_it(step, threads=threads, min_run_time=min_run_time,
                                     label=f"onnxruntime {label}")["median_ms"]

    found = time_pairs(timer_of(runner(sess, inputs)), timer_of(runner(reference_sess, inputs)), rule)
    return {**found.details(), "min_run_time_s": min_run_time, "threads": threads,
            "method": "ONNX Runtime forward, batch 1, on the dataset's images; pruned and dense sessions timed back "
                      "to back, order swapped every pair, until the 95 % interval is within the rule's width or "
                      "its cap; speed-up = median over pairs of dense / pruned"}, found


def parity(sess, inputs: list[np.ndarray], torch_model) -> dict[str, Any]:
    """ONNX Runtime's output against the torch model's on the first image: a wrong export shows here."""
    import torch

    ort_out = runner(sess, inputs[:1])()[0]
    with torch.inference_mode():
        parameter = next(torch_model.parameters())
        out = torch_model(torch.from_numpy(inputs[0]).to(parameter.device, parameter.dtype))
    out = out[0] if isinstance(out, (list, tuple)) else out
    torch_out = out.float().cpu().numpy()
    if torch_out.shape != ort_out.shape:
        return {"compared": False, "reason": f"output shapes differ: torch {list(torch_out.shape)}, "
                                             f"onnxruntime {list(ort_out.shape)}"}
    return {"compared": True, "image": 0, "max_abs_diff": float(np.abs(torch_out - ort_out).max()),
            "max_abs_output": float(np.abs(torch_out).max()), "shape": list(torch_out.shape)}


def time_onnxruntime(model_onnx: Path, reference_onnx: Path | None, raw_images: list[np.ndarray], *, imgsz: int,
                     device: str, threads: int, min_run_time: float, rule: PairRule | None,
                     torch_model=None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ONNX Runtime metrics of a cell (latency_ms_onnxruntime, latency_iqr_ms_onnxruntime,
    speedup_vs_dense_onnxruntime, speedup_iqr_onnxruntime, speedup_low/high/pairs/capped_onnxruntime) and the
    details behind them.

    `reference_onnx` (the dense model's export) and a pair `rule` give the paired speed-up; `torch_model`
    (ready to run) gives the parity check of the outputs."""
    inputs = letterboxed_inputs(raw_images, imgsz)
    sess, info = session(model_onnx, threads=threads, device=device)
    load_before = load_average()
    forward = time_session(sess, inputs, threads=threads, min_run_time=min_run_time)
    metrics: dict[str, Any] = {f"latency_ms_{RUNTIME}": forward["median_ms"],
                               f"latency_iqr_ms_{RUNTIME}": forward["iqr_ms"],
                               **speedup_metrics(None, "speedup_vs_dense", "speedup_iqr", f"_{RUNTIME}")}
    details: dict[str, Any] = {
        **info,
        "timer": "prunebench.measure.latency.time_it: warm-up, then torch.utils.benchmark.Timer.blocked_autorange "
                 "(time.perf_counter on CPU); InferenceSession.run returns with the outputs on the host",
        "threads": threads, "min_run_time_s": min_run_time, "imgsz": imgsz, "images": len(inputs),
        "dtype": "float32", "batch": 1,
        "input": "letterbox to imgsz (ultralytics LetterBox, auto=False), BGR->RGB, /255, NCHW float32 numpy; "
                 "decoding and letterboxing excluded; forward only (no NMS)",
        "model_file": Path(model_onnx).name,
        "forward": forward,
    }
    if reference_onnx is not None and rule is not None:
        reference_sess, _ = session(reference_onnx, threads=threads, device=device)
        details["paired_speedup"], found = paired_speedup(sess, reference_sess, inputs, threads=threads, rule=rule,
                                                          min_run_time=pair_run_time(min_run_time))
        metrics.update(speedup_metrics(found, "speedup_vs_dense", "speedup_iqr", f"_{RUNTIME}"))
    details["load_average_1m"] = {"before": load_before, "after": load_average()}
    details["noisy_reasons"] = noisy_reasons(forward, details.get("paired_speedup"), details["load_average_1m"])
    details["noisy"] = bool(details["noisy_reasons"])
    if torch_model is not None:
        details["parity_vs_torch"] = parity(sess, inputs, torch_model)
    return metrics, details


def timed_export(checkpoint: Path, imgsz: int, out_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Ultralytics' ONNX export of `checkpoint` into `out_dir`, and how it was made."""
    from prunebench.yolo.export import export_checkpoint

    start = time.perf_counter()
    path = export_checkpoint(checkpoint, "onnx", imgsz=imgsz, out_dir=out_dir)
    return path, {"exporter": "ultralytics YOLO(checkpoint).export(format='onnx', simplify=True)", "imgsz": imgsz,
                  "seconds": round(time.perf_counter() - start, 3), "bytes": path.stat().st_size}
