"""What evaluating a cell produces, as one frozen value: the headline split, the validator's metrics on every split,
the headline split's per-class AP, curves and Ultralytics' speed figures, its per-image matches (compact) and their
bootstrap replicates. Built by the run (run.phases.evaluate_every_split), written by `Record.put_evaluation`, read
back with `from_details`; `to_details` gives exactly the record's fields, so a record's JSON is unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

# The record's details fields an evaluation owns (records/record.py's docstring describes each).
FIELDS = ("eval_split", "metrics_by_split", "evaluator", "per_class_ap", "curves", "ultralytics_speed", "per_image",
          "bootstrap")


@dataclass(frozen=True)
class Evaluation:
    split: str  # the headline split: its metrics are the record's
    metrics_by_split: Mapping[str, Mapping[str, float]]
    evaluator: str
    per_class_ap: Mapping[str, Any]
    curves: Mapping[str, Any] | None
    ultralytics_speed: Mapping[str, Any] | None
    per_image: Mapping[str, Any] | None = None  # {"split": ..., **Matches.encode()}
    bootstrap: Mapping[str, Any] | None = None  # {"split": ..., **Matches.replicates(...)}; None when turned off

    @property
    def metrics(self) -> Mapping[str, float]:
        """The headline split's metrics: the record's accuracy."""
        return self.metrics_by_split[self.split]

    def to_details(self) -> dict[str, Any]:
        out = {"eval_split": self.split, "metrics_by_split": self.metrics_by_split, "evaluator": self.evaluator,
               "per_class_ap": self.per_class_ap, "curves": self.curves, "ultralytics_speed": self.ultralytics_speed}
        out.update({name: value for name, value in (("per_image", self.per_image), ("bootstrap", self.bootstrap))
                    if value is not None})
        return out

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> Evaluation | None:
        """The evaluation a record's details hold; None when the cell was never evaluated."""
        if not isinstance(details.get("eval_split"), str) or not isinstance(details.get("metrics_by_split"), dict):
            return None
        evaluator, per_class_ap, curves, speed, per_image, bootstrap = (details.get(name) for name in FIELDS[2:])
        return cls(split=details["eval_split"], metrics_by_split=details["metrics_by_split"], evaluator=evaluator,
                   per_class_ap=per_class_ap, curves=curves, ultralytics_speed=speed, per_image=per_image,
                   bootstrap=bootstrap)
