"""Atomic file writes, with the permissions any new file gets. No torch here (records, reports, labels and
checkpoints all write through it)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from prunebench.util.leftovers import owner_tag


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder, fsync, then rename: a reader never sees half a file.

    The file gets the permissions any other new file would (0666 less the umask): mkstemp creates it
    0600, which would leave records, leaderboards and checkpoints unreadable to the user's group.
    """
    atomic_write_with(path, lambda f: f.write(data))


def atomic_write_with(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Like `atomic_write_bytes`, for a writer that streams into a file (a figure's `savefig`): an interrupt leaves
    the previous complete file, never half of a new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{owner_tag()}", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """`atomic_write_bytes` of `text` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def current_umask() -> int:
    """The process umask. Linux shows it in /proc (reading it leaves it alone); elsewhere it can only be read by
    setting it, so it is set straight back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def replace_folder(staged: Path, final: Path) -> None:
    """Put the folder `staged` at `final` (same filesystem): the old one is renamed aside first and removed after,
    so `final` never names a half-filled folder."""
    import shutil

    staged, final = Path(staged), Path(final)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{owner_tag()}")
        os.replace(final, old)
    os.replace(staged, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
