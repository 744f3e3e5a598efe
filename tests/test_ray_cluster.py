"""The Ray executor on a real multi-node cluster on this machine (ray.cluster_utils.Cluster), where the worker nodes
share no folder with the driver: each node has its own cache (PRUNEBENCH_CACHE through the node's environment), and
an audit hook in each node's Python (a sitecustomize.py on the node's PYTHONPATH) refuses to open or list anything
under the driver's folder (its suite, weights, data, cache and results) and logs the attempt. The driver is a
`prunebench run --address` process, as a user runs it."""

import hashlib
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, load_records

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[ray]'")
pytestmark = pytest.mark.slow

GUARD = '''\
import os, sys
_FORBIDDEN = os.environ.get("GUARD_FORBIDDEN")
_LOG = os.environ.get("GUARD_LOG")
_EVENTS = {"open", "os.listdir", "os.scandir", "glob.glob", "shutil.copyfile", "os.rename"}

def _hook(event, args):
    if event not in _EVENTS or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path = os.fsdecode(os.fspath(args[0]))
    if os.path.abspath(path).startswith(_FORBIDDEN):
        with open(_LOG, "a") as log:  # _LOG is outside the forbidden folder
            log.write(f"{event} {path}\\n")
        raise PermissionError(f"this Ray node cannot see the driver's folder: {path}")

if _FORBIDDEN and _LOG:
    sys.addaudithook(_hook)
'''

SUITE = """\
name: {name}
models:
  - name: yolo11n
    params: {{weights: weights/yolo11n.pt, baseline: {{epochs: 1, imgsz: 64, batch: 8}}}}
datasets:
  - name: coco8
    plugin: ultralytics
    params: {{data: data/coco8/data.yaml}}
strategies:
{strategies}
seeds: [0]
{finetune}
keep_models: all
evaluation:
  imgsz: 64
  batch: 8
  measure: {{latency: false}}
  intervals: {{resamples: 0}}
"""


def _driver_folder(root: Path) -> Path:
    """The driver's own folder: the suite's weights and a 8 + 8 image slice of coco128, its cache and results."""
    driver = root / "driver"
    (driver / "weights").mkdir(parents=True)
    shutil.copy(REPO / "weights" / "yolo11n.pt", driver / "weights")
    source = REPO / "data" / "coco128"
    for split in ("train", "val"):
        for image in sorted((source / "images" / split).glob("*.jpg"))[:8]:
            for src, dst in ((image, f"images/{split}/{image.name}"),
                             (source / "labels" / split / f"{image.stem}.txt", f"labels/{split}/{image.stem}.txt")):
                if src.is_file():
                    (driver / "data" / "coco8" / dst).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(src, driver / "data" / "coco8" / dst)
    names = (source / "data.yaml").read_text().split("names:", 1)[1]
    (driver / "data" / "coco8" / "data.yaml").write_text(f"train: images/train\nval: images/val\nnames:{names}")
    return driver


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head that runs no cell and two worker nodes with one CPU each, their own caches, blind to the driver."""
    from ray.cluster_utils import Cluster

    root = tmp_path_factory.mktemp("raycluster")
    driver = _driver_folder(root)
    (root / "guard").mkdir()
    (root / "guard" / "sitecustomize.py").write_text(GUARD)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    nodes = {}
    try:
        for name in ("node-a", "node-b"):
            folder = root / name
            folder.mkdir()
            env = {"PRUNEBENCH_CACHE": str(folder / "cache"), "PYTHONPATH": str(root / "guard"),
                   "GUARD_FORBIDDEN": str(driver), "GUARD_LOG": str(folder / "forbidden.log")}
            nodes[cluster.add_node(num_cpus=1, env_vars=env).node_id] = folder
        cluster.wait_for_nodes()
        yield cluster, root, driver, nodes
    finally:
        cluster.shutdown()  # only the nodes this test started (never `ray stop`: other Ray users share the machine)


def _run(cluster, driver: Path, suite: Path, results: Path, *extra):
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("RAY_", "PRUNEBENCH_CACHE"))}
    env["PRUNEBENCH_CACHE"] = str(driver / "cache")
    args = [sys.executable, "-m", "prunebench", *extra, "run", str(suite), "--results", str(results), "--device",
            "cpu", "--executor", "ray", "--address", cluster.address, "--no-leaderboard"]
    # Not from the driver's folder: Ray puts the driver's working folder on every worker's sys.path, and Python
    # and torch list what is on it (harmless where the folder does not exist, as on another machine).
    elsewhere = driver.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run(args, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=900)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _nothing_forbidden_read(nodes):
    for folder in nodes.values():
        log = folder / "forbidden.log"
        assert not log.exists(), f"a worker tried to read the driver's folder: {log.read_text()}"


def test_cells_run_on_both_nodes_from_the_drivers_inputs_and_models_land_on_the_driver(cluster):
    cluster, root, driver, nodes = cluster
    suite = driver / "tiny.yaml"
    suite.write_text(SUITE.format(name="tiny", strategies="  - name: l1-unstructured\n    amounts: [0.3, 0.6]",
                                  finetune="finetune: {epochs: 1, optimizer: SGD, lr0: 0.001, warmup_epochs: 0, "
                                           "batch: 8, imgsz: 64}"))
    results = driver / "results"
    proc = _run(cluster, driver, suite, results)
    assert proc.returncode == 0, proc.stderr[-4000:]
    _nothing_forbidden_read(nodes)
    records = load_records(results)
    assert len(records) == 4  # dense, the dense control, two amounts
    baselines = list((driver / "cache" / "baselines").glob("*/best.pt"))
    assert len(baselines) == 1, "the driver adapted the baseline once"
    for name, record in records.items():
        assert record["status"] == "ok", (name, record.get("error"))
        env = record["environment"]
        assert env["ray_node_id"] in nodes, "each record names the node that ran it"
        assert env["hostname"] and env["cpu"] and env["device"] == "cpu"
        # Every cell started from the driver's baseline, shipped: no worker trained its own.
        assert record["details"]["baseline"]["sha256"] == _sha256(baselines[0]), name
        kept = record["details"]["model_file"]
        assert _sha256(results / kept["path"]) == kept["sha256"], "every kept model is on the driver, whole"
        assert record["details"]["transfer"]["inputs_bytes"] > 0
    assert {r["environment"]["ray_node_id"] for r in records.values()} == set(nodes), "cells ran on both nodes"
    for folder in nodes.values():
        assert not list((folder / "cache" / "baselines").glob("*/best.pt")), "no worker trained a baseline"
        assert not any((folder / "cache" / "scratch").iterdir()), "each cell's scratch removed"
        assert list((folder / "cache" / "inputs").glob("*/data.yaml")), "the dataset unpacked into the node's cache"
    # Each worker fetched the dataset and the baseline once; its later cells found them in its cache.
    fetched = sorted(r["details"]["transfer"]["inputs_fetched_bytes"] for r in records.values())
    assert fetched.count(0) == len(records) - 2, fetched
    assert "ok (" in proc.stderr and "returning 1 file(s)" in proc.stderr, "the cells' lines reach the driver"

    # A re-measure (same training, other evaluation settings) on a worker reads the kept model shipped from the
    # driver: nothing is retrained, and the re-measured record keeps the model's hash.
    suite.write_text(suite.read_text().replace("resamples: 0", "resamples: 20"))
    again = _run(cluster, driver, suite, results)
    assert again.returncode == 0, again.stderr[-4000:]
    _nothing_forbidden_read(nodes)
    for name, record in load_records(results).items():
        assert record["status"] == "ok", (name, record.get("error"))
        assert record["details"]["remeasured_from"], name
        assert record["details"]["model_file"] == records[name]["details"]["model_file"], name


def test_a_node_killed_mid_run_gives_one_failed_record_and_leaves_nothing_behind(cluster):
    cluster, root, driver, nodes = cluster
    suite = driver / "killer.yaml"
    suite.write_text(SUITE.format(name="killer", strategies="  - name: kill-node\n    amounts: [0.5]", finetune=""))
    results = driver / "killer-results"
    proc = _run(cluster, driver, suite, results, "--plugins-dir", str(Path(__file__).parent / "plugins" / "killer"))
    assert proc.returncode == 1, proc.stderr[-4000:]
    records = load_records(results)
    assert records["yolo11n.coco8.dense.a0.00.s0"]["status"] == "ok"
    killed = records["yolo11n.coco8.kill-node.a0.50.s0"]
    assert killed["status"] == "failed" and "died" in killed["error"]["hint"], killed["error"]
    assert "1 failed" in proc.stderr
    kept = sorted(p.name for p in (results / "models").iterdir())
    assert kept == sorted(Path(r["details"]["model_file"]["path"]).name for r in records.values() if r["status"] == "ok")
    leftovers = [p for p in results.rglob("*") if "pb-" in p.name or p.suffix == ".tmp"]
    assert not leftovers, leftovers
    # On the nodes: at most the killed cell's scratch folders, on the dead node, named after its dead process, so
    # the next cell that runs on that node removes them (as this does).
    from prunebench.util import leftovers

    removed = leftovers.clean([folder / "cache" / "scratch" for folder in nodes.values()])
    assert len({re.search(r"pb-.+-(\d+)-", p.name)[1] for p in removed}) <= 1, removed
    assert not any(p for folder in nodes.values() for p in (folder / "cache" / "scratch").iterdir())


AUTH_PROBE = """\
import os, subprocess, sys
os.environ["RAY_AUTH_MODE"] = "token"  # read when ray is imported
os.environ["RAY_AUTH_TOKEN"] = "0123456789abcdef0123456789abcdef"
from ray.cluster_utils import Cluster
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
try:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}  # a driver without the token
    proc = subprocess.run([sys.executable, "-m", "prunebench", "run", sys.argv[1], "--results", sys.argv[2],
                           "--executor", "ray", "--address", cluster.address, "--device", "cpu"],
                          env=env, capture_output=True, text=True, timeout=300)
    sys.stdout.write(f"{proc.returncode}\\n{proc.stderr}")
finally:
    cluster.shutdown()
"""


def test_a_driver_without_the_clusters_token_gets_one_paragraph(tmp_path):
    """Ray 2.60's token authentication on the head; a driver without the token is refused with one paragraph
    that says what to set, not a traceback."""
    probe = subprocess.run([sys.executable, "-c", AUTH_PROBE, str(REPO / "suites" / "smoke.yaml"),
                            str(tmp_path / "results")], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    code, _, stderr = probe.stdout.partition("\n")
    assert code == "1", (probe.stdout[-3000:], probe.stderr[-3000:])
    error = [line for line in stderr.splitlines() if line.startswith("prunebench: error:")]
    assert len(error) == 1 and "RAY_AUTH_MODE is not set to token here" in error[0], stderr[-3000:]
    assert "Traceback" not in stderr
    assert not (tmp_path / "results" / "cells").exists() or not any((tmp_path / "results" / "cells").iterdir())


def test_nothing_listening_at_the_address_is_one_paragraph_at_once(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run([sys.executable, "-m", "prunebench", "run", str(REPO / "suites" / "smoke.yaml"), "--results",
                           str(tmp_path / "r"), "--executor", "ray", "--address", f"127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "could not connect to the Ray cluster" in proc.stderr and "Traceback" not in proc.stderr


def test_cuda_is_refused_by_the_clusters_resources_not_the_drivers(tmp_path):
    """--device cuda is judged against the GPUs of the Ray cluster (here a local instance on this CPU machine), and
    the refusal is one paragraph before any cell."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the refusal is for a cluster without GPUs")
    proc = subprocess.run([sys.executable, "-m", "prunebench", "run", str(REPO / "suites" / "smoke.yaml"), "--results",
                           str(tmp_path / "r"), "--executor", "ray", "--device", "cuda", "--no-leaderboard"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "to run on cuda (resolved on each worker)" in proc.stderr
    assert "the Ray cluster has no GPU" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r" / "cells").exists() or not any((tmp_path / "r" / "cells").iterdir())
