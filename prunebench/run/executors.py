"""The local executor: cells one after another in this process (see prunebench.plugin.base.Executor)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from prunebench.plugin.base import Executor
from prunebench.plugin.hookspecs import hookimpl
from prunebench.records.record import Record
from prunebench.run.plan import Cell

OnRecord = Callable[[Cell, Record], None]


class LocalExecutor(Executor):
    """Runs cells one after another in this process, on this machine's device."""

    name = "local"
    description = "Run cells one by one in this process (the default)."

    def run_cells(self, cells: Iterable[Cell], make_runner: Callable[[], Any], on_record: OnRecord,
                  claim: Callable[[Cell], Any]) -> None:
        """`claim(cell)` is a context manager yielding False when another process holds the cell."""
        cells = list(cells)
        runner = make_runner()
        if cells:
            # Datasets, baselines and the checks every cell of a model would fail on, before any cell runs: a
            # ValueError here stops the run with nothing written.
            runner.prepare_inputs(cells)
        for cell in cells:
            with claim(cell) as mine:
                if mine:
                    on_record(cell, runner.run(cell))


@hookimpl
def register_executors(register):
    register(LocalExecutor)
