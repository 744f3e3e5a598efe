"""The CUDA path (`pytest -m cuda`): training and fine-tuning on a GPU keeping what pruning did, latency timed with
the GPU synchronised, AMP on and off, GPU memory peak and release per cell, Ray cells sharing one GPU.

Every test here skips, with its reason, where torch sees no CUDA GPU (CI, laptops). The offline GPU kit
(tools/offline_gpu/run_kit.sh) runs them on one.
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO, TINY_MODEL_AND_DATA, load_records, run_cli
from tests.test_training import (TINY_IMGSZ, narrow_first_box_branch, tiny_model, write_tiny_dataset, yolo,
                                 zero_smallest_half)

NO_GPU = (f"no CUDA GPU: torch {torch.__version__} (CUDA build {torch.version.cuda or 'none'}) reports "
          "torch.cuda.is_available() False; run on a GPU machine (tools/offline_gpu/run_kit.sh)")
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)]
DEVICE = "cuda:0"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny-data-cuda"))


def fit(model, data_yaml, work_dir, **kwargs):
    from prunebench.yolo.training import train

    settings = dict(epochs=1, imgsz=TINY_IMGSZ, batch=4, device=DEVICE, seed=0, work_dir=work_dir)
    return train(model, data_yaml, **{**settings, **kwargs})


# ---------------------------------------------------------------- training on the GPU
def test_training_steps_on_cuda_keep_unstructured_masks(tiny_data, tmp_path):
    from prunebench.yolo.checkpoints import save_model
    from prunebench.yolo.training import ConvMasks

    model = tiny_model()
    zeroed = zero_smallest_half(model)
    masks = ConvMasks.capture(model)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}

    trained, info = fit(model, tiny_data, tmp_path / "finetune", epochs=2, keep="masks")

    assert next(trained.parameters()).is_cuda, "the trainer ran the model on the GPU"
    assert masks.count >= zeroed and masks.lost(trained) == 0, "masks re-applied after every step on the GPU"
    moved = [n for n, p in trained.named_parameters() if not torch.equal(before[n], p.detach().cpu())]
    assert len(moved) > 100, "training on the GPU moved (almost) nothing"
    assert info["amp"] is False and info["amp_used"] is False and info["autocast_dtype"] == "float32"
    assert all(math.isfinite(row["box_loss"]) for row in info["loss_curve"])
    assert masks.lost(yolo(save_model(trained, tmp_path / "kept.pt")).model) == 0


def test_a_finetune_epoch_on_cuda_keeps_the_channel_pruned_architecture(tiny_data, tmp_path):
    from prunebench.yolo.checkpoints import save_model
    from prunebench.yolo.training import count_parameters

    model = tiny_model()
    narrow_first_box_branch(model)
    smaller = count_parameters(model)
    assert smaller < count_parameters(tiny_model())

    trained, _ = fit(model, tiny_data, tmp_path / "finetune", keep="structure")

    assert next(trained.parameters()).is_cuda
    assert count_parameters(trained) == smaller
    assert count_parameters(yolo(save_model(trained, tmp_path / "kept.pt")).model) == smaller


@pytest.mark.parametrize("amp, used, dtype", [(False, False, "float32"), (True, True, "float16"),
                                              ("bf16", True, "bfloat16")], ids=["fp32", "fp16", "bf16"])
def test_amp_on_and_off_is_what_training_used_and_records(tiny_data, tmp_path, amp, used, dtype):
    model = tiny_model()
    zero_smallest_half(model)
    trained, info = fit(model, tiny_data, tmp_path / "finetune", keep="masks", amp=amp)
    # Ultralytics' fp16 check runs offline without a download (prunebench.yolo.amp) and passes on a sound GPU.
    assert (info["amp"], info["amp_used"], info["autocast_dtype"]) == (amp, used, dtype)
    assert all(math.isfinite(v) for row in info["loss_curve"] for k, v in row.items() if k != "epoch")
    assert all(p.dtype == torch.float32 for p in trained.parameters()), "the trained model comes back in fp32"


# ---------------------------------------------------------------- timing on the GPU
def cuda_event_ms(step, repeats: int = 20) -> float:
    """The median time of `step` by CUDA events recorded around it on the current stream (the GPU's own clock)."""
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def test_latency_waits_for_the_gpu_and_warms_up_first():
    """A kernel that spins ~2 ms returns to Python at once; a timer that did not synchronise would read microseconds."""
    from prunebench.measure.latency import WARMUP_RUNS, time_it

    cycles = 1 << 20
    while cuda_event_ms(lambda: torch.cuda._sleep(cycles), repeats=3) < 2.0:  # calibrated by the GPU's clock
        cycles *= 2
    calls = []

    def spin():
        calls.append(1)
        torch.cuda._sleep(cycles)

    events = cuda_event_ms(spin)
    calls.clear()
    stats = time_it(spin, threads=1, min_run_time=0.3, label="spin")
    assert events > 0.5, f"the spin kernel ran {events:.3f} ms by CUDA events"
    assert stats["median_ms"] == pytest.approx(events, rel=0.25), (stats["median_ms"], events)
    assert len(calls) >= stats["calls"] + WARMUP_RUNS, "untimed warm-up runs come before the timed ones"


@pytest.fixture(scope="module")
def dense_and_pruned():
    from prunebench.plugin.base import CellContext
    from prunebench.yolo.checkpoints import load_model
    from prunebench_builtins.channel import L1Channel

    dense = load_model(REPO / "weights" / "yolo11n.pt")
    pruned = load_model(REPO / "weights" / "yolo11n.pt")
    L1Channel().prune(pruned, 0.5, CellContext(device="cpu", seed=0, cache_dir=Path("."), work_dir=Path("."),
                                               imgsz=320, batch=1))
    return dense, pruned


def test_paired_speedup_on_cuda_matches_the_gpu_clock(dense_and_pruned):
    from prunebench.measure.cell import measure
    from prunebench.measure.costs import deployable_copy

    dense, pruned = dense_and_pruned
    images = sorted((REPO / "data" / "coco128" / "images" / "val").glob("*.jpg"))[:8]
    _measured = measure(pruned, imgsz=320, device=DEVICE, images=images, reference=dense, pairs=3,
                        min_run_time=0.3, batch_throughput=8)
    metrics, details = _measured.metrics, _measured.details
    paired = details["paired_speedup"]
    ratios = [r / m for r, m in zip(paired["reference_ms"], paired["model_ms"])]
    assert metrics["speedup_vs_dense"] == pytest.approx(statistics.median(ratios), rel=1e-3)
    assert metrics["gflops"] < 0.7 * measure(dense, imgsz=320, device=DEVICE, images=[]).metrics["gflops"]

    # Each side of the pairs agrees with CUDA events timing the same forward pass.
    x = torch.rand(1, 3, 320, 320, device=DEVICE)
    for model, timed in ((pruned, paired["model_ms"]), (dense, paired["reference_ms"])):
        runnable = deployable_copy(model, torch.device(DEVICE))
        with torch.inference_mode():
            for _ in range(5):
                runnable(x)
            events = cuda_event_ms(lambda: runnable(x))
        assert statistics.median(timed) == pytest.approx(events, rel=0.5), (timed, events)
    assert details["latency"]["forward"]["median_ms"] == metrics["latency_ms"] > 0


# ---------------------------------------------------------------- memory between cells
def test_cell_memory_records_the_peak_and_gives_the_cache_back():
    from prunebench.measure.gpu_memory import CellMemory

    record = {"details": {}, "metrics": {}}
    memory = CellMemory(DEVICE)
    block = torch.empty(256 * MIB, dtype=torch.uint8, device=DEVICE)
    del block  # freed, but held in PyTorch's cache until released
    assert torch.cuda.memory_reserved() >= 256 * MIB
    found = memory.finish(record)
    assert found["peak_allocated_bytes"] >= 256 * MIB
    assert record["metrics"]["peak_gpu_memory_mb"] >= 256
    assert found["allocated_after_release_bytes"] <= found["allocated_before_bytes"]
    assert found["reserved_after_release_bytes"] < 256 * MIB, "empty_cache gave the cached block back"


def smoke_suite(tmp_path: Path, extra: str = "") -> Path:
    suite = tmp_path / "suite.yaml"
    suite.write_text(TINY_MODEL_AND_DATA + """\
name: cuda_smoke
strategies:
  - name: l1-unstructured
    amounts: [0.3]
  - name: l1-channel
    amounts: [0.3]
seeds: [0]
finetune: {epochs: 1, lr0: 0.001, batch: 16, amp: true}
evaluation:
  imgsz: 160
  batch: 16
  device: cuda
  measure: {min_run_time: 0.2, throughput_batch: 4, speedup_pairs: 3, speedup_cap_s: 0.001}
""" + extra)
    return suite


def test_a_suite_on_cuda_records_device_amp_and_memory_and_releases_it_between_cells(tmp_path):
    results = tmp_path / "results"
    proc = run_cli("run", str(smoke_suite(tmp_path)), "--results", str(results), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = load_records(results)
    assert len(records) == 4  # dense, dense-ft, l1-unstructured 0.3, l1-channel 0.3
    dense = records["yolo11n.coco128.dense.a0.00.s0"]
    unstructured = records["yolo11n.coco128.l1-unstructured.a0.30.s0"]
    channel = records["yolo11n.coco128.l1-channel.a0.30.s0"]
    for record in records.values():
        assert record["status"] == "ok", record.get("error")
        assert record["environment"]["device"] == DEVICE
        memory = record["details"]["gpu_memory"]
        assert memory["peak_allocated_bytes"] > 10 * MIB, "the cell's models and activations were on the GPU"
        assert memory["allocated_after_release_bytes"] <= memory["allocated_before_bytes"] + 16 * MIB
        assert memory["reserved_after_release_bytes"] < memory["peak_reserved_bytes"]
        # Each cell starts where the last one left the GPU: nothing of an earlier cell stays allocated.
        assert memory["allocated_before_bytes"] < 64 * MIB
        for run in record["details"].get("finetune", {}).get("runs", []):
            assert run["amp"] is True and run["amp_used"] is True and run["autocast_dtype"] == "float16"
    assert unstructured["spec"]["finetune"]["amp"] is True
    assert unstructured["metrics"]["nonzero_params"] < 0.8 * dense["metrics"]["params"], "masks kept through AMP"
    assert channel["metrics"]["params"] < dense["metrics"]["params"], "the smaller architecture kept"
    assert channel["metrics"]["speedup_vs_dense"] > 0 and channel["details"]["measure"]["paired_speedup"]["pairs"] == 3


# ---------------------------------------------------------------- Ray: several cells on one GPU
def test_ray_places_cells_on_fractions_of_one_gpu_and_they_run_side_by_side(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]'); the offline kit carries none")
    suite = smoke_suite(tmp_path, "executor: {name: ray, params: {num_gpus: 0.5, num_cpus: 1, local_num_cpus: 4}}\n")
    results = tmp_path / "results"
    proc = run_cli("run", str(suite), "--results", str(results), "--no-leaderboard", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = list(load_records(results).values())
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    placements = [r["environment"]["ray_placement"] for r in records]
    assert all(p["resources"].get("GPU") == 0.5 for p in placements), placements
    assert len({tuple(p["gpu_ids"]) for p in placements}) == 1, "every cell on the same GPU"
    spans = sorted((datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"]))
                   for r in records)
    overlapping = any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:]))
    assert overlapping, f"two cells shared the GPU at the same time: {spans}"
