#!/usr/bin/env bash
# The offline GPU kit, run on a GPU machine without network access (or, for the CPU rehearsal, anywhere):
#
#   tools/offline_gpu/run_kit.sh OUT_DIR
#
# from the repository root, with `python3` the machine's own (torch, torchvision, onnxruntime... already there:
# machine_packages.txt) and the wheels of download.sh in tools/offline_gpu/wheels/py<its version>. It
#   1. installs those wheels and prunebench itself into a fresh --target folder (no index, no deps) and puts it
#      on PYTHONPATH, beside the machine's own torch;
#   2. runs the CUDA tests (pytest -m cuda), the CUDA latency benchmark (dense against 2x-pruned yolo11n), then the
#      GPU quick suite: its dense cell alone first (it trains the baseline once and writes Ultralytics' label
#      caches), then KIT_PROCESSES `prunebench run` processes on the same results folder, which share the other
#      cells through prunebench's per-cell locks (Ray, 79 MB, does not fit what may travel); then its leaderboard;
#   3. packs records, leaderboard, plots, benchmark figures and logs into ONE archive, OUT_DIR/prunebench-kit.tar.gz.
#
# Time guard: each step gets at most what is left of KIT_BUDGET_S (default 450 s) less a reserve for packing. At the
# deadline the suite's processes get SIGTERM: finished cells are saved, the leaderboard marks itself partial, and a
# later run resumes from the records: unpack the archive's results/<suite>/ into the checkout and point KIT_RESULTS
# at it, or merge them into the study's folder (their keys are the study's). The archive is always written.
# Exit status: 0 when every step that ran passed (CUDA tests passed or skipped), 1 otherwise.
#
# Settings (environment): KIT_BUDGET_S (450), KIT_SUITE (suites/tea_bud_gpu_quick.yaml), KIT_ONLY (cell
# patterns, space-separated: only those cells), KIT_PROCESSES (4), KIT_DEVICE (default: the suite's, auto),
# KIT_RESULTS (the results folder; default a fresh one in KIT_WORK, so a checkout's shipped records stay as they are),
# KIT_WHEELS (tools/offline_gpu/wheels/py<X.Y>), KIT_WORK (a fresh scratch folder), KIT_SKIP (any of: tests
# benchmarks suite), PYTHON (python3).
set -uo pipefail

out="${1:?usage: tools/offline_gpu/run_kit.sh OUT_DIR}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
python="${PYTHON:-python3}"
budget="${KIT_BUDGET_S:-450}"
started=$(date +%s)
deadline=$((started + budget))
reserve=20 # seconds kept for the leaderboard and the archive
pyver="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')" || exit 1
wheels="${KIT_WHEELS:-$repo/tools/offline_gpu/wheels/py$pyver}"
suite="${KIT_SUITE:-suites/tea_bud_gpu_quick.yaml}"
processes="${KIT_PROCESSES:-4}"
skip=" ${KIT_SKIP:-} "
work="${KIT_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/prunebench-kit.XXXXXX")}"
site="$work/site"
logs="$work/logs"
results="${KIT_RESULTS:-$work/results/$(basename "$suite" .yaml)}"
mkdir -p "$out" "$logs" "$work/benchmarks"
export PYTHONPATH="$site" PYTHONUNBUFFERED=1 PRUNEBENCH_CACHE="${PRUNEBENCH_CACHE:-$work/cache}"
failed=()
summary="$work/summary.txt"
: >"$summary"

note() { echo "$*" | tee -a "$summary"; }
left() { echo $((deadline - $(date +%s) - reserve)); }
# step NAME CAP_SECONDS COMMAND...: run with at most CAP seconds (or what is left), output in logs/NAME.log.
step() {
    local name=$1 cap=$2 t rc begin
    shift 2
    t=$(left)
    [ "$cap" -lt "$t" ] && t=$cap
    if [ "$t" -lt 15 ]; then
        note "$name: not run, the time budget is spent"
        failed+=("$name (no time)")
        return 1
    fi
    begin=$(date +%s)
    timeout --signal=TERM --kill-after=15 "$t" "$@" >"$logs/$name.log" 2>&1
    rc=$?
    note "$name: exit $rc after $(($(date +%s) - begin)) s (limit $t s)$([ $rc -eq 124 ] && echo ', stopped at its time limit')"
    [ $rc -eq 0 ] || failed+=("$name (exit $rc)")
    return $rc
}

pack() {
    local archive="$out/prunebench-kit.tar.gz" t0=$(date +%s)
    # Records, leaderboard, plots and plan; not the kept models (megabytes each: they stay on the machine).
    cp -f "$repo"/results/benchmarks/cuda_latency.json "$work/benchmarks/" 2>/dev/null
    note "wall: $(($(date +%s) - started)) s of a $budget s budget; failed: ${failed[*]:-none}"
    mkdir -p "$work/results"
    [ "$results" = "$work/results/$(basename "$results")" ] || cp -r "$results" "$work/results/" 2>/dev/null
    tar -czf "$archive" -C "$work" --exclude='results/*/models' --exclude='results/*/cells/.locks' \
        summary.txt logs benchmarks results
    echo "archive: $archive ($(du -b "$archive" | cut -f1) bytes, packed in $(($(date +%s) - t0)) s)"
}

note "kit: python $pyver ($(command -v "$python")), wheels $wheels, work $work, budget $budget s"

# 1. Install beside the machine's own torch. prunebench is built from a copy of its sources, so no build/ or
# egg-info lands in the tree.
src="$work/src"
mkdir -p "$src"
cp -r pyproject.toml README.md prunebench plugins "$src/"
if ! ls "$wheels"/*.whl >/dev/null 2>&1; then
    note "install: no wheels in $wheels (run tools/offline_gpu/download.sh $pyver where the package index is reachable)"
    failed+=("install")
    pack
    exit 1
fi
if ! step install 240 "$python" -m pip install --no-index --no-deps --no-build-isolation --no-compile \
    --no-cache-dir --disable-pip-version-check --target "$site" "$wheels"/*.whl "$src"; then
    pack
    exit 1
fi
"$python" - >"$logs/environment.txt" 2>&1 <<'EOF'
import importlib.metadata as md, sys
import torch, torchvision
print("python", sys.version.split()[0], sys.executable)
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
print("torchvision", torchvision.__version__)
for name in ("prunebench", "ultralytics", "torch-pruning", "pydantic", "onnxruntime", "onnx", "numpy", "opencv-python-headless",
             "opencv-python", "pluggy", "tabulate", "matplotlib", "pytest", "pytest-benchmark", "typing-extensions"):
    try:
        dist = md.distribution(name)
        print(name, dist.version, dist.locate_file(""))
    except md.PackageNotFoundError:
        print(name, "-")
import prunebench, ultralytics, torch_pruning  # noqa: E401  (fails here, not in a cell, if anything is missing)
print("imports ok:", prunebench.__file__)
EOF
rc=$?
cat "$logs/environment.txt" | tee -a "$summary"
"$python" -m pip check >"$logs/pip-check.txt" 2>&1 # informative only: torch==2.14.1 is pinned, the machine has its own
if [ $rc -ne 0 ]; then
    failed+=("imports")
    pack
    exit 1
fi

# 2a. The CUDA tests (they skip, with a reason, where torch sees no GPU).
case "$skip" in *" tests "*) ;; *)
    step cuda-tests 150 "$python" -m pytest -m cuda -q -rs --junitxml="$logs/cuda-tests.xml"
    tail -n 15 "$logs/cuda-tests.log" | tee -a "$summary" ;;
esac

# 2b. CUDA latency: dense and 2x-pruned yolo11n, paired (skips without a GPU).
case "$skip" in *" benchmarks "*) ;; *)
    step cuda-benchmarks 120 "$python" -m pytest tests/benchmarks --benchmark-only -k cuda -s -q
    grep -E "CUDA latency|skipped|SKIPPED" "$logs/cuda-benchmarks.log" | tee -a "$summary" ;;
esac

# 2c. The suite: the dense cell alone, then the rest side by side.
case "$skip" in *" suite "*) ;; *)
    args=(--results "$results" --no-leaderboard)
    [ -n "${KIT_DEVICE:-}" ] && args+=(--device "$KIT_DEVICE")
    only=()
    for pattern in ${KIT_ONLY:-}; do only+=(--only "$pattern"); done
    step suite-dense 300 "$python" -m prunebench run "$suite" "${args[@]}" --only '*.dense.*'
    t=$(left)
    if [ "$t" -ge 15 ]; then
        pids=()
        for i in $(seq 1 "$processes"); do
            timeout --signal=TERM --kill-after=30 "$t" "$python" -m prunebench run "$suite" "${args[@]}" "${only[@]}" \
                >"$logs/suite.$i.log" 2>&1 &
            pids+=($!)
        done
        for i in "${!pids[@]}"; do
            wait "${pids[$i]}"
            rc=$?
            note "suite process $((i + 1)) of $processes: exit $rc$([ $rc -eq 124 ] && echo ', stopped at the time limit')"
            [ $rc -eq 0 ] || failed+=("suite.$((i + 1)) (exit $rc)")
        done
    else
        note "suite: no time left after the dense cell"
        failed+=("suite (no time)")
    fi
    if ls "$results"/cells/*.json >/dev/null 2>&1; then
        timeout 60 "$python" -m prunebench leaderboard "$results" >"$logs/leaderboard.log" 2>&1 ||
            failed+=("leaderboard")
        note "records: $(ls "$results"/cells/*.json | wc -l) in $results/cells"
        grep -m1 '^PARTIAL:' "$results/LEADERBOARD.md" | tee -a "$summary"
    fi ;;
esac

pack
[ ${#failed[@]} -eq 0 ]
