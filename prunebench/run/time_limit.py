"""A per-cell time limit (the suite's `cell_time_limit`, in seconds): a strategy that sleeps or loops for hours
fails its cell with that reason and the run goes on. SIGALRM interrupts the Python code the cell is running in
the main thread (the local executor); where there is no main thread to interrupt (a Ray worker's thread) the
limit is not enforced, and the record says so."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class CellTimeLimit(TimeoutError):
    """The cell ran past the suite's `cell_time_limit`."""


def enforceable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise CellTimeLimit in the block once `seconds` have passed (nothing when None or not enforceable)."""
    if not seconds or not enforceable():
        yield
        return

    def expired(signum, frame):
        raise CellTimeLimit(f"the cell ran past its time limit of {seconds:g} s (the suite's `cell_time_limit`); "
                            "raise the limit or look at what the strategy does")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
