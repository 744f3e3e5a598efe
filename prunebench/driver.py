"""Drive a suite run: decide which cells run (resume), lock them, write records, report progress."""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from filelock import FileLock, Timeout

from prunebench.plan import Cell
from prunebench.results import cells_dir, load_record, records_by_key, write_record

CACHED, RUN, RETRY, FORCED, SKIP_FAILED = "cached", "run", "retry", "forced", "failed (kept)"
REMEASURE = "re-measure"  # same training, other evaluation settings: re-evaluated from the kept model


@dataclass
class Decision:
    cell: Cell
    action: str

    @property
    def will_run(self) -> bool:
        return self.action in (RUN, RETRY, FORCED, REMEASURE)


def decide(cells: list[Cell], results_dir: Path, *, force: bool = False, retry_failed: bool = False) -> list[Decision]:
    """Resume: an ok record is cached (re-measured when only evaluation settings changed); a failed one is kept
    unless --retry-failed; --force reruns all."""
    existing = records_by_key(results_dir)
    decisions = []
    for cell in cells:
        record = existing.get(cell.key)
        if force:
            action = FORCED
        elif record is None:
            action = RUN
        elif record.get("status") == "ok":
            action = CACHED if record.get("measure_key") == cell.measure_key else REMEASURE
        else:
            action = RETRY if retry_failed else SKIP_FAILED
        decisions.append(Decision(cell, action))
    return decisions


@dataclass
class RunSummary:
    ran: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    cached: int = 0
    kept_failed: int = 0
    busy: list[str] = field(default_factory=list)
    where: dict[str, int] = field(default_factory=dict)  # cells run per machine (Ray node or this host)
    interrupted: bool = False
    wall_s: float = 0.0

    @property
    def any_failed(self) -> bool:
        return bool(self.failed) or self.kept_failed > 0


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (e.g. a scheduler's kill) stops as cleanly as Ctrl-C does."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_decisions(decisions: list[Decision], results_dir: Path, executor, make_runner: Callable[[], Any],
                  progress=None, log: Callable[[str], None] = print) -> RunSummary:
    summary = RunSummary(cached=sum(d.action == CACHED for d in decisions),
                         kept_failed=sum(d.action == SKIP_FAILED for d in decisions))
    todo = [d.cell for d in decisions if d.will_run]
    locks = cells_dir(results_dir) / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    @contextmanager
    def claim(cell: Cell):
        lock = FileLock(str(locks / f"{cell.filename}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            summary.busy.append(cell.name)
            log(f"{cell.name}: another prunebench process is running this cell (lock {lock.lock_file}); skipped here")
            if progress is not None:
                progress.update(1)
            yield False
            return
        try:
            # Another process may have finished it while we waited our turn.
            done = load_record(cells_dir(results_dir) / cell.filename)
            forced = any(d.cell.key == cell.key and d.action == FORCED for d in decisions)
            if (done and done.get("status") == "ok" and not forced and done.get("key") == cell.key
                    and done.get("measure_key") == cell.measure_key):
                summary.cached += 1
                if progress is not None:
                    progress.update(1)
                yield False
            else:
                if progress is not None:
                    progress.set_postfix_str(cell.name, refresh=True)
                yield True
        finally:
            lock.release()

    def on_record(cell: Cell, record: dict[str, Any]) -> None:
        write_record(results_dir, cell.filename, record)
        summary.ran.append(cell.name)
        if record["status"] != "ok":
            error = record.get("error") or {}
            summary.failed.append((cell.name, f"{error.get('type')}: {error.get('message', '')}".splitlines()[0]))
            log(f"FAILED {cell.name}: {summary.failed[-1][1]}")
            if error.get("hint"):
                log(f"  hint: {error['hint']}")
        env = record.get("environment") or {}
        host = env.get("ray_node") or env.get("hostname") or "?"
        summary.where[host] = summary.where.get(host, 0) + 1
        if progress is not None:
            progress.set_postfix_str(", ".join(f"{h}: {n}" for h, n in summary.where.items()), refresh=False)
            progress.update(1)

    try:
        with _sigterm_as_interrupt():
            executor.run_cells(todo, make_runner, on_record, claim)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        summary.wall_s = time.perf_counter() - started
    return summary
