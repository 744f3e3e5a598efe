"""Which cells have a result from another version of their strategy's plugin, and what to say about it.

A pruned cell's key covers its strategy's plugin identity (spec.strategy.plugin: name, distribution, version;
spec.strategy.version: the class's `version`), so a new plugin release gives every cell of it a new key and
nothing is reused by mistake. This module says WHY such a cell runs again: it finds the cell's earlier ok
records by cell name, and one whose key is the cell's key recomputed with that record's plugin identity differs
from the cell in nothing else. Records written before prunebench recorded plugin identities have none; they
match the same way (the key without identity fields is the key they were written with).
"""

from __future__ import annotations

from typing import Any, Iterable

from prunebench.records.record import Record
from prunebench.run.plan import Cell, key_with_identity, strategy_identity


def describe(identity: dict[str, Any]) -> str:
    """"prunebench-taylor 0.1.1 (strategy version 2)"; "no recorded plugin version" for old records."""
    plugin = identity.get("plugin") or {}
    if not identity:
        return "no recorded plugin version (a record from before prunebench recorded them)"
    who = plugin.get("distribution") or (f"plugin {plugin['name']!r}" if plugin.get("name") else "an unnamed plugin")
    release = plugin.get("version") or "of no version"
    return f"{who} {release} (strategy version {identity.get('version', '?')})"


class PluginChanges:
    """The earlier ok records of a results folder, by cell name, to match cells against."""

    def __init__(self, records: Iterable[Record]):
        self.by_name: dict[str, list[Record]] = {}
        for record in records:
            if record.ok and not record.is_dense:
                self.by_name.setdefault(record.name, []).append(record)

    def find(self, cell: Cell) -> str | None:
        """For a cell with no record at its key: what changed, when an ok record of it differs only in its
        strategy's plugin identity ("came from X; now Y"); else None."""
        if cell.is_dense:
            return None
        ours = strategy_identity(cell.spec)
        for record in sorted(self.by_name.get(cell.name, []), key=lambda r: r.finished_at or "",
                             reverse=True):
            theirs = strategy_identity(record.spec)
            if theirs != ours and key_with_identity(cell, theirs) == record.key:
                return f"its result came from {describe(theirs)}; the plugin is now {describe(ours)}"
        return None
