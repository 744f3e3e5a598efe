"""What fine-tuning a cell produced, as one frozen value: the recipe, the epochs and SGD steps it resolved to, each
training run's summary, the loss curve over all of them (epochs numbered on), and the teacher when it distilled.
A cell fine-tuned in steps adds one run per step (`after`). Written by `Record.put_finetuning`; `to_details` gives
exactly the record's fields (details.finetune, details.loss_curve, details.distillation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class FineTuning:
    recipe: Mapping[str, Any]
    epochs: int  # the recipe's epochs, resolved ("auto" -> a number)
    steps: Any  # the SGD steps those epochs make, as training.resolve_epochs says
    runs: tuple[Mapping[str, Any], ...] = ()  # each training run's summary, without its loss curve
    loss_curve: tuple[Mapping[str, Any], ...] = ()
    distillation: Mapping[str, Any] | None = None  # the first run's, when it distilled

    def after(self, info: Mapping[str, Any]) -> FineTuning:
        """This fine-tuning with one more training run (`info` as yolo.training.train returns it)."""
        offset = len(self.loss_curve)
        curve = tuple(dict(row, epoch=row["epoch"] + offset) for row in info.get("loss_curve", []))
        return FineTuning(self.recipe, self.epochs, self.steps,
                          runs=(*self.runs, {k: v for k, v in info.items() if k != "loss_curve"}),
                          loss_curve=(*self.loss_curve, *curve),
                          distillation=self.distillation if self.distillation is not None else info.get("distill"))

    def to_details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"finetune": {"recipe": self.recipe, "epochs": self.epochs, "steps": self.steps,
                                            "runs": list(self.runs)},
                               "loss_curve": list(self.loss_curve)}
        if self.distillation is not None:
            out["distillation"] = self.distillation
        return out

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> FineTuning | None:
        """The fine-tuning a record's details hold; None when the cell was not fine-tuned."""
        log = details.get("finetune")
        if not isinstance(log, dict):
            return None
        return cls(log["recipe"], log["epochs"], log["steps"], tuple(log["runs"]),
                   tuple(details.get("loss_curve") or ()), details.get("distillation"))
