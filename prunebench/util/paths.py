"""Where prunebench keeps what it makes outside a results folder. Only os and pathlib."""

from __future__ import annotations

import os
from pathlib import Path


def matplotlib_cache() -> None:
    """Point matplotlib's font cache at prunebench's cache instead of the user's home (unless they chose one);
    before matplotlib is first imported."""
    os.environ.setdefault("MPLCONFIGDIR", str(default_cache_dir() / "matplotlib"))


def default_cache_dir() -> Path:
    """prunebench's cache: PRUNEBENCH_CACHE, else $XDG_CACHE_HOME/prunebench, else ~/.cache/prunebench."""
    if env := os.environ.get("PRUNEBENCH_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "prunebench"
