"""Executors run the cells that need running; records are written by the driver (run_cells' caller).

An executor is a class with a `name`, a Params model and
`run_cells(cells, make_runner, on_record, claim)`, registered through `register_executors`.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from prunebench.base import EmptyParams
from prunebench.hookspecs import hookimpl
from prunebench.plan import Cell

OnRecord = Callable[[Cell, dict[str, Any]], None]


class LocalExecutor:
    """Runs cells one after another in this process, on this machine's device."""

    name = "local"
    description = "Run cells one by one in this process (the default)."
    Params = EmptyParams

    def __init__(self, params: EmptyParams | None = None):
        self.params = params or EmptyParams()

    def run_cells(self, cells: Iterable[Cell], make_runner: Callable[[], Any], on_record: OnRecord,
                  claim: Callable[[Cell], Any]) -> None:
        """`claim(cell)` is a context manager yielding False when another process holds the cell."""
        cells = list(cells)
        runner = make_runner()
        if cells and hasattr(runner, "prepare_inputs"):
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
