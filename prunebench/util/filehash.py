"""Content hashes (sha256) of files, remembered across runs by a stat cache.

Cell keys and cached baselines follow the content of the files a cell reads (weights, images,
labels), so every plan hashes them. Re-reading every byte on each `prunebench validate` or resume
would cost seconds on a real dataset; instead a file's digest is remembered under its absolute path,
size, mtime (ns) and inode, in memory and in a small JSON file in prunebench's cache
(`<cache>/file-hashes.json`), and read again only when one of those changed.

- Atomic: the cache file is written to a temporary file and renamed over the old one, so a
  reader sees a whole old or a whole new file. Two runs writing at once: the last one wins
  (it merges what was on disk when it started writing), and nothing is corrupted.
- Tolerant: a cache file that cannot be read or parsed is ignored (and rewritten on the next
  write); a cache folder that cannot be written only costs the re-hashing next time.
- Racy files: a file modified less than RACY_SECONDS before it was hashed could be rewritten
  again within the same mtime tick (coarse on some filesystems) with the same size, so its digest
  is not remembered at all; it is hashed again next time.

No torch, no Ultralytics: `prunebench validate` and `plan` use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from prunebench.util.atomic import atomic_write_text

CACHE_FILENAME = "file-hashes.json"
CACHE_VERSION = 1
RACY_SECONDS = 2.0
_BLOCK = 1 << 20


def hash_file(path: str | os.PathLike) -> str:
    """sha256 of the file's bytes, read now (no cache): the one place prunebench reads a file to hash it."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 (hex) of the file's content, from the stat cache when the file has not changed."""
    return file_sha256s([path])[0]


def file_sha256s(paths: Iterable[str | os.PathLike]) -> list[str]:
    """sha256 of each file, in order; the cache file is written once, after all of them (only if something
    was hashed). OSError (e.g. FileNotFoundError) for a file that cannot be read."""
    cache = _cache_for(default_cache_file())
    try:
        return [cache.sha256(Path(p)) for p in paths]
    finally:
        cache.flush()


def default_cache_file() -> Path:
    from prunebench.util.paths import default_cache_dir

    return default_cache_dir() / CACHE_FILENAME


class StatCache:
    """{absolute path: [size, mtime_ns, inode, sha256]} in memory, backed by one JSON file (or none)."""

    def __init__(self, file: Path | None):
        self.file = file
        self.entries: dict[str, list] = self._read() if file is not None else {}
        self._new: dict[str, list] = {}

    def sha256(self, path: Path) -> str:
        absolute = os.path.abspath(path)
        checked_at = time.time()
        st = os.stat(absolute)
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        known = self.entries.get(absolute)
        if known is not None and known[:3] == stamp:
            return known[3]
        digest = hash_file(absolute)
        if st.st_mtime_ns / 1e9 < checked_at - RACY_SECONDS:
            self.entries[absolute] = self._new[absolute] = stamp + [digest]
        return digest

    def flush(self) -> None:
        """Write the new entries (merged into what is on disk now); never raises for an unwritable cache."""
        if not self._new or self.file is None:
            return
        merged = self._read()
        merged.update(self._new)
        # Forget files that are gone (temporary datasets, replaced checkpoints), so the file does not only grow.
        merged = {path: entry for path, entry in merged.items() if os.path.exists(path)}
        text = json.dumps({"version": CACHE_VERSION, "entries": merged}, separators=(",", ":"))
        try:
            atomic_write_text(self.file, text)
        except OSError:
            return  # a read-only or full cache folder: the hashes are simply computed again next time
        self.entries.update(merged)
        self._new.clear()

    def _read(self) -> dict[str, list]:
        """The entries on disk; {} when the file is missing, unreadable, corrupt or of another version."""
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("entries"), dict):
            return {}
        return {path: entry for path, entry in data["entries"].items() if _valid_entry(entry)}


def _valid_entry(entry) -> bool:
    return (isinstance(entry, list) and len(entry) == 4 and all(type(v) is int for v in entry[:3])
            and isinstance(entry[3], str) and len(entry[3]) == 64)


_CACHES: dict[Path, StatCache] = {}


def _cache_for(file: Path) -> StatCache:
    # One in-memory cache per cache file, so a changed PRUNEBENCH_CACHE (tests) gets its own.
    if file not in _CACHES:
        _CACHES[file] = StatCache(file)
    return _CACHES[file]


def content_digest(path: str | os.PathLike) -> dict:
    """bytes and sha256 of a file, or of a folder (an OpenVINO export) over its files in name order."""
    path = Path(path)
    if path.is_file():
        return {"bytes": path.stat().st_size, "sha256": hash_file(path)}
    digest, total = hashlib.sha256(), 0
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + hash_file(file).encode())
        total += file.stat().st_size
    return {"bytes": total, "sha256": digest.hexdigest()}
