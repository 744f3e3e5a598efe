"""The importance criteria of the channel strategies: Torch-Pruning's own importance classes, by name.

Every criterion scores the channels of a dependency-graph group (a conv's filters together with
everything coupled to them: its BatchNorm, the next convs' input channels, the other side of a
residual add or a concat). `group_reduction` says how the per-layer scores of a group combine:
"mean" (Torch-Pruning's default: every coupled layer counts) or "first" (only the pruned conv's
own filters, the single-layer criterion of Li et al. 2017; Torch-Pruning's "Single-layer"
variants in its importance benchmark). The normaliser only matters for global ranking (a
monotone rescaling per group leaves a per-layer choice unchanged):

  l1          MagnitudeImportance(p=1)           sum |w| per channel          normaliser: mean
  l2          MagnitudeImportance(p=2)           sum w^2 per channel          normaliser: mean
  group-norm  GroupMagnitudeImportance(p=2)      DepGraph's group norm, always over the whole group. With
                                                 group_reduction "mean" it picks exactly what l2 picks (same
                                                 class, same normaliser; checked in the tests): Torch-Pruning's
                                                 group_norm method differs from l2 by its sparse-training
                                                 regulariser (GroupNormPruner), which one-shot pruning never runs
  lamp        LAMPImportance(p=2)                w^2 over the sum of the not-smaller ones (LAMP)
  fpgm        FPGMImportance(p=2)                distance to the layer's other filters (geometric median)
  bn-scale    BNScaleImportance                  |gamma| of the group's BatchNorms; normaliser: none, so raw
                                                 gammas compare across layers (network slimming)
  taylor      TaylorImportance                   |w * dL/dw| summed per channel (Molchanov et al. 2019)
  hessian     HessianImportance                  w^2 * E[(dL/dw)^2] per channel, the squared gradients
                                                 averaged over single images (OBD with a Fisher diagonal)
  random      RandomImportance                   uniform scores from the cell's seed

taylor and hessian need loss gradients: `load_calibration` and `fill_gradients` compute them on a
few batches of the suite's training data (prunebench.yolo.gradients).
"""

from __future__ import annotations

from typing import Any

import torch
import torch_pruning as tp
from torch import nn

CRITERIA = ("l1", "l2", "lamp", "taylor", "hessian", "bn-scale", "group-norm", "fpgm", "random")
GRADIENT_CRITERIA = ("taylor", "hessian")


class FixedHessianImportance(tp.importance.HessianImportance):
    """Torch-Pruning's HessianImportance with its accumulation fixed; scoring is unchanged.

    In torch-pruning 1.6.1 `accumulate_grad` tests `name not in self._accu_grad` on a dict keyed by
    the parameter itself, so every call overwrites the sum: only the LAST image's squared gradient
    would count (checked: three samples give the last one's g^2 with a count of 1). This keys both
    dicts by the parameter, so E[g^2] is the mean over every image, as OBD asks.
    """

    @torch.no_grad()
    def accumulate_grad(self, model: nn.Module) -> None:
        for param in model.parameters():
            if param.grad is None:
                continue
            squared = param.grad.detach().pow(2)
            if param in self._accu_grad:
                self._accu_grad[param] += squared
                self._counter[param] += 1
            else:
                self._accu_grad[param] = squared.clone()
                self._counter[param] = 1


# name -> (Torch-Pruning class, its keyword arguments, whether it takes group_reduction, the normaliser it uses).
# bn-scale has no normaliser: network slimming compares raw |gamma| across layers. group-norm always reduces
# the whole coupled group (that is what it is). random is seeded by the caller with the cell's seed.
_IMPORTANCE = {
    "l1": ("MagnitudeImportance", {"p": 1}, True, "mean"),
    "l2": ("MagnitudeImportance", {"p": 2}, True, "mean"),
    "group-norm": ("GroupMagnitudeImportance", {"p": 2, "group_reduction": "mean"}, False, "mean"),
    "lamp": ("LAMPImportance", {"p": 2}, True, "lamp"),
    "fpgm": ("FPGMImportance", {"p": 2}, True, "mean"),
    "bn-scale": ("BNScaleImportance", {"normalizer": None}, True, None),
    "taylor": ("TaylorImportance", {}, True, "mean"),
    "hessian": ("HessianImportance", {}, True, "mean"),
    "random": ("RandomImportance", {}, False, None),
}


def make_importance(name: str, group_reduction: str = "mean") -> tuple[Any, str]:
    """(Torch-Pruning importance object, how it was built) for a criterion name."""
    if name not in _IMPORTANCE:
        raise ValueError(f"unknown importance criterion {name!r}; one of {', '.join(CRITERIA)}")
    class_name, kwargs, takes_reduction, normalizer = _IMPORTANCE[name]
    kwargs = dict(kwargs, **({"group_reduction": group_reduction} if takes_reduction else {}))
    # Torch-Pruning 1.6.1's HessianImportance keeps only the last image's squared gradient: a fixed subclass.
    cls = FixedHessianImportance if name == "hessian" else getattr(tp.importance, class_name)
    shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "normalizer")
    built = f"tp.importance.{class_name}({shown}{', ' if shown else ''}normalizer={normalizer!r})"
    if name == "hessian":
        built += ", per-image squared gradients averaged"
    if name == "random":
        built = "tp.importance.RandomImportance() under torch.manual_seed(cell seed)"
    return cls(**kwargs), built


def require_dataset(name: str, ctx, strategy: str) -> None:
    """A clear error, before any work, when a gradient criterion has no training data to differentiate on."""
    if name in GRADIENT_CRITERIA and (ctx.dataset is None or ctx.dataset.data_yaml is None):
        raise ValueError(
            f"{strategy}: importance {name!r} scores channels by the detection loss's gradients on a few batches "
            "of the suite's TRAINING data, but this cell has no dataset (ctx.dataset is None). Run it from a suite "
            "with a dataset, or pass CellContext(dataset=PreparedDataset(data_yaml=...)); criteria that need no data: "
            + ", ".join(c for c in CRITERIA if c not in GRADIENT_CRITERIA))


def load_calibration(model: nn.Module, ctx, batches: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`batches` training batches drawn by the cell's seed, on the model's device; checked against the
    model's classes first, so a wrong dataset fails before any pruning work."""
    from prunebench import pruning as gradients

    device = next(model.parameters()).device
    data_yaml = ctx.dataset.data_yaml
    loaded, info = gradients.training_batches(data_yaml, imgsz=ctx.imgsz, batch=ctx.batch, batches=batches,
                                              seed=ctx.seed, device=device)
    gradients.check_classes(model, info["classes"], data_yaml)
    return loaded, info


def fill_gradients(model: nn.Module, name: str, importance: Any, loaded: list[dict[str, Any]]) -> dict[str, Any]:
    """Leave in `.grad` what `importance` reads: taylor, the loss gradient summed over the batches;
    hessian, the squared gradients of single images, accumulated by the importance object."""
    from prunebench import pruning as gradients

    if name == "hessian":
        importance.zero_grad()
        info = gradients.loss_gradients(model, loaded, after_image=importance.accumulate_grad)
    else:
        info = gradients.loss_gradients(model, loaded)
    info["nonzero_gradients"] = gradients.nonzero_gradients(model)
    return info


def prune_by_criterion(model: nn.Module, amount: float, ctx, *, strategy: str, importance: str,
                       round_to: int | None, global_pruning: bool, min_keep_ratio: float, prune_head: bool,
                       group_reduction: str = "mean", calibration_batches: int = 4) -> dict[str, Any]:
    """Prune `model` in place by a named criterion through prunebench.structured.prune_structured; the report."""
    from prunebench_builtins.channel.selection import importance_cut

    from prunebench.pruning import check_amount, prune_structured

    check_amount(amount, strategy)
    require_dataset(importance, ctx, strategy)
    scorer, built = make_importance(importance, group_reduction)
    needs_grad = importance in GRADIENT_CRITERIA
    if needs_grad:
        loaded, info = load_calibration(model, ctx, calibration_batches)

    def gradients_of(prepared: nn.Module) -> dict[str, Any]:
        # On the rewritten model the graph was built from: the scorer reads these very modules' .grad.
        return {**info, **fill_gradients(prepared, importance, scorer, loaded)}

    cut = importance_cut(amount, scorer, round_to=round_to, global_pruning=global_pruning,
                         min_keep_ratio=min_keep_ratio, needs_grad=needs_grad,
                         before_scoring=gradients_of if needs_grad else None,
                         seed=ctx.seed if importance == "random" else None,
                         describe={"importance": importance, "importance_fn": built})
    return prune_structured(model, amount, ctx.imgsz, prune_head, cut)
