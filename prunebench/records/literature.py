"""Published figures a suite declares beside its measurements (`literature:`): a results folder keeps them in
`literature.json`, and a leaderboard shows them in their own labelled table, never ranked with measured rows
(they were measured elsewhere, on other data, models, hardware and evaluators).

`prunebench run` and `prunebench leaderboard SUITE` write the file from the suite; `leaderboard RESULTS_DIR`
reads it back. No torch here.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from prunebench.util.atomic import atomic_write_text

FILENAME = "literature.json"
MAX_BYTES = 1024 * 1024  # a few dozen figures are a few KB: a guard against a huge or hostile file
FIELDS = ("source", "model", "dataset", "setting", "metric", "value", "note")


@dataclass(frozen=True)
class Figure:
    """One published number: who reported it (`source`, with a link where there is one), for which model,
    data and setting, which metric (as its source names and computes it) and the value."""

    source: str
    model: str
    dataset: str
    setting: str
    metric: str
    value: float
    note: str = ""

    @classmethod
    def from_json(cls, data: Any) -> "Figure":
        if not isinstance(data, dict):
            raise ValueError("a literature figure is an object")
        values = {k: data.get(k, "") for k in FIELDS}
        if not isinstance(values["value"], (int, float)) or isinstance(values["value"], bool) \
                or not math.isfinite(values["value"]):
            raise ValueError(f"value {values['value']!r} is not a finite number")
        text = {k: v for k, v in values.items() if k != "value"}
        if not all(isinstance(v, str) for v in text.values()):
            raise ValueError("source, model, dataset, setting, metric and note are text")
        return cls(**text, value=float(values["value"]))


def write(results_dir: Path, figures: Iterable[Figure]) -> Path | None:
    """Write (or remove, when there are none) `<results_dir>/literature.json`; the path written, or None."""
    path = Path(results_dir) / FILENAME
    figures = list(figures)
    if not figures:
        path.unlink(missing_ok=True)  # the suite no longer declares any: the table goes too
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps([asdict(f) for f in figures], indent=1) + "\n")
    return path


def read(results_dirs: Iterable[Path], warn=None) -> list[Figure]:
    """The figures of every folder, in order, each once; a file that is not readable is warned about and skipped."""
    found: list[Figure] = []
    for folder in results_dirs:
        path = Path(folder) / FILENAME
        if not path.is_file():
            continue
        try:
            if path.stat().st_size > MAX_BYTES:
                raise ValueError(f"larger than {MAX_BYTES // 1024} KB")
            figures = [Figure.from_json(item) for item in json.loads(path.read_text(encoding="utf-8"))]
        except (OSError, ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
            if warn is not None:
                warn(f"skipped {path}: not a literature file this prunebench can read ({exc})", path)
            continue
        found += [f for f in figures if f not in found]
    return found
