"""prunebench: measure what pruning a YOLO model costs in accuracy and buys in speed and size.

The public API for plugin authors lives here and imports no torch, so that
`prunebench validate`, `plugins` and `list` start fast.
"""

from prunebench.plugin.base import (
    CellContext,
    DatasetSource,
    EmptyParams,
    Executor,
    ModelSource,
    Params,
    PreparedDataset,
    Strategy,
    check_amount,
)
from prunebench.plugin.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "CellContext",
    "DatasetSource",
    "EmptyParams",
    "Executor",
    "ModelSource",
    "Params",
    "PreparedDataset",
    "Strategy",
    "check_amount",
    "hookimpl",
    "__version__",
]
