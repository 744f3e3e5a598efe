"""Benchmarks of prunebench's own overheads (run with `pytest tests/benchmarks --benchmark-only`).

- harness overhead: `prunebench run` on a dense-only suite (latency off, so both sides do the
  same model work: one Ultralytics validation) vs a script calling Ultralytics' validation
  directly on the same checkpoint and data. Whole-process wall times. Target <= 1.15x.
- resume: re-running a finished suite does no model work. Target < 3 s wall.
Ratios are printed and written to results/benchmarks/overheads.json; nothing is asserted
about time (timed assertions do not belong in tests).
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TINY_MODEL_AND_DATA

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "results" / "benchmarks" / "overheads.json"

DENSE_SUITE = "name: dense_overhead\n" + TINY_MODEL_AND_DATA + """\
evaluation:
  imgsz: 128
  batch: 16
  device: cpu
  measure: {latency: false}
"""

DIRECT = """\
import sys
from prunebench.ultralytics_env import import_ultralytics
import_ultralytics()
from ultralytics import YOLO
YOLO(sys.argv[1]).val(data=sys.argv[2], imgsz=128, batch=16, device="cpu", plots=False, save_json=False,
                      project=sys.argv[3], name="val", verbose=False)
"""


def wall(cmd, cwd) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return time.perf_counter() - start


def save(key, value):
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data[key] = value
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


@pytest.fixture(scope="module")
def finished_dense_suite(tmp_path_factory):
    work = tmp_path_factory.mktemp("overhead")
    suite = work / "dense.yaml"
    suite.write_text(DENSE_SUITE)
    run = [sys.executable, "-m", "prunebench", "run", str(suite), "--results", str(work / "results"), "--no-leaderboard"]
    wall(run, work)  # trains (or finds) the baseline, generates (or finds) the data
    return work, run


def test_harness_overhead(benchmark, finished_dense_suite):
    import os

    work, run = finished_dense_suite
    cache = Path(os.environ["PRUNEBENCH_CACHE"])
    weights = sorted(cache.glob("baselines/*/best.pt"), key=lambda p: p.stat().st_mtime)[-1]
    data = sorted(cache.glob("datasets/synthetic-buds-*/data.yaml"), key=lambda p: p.stat().st_mtime)[-1]
    script = work / "direct.py"
    script.write_text(DIRECT)
    direct = [sys.executable, str(script), str(weights), str(data), str(work / "direct-runs")]
    plain = sorted(wall(direct, work) for _ in range(3))
    benchmark.pedantic(wall, args=(run + ["--force"], work), rounds=3, iterations=1)
    harness = benchmark.stats.stats.median
    ratio = harness / plain[1]
    print(f"\nharness overhead: prunebench run {harness:.2f} s vs direct Ultralytics val {plain[1]:.2f} s "
          f"(medians of 3 whole processes): {ratio:.3f}x (target <= 1.15x)")
    save("harness_overhead", {"prunebench_run_median_s": round(harness, 3), "direct_val_median_s": round(plain[1], 3),
                              "ratio": round(ratio, 3), "target": "<= 1.15"})


def test_resume_does_no_model_work(benchmark, finished_dense_suite):
    work, run = finished_dense_suite
    benchmark.pedantic(wall, args=(run, work), rounds=3, iterations=1)
    median = benchmark.stats.stats.median
    print(f"\nresume of a finished suite: {median:.2f} s wall (median of 3; target < 3 s)")
    save("resume_wall_s", {"median_s": round(median, 3), "target": "< 3"})
