#!/usr/bin/env bash
# Re-run shipped suites for publication: from one clean commit, on one machine, one suite after another
# (never side by side: their timings would load each other). Each suite's old records and kept models are
# moved aside first (results/<suite>.old), so every published row comes from this commit. --resume keeps them
# instead, to finish a long suite in a later sitting; it refuses records made from other code or a dirty tree.
# --only PATTERN (repeatable) passes on to `prunebench run`: a section of a suite (one dataset's cells, whose
# table stands alone) can run in one sitting and the next section with --resume in another.
#   tools/publish.sh tea_bud_laptop bccd
#   tools/publish.sh --resume slimming
#   tools/publish.sh --only '*.tea_bud.*' deploy && tools/publish.sh --resume --only '*.bccd.*' deploy
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: tools/publish.sh [--resume] [--only PATTERN]... SUITE..."
resume=0
suites=()
only=()
while (( $# )); do
  case "$1" in
    --resume) resume=1 ;;
    --only) [[ $# -ge 2 ]] || { echo "publish: --only needs a pattern ($usage)" >&2; exit 2; }
            only+=(--only "$2"); shift ;;
    -*) echo "publish: unknown option $1 ($usage)" >&2; exit 2 ;;
    *) suites+=("$1") ;;
  esac
  shift
done
if [[ -n "$(git status --porcelain --untracked-files=no -- . ":(exclude)results")" ]]; then
  echo "publish: the tree has uncommitted changes; commit first, so the records name the code that made them" >&2
  exit 1
fi
# The records name the commit of the prunebench that runs: it must be this checkout's, not another one's
# that an activated virtual environment put first on PATH (asked from /, since python -c puts the current
# folder first).
runner=$(command -v prunebench || true)
python=$([[ -n "$runner" ]] && sed -n '1s/^#!//p' "$runner" || true)
imported=$([[ -n "$python" ]] && cd / && "$python" -c "import prunebench; print(prunebench.__file__)" 2>/dev/null \
           || true)
if [[ "$imported" != "$PWD/prunebench/__init__.py" ]]; then
  echo "publish: 'prunebench' on PATH (${runner:-none}) imports ${imported:-nothing}, not this checkout's" \
       "$PWD/prunebench: activate this checkout's environment (pip install -e .)" >&2
  exit 1
fi
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
for suite in "${suites[@]}"; do
  results="results/$suite"
  if [[ $resume == 1 ]]; then
    # Keep the records only if each was made from a clean tree whose code is HEAD's (a commit since may add
    # results or docs; a changed suite changes its cells' keys, and prunebench re-runs those itself). The
    # leaderboard's code (prunebench/report) only renders what the records hold, so a change there keeps them.
    if grep -l '"git_dirty": \(true\|null\)' "$results"/cells/*.json >/dev/null 2>&1; then
      echo "publish: $results holds records made from a tree with uncommitted changes: run without --resume" >&2
      exit 1
    fi
    for sha in $(grep -ho '"git_sha": "[0-9a-f]*"' "$results"/cells/*.json 2>/dev/null | cut -d'"' -f4 | sort -u); do
      if ! git diff --quiet "$sha" HEAD -- prunebench plugins pyproject.toml ":(exclude)prunebench/report" \
           2>/dev/null; then
        echo "publish: $results holds records of commit $sha, whose code differs from HEAD's: run without --resume" >&2
        exit 1
      fi
    done
  elif [[ -d "$results" ]]; then
    rm -rf "$results.old" && mv "$results" "$results.old"
  fi
  started=$(date +%s)
  prunebench run "suites/$suite.yaml" --results "$results" "${only[@]}"
  echo "publish: $suite took $(( $(date +%s) - started )) s"
done
