"""Which cells a results folder should hold: `prunebench run` writes its suite's whole plan there (plan.json), so a
leaderboard rendered before every cell is in can say it is partial, and how far along it is.

A long suite (the GPU seed study has 144 cells) is run in pieces: `--only`, an interrupted run, a machine lent
for minutes. Records alone cannot tell a finished study from a quarter of one; the plan can. A folder without a
plan.json (records from before it existed, or merged by hand) is taken as it is: no mark.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from prunebench.atomic import atomic_write_text

PLAN_FILENAME = "plan.json"


def write_plan(results_dir: Path, suite: str, cells: Sequence[Any]) -> Path:
    """Write the suite's full plan (every cell's name and train key) into `results_dir`/plan.json."""
    path = Path(results_dir) / PLAN_FILENAME
    plan = {"suite": suite, "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cells": {cell.name: cell.key for cell in cells}}
    atomic_write_text(path, json.dumps(plan, indent=1, sort_keys=True) + "\n")
    return path


def read_plan(results_dir: Path) -> dict[str, Any] | None:
    try:
        plan = json.loads((Path(results_dir) / PLAN_FILENAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(plan, dict) or not isinstance(plan.get("cells"), dict):
        return None
    return plan


def partial_note(results_dirs: Iterable[Path], records: Iterable[dict[str, Any]]) -> str | None:
    """"Partial: ..." when a folder's plan has cells without an ok record among `records`; None when complete or
    when no folder has a plan."""
    plans = [plan for plan in (read_plan(d) for d in results_dirs) if plan is not None]
    if not plans:
        return None
    done = {r.get("key") for r in records if r.get("status") == "ok"}
    expected: dict[str, tuple[str, str]] = {}  # key -> (suite, cell name)
    for plan in plans:
        expected.update({key: (str(plan.get("suite")), name) for name, key in plan["cells"].items()})
    missing = sorted(name for key, (_, name) in expected.items() if key not in done)
    if not missing:
        return None
    suites = ", ".join(sorted({suite for suite, _ in expected.values()}))
    shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
    return (f"Partial: {len(expected) - len(missing)} of {len(expected)} cells of suite {suites} have an ok record; "
            f"{len(missing)} still to run or failed ({shown}). `prunebench run` on the same suite and results "
            "folder resumes them (with --retry-failed for failed ones); this mark goes once every cell is in.")


__all__ = ["PLAN_FILENAME", "partial_note", "read_plan", "write_plan"]
