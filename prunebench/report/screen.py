"""A record that a report cannot read is reported and skipped; the other records still render.

A record's interior comes from a file anyone may hand over, and one field of an unexpected type (a list where a
number belongs, an object as a device name) used to end a whole `leaderboard`, `site` or `compare` in a
traceback. Checking every field's type up front would duplicate every reader; instead a command runs as usual,
and only when it fails on a reading error is each record tried alone (in a scratch folder, so nothing is
written where the user looks). The records that fail alone are warned about by name and skipped
(`prunebench.records.store.skip`), and the command runs once more without them. Costs nothing when every record
is readable.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from prunebench.records.store import RecordError, read_record, record_files, skip, warn_once

T = TypeVar("T")
# What code that reads a record's fields raises when a field holds another JSON type than prunebench wrote.
READ_ERRORS = (TypeError, AttributeError, KeyError, IndexError, ValueError, ZeroDivisionError, OverflowError,
               RecursionError)
Probe = Callable[[Path], object]  # runs the command on a results folder holding one record


def tolerant(run: Callable[[], T], results_dirs: Iterable[Path], probe: Probe, *, what: str) -> T:
    """`run()`; when it fails on a reading error, the records that `probe` cannot handle alone are warned about,
    skipped, and `run()` is called again. ValueError (one paragraph) when no single record is to blame."""
    dirs = [Path(d) for d in results_dirs]
    try:
        return run()
    except READ_ERRORS as first:
        blamed = [(path, reason) for path in (p for d in dirs for p in record_files(d))
                  if (reason := _fails_alone(path, probe)) is not None]
        if not blamed:
            if isinstance(first, ValueError) and not isinstance(first, (KeyError, IndexError)):
                raise
            raise ValueError(f"{what} failed reading the records of {', '.join(map(str, dirs))} "
                             f"({type(first).__name__}: {_short(first)}), though each record alone can be read: "
                             "a record probably holds a field of a type prunebench does not write; remove records "
                             "copied from elsewhere and try again") from None
    for path, reason in blamed:
        warn_once(f"skipped {path}: a field holds a value prunebench does not write ({reason})", path)
        skip(path)
    return run()


def _fails_alone(path: Path, probe: Probe) -> str | None:
    try:
        read_record(path)
    except RecordError:
        return None  # not a record at all: every reader already warns about it and skips it
    with tempfile.TemporaryDirectory(prefix="prunebench-screen-") as tmp:
        folder = Path(tmp) / path.parent.parent.name
        (folder / "cells").mkdir(parents=True)
        shutil.copyfile(path, folder / "cells" / path.name)
        try:
            probe(folder)
        except READ_ERRORS as exc:
            return f"{type(exc).__name__}: {_short(exc)}"
    return None


def _short(exc: BaseException, limit: int = 120) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
