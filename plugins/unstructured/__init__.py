"""Unstructured pruning strategies: `l1-unstructured`, `global-l1-unstructured`, `random-unstructured`.

No torch here: the work is in `prunebench_builtins.unstructured.masking`, imported when a strategy runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from prunebench import CellContext, Strategy, check_amount, hookimpl


DESCRIPTIONS = {
    "l1-unstructured": "Per-layer magnitude pruning, as in Ultralytics YOLOv5's `prune()`: in every convolution, the "
                       "`amount` of weights with the smallest absolute value are set to zero (torch.nn.utils.prune."
                       "l1_unstructured, made permanent). The DFL convolution, whose fixed weights decode boxes, is "
                       "left alone. The model keeps its shape; fine-tuning keeps the zeros as masks.",
    "global-l1-unstructured": "Global magnitude pruning: the `amount` of weights with the smallest absolute value "
                              "across all convolutions together are set to zero (torch.nn.utils.prune."
                              "global_unstructured with L1Unstructured), so layers with small weights lose more than "
                              "others. The DFL convolution is left alone; fine-tuning keeps the zeros as masks.",
    "random-unstructured": "The baseline every magnitude method must beat: in every convolution, `amount` of the "
                           "weights chosen at random (torch.nn.utils.prune.random_unstructured, drawn from the "
                           "cell's seed, so a seed always picks the same weights) are set to zero. The DFL "
                           "convolution is left alone; fine-tuning keeps the zeros as masks.",
}


class _Unstructured(Strategy):
    """Zeroes `amount` of the prunable convolutions' weights (checked to be a fraction) by `zero_by`, a function of
    prunebench_builtins.unstructured.masking taking (model, amount, ctx)."""

    structured = False
    zero_by: ClassVar[str]

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        from prunebench_builtins.unstructured import masking

        check_amount(amount, self.name, structured=False)
        return getattr(masking, self.zero_by)(model, amount, ctx)


class L1Unstructured(_Unstructured):
    name, zero_by = "l1-unstructured", "l1_per_layer"
    description = DESCRIPTIONS[name]


class GlobalL1Unstructured(_Unstructured):
    name, zero_by = "global-l1-unstructured", "global_l1"
    description = DESCRIPTIONS[name]


class RandomUnstructured(_Unstructured):
    name, zero_by = "random-unstructured", "seeded_random"
    description = DESCRIPTIONS[name]


@hookimpl
def register_strategies(register):
    register(L1Unstructured)
    register(GlobalL1Unstructured)
    register(RandomUnstructured)
