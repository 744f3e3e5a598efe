"""The records of one results folder, read once per command, and the questions every command asks of them:
which record is a cell's dense reference, which model under study a reference model was timed against, and
which records match a pattern. One pass over the folder answers them all (before, each question rescanned it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from prunebench.records.kept import has_kept_model
from prunebench.records.record import DENSE, Record, study_model_for
from prunebench.records.store import iter_records
from prunebench.util.patterns import matches


@dataclass(frozen=True)
class Found:
    """A record and the file it was read from."""

    path: Path
    record: Record

    @property
    def name(self) -> str:
        return self.record.name


class RecordIndex:
    def __init__(self, results_dir: Path, found: Iterable[Found] | None = None):
        self.results_dir = Path(results_dir)
        self.found: list[Found] = (list(found) if found is not None
                                   else [Found(path, record) for path, record in iter_records([self.results_dir])])
        # (model, dataset, seed) -> ok "dense" records with their kept model on disk, oldest first
        self._dense: dict[tuple[str, str, int | None], list[Found]] = {}
        self._study_dense: dict[str, set[str]] = {}  # dataset -> study models with a dense record there
        for item in sorted(self.found, key=lambda f: str(f.record.finished_at or "")):
            record = item.record
            if not record.is_dense or record.is_variant:  # a variant deploys a kept model; it is no reference
                continue
            if record.model_role == "study":
                self._study_dense.setdefault(record.dataset_name, set()).add(record.model_name)
            if (record.ok and record.strategy_label == DENSE and has_kept_model(record, self.results_dir)):
                self._dense.setdefault((record.model_name, record.dataset_name, record.seed), []).append(item)

    def select(self, patterns: Iterable[str] = (), *, ok_only: bool = True, kept_only: bool = False) -> list[Found]:
        """Records whose name matches; `kept_only`: not deployment variants, which keep no model of their own
        (they deploy their parent cell's, which `prunebench export` and `measure` reach through the parent)."""
        return [f for f in self.found if matches(f.name, patterns) and (not ok_only or f.record.ok)
                and not (kept_only and f.record.is_variant)]

    def by_key(self) -> dict[str, Record]:
        return {f.record.key: f.record for f in self.found}

    def reference_of(self, record: Record, model: str | None = None) -> Found | None:
        """The record of the cell's dense reference: label "dense", same model (or `model`), dataset and seed, ok,
        with a kept model file present (the newest, if several); None if there is none."""
        found = self._dense.get((model or record.model_name, record.dataset_name, record.seed))
        return found[-1] if found else None

    def study_model_of(self, record: Record) -> str | None:
        """For a dense record of a reference model: the model under study its latency is paired with (the one its
        record names, else by the rule of `study_model_for`); None for other records."""
        if not record.is_dense or record.model_role != "reference":
            return None
        return record.timed_against or study_model_for(self._study_dense.get(record.dataset_name, ()))

    def timing_reference(self, record: Record) -> tuple[Found | None, str | None]:
        """(the record whose kept model `record`'s latency is timed against in pairs, the study model when that is
        a reference model's pairing). A pruned record: its own dense reference; a reference model's dense record:
        the dense model under study; anything else: (None, None)."""
        if not record.is_dense:
            return self.reference_of(record), None
        study = self.study_model_of(record)
        if study is None:
            return None, None
        return self.reference_of(record, model=study), study


__all__ = ["Found", "RecordIndex"]
