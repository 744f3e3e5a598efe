import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# The smoke suite's model and dataset (real: the COCO yolo11n used as it is on coco128, no baseline to
# train), for test suites written into temporary folders (append the rest).
TINY_MODEL_AND_DATA = f"""\
models:
  - name: yolo11n
    params: {{weights: {REPO / "weights" / "yolo11n.pt"}}}
datasets:
  - name: coco128
    plugin: ultralytics
    params: {{data: {REPO / "data" / "coco128" / "data.yaml"}}}
"""


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Keep tests' datasets, baselines and Ultralytics settings out of the user's cache,
    unless PRUNEBENCH_CACHE is set (CI sets it so trained baselines are shared across test modules)."""
    if "PRUNEBENCH_CACHE" not in os.environ:
        os.environ["PRUNEBENCH_CACHE"] = str(tmp_path_factory.mktemp("prunebench-cache"))
    yield


@pytest.fixture
def fake_plugins():
    """The built-in plugins plus the fake ones, like a user's environment with one more plugin."""
    from prunebench.plugin.loader import load_plugins
    from tests.plugins.fake_plugins import FakePlugin

    return load_plugins(extra=[("fake", FakePlugin())])


@pytest.fixture
def registry(fake_plugins):
    return fake_plugins.registry


def run_cli(*args, cwd, env=None, timeout=900):
    return subprocess.run([sys.executable, "-m", "prunebench", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def load_records(results):
    from prunebench.records.store import cells_dir

    return {r["name"]: r for r in (json.loads(p.read_text()) for p in cells_dir(results).glob("*.json"))}


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """suites/smoke.yaml run once per session with the local executor on CPU: (workdir, results, process)."""
    work = tmp_path_factory.mktemp("smoke")
    results = work / "results"
    proc = run_cli("run", str(REPO / "suites" / "smoke.yaml"), "--results", str(results), "--device", "cpu", cwd=work)
    return work, results, proc
