"""The torch side of FPGM pruning, imported only when the strategy runs."""

from __future__ import annotations

from typing import Any

from prunebench.structured import check_amount, prune_structured


def fpgm_prune(model, amount: float, imgsz: int, prune_head: bool, round_to: int | None) -> dict[str, Any]:
    import torch_pruning as tp

    check_amount(amount, "fpgm-channel")

    def cut(model, ignored, example) -> dict[str, Any]:
        pruner = tp.pruner.BasePruner(model, example, importance=tp.importance.FPGMImportance(p=2),
                                      pruning_ratio=amount, ignored_layers=ignored, round_to=round_to)
        pruner.step()
        return {"importance": "FPGM (Torch-Pruning FPGMImportance, p=2)"}

    return prune_structured(model, amount, imgsz, prune_head, cut)
