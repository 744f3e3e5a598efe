"""Hook specifications. Each hook receives a `register` callable (the simonw/llm pattern)."""

import pluggy

hookspec = pluggy.HookspecMarker("prunebench")
hookimpl = pluggy.HookimplMarker("prunebench")


@hookspec
def register_strategies(register):
    """Register pruning strategies: call register(StrategyClass) for each Strategy subclass."""


@hookspec
def register_models(register):
    """Register model sources: call register(ModelSourceClass) for each ModelSource subclass."""


@hookspec
def register_datasets(register):
    """Register dataset sources: call register(DatasetSourceClass) for each DatasetSource subclass."""


@hookspec
def register_executors(register):
    """Register executors: call register(ExecutorClass) for each class with a `name` and `run_cells`."""
