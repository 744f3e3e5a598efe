"""Older records are migrated on read, one small function per schema step (asv's `update_to_2` habit), never
rejected: `migrate` walks a record's JSON object from its schema version up to SCHEMA_VERSION.

A step adds what the newer schema holds and the older record implies; what it cannot know stays unknown (None)
rather than guessed. A step never changes the caller's object. A new layout is a new step here, SCHEMA_VERSION one
higher, and a test that migrates a real record of the older version (tests/test_record_migrations.py)."""

from __future__ import annotations

import copy
from typing import Any, Callable

SCHEMA_VERSION = 2  # the version records are written in

ACCURACY = ("precision", "recall", "map50", "map50_95")


def update_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 (records before 2026-11-28) -> 2. A schema-1 cell was validated on the val split only, by a
    `DetectionValidator` run on the model in memory (v1's evaluator name), so its headline split is "val" and its
    accuracy metrics are that split's; its environment did not record whether prunebench's tree was clean or torch's
    default thread count (None: unknown); it had no measure key (a run re-measures it: "" never matches)."""
    details, metrics, environment = (data.setdefault(name, {}) for name in ("details", "metrics", "environment"))
    if isinstance(details, dict) and isinstance(metrics, dict):  # else Record.from_json names the bad field
        details.setdefault("eval_split", "val")
        details.setdefault("metrics_by_split", {"val": {k: metrics[k] for k in ACCURACY if k in metrics}})
        details.setdefault("evaluator", "ultralytics.DetectionValidator")
        if "metrics_before_finetune" in details:
            details.setdefault("metrics_before_finetune_split", "val")
    if isinstance(environment, dict):
        environment.setdefault("git_dirty", None)
        environment.setdefault("torch_threads_default", None)
    data.setdefault("measure_key", "")
    return data


# version -> the step that lifts a record of that version by one
STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: update_to_2}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """`data` (a record's JSON object of schema version 1..SCHEMA_VERSION) in the current schema; a copy when
    anything changed. Versions this cannot lift (not an integer, newer, older than the oldest step) are returned
    as they are: Record.from_json names the problem."""
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in STEPS:
        return data
    data = copy.deepcopy(data)
    while version in STEPS:
        data = STEPS[version](data)
        version += 1
        data["schema_version"] = version
    return data


__all__ = ["SCHEMA_VERSION", "STEPS", "migrate", "update_to_2"]
