"""prunebench: measure what pruning a YOLO model costs in accuracy and buys in speed and size.

The public API lives here and imports no torch, so that `prunebench validate`, `plugins` and `list` start fast:
for plugin authors, the base classes and `hookimpl`; for users, `run_suite`, `load_results`, `leaderboard` and `site`
(prunebench.api, documented in docs/api.md).
"""

__version__ = "0.1.0"

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
from prunebench.api import (
    Results,
    RunOutcome,
    SuiteError,
    UsageError,
    leaderboard,
    load_results,
    load_suite,
    plan,
    run_suite,
    site,
)

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
    "Results",
    "RunOutcome",
    "SuiteError",
    "UsageError",
    "leaderboard",
    "load_results",
    "load_suite",
    "plan",
    "run_suite",
    "site",
    "__version__",
]
