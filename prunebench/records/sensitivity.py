"""A per-layer sensitivity map: how much val mAP50-95 a model loses when ONE channel group alone is pruned.

Measured by `prunebench.run.sensitivity` (`prunebench sensitivity SUITE`), kept in prunebench's cache by content
and written into a results folder as `sensitivity/<model>.<dataset>.json` beside its heatmap
(`<model>.<dataset>.png`); leaderboards and the site show the heatmap when the folder holds one. No torch here:
the report reads these files.

Drops are in mAP50-95 points (0-100 scale): baseline minus pruned, so positive means the pruning hurt. A cell is
None where a group could not be pruned at that ratio (the dependency graph refused: it would empty a layer).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prunebench.util.atomic import atomic_write_text

SCHEMA_VERSION = 1
DIRNAME = "sensitivity"
SPLIT = "val"  # never the test split: the map steers pruning choices, so it must not see the held-out data
UNIT = "mAP50-95 drop (points)"


class SensitivityError(ValueError):
    """A sensitivity file that cannot be read: names the file and what is wrong."""


@dataclass(frozen=True)
class ChannelGroup:
    """One prunable group of Torch-Pruning's dependency graph, named by the conv its channels are rooted at."""

    name: str  # the root conv's module path, e.g. "model.2.m.0.cv1.conv"
    label: str  # short and readable for a heatmap row, e.g. "2 C2f m.0.cv1"
    channels: int  # the root conv's output channels: what a ratio is a fraction of


@dataclass(frozen=True)
class SensitivityMap:
    """Drops in val mAP50-95 (points) for each group (rows) pruned alone at each ratio (columns), no fine-tuning."""

    model: str
    dataset: str
    imgsz: int
    criterion: str  # how channels were chosen within a group, e.g. "l1"
    groups: tuple[ChannelGroup, ...]
    ratios: tuple[float, ...]
    baseline_map50_95: float  # the unpruned model's val mAP50-95, 0-1 as Ultralytics reports it
    drops: tuple[tuple[float | None, ...], ...]  # [group][ratio], points
    key: str  # the content key it is cached under
    provenance: dict[str, Any]  # model sha256, data fingerprint, evaluator settings, versions, seconds
    split: str = SPLIT

    def __post_init__(self) -> None:
        if len(self.drops) != len(self.groups) or any(len(row) != len(self.ratios) for row in self.drops):
            raise SensitivityError(f"drops must be {len(self.groups)} groups x {len(self.ratios)} ratios")
        if self.split != SPLIT:
            raise SensitivityError(f"a sensitivity map is measured on the {SPLIT} split, not {self.split!r}")

    @property
    def stem(self) -> str:
        """"<model>.<dataset>": the name its JSON and heatmap files share in a results folder."""
        return f"{self.model}.{self.dataset}"

    def sensitivity(self, group: int) -> float:
        """One number per group for ranking: its mean drop over the ratios it could be pruned at (inf if none)."""
        measured = [d for d in self.drops[group] if d is not None]
        return sum(measured) / len(measured) if measured else math.inf

    def least_sensitive(self) -> ChannelGroup:
        return self.groups[min(range(len(self.groups)), key=self.sensitivity)]

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "model": self.model, "dataset": self.dataset, "split": self.split,
                "imgsz": self.imgsz, "criterion": self.criterion, "unit": UNIT,
                "groups": [{"name": g.name, "label": g.label, "channels": g.channels} for g in self.groups],
                "ratios": list(self.ratios), "baseline_map50_95": self.baseline_map50_95,
                "drops": [list(row) for row in self.drops], "key": self.key, "provenance": self.provenance}

    @classmethod
    def from_json(cls, data: Any) -> "SensitivityMap":
        if not isinstance(data, dict):
            raise SensitivityError("a sensitivity map is a JSON object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise SensitivityError(f"schema version {version!r}; this prunebench reads {SCHEMA_VERSION}: measure it "
                                   "again with `prunebench sensitivity SUITE`")
        try:
            groups = tuple(ChannelGroup(str(g["name"]), str(g["label"]), int(g["channels"])) for g in data["groups"])
            drops = tuple(tuple(None if d is None else float(d) for d in row) for row in data["drops"])
            return cls(model=str(data["model"]), dataset=str(data["dataset"]), imgsz=int(data["imgsz"]),
                       criterion=str(data["criterion"]), groups=groups,
                       ratios=tuple(float(r) for r in data["ratios"]),
                       baseline_map50_95=float(data["baseline_map50_95"]), drops=drops, key=str(data["key"]),
                       provenance=dict(data.get("provenance") or {}), split=str(data.get("split", SPLIT)))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SensitivityError):
                raise
            raise SensitivityError(f"missing or malformed field: {exc}") from None


def write(path: Path, value: SensitivityMap) -> Path:
    atomic_write_text(Path(path), json.dumps(value.to_json(), indent=1) + "\n")
    return Path(path)


def read(path: Path) -> SensitivityMap:
    path = Path(path)
    try:
        return SensitivityMap.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, SensitivityError) as exc:
        raise SensitivityError(f"{path}: {exc}") from None


def in_folder(results_dir: Path) -> list[tuple[Path, Path]]:
    """(json, png) of every sensitivity map a results folder holds with its heatmap, sorted; [] when none."""
    folder = Path(results_dir) / DIRNAME
    if not folder.is_dir():
        return []
    return [(p, p.with_suffix(".png")) for p in sorted(folder.glob("*.json")) if p.with_suffix(".png").is_file()]
