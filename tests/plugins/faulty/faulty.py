"""A --plugins-dir plugin of strategies that fail inside a real cell, for tests/test_cell_failures.py.

- `oom`: raises torch's OutOfMemoryError while pruning, as a GPU that is too small would.
- `nan-weights`: poisons every convolution with NaN, so fine-tuning's loss is NaN.
- `plugin-bug`: a plain bug in a third party's code (a KeyError).
- `prunes-nothing`: returns a report that claims the amount asked, and removes nothing (the run must flag it).
"""

from prunebench import Strategy, hookimpl


class OutOfMemory(Strategy):
    name = "oom"
    description = "Fails with torch.OutOfMemoryError while pruning."

    def prune(self, model, amount, ctx):
        import torch

        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


class NanWeights(Strategy):
    name = "nan-weights"
    description = "Sets every convolution weight to NaN (fine-tuning then sees a NaN loss)."

    def prune(self, model, amount, ctx):
        import torch

        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, torch.nn.Conv2d) and module.weight.requires_grad is not None:
                    module.weight.fill_(float("nan"))
        return {"requested": amount}


class PluginBug(Strategy):
    name = "plugin-bug"
    description = "A bug in a plugin: raises KeyError."

    def prune(self, model, amount, ctx):
        return {}["no-such-key"]


class PrunesNothing(Strategy):
    name = "prunes-nothing"
    description = "Zeroes nothing and reports the amount asked as achieved_sparsity."

    def prune(self, model, amount, ctx):
        return {"requested": amount, "achieved_sparsity": amount}


@hookimpl
def register_strategies(register):
    register(OutOfMemory)
    register(NanWeights)
    register(PluginBug)
    register(PrunesNothing)
