#!/usr/bin/env bash
# The offline GPU kit's CPU rehearsal (CI runs it after the tests, in .ci/run):
#
#   tools/offline_gpu/rehearse.sh
#
# the kit's own download (download.sh, for this Python) and install (run_kit.sh) in a fresh venv that holds only
# the GPU machine's packages (machine_packages.txt, linked from this Python's site-packages by machine_site.py),
# then the kit's run on the CPU with the smoke suite (the quick suite's baseline would train for many minutes on a
# CPU) in two processes. It proves the wheel list is complete, prunebench installs and runs from it alone, the
# CUDA tests skip with a reason, and the archive holds what the lead publishes. Only the CUDA part differs on the
# GPU machine. PYTHON: the Python whose packages stand in for the machine's (default python3, CI's venv).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
python="${PYTHON:-python3}"
pyver="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
work="$(mktemp -d "${TMPDIR:-/tmp}/prunebench-rehearsal.XXXXXX")"
started=$(date +%s)

tools/offline_gpu/download.sh "$pyver" "$work/wheels"
"$python" -m venv --without-pip "$work/venv"
machine_python="$work/venv/bin/python"
site="$("$machine_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
"$python" tools/offline_gpu/machine_site.py "$site"

# Before the kit installs anything, the rehearsal venv must see the machine's packages and nothing more (asked
# from / : the checkout itself would put its own prunebench/ on the path).
(cd / && env -u PYTHONPATH "$machine_python" -) <<'EOF'
import importlib.util
missing = [m for m in ("torch", "torchvision", "onnxruntime", "pluggy", "tabulate", "matplotlib", "pytest", "cv2")
           if importlib.util.find_spec(m) is None]
leaked = [m for m in ("ultralytics", "torch_pruning", "pydantic", "ray", "polars", "prunebench", "onnxslim")
          if importlib.util.find_spec(m) is not None]
assert not missing and not leaked, f"rehearsal venv: missing {missing}, leaked from the CI venv {leaked}"
print("rehearsal venv: the machine's packages only")
EOF

status=0
PYTHON="$machine_python" KIT_WHEELS="$work/wheels" KIT_SUITE=suites/smoke.yaml KIT_DEVICE=cpu KIT_PROCESSES=2 \
    KIT_BUDGET_S="${KIT_BUDGET_S:-900}" KIT_WORK="$work/kit" PRUNEBENCH_CACHE="$work/cache" \
    tools/offline_gpu/run_kit.sh "$work/out" || status=$?

# What came back: one archive with every smoke cell ok, a complete leaderboard and the CUDA tests skipped.
"$python" - "$work/out" "$status" <<'EOF'
import json, re, sys, tarfile
from pathlib import Path

out, status = Path(sys.argv[1]), int(sys.argv[2])
archives = list(out.iterdir())
assert [a.name for a in archives] == ["prunebench-kit.tar.gz"], f"the kit must leave one archive, found {archives}"
with tarfile.open(archives[0]) as tar:
    names = tar.getnames()
    read = lambda name: tar.extractfile(name).read().decode()
    summary = read("summary.txt")
    records = [json.loads(read(n)) for n in names if n.startswith("results/smoke/cells/") and n.endswith(".json")]
    board = read("results/smoke/LEADERBOARD.md")
    tests = read("logs/cuda-tests.log")
    ran = [int(m.group(1)) for n in sorted(names) if n.startswith("logs/suite.") and n.endswith(".log")
           for m in [re.search(r"^ran (\d+) cells? in", read(n), re.M)] if m]
print(summary)
assert status == 0, f"run_kit.sh exited {status}"
assert len(records) == 5 and all(r["status"] == "ok" for r in records), [(r["name"], r["status"]) for r in records]
assert not any("/models/" in n for n in names), "kept models must stay out of the archive"
assert "PARTIAL" not in board, "every smoke cell is in: the leaderboard must not say partial"
assert "skipped" in tests and "no CUDA GPU" in tests, "the CUDA tests must skip with their reason on the CPU"
assert sum(ran) == 4 and len(ran) == 2 and min(ran) >= 1, f"the two processes shared the 4 cells after the dense one: {ran}"
hosts = {r["environment"]["device"] for r in records}
assert hosts == {"cpu"}, hosts
print(f"rehearsal ok: {len(records)} records, {len(names)} files in the archive; cells per process {ran}")
EOF
echo "rehearsal: $(($(date +%s) - started)) s in all ($work)"
rm -rf "$work"
