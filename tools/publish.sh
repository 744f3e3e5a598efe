#!/usr/bin/env bash
# Re-run shipped suites for publication: from one clean commit, on one machine, one suite after another
# (never side by side: their timings would load each other). Each suite's old records and kept models are
# moved aside first (results/<suite>.old), so every published row comes from this commit. --resume keeps them
# instead, to finish a long suite in a later sitting; it refuses records made by another commit.
#   tools/publish.sh tea_bud_laptop bccd
#   tools/publish.sh --resume slimming
set -euo pipefail
cd "$(dirname "$0")/.."
resume=0
if [[ "${1:-}" == "--resume" ]]; then resume=1; shift; fi
if [[ -n "$(git status --porcelain --untracked-files=no -- . ":(exclude)results")" ]]; then
  echo "publish: the tree has uncommitted changes; commit first, so the records name the code that made them" >&2
  exit 1
fi
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
for suite in "$@"; do
  results="results/$suite"
  if [[ $resume == 1 && -d "$results/cells" ]]; then
    head=$(git rev-parse HEAD)
    other=$(grep -L "\"git_sha\": \"$head\"" "$results"/cells/*.json 2>/dev/null || true)
    if [[ -n "$other" ]]; then
      echo "publish: $results holds records of another commit (e.g. $(echo "$other" | head -1)): run without --resume" >&2
      exit 1
    fi
  elif [[ -d "$results" ]]; then
    rm -rf "$results.old" && mv "$results" "$results.old"
  fi
  started=$(date +%s)
  prunebench run "suites/$suite.yaml" --results "$results"
  echo "publish: $suite took $(( $(date +%s) - started )) s"
done
