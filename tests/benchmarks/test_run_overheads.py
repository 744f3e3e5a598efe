"""Benchmarks of prunebench's own overheads (run with `pytest tests/benchmarks --benchmark-only`).

- harness overhead: `prunebench run` on a dense-only suite (latency off, so both sides do the
  same model work: one Ultralytics validation) vs a script calling Ultralytics' validation
  directly on the same checkpoint and data. Whole-process wall times, at two dataset sizes.
  Target <= 1.15x.
- resume: re-running a finished suite does no model work. Target < 3 s wall: on the toy dense suite,
  and on the shipped, finished tea_bud_laptop results (the real photos and weights, whose content is
  hashed into every cell key: with a cold stat cache the first resume reads every byte, later ones
  only stat the files).
Ratios are printed and written to results/benchmarks/overheads.json; nothing is asserted
about time (timed assertions do not belong in tests).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "results" / "benchmarks" / "overheads.json"

# Two sizes of the same job. "tiny" is CI's toy (16 images at 128 px): validation takes ~2 s, so
# prunebench's fixed cost per cell (plugins, suite, hashes, FLOPs and sizes, the record) shows
# at its largest. "laptop" is closer to real use (128 images at 320 px) and shows how that fixed
# cost shrinks relative to the model work.
SCALES = {
    "tiny": {"train": 32, "val": 16, "imgsz": 128, "epochs": 2},
    "laptop": {"train": 32, "val": 128, "imgsz": 320, "epochs": 1},
}


def dense_suite(scale: dict) -> str:
    return f"""\
name: dense_overhead
models:
  - name: yolov8n
    params:
      arch: yolov8n.yaml
      baseline: {{epochs: {scale['epochs']}, imgsz: {scale['imgsz']}, batch: 16, seed: 0}}
datasets:
  - name: buds
    plugin: synthetic-buds
    params: {{train: {scale['train']}, val: {scale['val']}, imgsz: {scale['imgsz']}, seed: 0}}
finetune: {{epochs: 0}}   # dense only: no fine-tuned control, so both sides do one validation and nothing else
evaluation:
  imgsz: {scale['imgsz']}
  batch: 16
  device: cpu
  measure: {{latency: false}}
"""


DIRECT = """\
import sys
from prunebench.yolo.env import import_ultralytics
import_ultralytics()
from ultralytics import YOLO
YOLO(sys.argv[1]).val(data=sys.argv[2], imgsz=int(sys.argv[4]), batch=16, device="cpu", plots=False,
                      save_json=False, project=sys.argv[3], name="val", verbose=False)
"""


def wall(cmd, cwd) -> float:
    # Each work folder has its own cache, so the baseline and data found there are this scale's.
    env = {**os.environ, "PRUNEBENCH_CACHE": str(Path(cwd) / "cache")}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return time.perf_counter() - start


def save(key, value):
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data[key] = value
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def finished_suite(work: Path, scale: dict):
    """Runs the dense suite once (generating the data and training the baseline, or finding them)."""
    suite = work / "dense.yaml"
    suite.write_text(dense_suite(scale))
    run = [sys.executable, "-m", "prunebench", "run", str(suite), "--results", str(work / "results"), "--no-leaderboard"]
    wall(run, work)
    record = json.loads(next((work / "results" / "cells").glob("*.json")).read_text())
    assert record["status"] == "ok", record.get("error")
    return run


@pytest.fixture(scope="module")
def finished_dense_suite(tmp_path_factory):
    work = tmp_path_factory.mktemp("overhead")
    return work, finished_suite(work, SCALES["tiny"])


def cached(work: Path, pattern: str) -> Path:
    (found,) = (work / "cache").glob(pattern)
    return found


@pytest.mark.parametrize("scale_name", list(SCALES))
def test_harness_overhead(benchmark, tmp_path, scale_name):
    scale = SCALES[scale_name]
    run = finished_suite(tmp_path, scale)
    weights = cached(tmp_path, "baselines/*/best.pt")
    data = cached(tmp_path, "datasets/synthetic-buds-*/data.yaml")
    script = tmp_path / "direct.py"
    script.write_text(DIRECT)
    direct = [sys.executable, str(script), str(weights), str(data), str(tmp_path / "direct-runs"), str(scale["imgsz"])]
    plain = sorted(wall(direct, tmp_path) for _ in range(3))
    benchmark.pedantic(wall, args=(run + ["--force"], tmp_path), rounds=3, iterations=1)
    harness = benchmark.stats.stats.median
    ratio = harness / plain[1]
    print(f"\nharness overhead ({scale_name}: {scale['val']} images at {scale['imgsz']} px): prunebench run "
          f"{harness:.2f} s vs direct Ultralytics val {plain[1]:.2f} s (medians of 3 whole processes): "
          f"{ratio:.3f}x, fixed cost {harness - plain[1]:.2f} s (target <= 1.15x)")
    save(f"harness_overhead_{scale_name}", {
        "val_images": scale["val"], "imgsz": scale["imgsz"], "prunebench_run_median_s": round(harness, 3),
        "direct_val_median_s": round(plain[1], 3), "ratio": round(ratio, 3),
        "fixed_cost_s": round(harness - plain[1], 3), "target": "<= 1.15"})


def test_resume_does_no_model_work(benchmark, finished_dense_suite):
    work, run = finished_dense_suite
    benchmark.pedantic(wall, args=(run, work), rounds=3, iterations=1)
    median = benchmark.stats.stats.median
    print(f"\nresume of a finished suite: {median:.2f} s wall (median of 3; target < 3 s)")
    save("resume_wall_s", {"median_s": round(median, 3), "target": "< 3"})


def test_resume_of_the_real_tea_bud_suite(benchmark, tmp_path):
    """The README's main suite, finished (a copy of the shipped records), resumed from the repository root."""
    import shutil

    results = tmp_path / "results"
    shutil.copytree(REPO / "results" / "tea_bud_laptop" / "cells", results / "cells")
    run = [sys.executable, "-m", "prunebench", "run", str(REPO / "suites" / "tea_bud_laptop.yaml"),
           "--results", str(results), "--no-leaderboard"]
    cold = wall(run, tmp_path)  # empty stat cache in tmp_path/cache: every image, label and weight file hashed
    before = sorted(p.stat().st_mtime_ns for p in (results / "cells").glob("*.json"))
    benchmark.pedantic(wall, args=(run, tmp_path), rounds=3, iterations=1)
    assert sorted(p.stat().st_mtime_ns for p in (results / "cells").glob("*.json")) == before  # nothing re-ran
    median = benchmark.stats.stats.median
    print(f"\nresume of the finished tea_bud_laptop suite: {median:.2f} s wall (median of 3, warm stat cache; "
          f"cold {cold:.2f} s; target < 3 s)")
    save("resume_tea_bud_laptop_wall_s", {"median_s": round(median, 3), "cold_s": round(cold, 3), "target": "< 3"})
