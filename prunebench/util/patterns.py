"""Cell-name patterns, as `--only` takes them everywhere (run, export, measure, show)."""

from __future__ import annotations

import fnmatch
from typing import Iterable


def matches(name: str, patterns: Iterable[str] | None) -> bool:
    """A glob pattern, or a plain word matching as a substring; no patterns match everything."""
    patterns = list(patterns or [])
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(name, p if any(c in p for c in "*?[") else f"*{p}*") for p in patterns)
