"""What pruning a cell did, as one frozen value: the strategy's own report (with every reduction figure that disagreed
with the measured one replaced by it, the strategy's kept under `reported_by_strategy`), the verdict on what it
delivered against what was asked (`Delivered`, run.delivered judges it from measure.costs.WeightCounts before and
after) and, for an iterative schedule, one row per step. Written only through `Record.put_prune_report`; `to_details`
gives exactly the record's fields (details.prune_report, details.delivered, details.schedule_steps)."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Delivered:
    """What was asked, what the model lost, and whether the two agree."""

    asked: str  # "30 %" or "2x"
    measure: str  # what `measured` is: "sparsity", "channel_reduction" or "speedup"
    expected: float  # the amount, or the target
    measured: float
    tolerance: float
    removed_nothing: bool
    flagged: bool
    why: str | None
    params_before: int
    params_after: int
    nonzero_params_before: int
    nonzero_params_after: int
    gflops_before: float
    gflops_after: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Delivered:
        return cls(**data)


@dataclass(frozen=True)
class PruneReport:
    reported: Mapping[str, Any]  # the strategy's report (Strategy.prune's return), measured figures winning
    delivered: Delivered | None = None  # None until judged (and in records from before the check)
    schedule_steps: tuple[Mapping[str, Any], ...] | None = None  # an iterative schedule's rows, one per step

    @property
    def claimed(self) -> Mapping[str, Any]:
        """The strategy's own figures that the measured ones replaced ({} when every one agreed)."""
        found = self.reported.get("reported_by_strategy")
        return found if isinstance(found, dict) else {}

    @property
    def achieved_speedup(self) -> float | None:
        """What a speed-up target reached, in GFLOPs (None without a target)."""
        value = self.reported.get("achieved_speedup")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    @property
    def undelivered(self) -> str | None:
        """Why the strategy did not deliver what was asked; None when it did (or was not judged)."""
        return (self.delivered.why or "flagged") if self.delivered is not None and self.delivered.flagged else None

    def judged(self, reported: Mapping[str, Any], delivered: Delivered) -> PruneReport:
        return dataclasses.replace(self, reported=reported, delivered=delivered)

    def to_details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"prune_report": self.reported}
        if self.delivered is not None:
            out["delivered"] = self.delivered.to_json()
        if self.schedule_steps is not None:
            out["schedule_steps"] = list(self.schedule_steps)
        return out

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> PruneReport | None:
        """The prune report a record's details hold; None for a cell that pruned nothing (dense) or failed first."""
        reported = details.get("prune_report")
        if not isinstance(reported, dict):
            return None
        delivered, steps = details.get("delivered"), details.get("schedule_steps")
        return cls(reported, Delivered.from_json(delivered) if isinstance(delivered, dict) else None,
                   tuple(steps) if isinstance(steps, list) else None)


__all__ = ["Delivered", "PruneReport"]
