"""How a measured-latency target ("2x@openvino-int8") was reached: the record's `details.latency_target`.

Written once by the cell's pruning phase (prunebench.run.latency_target) and read by the runner's delivery check
and the leaderboard's target section through `LatencyTargetOutcome.from_record`; nothing else digs through the dict.
No torch here: report commands read it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DETAIL = "latency_target"


@dataclass(frozen=True)
class LatencyStep:
    """One pruning ratio tried: the fraction asked of the strategy, the GFLOPs ratio it gave (dense / pruned) and
    the speed-up measured on the runtime in pairs against the dense model, with its 95 % interval."""

    fraction: float
    gflops_ratio: float
    speedup: float
    low: float | None  # None: too few pairs for a 95 % interval
    high: float | None
    pairs: int
    capped: bool  # the pair rule's time cap came before its width


@dataclass(frozen=True)
class LatencyTargetOutcome:
    """The target (speed-up on `runtime`), the step kept (its fraction, GFLOPs ratio and measured speed-up with its
    interval and pairs), every step tried in order, and, when the kept step is further than `tolerance` from the
    target, why."""

    target: float
    runtime: str  # the deploy variant the speed-up was timed on: torch, onnx, onnx-int8, openvino, openvino-int8
    tolerance: float  # relative: met when |speedup / target - 1| <= tolerance
    met: bool
    why: str | None
    kept: LatencyStep
    steps: tuple[LatencyStep, ...]
    first_prediction: str  # how the first ratio was chosen
    timing: str  # how each step was timed (exports, calibration, threads, pair rule)

    def error_of(self, step: LatencyStep) -> float:
        return step.speedup / self.target - 1

    @property
    def speedup(self) -> float:
        return self.kept.speedup

    def to_details(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_details(cls, data: dict[str, Any]) -> LatencyTargetOutcome:
        fields = dict(data)
        fields["kept"] = LatencyStep(**fields["kept"])
        fields["steps"] = tuple(LatencyStep(**step) for step in fields["steps"])
        return cls(**fields)

    @classmethod
    def from_record(cls, record) -> LatencyTargetOutcome | None:
        """The outcome a record holds, or None (no measured-latency target, or a record that failed before it)."""
        data = record.detail(DETAIL)
        return cls.from_details(data) if isinstance(data, dict) else None


__all__ = ["DETAIL", "LatencyStep", "LatencyTargetOutcome"]
