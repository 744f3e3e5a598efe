#!/usr/bin/env bash
# Re-run shipped suites for publication: from one clean commit, on one machine, one suite after another
# (never side by side: their timings would load each other). Each suite's old records and kept models are
# moved aside first (results/<suite>.old), so every published row comes from this commit.
#   tools/publish.sh tea_bud_laptop bccd
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "$(git status --porcelain --untracked-files=no -- . ":(exclude)results")" ]]; then
  echo "publish: the tree has uncommitted changes; commit first, so the records name the code that made them" >&2
  exit 1
fi
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
for suite in "$@"; do
  results="results/$suite"
  if [[ -d "$results" ]]; then
    rm -rf "$results.old" && mv "$results" "$results.old"
  fi
  started=$(date +%s)
  prunebench run "suites/$suite.yaml" --results "$results"
  echo "publish: $suite took $(( $(date +%s) - started )) s"
done
