"""The public helpers a pruning strategy may use, in one stable place (docs/strategy-contract.md lists them
with their signatures; anything not listed there is internal and may change).

Imports torch (and, lazily, Ultralytics): import it inside `prune()` or a plugin's submodule, not in the
plugin's `__init__`, so that `prunebench validate`, `list` and `plugins` stay fast.
"""

from prunebench.measure.group_latency import group_latency_table
from prunebench.plugin.base import CellContext, check_amount
from prunebench.records.sensitivity import read as read_sensitivity_map
from prunebench.yolo.channels import check_channel_prunable, out_channels, prune_structured
from prunebench.yolo.gradients import check_classes, loss_gradients, nonzero_gradients, training_batches
from prunebench.yolo.prunable import (detect_head, head_output_layers, prunable_batchnorms, prunable_convs,
                                      sparsity_stats, structured_ignored_layers)

__all__ = [
    # amounts
    "check_amount",
    # what may be pruned
    "prunable_convs", "prunable_batchnorms", "detect_head", "head_output_layers", "structured_ignored_layers",
    "sparsity_stats",
    # data and gradients
    "training_batches", "loss_gradients", "nonzero_gradients", "check_classes",
    # removing channels
    "prune_structured", "check_channel_prunable", "out_channels",
    # what a non-uniform allocation reads: per-group latency tables and sensitivity maps
    "group_latency_table", "read_sensitivity_map",
    "CellContext",
]
