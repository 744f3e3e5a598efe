"""The installed plugin used by name in a suite, end to end through `prunebench run` (as a user would)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_a_suite_naming_fpgm_runs_end_to_end(tmp_path):
    results = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "prunebench", "run", str(HERE / "suite.yaml"), "--results",
                           str(results), "--device", "cpu"], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = {r["name"]: r for r in (json.loads(p.read_text()) for p in (results / "cells").glob("*.json"))}
    dense = records["yolov8n.buds-tiny.dense.a0.00.s0"]
    fpgm = records["yolov8n.buds-tiny.fpgm-channel.a0.50.s0"]
    assert fpgm["status"] == "ok", fpgm["error"]
    # Filters were really removed, and the smaller model is what was fine-tuned and measured.
    assert fpgm["metrics"]["params"] < 0.5 * dense["metrics"]["params"]
    assert fpgm["metrics"]["gflops"] < 0.6 * dense["metrics"]["gflops"]
    assert fpgm["details"]["loss_curve"]
    assert "fpgm-channel" in (results / "LEADERBOARD.md").read_text()
