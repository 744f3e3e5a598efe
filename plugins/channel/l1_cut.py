"""The `cut` of the built-in l1-channel strategy (see prunebench.structured.prune_structured)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def l1_cut(amount: float, round_to: int | None, global_pruning: bool):
    """A `cut` removing the filters with the smallest L1 norm (group-wise, Torch-Pruning's MagnitudeImportance)."""

    def cut(model: nn.Module, ignored: list[nn.Module], example: torch.Tensor) -> dict[str, Any]:
        import torch_pruning as tp

        pruner = tp.pruner.MagnitudePruner(
            model, example, importance=tp.importance.MagnitudeImportance(p=1), pruning_ratio=amount,
            global_pruning=global_pruning, ignored_layers=ignored, round_to=round_to)
        pruner.step()
        return {}

    return cut
