"""End to end: a suite asking for `1.3x@torch` runs, and its record holds what the search measured on PyTorch.

The COCO yolo11n on 4 coco128 images at 128 px, one fine-tuning epoch, short pair timings: about a minute on two
busy cores. The assertions hold whatever the machine's load does to the timings: the record must agree with
itself (met exactly when the kept speed-up is within the tolerance, the kept step one of the steps and the closest,
a why when not met) and with the model (fewer GFLOPs, the kept ratio's, and the shapes kept through fine-tuning).
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.tiny_study import WEIGHTS, make_dataset

pytestmark = pytest.mark.slow

SUITE = """\
name: latency-target
models:
  - name: yolo11n
    params: {{weights: {weights}}}
datasets:
  - name: tiny
    params: {{data: {data}}}
strategies:
  - name: l1-channel
    amounts: [1.3x@torch]
seeds: [0]
finetune: {{epochs: 1, optimizer: SGD, lr0: 0.001, warmup_epochs: 0, batch: 4}}
evaluation:
  imgsz: 128
  batch: 4
  device: cpu
  measure: {{min_run_time: 0.05, throughput_batch: 1, speedup_pairs: 6, speedup_halfwidth: 0.05, speedup_cap_s: 3}}
  intervals: {{resamples: 20}}
"""
NAME = "yolo11n.tiny.l1-channel.x1.30-torch.s0"


@pytest.fixture(scope="module")
def latency_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("latency-target")
    data = make_dataset(work / "tiny")
    suite = work / "latency-target.yaml"
    suite.write_text(SUITE.format(weights=WEIGHTS.resolve(), data=data))
    results = work / "results"
    proc = run_cli("run", str(suite), "--results", str(results), cwd=work)
    return results, proc


def _records(results):
    return {json.loads(p.read_text())["name"]: json.loads(p.read_text()) for p in (results / "cells").glob("*.json")}


def test_a_measured_target_cell_records_its_search_and_how_close_it_came(latency_run):
    results, proc = latency_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = _records(results)
    record = records[NAME]
    assert record["status"] == "ok", record["error"]
    assert record["spec"]["target"] == 1.3 and record["spec"]["target_runtime"] == "torch"
    found = record["details"]["latency_target"]
    assert (found["target"], found["runtime"], found["tolerance"]) == (1.3, "torch", 0.1)
    steps, kept = found["steps"], found["kept"]
    assert 1 <= len(steps) <= 5 and kept in steps
    assert all(s["pairs"] >= 6 and s["speedup"] > 0 and 0 < s["fraction"] < 1 for s in steps)
    error = abs(kept["speedup"] / 1.3 - 1)
    assert error == min(abs(s["speedup"] / 1.3 - 1) for s in steps)  # the closest step is the one kept
    assert found["met"] == (error <= 0.1)
    assert (found["why"] is None) == found["met"]
    if kept["low"] is not None:
        assert kept["low"] <= kept["speedup"] <= kept["high"]
    # the model that was fine-tuned, evaluated and measured is the kept step's: its GFLOPs ratio, shapes intact
    dense = records["yolo11n.tiny.dense.a0.00.s0"]["metrics"]
    assert dense["gflops"] / record["metrics"]["gflops"] == pytest.approx(kept["gflops_ratio"], rel=0.01)
    assert kept["gflops_ratio"] > 1.05
    report = record["details"]["prune_report"]
    assert report["achieved_speedup"] == kept["speedup"] and report["target_runtime"] == "torch"
    assert record["details"]["delivered"]["flagged"] == (not found["met"])
    assert record["details"]["loss_curve"]  # fine-tuned as any pruned cell


def test_the_leaderboard_shows_the_target_and_what_was_achieved(latency_run):
    results, _ = latency_run
    text = (results / "LEADERBOARD.md").read_text()
    assert "## Measured-latency targets" in text
    assert "1.3x@torch (±10%)" in text and "1.3x@torch (achieved" in text  # the part and the row's Amount
