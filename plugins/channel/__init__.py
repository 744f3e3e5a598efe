"""Structured (channel) pruning strategies: `l1-channel` and `network-slimming`.

No torch here: the work is in `prunebench.structured` (shared with third-party channel strategies),
`l1_cut` and `slimming`, imported when a strategy runs.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from prunebench import CellContext, Params, Strategy, hookimpl


class L1ChannelParams(Params):
    prune_head: bool = Field(
        False, description="Also prune the Detect head's inner convs (its output convs and DFL always stay whole).")
    round_to: int | None = Field(
        None, ge=1, description="Keep a multiple of this many channels per layer (8 suits GPUs); none keeps exact counts.")
    global_pruning: bool = Field(
        False, description="Rank filters across all layers (uneven widths) instead of removing `amount` from each layer.")


class L1Channel(Strategy):
    name = "l1-channel"
    description = (
        "Structured filter pruning (Li et al. 2017): removes the output channels whose weights have the "
        "smallest L1 norm, `amount` of the channels of every prunable layer, through Torch-Pruning's "
        "dependency graph so coupled layers (BatchNorm, next convs, residual adds, concats) shrink together. "
        "C2f/C3k2 blocks are first rewritten into an equivalent form the graph can follow; the Detect head is "
        "left whole unless `prune_head`. The result is a smaller dense model, fine-tuned as is.")
    Params = L1ChannelParams
    structured = True

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        from prunebench_builtins.channel.l1_cut import l1_cut
        from prunebench.structured import check_amount, prune_structured

        check_amount(amount, self.name)
        p = self.params
        return prune_structured(model, amount, ctx.imgsz, p.prune_head,
                                l1_cut(amount, p.round_to, p.global_pruning))


class NetworkSlimmingParams(Params):
    s: float = Field(
        0.01, ge=0, description="L1 penalty on BatchNorm scales during sparsity training: s * sign(gamma) is added "
                                "to each gamma's gradient (0.01 is Lam1360/YOLOv3-model-pruning's default; 1e-4 to 1e-2 is usual).")
    sparsity_epochs: int = Field(
        1, ge=0, description="Epochs of sparsity training before pruning (0 prunes by the baseline's own scales).")
    prune_head: bool = Field(
        False, description="Also slim the Detect head's inner convs (its output convs and DFL always stay whole).")
    round_to: int | None = Field(
        None, ge=1, description="Round each layer's kept channels to a multiple of this (8 suits GPUs); none keeps exact counts.")
    min_keep_ratio: float = Field(
        0.1, ge=0, lt=1, description="Every layer keeps at least this fraction of its channels (and at least one).")


class NetworkSlimming(Strategy):
    name = "network-slimming"
    description = (
        "Network slimming (Liu et al. 2017): sparsity training with an L1 penalty on BatchNorm scales, then "
        "removal of the channels whose |gamma| is smallest across the whole network, `amount` of all prunable "
        "BatchNorm channels, each layer keeping at least `min_keep_ratio`. Channels are cut through "
        "Torch-Pruning's dependency graph (C2f blocks rewritten first; Detect head whole unless `prune_head`). "
        "Records a histogram of |gamma| before and after sparsity training, and the threshold used.")
    Params = NetworkSlimmingParams
    structured = True

    def sparsity_epochs(self) -> int:
        return self.params.sparsity_epochs

    def regularize(self, model) -> None:
        from prunebench_builtins.channel.slimming import add_l1_subgradient

        add_l1_subgradient(model, self.params.s, self.params.prune_head)

    def snapshot(self, model) -> dict[str, Any]:
        from prunebench_builtins.channel.slimming import gamma_histogram

        return gamma_histogram(model, self.params.prune_head)

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        from prunebench_builtins.channel.slimming import slimming_cut
        from prunebench.structured import check_amount, prune_structured

        check_amount(amount, self.name)
        p = self.params
        report = prune_structured(model, amount, ctx.imgsz, p.prune_head,
                                  slimming_cut(amount, p.round_to, p.min_keep_ratio))
        return report


@hookimpl
def register_strategies(register):
    register(L1Channel)
    register(NetworkSlimming)
