"""Drive a suite run: decide which cells run (resume), lock them, write records, report progress."""

from __future__ import annotations

import math
import signal
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from filelock import Timeout

from prunebench.records.record import Record
from prunebench.records.store import cell_lock, cells_dir, iter_records, load_record, records_by_key, write_record
from prunebench.run.plan import Cell

CACHED, RUN, RETRY, FORCED, SKIP_FAILED = "cached", "run", "retry", "forced", "failed (kept)"


class RecordWriteError(ValueError):
    """A record could not be written (disk full, ...): the run stops with one paragraph."""

REMEASURE = "re-measure"  # same training, other evaluation settings: re-evaluated from the kept model
PLUGIN_CHANGED = "run (plugin changed)"  # an ok record of the cell came from another version of its strategy
KEPT_OTHER_PLUGIN = "kept (other plugin version)"  # the same, kept as asked (--keep-stale-plugin-results)


@dataclass
class Decision:
    cell: Cell
    action: str
    note: str = ""  # why, where the action alone does not say it (a plugin change: which versions)

    @property
    def will_run(self) -> bool:
        return self.action in (RUN, RETRY, FORCED, REMEASURE, PLUGIN_CHANGED)


def decide(cells: list[Cell], results_dir: Path, *, force: bool = False, retry_failed: bool = False,
           keep_stale_plugin_results: bool = False) -> list[Decision]:
    """Resume: an ok record is cached (re-measured when only evaluation settings changed); a failed one is kept
    unless --retry-failed; --force reruns all. A cell without a record at its key whose ok record differs only
    in its strategy's plugin identity (another plugin or strategy version: run.plugin_changes) runs again, and
    the decision says which versions; with `keep_stale_plugin_results` that record is kept instead."""
    from prunebench.run.plugin_changes import PluginChanges

    existing = records_by_key(results_dir)
    changes = PluginChanges(existing.values())
    decisions = []
    for cell in cells:
        record = existing.get(cell.key)
        note = ""
        if force:
            action = FORCED
        elif record is None:
            action, note = RUN, ""
            if (change := changes.find(cell)) is not None:
                action, note = (KEPT_OTHER_PLUGIN if keep_stale_plugin_results else PLUGIN_CHANGED), change
        elif record.ok:
            action = CACHED if record.measure_key == cell.measure_key else REMEASURE
        else:
            action = RETRY if retry_failed else SKIP_FAILED
        decisions.append(Decision(cell, action, note))
    return decisions


@dataclass
class Estimate:
    """How long the cells that will run should take, from earlier records of the same suite."""

    per_cell: dict[str, float]  # cell name -> seconds, for the cells that will run and could be estimated
    from_label: int  # cells estimated from records of their own strategy label
    from_suite: int  # cells estimated from all the suite's records (none of their label)
    records: int  # earlier ok records of the suite with a timing

    @property
    def seconds(self) -> float | None:
        return sum(self.per_cell.values()) if self.per_cell else None


def estimate(decisions: list[Decision], results_dir: Path, suite: str) -> Estimate:
    """Each cell to run: the median `timings.total` of the suite's earlier ok records (any key: another seed,
    amount or recipe) of the same strategy label, else of all of them; a re-measure, the median of their
    evaluate + measure phases (nothing is retrained)."""
    by_label: dict[tuple[str, bool], list[dict[str, float]]] = {}  # (label, deployment variant or not)
    every: list[dict[str, float]] = []
    for _, record in iter_records([results_dir]):
        if record.suite != suite or not record.ok or not _is_seconds(record.timing("total")):
            continue
        timings = {phase: record.timing(phase) for phase in ("total", "evaluate", "measure")}
        by_label.setdefault((record.strategy_label, record.is_variant), []).append(timings)
        every.append(timings)
    result = Estimate({}, 0, 0, len(every))
    for decision in decisions:
        if not decision.will_run or not every:
            continue
        own = by_label.get((decision.cell.strategy, bool(decision.cell.spec.get("deploy"))))
        timings = own or every
        if decision.action == REMEASURE:
            values = [(t.get("evaluate") or 0.0) + (t.get("measure") or 0.0) for t in timings]
        else:
            values = [t["total"] for t in timings]
        result.per_cell[decision.cell.name] = statistics.median(values)
        if own:
            result.from_label += 1
        else:
            result.from_suite += 1
    return result


def _is_seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


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


def ran_on(where: dict[str, int]) -> str:
    """"ran on vm: 1 cell" (hosts, or Ray nodes, with the cells each ran)."""
    return "ran on " + ", ".join(f"{host}: {plural(n, 'cell')}" for host, n in where.items())


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


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """"1 cell", "2 cells" (`plural_form` for nouns that do not just take an s)."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"


def cell_line(done: int, total: int, name: str, record: Record | None, note: str = "") -> str:
    """One plain line for a finished cell, for logs and redirected output (where no progress bar is drawn)."""
    if record is None:
        return f"[{done}/{total}] {name}: {note}"
    status = record.status if record.ok else f"{record.status} ({record.error_type})"
    map50_95 = record.metric("map50_95")
    accuracy = f"mAP50-95 {map50_95:.3f}" if map50_95 is not None else "mAP50-95 -"
    seconds = record.timing("total")
    took = f"{seconds:.1f} s" if seconds is not None else "? s"
    why = record.prune_report.undelivered if record.prune_report is not None else None
    flagged = f"; not what was asked: {why}" if why else ""
    return f"[{done}/{total}] {name}: {status}, {accuracy}, {took}{flagged}"


def run_decisions(decisions: list[Decision], results_dir: Path, executor, make_runner: Callable[[], Any],
                  progress=None, log: Callable[[str], None] = print, plain_lines: bool | None = None) -> RunSummary:
    """Run the cells the decisions say to run; write each record as it arrives.

    plain_lines: log one line per finished cell ("[k/n] name: status, mAP50-95, seconds"); by default when
    there is no progress bar to show it (none given, or tqdm disabled because stderr is not a terminal),
    so that a run whose output goes to a file still says what it did.
    """
    summary = RunSummary(cached=sum(d.action in (CACHED, KEPT_OTHER_PLUGIN) for d in decisions),
                         kept_failed=sum(d.action == SKIP_FAILED for d in decisions))
    todo = [d.cell for d in decisions if d.will_run]
    if plain_lines is None:
        plain_lines = progress is None or bool(getattr(progress, "disable", False))
    finished = 0

    def advance(name: str, record: Record | None = None, note: str = "") -> None:
        nonlocal finished
        finished += 1
        if plain_lines:
            log(cell_line(finished, len(todo), name, record, note))
        if progress is not None:
            progress.update(1)
    started = time.perf_counter()

    @contextmanager
    def claim(cell: Cell):
        lock = cell_lock(results_dir, cell.filename)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            summary.busy.append(cell.name)
            log(f"{cell.name}: another prunebench process is running this cell (lock {lock.lock_file}); skipped here")
            advance(cell.name, note="skipped (another process is running it)")
            yield False
            return
        try:
            # Another process may have finished it while we waited our turn.
            done = load_record(cells_dir(results_dir) / cell.filename)
            forced = any(d.cell.key == cell.key and d.action == FORCED for d in decisions)
            if (done is not None and done.ok and not forced and done.key == cell.key
                    and done.measure_key == cell.measure_key):
                summary.cached += 1
                advance(cell.name, note="cached (another process finished it)")
                yield False
            else:
                if progress is not None:
                    progress.set_postfix_str(cell.name, refresh=True)
                yield True
        finally:
            lock.release()

    def on_record(cell: Cell, record: Record) -> None:
        if not isinstance(record, Record):  # an executor that hands back the JSON object: checked like a file
            record = Record.from_json(record)
        try:
            write_record(results_dir, cell.filename, record, warn=log)
        except OSError as exc:  # disk full, folder gone, permissions: the run stops, what is written stays
            raise RecordWriteError(
                f"could not write the record of {cell.name} into {cells_dir(results_dir)} ({exc.strerror or exc}): "
                "its result is lost, the records already written are intact (each is written whole or not at "
                "all); free space or fix the folder, then run again: finished cells are kept") from None
        summary.ran.append(cell.name)
        if not record.ok:
            summary.failed.append((cell.name, f"{record.error_type}: {record.error_message}".splitlines()[0]))
            log(f"FAILED {cell.name}: {summary.failed[-1][1]}")
            if record.error_hint:
                log(f"  hint: {record.error_hint}")
        host = record.env("ray_node") or record.env("hostname") or "?"
        summary.where[host] = summary.where.get(host, 0) + 1
        if progress is not None:
            progress.set_postfix_str(ran_on(summary.where), refresh=False)
        advance(cell.name, record)

    try:
        with _sigterm_as_interrupt():
            # Deployment variants read their parent cell's kept model: every parent first, then the variants.
            for wave in (
                    [c for c in todo if not c.spec.get("deploy")], [c for c in todo if c.spec.get("deploy")]):
                if wave:
                    executor.run_cells(wave, make_runner, on_record, claim)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        summary.wall_s = time.perf_counter() - started
    return summary
