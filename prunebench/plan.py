"""Expand a suite into cells, each with a stable content key.

One cell per model x dataset x strategy x amount x seed, plus one dense baseline per
model x dataset x seed. The key hashes the canonical spec, the content fingerprints of
the files the cell reads, and the record schema version. The device is not in it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from prunebench.results import SCHEMA_VERSION
from prunebench.suite import LoadedSuite

DENSE = "dense"


@dataclass(frozen=True)
class Cell:
    suite: str
    model: str
    dataset: str
    strategy: str  # the strategy entry's key (label or name); "dense" for the baseline
    amount: float
    seed: int
    spec: dict[str, Any] = field(compare=False, hash=False)
    key: str = ""

    @property
    def is_dense(self) -> bool:
        return self.strategy == DENSE

    @property
    def name(self) -> str:
        return f"{self.model}.{self.dataset}.{self.strategy}.a{self.amount:.2f}.s{self.seed}"

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.key}.json"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def content_key(spec: dict[str, Any], fingerprints: dict[str, Any]) -> str:
    payload = canonical_json({"schema_version": SCHEMA_VERSION, "spec": spec, "inputs": fingerprints})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _entry_spec(resolved) -> dict[str, Any]:
    entry = resolved.entry
    spec = {"name": entry.name, "plugin": getattr(entry, "plugin", entry.name),
            "params": resolved.params.model_dump(mode="json")}
    return spec


def build_plan(loaded: LoadedSuite) -> list[Cell]:
    suite = loaded.suite
    evaluation = suite.evaluation.model_dump(mode="json", exclude={"device"})
    finetune = suite.finetune.model_dump(mode="json")
    # Fingerprints read files (hash weights, list labels): once per entry, not per cell.
    model_fps = {name: r.instance().fingerprint() for name, r in loaded.models.items()}
    dataset_fps = {name: r.instance().fingerprint() for name, r in loaded.datasets.items()}
    cells: list[Cell] = []
    for model_name, model in loaded.models.items():
        for dataset_name, dataset in loaded.datasets.items():
            dataset_spec = _entry_spec(dataset) | {"synthetic": bool(getattr(dataset.cls, "synthetic", False))}
            base_spec = {"model": _entry_spec(model), "dataset": dataset_spec, "evaluation": evaluation}
            fingerprints = {"model": model_fps[model_name], "dataset": dataset_fps[dataset_name]}
            for seed in suite.seeds:
                variants = [(DENSE, {"name": DENSE, "params": {}}, 0.0, None)]
                for key, strategy in loaded.strategies.items():
                    strategy_spec = {"name": strategy.entry.name, "label": key,
                                     "params": strategy.params.model_dump(mode="json")}
                    for amount in strategy.entry.amounts:
                        variants.append((key, strategy_spec, float(amount), finetune))
                for key, strategy_spec, amount, finetune_spec in variants:
                    spec = base_spec | {"strategy": strategy_spec, "amount": amount, "seed": seed,
                                        "finetune": finetune_spec}
                    cells.append(Cell(suite.name, model_name, dataset_name, key, amount, seed, spec,
                                      content_key(spec, fingerprints)))
    return cells


def select(cells: list[Cell], patterns: list[str]) -> list[Cell]:
    """Cells whose name matches any glob pattern (a plain word matches as a substring)."""
    if not patterns:
        return cells
    globs = [p if any(c in p for c in "*?[") else f"*{p}*" for p in patterns]
    return [c for c in cells if any(fnmatch.fnmatchcase(c.name, g) for g in globs)]
