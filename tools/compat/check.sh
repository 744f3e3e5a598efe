#!/usr/bin/env bash
# The ends of prunebench's supported version ranges, tested: installs the oldest supported or the newest available
# torch / torchvision / Ultralytics / Torch-Pruning into a fresh virtualenv OUTSIDE the repository, installs
# prunebench (editable) on top, records whether that install kept the heavy packages it found, then runs the smoke
# suite and the strategy tests with that environment; with --full, the whole test suite instead.
#
#   tools/compat/check.sh [--full] oldest|newest [OUT_DIR]
#       OUT_DIR defaults to results/compat/<date>-<end> (<date>-<end>-full with --full)
#   --full   install prunebench with the test and ray extras (`pip install -e .[test,ray]`, the README's install,
#            without its constraints file) and run the README's test command, `python -m pytest -n auto --dist
#            loadfile` (COMPAT_WORKERS replaces `auto`), instead of the smoke suite and the strategy tests. The site's
#            browser tests need Chromium (/usr/bin/chromium or PRUNEBENCH_CHROMIUM); without it they skip. The
#            openvino extra is not installed: its tests skip, as in the README's install.
#
# Writes OUT_DIR/{versions.txt, freeze.txt, install.log, pytest.log, summary.md}. Exit status: pytest's.
# To keep editing the checkout while it runs, run it from a copy (`git archive HEAD | tar -x -C COPY`) with
# COMPAT_SOURCE naming the commit, and OUT_DIR pointing back into the checkout.
# The newest end downloads torch's CUDA wheels (about 3 GB); run it niced, in the background.
# A machine-wide pip constraint file (PIP_CONSTRAINT or a pip.conf `constraint`) would cap the newest end: this
# script ignores pip's config files for its own installs (PIP_CONFIG_FILE=/dev/null) and keeps the find-links and
# index settings it is given through the environment (COMPAT_PIP_ARGS adds more).
set -euo pipefail
FULL=0
if [ "${1:-}" = --full ]; then FULL=1; shift; fi
END="${1:?usage: tools/compat/check.sh [--full] oldest|newest [OUT_DIR]}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
DATE="$(date -u +%Y-%m-%d)"
if [ "$FULL" = 1 ]; then
  SUFFIX=-full EXTRAS="test,ray" WHAT="the full test suite"
  TESTS=(-n "${COMPAT_WORKERS:-auto}" --dist loadfile --durations=25)
else
  SUFFIX= EXTRAS="test" WHAT="smoke suite + strategy tests"
  TESTS=(-q tests/test_e2e_smoke.py tests/test_strategies_channel.py tests/test_strategies_unstructured.py
         tests/test_strategy_contract.py)
fi
OUT="${2:-$REPO/results/compat/$DATE-$END$SUFFIX}"
VENV_ROOT="${COMPAT_VENV_ROOT:-${TMPDIR:-/tmp}/prunebench-compat}"
VENV="$VENV_ROOT/$END"
PYTHON="${COMPAT_PYTHON:-python3}"

# Oldest supported: the lower bounds of pyproject.toml's ranges. torch and torchvision must come from one index:
# a CPU torch (2.13.0+cpu from a find-links folder) under PyPI's torchvision 0.28.0 fails at the first NMS with
# "operator torchvision::nms does not exist" (results/compat/2026-12-07-oldest-mixed-builds), so find-links are
# ignored here unless COMPAT_KEEP_FIND_LINKS=1.
case "$END" in
  oldest) HEAVY=("torch==2.13.0" "torchvision==0.28.0" "ultralytics==8.4.177" "torch-pruning==1.6.0")
          [ "${COMPAT_KEEP_FIND_LINKS:-0}" = 1 ] || export PIP_FIND_LINKS= ;;
  newest) HEAVY=("torch" "torchvision" "ultralytics" "torch-pruning") ;;
  *) echo "tools/compat/check.sh: the end must be 'oldest' or 'newest', not '$END'" >&2; exit 2 ;;
esac

mkdir -p "$OUT"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
export PIP_CONFIG_FILE=/dev/null PIP_CONSTRAINT=
{
  echo "# $END end, $(date -u +%FT%TZ), $(uname -m), $("$PYTHON" --version)"
  "${PIP[@]}" install --upgrade pip ${COMPAT_PIP_ARGS:-}
  # 1. The heavy packages alone, as a user's environment would already have them.
  "${PIP[@]}" install --upgrade ${COMPAT_PIP_ARGS:-} "${HEAVY[@]}"
  "${PIP[@]}" freeze > "$OUT/before.txt"
  # 2. prunebench (and its test extras) on top: its ranges must keep what is there.
  "${PIP[@]}" install ${COMPAT_PIP_ARGS:-} -e "$REPO[$EXTRAS]" "$REPO/tests/example_plugin"
} > "$OUT/install.log" 2>&1
"${PIP[@]}" freeze --exclude-editable > "$OUT/freeze.txt"

versions() { grep -i -E '^(torch|torchvision|ultralytics|torch[-_]pruning)==' "$1" | sort -f; }
versions "$OUT/before.txt" > "$OUT/versions-before.txt"
versions "$OUT/freeze.txt" > "$OUT/versions.txt"
KEPT=yes; cmp -s "$OUT/versions-before.txt" "$OUT/versions.txt" || KEPT=no

# The smoke suite (real yolo11n on coco128, end to end) and the strategy tests, or with --full every test, from the
# checkout's tests with this environment's interpreter; the repository is not on this venv's path except through
# the editable install.
set +e
START=$(date +%s)
(cd "$REPO" && "$VENV/bin/python" -m pytest "${TESTS[@]}") > "$OUT/pytest.log" 2>&1
RC=$?
WALL=$(( $(date +%s) - START ))
set -e
{
  echo "# Compatibility check: $END end ($DATE)"
  echo
  echo "Installed first (as a user's environment would have them), then \`pip install -e .[$EXTRAS]\` on top:"
  echo
  sed 's/^/    /' "$OUT/versions.txt"
  echo
  echo "- prunebench's install kept those versions: $KEPT"
  echo "- $WHAT (pytest exit $RC, $WALL s wall clock): $(tail -n 1 "$OUT/pytest.log")"
  echo "- full environment: freeze.txt; install log: install.log; test log: pytest.log"
  echo "- prunebench source: ${COMPAT_SOURCE:-$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)}"
  echo "- machine: $(nproc) CPU cores, shared with other work while this ran (durations are not benchmarks)"
} > "$OUT/summary.md"
rm -f "$OUT/before.txt"
cat "$OUT/summary.md"
exit $RC
