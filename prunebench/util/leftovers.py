"""Scratch folders and temporary files named after the process that made them, so a later run can remove what
a killed one left behind (kill -9 runs no cleanup: 12 MB per cell folder piled up in the cache) without
touching what a live process is still using, here or on another host that shares the folder."""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Iterable

_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40] or "host"
_OWNED = re.compile(r"(?:^|[.-])pb-(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)-")


def owner_tag() -> str:
    """"pb-<host>-<pid>-": put in the name of every scratch folder and temporary file prunebench makes."""
    return f"pb-{_HOST}-{os.getpid()}-"


def scratch_dir(parent: Path, prefix: str) -> tempfile.TemporaryDirectory:
    """A temporary folder under `parent`, named so `clean` knows whose it is."""
    Path(parent).mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=f"{prefix}-{owner_tag()}", dir=parent)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean(folders: Iterable[Path]) -> list[Path]:
    """Remove, from the given folders (not below them), the scratch folders and temporary files that a process
    of this host made and that is no longer alive; return what was removed."""
    removed = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            match = _OWNED.search(entry.name)
            if not match or match["host"] != _HOST or _alive(int(match["pid"])):
                continue
            try:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except OSError:
                continue  # not ours to remove after all, or gone already
            removed.append(entry)
    return removed
