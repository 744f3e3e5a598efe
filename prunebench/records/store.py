"""The record store: one JSON file per cell in `<results>/cells/`, written atomically, read back as `Record`s,
and the per-cell locks that let several processes share one results folder.

A file that is not a readable record (bad JSON, a malformed field, a newer schema) is never fatal and never
silently skipped: each reader warns once per file (path and reason) and goes on, and a run never overwrites
it: the file is moved aside to `<name>.unreadable[-N]` first, and the run says so.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from prunebench.records import bounds
from prunebench.records.record import SCHEMA_VERSION, Record, RecordError
from prunebench.util.atomic import atomic_write_text

MODELS_DIRNAME = "models"
CELLS_DIRNAME = "cells"
LOCKS_DIRNAME = ".locks"
MAX_RECORD_BYTES = bounds.MAX_RECORD_BYTES

Warn = Callable[[str], None]
_warned: set[tuple[str, str]] = set()
_skipped: set[str] = set()


def warn_once(message: str, path: Path | str) -> None:
    """Print a warning about a file once per process (commands read a folder more than once)."""
    marker = (str(Path(path).resolve()), message)
    if marker in _warned:
        return
    _warned.add(marker)
    print(f"prunebench: warning: {message}", file=sys.stderr)


def _warn_unreadable(path: Path, reason: str) -> None:
    warn_once(f"skipped {path}: not a record this prunebench can read ({reason})", path)


def cells_dir(results_dir: Path) -> Path:
    return Path(results_dir) / CELLS_DIRNAME


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def record_text(record: Record) -> str:
    return json.dumps(record.to_json(), indent=1, sort_keys=True, allow_nan=False, default=_jsonable) + "\n"


def write_record(results_dir: Path, filename: str, record: Record | dict[str, Any], *,
                 warn: Warn | None = None) -> Path:
    """Write `record` (a Record, or its JSON object, checked by Record.from_json) as cells/<filename>, atomically.
    An existing file there that is not a readable record is moved aside first (never overwritten) and `warn` is
    told where it went."""
    if not isinstance(record, Record):
        record = Record.from_json(record)
    path = cells_dir(results_dir) / filename
    text = record_text(record)  # serialise first: a record that cannot be written changes nothing on disk
    if path.exists():
        try:
            read_record(path)
        except RecordError as exc:
            aside = _aside(path)
            os.replace(path, aside)
            (warn or (lambda m: warn_once(m, path)))(
                f"{path} was not a record this prunebench can read ({exc}); moved it to {aside.name} "
                "and wrote the new record in its place")
    atomic_write_text(path, text)
    return path


def _aside(path: Path) -> Path:
    candidate, n = path.with_name(path.name + ".unreadable"), 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.unreadable-{n}")
    return candidate


def read_record(path: Path) -> Record:
    """The record in `path`; RecordError (with the reason) when it is not one this version reads."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_RECORD_BYTES:
            raise RecordError(f"{size / 1e6:.0f} MB, more than any record ({MAX_RECORD_BYTES / 1e6:.0f} MB)")
        data = bounds.parse(path.read_text(encoding="utf-8"))  # size, depth, string and value bounds
    except RecordError:
        raise
    except bounds.RecordBoundsError as exc:
        raise RecordError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"cannot read it: {exc}") from None
    except ValueError as exc:
        raise RecordError(f"not valid JSON: {exc}") from None
    return Record.from_json(data)


def load_record(path: Path, *, warn: bool = True) -> Record | None:
    """The record in `path`, or None when there is none (no file) or it is unreadable (warned once)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return read_record(path)
    except RecordError as exc:
        if warn:
            _warn_unreadable(path, str(exc))
        return None


def record_files(results_dir: Path) -> list[Path]:
    base = Path(results_dir)
    folder = base if base.name == CELLS_DIRNAME else cells_dir(base)
    return sorted(p for p in folder.glob("*.json") if p.is_file())


def skip(path: Path) -> None:
    """Leave the record in `path` out of every later read in this process (a report found a field it cannot read
    and has said so)."""
    _skipped.add(str(Path(path).resolve()))


def iter_records(results_dirs: Iterable[Path], *, warn: bool = True) -> Iterator[tuple[Path, Record]]:
    """Every readable record under the given results folders (a folder or its cells/); each unreadable file is
    warned about once (path and reason) and skipped, as is each record a report has set aside (`skip`)."""
    for results_dir in results_dirs:
        for path in record_files(results_dir):
            if _skipped and str(path.resolve()) in _skipped:
                continue
            record = load_record(path, warn=warn)
            if record is not None:
                yield path, record


def records_by_key(results_dir: Path) -> dict[str, Record]:
    return {record.key: record for _, record in iter_records([results_dir])}


# ---------------------------------------------------------------- per-cell locks
def cell_lock(results_dir: Path, filename: str):
    """The FileLock that says a process is working on a cell (`filename` is the record's file name).
    ValueError (one paragraph) when the lock path is a symbolic link: a lock is never followed elsewhere."""
    from filelock import FileLock

    locks = cells_dir(results_dir) / LOCKS_DIRNAME
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{filename}.lock"
    if path.is_symlink() or locks.is_symlink():
        link = path if path.is_symlink() else locks
        raise ValueError(f"the lock file {link} is a symbolic link (to {os.readlink(link)}); prunebench never follows "
                         "one, since it would lock, create or truncate a file elsewhere: remove the link and run again")
    return FileLock(str(path))


__all__ = ["CELLS_DIRNAME", "MODELS_DIRNAME", "SCHEMA_VERSION", "Record", "RecordError", "cell_lock", "cells_dir",
           "iter_records", "load_record", "read_record", "record_files", "record_text", "records_by_key", "skip",
           "warn_once", "write_record"]
