"""The figures of docs/ray.md: a suite run by the local executor, then on a two-node Ray cluster on this machine
whose worker nodes have their own caches (nothing shared with the driver but the object store); wall time of each,
cells per node, and bytes shipped per cell, read from the records.

    python tools/ray_two_nodes.py suites/smoke.yaml [--workdir DIR]

Starts its own Cluster (a head that runs no cell, two worker nodes of one CPU each) and stops only those nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(suite: Path, results: Path, cache: Path, cwd: Path, *extra: str) -> float:
    env = dict(os.environ, PRUNEBENCH_CACHE=str(cache))
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "prunebench", "run", str(suite), "--results", str(results),
                           "--device", "cpu", "--no-leaderboard", *extra], cwd=cwd, env=env, text=True,
                          capture_output=True)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(proc.stderr[-3000:])
    return took


def records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / "cells").glob("*.json"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ray-two-nodes-"))
    suite = args.suite.resolve()
    driver_cache = work / "driver-cache"

    # The driver's cache warm (dataset prepared, baseline in place), as a user's would be: one cell is enough.
    run(suite, work / "warm", driver_cache, work, "--only", "*.dense.a0.00.*")
    local_s = run(suite, work / "local", driver_cache, work)

    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        for name in ("node-a", "node-b"):
            cluster.add_node(num_cpus=1, env_vars={"PRUNEBENCH_CACHE": str(work / name / "cache")})
        cluster.wait_for_nodes()
        ray_s = run(suite, work / "ray", driver_cache, work, "--executor", "ray", "--address", cluster.address)
    finally:
        cluster.shutdown()

    per_node: dict[str, int] = {}
    print(f"local executor: {local_s:.0f} s; two-node Ray cluster: {ray_s:.0f} s (wall, whole command)")
    print("| cell | node | inputs (bytes) | fetched (bytes) | returned (bytes) | cell total (s) |")
    print("|---|---|---:|---:|---:|---:|")
    for r in records(work / "ray"):
        node = r["environment"]["ray_node"]
        per_node[node] = per_node.get(node, 0) + 1
        t = r["details"]["transfer"]
        print(f"| {r['name']} | {node} | {t['inputs_bytes']:,} | {t['inputs_fetched_bytes']:,} | "
              f"{t['outputs_bytes']:,} | {r['timings']['total']:.1f} |")
    print("cells per node:", per_node)


if __name__ == "__main__":
    main()
