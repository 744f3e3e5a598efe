#!/usr/bin/env bash
# Download the offline GPU kit's wheels (wheels.txt) for one Python version, where the package index is reachable.
#   tools/offline_gpu/download.sh [PYTHON_VERSION] [DEST]
# PYTHON_VERSION: 3.12 (the GPU machine's, the default) or the local one for the CPU rehearsal (3.11 here).
# DEST: default tools/offline_gpu/wheels/py<version> (git-ignored). Emptied first: two versions of one
# package in the folder would stop the --no-deps install.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="${1:-3.12}"
dest="${2:-$here/wheels/py$version}"
python="${PYTHON:-python3}"
mkdir -p "$dest"
rm -f "$dest"/*.whl
# Only pure-Python and manylinux x86_64 wheels: pydantic-core is the one compiled wheel (manylinux2014, i.e.
# manylinux_2_17); 2_28 lets a later pin's newer tag match too. pip matches each tag exactly.
"$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$version" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --dest "$dest" -r "$here/wheels.txt" 2>&1 | grep -v "^WARNING: Location '.*' is ignored" >&2 || true
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "download.sh: pip download failed" >&2; exit 1; }
count=$(ls "$dest"/*.whl | wc -l)
expected=$(grep -cE '^[A-Za-z0-9]' "$here/wheels.txt")
if [ "$count" -ne "$expected" ]; then
    echo "download.sh: $count wheels in $dest, but wheels.txt names $expected" >&2
    exit 1
fi
echo "$count wheels for Python $version in $dest: $(du -cb "$dest"/*.whl | tail -1 | cut -f1) bytes"
