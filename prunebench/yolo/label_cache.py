"""Ultralytics' label caches (`labels/train.cache`, ...) kept in prunebench's cache, never in a user's dataset.

Ultralytics writes a `<labels folder>.cache` beside the labels of every split it reads, i.e. into the user's own
dataset folder, and reads such a file back with `np.load(allow_pickle=True)`: a `.cache` shipped inside a dataset
someone hands over is a pickle that would be loaded. Both functions are replaced in `ultralytics.data.dataset`
(which imported them by name) with ones that use a file in prunebench's cache named after the original path, so a
dataset folder is only read and a cache is only ever one prunebench wrote. Ultralytics still checks each cache's
hash of the files it covers, so a changed dataset is rescanned.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from prunebench.util.paths import default_cache_dir

CACHES_DIRNAME = "ultralytics-label-caches"


def cache_file_for(path: Path) -> Path:
    """Where the label cache Ultralytics would put at `path` is kept instead."""
    path = Path(path).absolute()
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:20]
    return default_cache_dir() / CACHES_DIRNAME / f"{path.parent.parent.name}-{path.name}-{digest}"


def install() -> None:
    """Point Ultralytics' dataset classes at prunebench's cache for their label caches (idempotent)."""
    import ultralytics.data.dataset as dataset
    import ultralytics.data.utils as data_utils

    if getattr(dataset.save_dataset_cache_file, "_prunebench", False):
        return

    def save(prefix: str, path: Path, x: dict, version: str) -> None:
        target = cache_file_for(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        data_utils.save_dataset_cache_file(prefix, target, x, version)

    def load(path: Path) -> dict:
        return data_utils.load_dataset_cache_file(cache_file_for(path))

    save._prunebench = load._prunebench = True  # type: ignore[attr-defined]
    dataset.save_dataset_cache_file = save
    dataset.load_dataset_cache_file = load
