"""FPGM filter pruning for prunebench: an example of a third-party strategy plugin.

He et al. 2019, "Filter Pruning via Geometric Median": the filters nearest the geometric
median of their layer are the most replaceable by the others, so they go first (where L1
pruning removes the smallest filters). Scoring is Torch-Pruning's FPGMImportance; cutting
reuses prunebench's dependency-graph pruning so the C2f/C3 blocks and the Detect head are
handled as for the built-in `l1-channel`.

No torch import here: `prunebench validate/list/plugins` stay fast.
"""

from __future__ import annotations

from pydantic import Field

from prunebench import CellContext, Params, Strategy, hookimpl

__version__ = "0.2.0"


class FPGMParams(Params):
    round_to: int | None = Field(None, ge=1, description="Keep a multiple of this many channels per layer.")
    prune_head: bool = Field(False, description="Also prune the Detect head's inner convs.")


class FPGMChannel(Strategy):
    name = "fpgm-channel"
    description = ("Structured filter pruning by geometric median (FPGM, He et al. 2019): removes in every "
                   "prunable layer the `amount` of filters closest to the others, through Torch-Pruning.")
    Params = FPGMParams
    structured = True

    def prune(self, model, amount: float, ctx: CellContext) -> dict:
        from prunebench_fpgm.cut import fpgm_prune

        return fpgm_prune(model, amount, ctx.imgsz, self.params.prune_head, self.params.round_to)


@hookimpl
def register_strategies(register):
    register(FPGMChannel)
