"""A check's verdict as an exception (not an `assert`: pytest rewrites those in plugin modules, and `python -O`
drops them)."""

from __future__ import annotations

from typing import Any, Callable


class ConformanceFailure(AssertionError):
    """A check failed; the message is what the report shows."""


def require(condition: Any, message: "str | Callable[[], str]") -> None:
    """Raise ConformanceFailure(message) unless `condition`; a callable message is built only then."""
    if not condition:
        raise ConformanceFailure(message() if callable(message) else message)
