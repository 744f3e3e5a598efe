"""Unstructured pruning strategies: `l1-unstructured`, `global-l1-unstructured`, `random-unstructured`.

No torch here: the work is in `prunebench_builtins.unstructured.masking`, imported when a strategy runs.
"""

from __future__ import annotations

from typing import Any

from prunebench import CellContext, Strategy, check_amount, hookimpl


class _Unstructured(Strategy):
    """Zeroes `amount` of the prunable convolutions' weights (checked to be a fraction); `zero` says which."""

    structured = False

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        from prunebench_builtins.unstructured import masking

        check_amount(amount, self.name, structured=False)
        return self.zero(masking, model, amount, ctx)

    def zero(self, masking, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        raise NotImplementedError


class L1Unstructured(_Unstructured):
    name = "l1-unstructured"
    description = (
        "Per-layer magnitude pruning, as in Ultralytics YOLOv5's `prune()`: in every convolution, the `amount` "
        "of weights with the smallest absolute value are set to zero (torch.nn.utils.prune.l1_unstructured, "
        "made permanent). The DFL convolution, whose fixed weights decode boxes, is left alone. The model keeps "
        "its shape; fine-tuning keeps the zeros as masks.")

    def zero(self, masking, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        from torch.nn.utils import prune

        return masking.per_layer(model, amount, prune.l1_unstructured)


class GlobalL1Unstructured(_Unstructured):
    name = "global-l1-unstructured"
    description = (
        "Global magnitude pruning: the `amount` of weights with the smallest absolute value across all "
        "convolutions together are set to zero (torch.nn.utils.prune.global_unstructured with L1Unstructured), "
        "so layers with small weights lose more than others. The DFL convolution is left alone; fine-tuning "
        "keeps the zeros as masks.")

    def zero(self, masking, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        return masking.global_l1(model, amount)


class RandomUnstructured(_Unstructured):
    name = "random-unstructured"
    description = (
        "The baseline every magnitude method must beat: in every convolution, `amount` of the weights chosen "
        "at random (torch.nn.utils.prune.random_unstructured, drawn from the cell's seed, so a seed always "
        "picks the same weights) are set to zero. The DFL convolution is left alone; fine-tuning keeps the "
        "zeros as masks.")

    def zero(self, masking, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        return masking.seeded_random(model, amount, ctx.seed)


@hookimpl
def register_strategies(register):
    register(L1Unstructured)
    register(GlobalL1Unstructured)
    register(RandomUnstructured)
