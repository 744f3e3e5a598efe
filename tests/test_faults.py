"""Interrupted and concurrent runs, in real subprocesses: finished work is never lost or corrupted."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prunebench.records.store import cells_dir

SLEEPY_DIR = Path(__file__).parent / "plugins" / "sleepy"
SUITE = """\
name: faults
models: [{name: m, plugin: sleepy-model}]
datasets: [{name: d, plugin: sleepy-data}]
strategies: [{name: sleepy, amounts: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]}]
executor: {name: sleepy}
finetune: {epochs: 0}  # no fine-tuned control: dense + the 7 sleepy cells
evaluation: {device: cpu}
results: RESULTS
"""


@pytest.fixture
def setup(tmp_path):
    results = tmp_path / "results"
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.replace("RESULTS", str(results)))
    env = dict(os.environ, SLEEPY_LOG=str(tmp_path / "ran.log"), SLEEPY_SECONDS="0.6",
               PRUNEBENCH_CACHE=str(tmp_path / "cache"))
    return suite, results, env, tmp_path / "ran.log"


def start(suite, env):
    cmd = [sys.executable, "-m", "prunebench", "--plugins-dir", str(SLEEPY_DIR), "run", str(suite), "--no-leaderboard"]
    # SIGINT as a terminal delivers it: a shell's background job (nohup ... &) inherits it ignored, and Python
    # then installs no KeyboardInterrupt handler
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def records(results):
    out = {}
    for path in cells_dir(results).glob("*.json"):
        record = json.loads(path.read_text())  # every file must parse: no partial records
        out[record["name"]] = record
    return out


def wait_for_records(results, n, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cells_dir(results).is_dir() and len(list(cells_dir(results).glob("*.json"))) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("records did not appear in time")


def ran(log):
    return [line.split()[1] for line in Path(log).read_text().splitlines()]


def test_ctrl_c_saves_finished_cells_and_resumes(setup):
    suite, results, env, log = setup
    proc = start(suite, env)
    wait_for_records(results, 2, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted: every finished cell is saved" in err
    saved = records(results)
    assert 2 <= len(saved) < 8
    again = start(suite, env)
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert len(records(results)) == 8
    # the resumed run did only what was missing: each cell started at most once after its record existed
    assert sorted(set(ran(log))) == sorted(records(results))
    assert len(ran(log)) <= 8 + 1  # at most the one cell that was cut off runs twice


def test_sigkill_mid_cell_leaves_no_partial_record_and_resumes(setup):
    suite, results, env, log = setup
    proc = start(suite, env)
    wait_for_records(results, 3, proc)
    time.sleep(0.3)  # inside the next cell's work
    proc.kill()
    proc.wait(timeout=10)
    before = records(results)
    assert 3 <= len(before) < 8
    again = start(suite, env)
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    after = records(results)
    assert len(after) == 8
    for name, record in before.items():  # finished work is kept as it was, not redone
        assert after[name] == record
    # every cell ran; only the one cut off by the kill (if any) ran twice
    assert sorted(set(ran(log))) == sorted(after) and len(ran(log)) in (8, 9)


def test_two_concurrent_runs_share_the_work_without_corruption(setup):
    suite, results, env, log = setup
    first, second = start(suite, env), start(suite, env)
    out1, out2 = first.communicate(timeout=90), second.communicate(timeout=90)
    assert first.returncode == 0 and second.returncode == 0, (out1, out2)
    assert len(records(results)) == 8
    names = ran(log)
    assert sorted(names) == sorted(set(names)), "a cell ran twice"
    pids = {line.split()[0] for line in Path(log).read_text().splitlines()}
    assert len(pids) == 2, "both processes did part of the work"
