"""Bounds on a record read from disk, checked before any reader digs into it.

A record is JSON that anyone may hand over (a results folder from another machine). Real records are about
170 KB and 8 levels deep; the bounds sit far above that and far below what stalls or crashes a reader
(a 40 MB record stalled `leaderboard` for more than 10 minutes; a deeply nested one ended in a RecursionError).
Only the standard library.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_RECORD_BYTES = 16 * 1024 * 1024  # ~100x the largest published record (per-image results included)
MAX_DEPTH = 24  # nested objects and lists; real records are 8 deep
MAX_STRING_CHARS = 256 * 1024  # one string (an error's traceback is a few KB)
MAX_VALUES = 2_000_000  # every value in the document


class RecordBoundsError(ValueError):
    """A record past a bound: the reason, for the reader's one-line warning."""


def parse(text: str) -> Any:
    """The JSON in `text`, parsed within the bounds (RecordBoundsError, or json's ValueError for bad JSON)."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:  # json's C parser stops at the interpreter's recursion limit, cleanly
        raise RecordBoundsError(f"nested more than {MAX_DEPTH} levels deep (real records are about 8)") from None
    check(data)
    return data


def check(data: Any) -> None:
    """RecordBoundsError when `data` nests past MAX_DEPTH, holds a string past MAX_STRING_CHARS, a non-finite
    number or more than MAX_VALUES values (iterative: no recursion on what the file chose)."""
    stack, seen = [([data], -1)], 0
    while stack:
        value, depth = stack.pop()
        if depth >= MAX_DEPTH:
            raise RecordBoundsError(f"nested more than {MAX_DEPTH} levels deep (real records are about 8)")
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        seen += len(items)
        if seen > MAX_VALUES:
            raise RecordBoundsError(f"more than {MAX_VALUES:,} values")
        for item in items:
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1))
            elif isinstance(item, str):
                if len(item) > MAX_STRING_CHARS:
                    raise RecordBoundsError(f"a string of {len(item):,} characters (at most {MAX_STRING_CHARS:,})")
            elif isinstance(item, float) and not math.isfinite(item):
                raise RecordBoundsError("a number that is not finite")


def _no_constant(name: str) -> Any:
    raise RecordBoundsError(f"{name} is not a JSON number (prunebench writes no NaN or Infinity)")
