"""Structured (channel) pruning strategies: `channel` (any of Torch-Pruning's importance criteria),
and its named presets `l1-channel` and `network-slimming`.

All three share one machinery: `criteria` (Torch-Pruning's importance classes by name, and the
training-data gradients that taylor/hessian need), `selection` (per-layer or global choice,
round_to to the nearest multiple, lowest scores removed) and `prunebench.structured` (block rewrites,
Detect head kept whole, the report). No torch here: those modules are imported when a strategy runs.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from prunebench import CellContext, Params, Strategy, hookimpl

Criterion = Literal["l1", "l2", "lamp", "taylor", "hessian", "bn-scale", "group-norm", "fpgm", "random"]

_PRUNE_HEAD = "Also prune the Detect head's inner convs (its output convs and DFL always stay whole)."
_ROUND_TO = ("Each pruned layer keeps a multiple of this many channels, the multiple nearest to what `amount` asks "
             "(at least round_to; a layer of round_to channels or fewer stays whole); 8 suits GPUs. None keeps exact "
             "counts.")
_MIN_KEEP = ("Every layer keeps at least this fraction of its channels (and at least one); binds mostly with "
             "global_pruning, which would otherwise empty layers whose scores are all small.")
_GLOBAL = ("Rank channels across all layers (uneven widths; `amount` of all prunable channels, a channel counted once "
           "per conv it leaves) instead of removing `amount` of every layer's channels.")


class ChannelParams(Params):
    importance: Criterion = Field(
        "l1", description=(
            "One of l1 | l2 | lamp | taylor | hessian | bn-scale | group-norm | fpgm | random: how channels are "
            "scored (Torch-Pruning importance classes). l1 / l2 = MagnitudeImportance(p=1/2), filter "
            "norms; group-norm = GroupMagnitudeImportance(p=2), DepGraph's norm over the whole coupled group (always; with "
            "group_reduction mean it picks what l2 picks: DepGraph's difference lies in sparse training, not run here); lamp = "
            "LAMPImportance; fpgm = FPGMImportance (geometric median); bn-scale = BNScaleImportance, |gamma|; taylor "
            "= TaylorImportance, |w * dL/dw|; hessian = HessianImportance, w^2 * E[(dL/dw)^2] over single images "
            "(OBD); random = RandomImportance from the cell's seed. taylor and hessian take the detection loss's "
            "gradients on `calibration_batches` batches of the suite's training data."))
    global_pruning: bool = Field(False, description=_GLOBAL)
    round_to: int | None = Field(None, ge=1, description=_ROUND_TO)
    min_keep_ratio: float = Field(0.0, ge=0, lt=1, description=_MIN_KEEP)
    prune_head: bool = Field(False, description=_PRUNE_HEAD)
    group_reduction: Literal["mean", "first"] = Field(
        "mean", description=(
            "mean | first: how a group's coupled layers combine into one score per channel. mean (Torch-Pruning's default: the "
            "conv's filters, its BatchNorm and the next convs' input channels all count) or first (only the pruned "
            "conv's own filters, as Li et al. 2017). group-norm always uses the whole group; random ignores it."))
    calibration_batches: int = Field(
        4, ge=1, le=1000, description=(
            "taylor / hessian only: training batches (of the cell's batch size and imgsz, drawn by its seed, "
            "letterboxed without augmentation) whose loss gradients score the channels."))


class Channel(Strategy):
    name = "channel"
    description = (
        "Structured channel pruning by any of Torch-Pruning's importance criteria (`importance`: l1, l2, "
        "group-norm, lamp, fpgm, bn-scale, taylor, hessian, random), per layer or global, through Torch-Pruning's "
        "dependency graph so coupled layers (BatchNorm, next convs, residual adds, concats) shrink together. "
        "taylor and hessian score with loss gradients on a few training batches. Every layer keeps the channel "
        "count nearest to what `amount` asks (to the nearest multiple of `round_to` if set); the lowest-scoring "
        "channels go. Blocks that split a conv's output (C2f, C3k2, RepNCSPELAN4, ADown, ...) are rewritten "
        "first, attention whose head count fixes a width stays whole, and so does the Detect head unless "
        "`prune_head`. "
        "l1-channel and network-slimming are named presets of this strategy.")
    Params = ChannelParams
    structured = True
    fixed: ClassVar[dict[str, Any]] = {}  # what a preset fixes, beside its params

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        from prunebench_builtins.channel.criteria import prune_by_criterion

        options = {**self.params.model_dump(), **self.fixed}
        return prune_by_criterion(model, amount, ctx, strategy=self.name, **options)


class L1ChannelParams(Params):
    prune_head: bool = Field(False, description=_PRUNE_HEAD)
    round_to: int | None = Field(None, ge=1, description=_ROUND_TO)
    global_pruning: bool = Field(False, description=_GLOBAL)
    min_keep_ratio: float = Field(0.0, ge=0, lt=1, description=_MIN_KEEP)


class L1Channel(Channel):
    name = "l1-channel"
    description = (
        "Structured filter pruning (Li et al. 2017): removes the output channels whose weights have the "
        "smallest L1 norm, `amount` of the channels of every prunable layer, through Torch-Pruning's "
        "dependency graph so coupled layers (BatchNorm, next convs, residual adds, concats) shrink together. "
        "The preset `channel` with importance l1 (MagnitudeImportance(p=1) over the coupled group). "
        "Blocks that split a conv's output are first rewritten into an equivalent form the graph can follow "
        "(every detection family Ultralytics ships); the Detect head is left whole unless `prune_head`. The "
        "result is a smaller dense model, fine-tuned as is.")
    Params = L1ChannelParams
    fixed = {"importance": "l1"}


# Sparsity-training defaults measured on the real tea photos (yolo11n adapted to them, SGD with Ultralytics'
# momentum 0.937): see the comment in suites/slimming.yaml for the runs behind them.
SPARSITY_S = 0.02
SPARSITY_EPOCHS = 80
SPARSITY_LR0 = 0.01


class NetworkSlimmingParams(Params):
    s: float = Field(
        SPARSITY_S, ge=0, description="L1 penalty on BatchNorm scales during sparsity training: s * sign(gamma) is "
                                      "added to each gamma's (clipped) gradient (Lam1360/YOLOv3-model-pruning uses "
                                      "0.01; 1e-4 to 1e-2 is usual on large datasets).")
    sparsity_epochs: int = Field(
        SPARSITY_EPOCHS, ge=0, description="Epochs of sparsity training before pruning (0 prunes by the baseline's own "
                                           "scales). What counts is optimizer steps: epochs x ceil(train images / "
                                           "batch); the scales of a small dataset need many epochs to separate.")
    sparsity_lr0: float | None = Field(
        SPARSITY_LR0, gt=0, description="SGD learning rate of sparsity training (its own: the fine-tuning one is "
                                        "too small to move the scales); none uses the fine-tuning recipe's.")
    prune_head: bool = Field(
        False, description="Also slim the Detect head's inner convs (its output convs and DFL always stay whole).")
    round_to: int | None = Field(None, ge=1, description=_ROUND_TO)
    min_keep_ratio: float = Field(
        0.1, ge=0, lt=1, description="Every layer keeps at least this fraction of its channels (and at least one).")


class NetworkSlimming(Strategy):
    name = "network-slimming"
    description = (
        "Network slimming (Liu et al. 2017): sparsity training with an L1 penalty on BatchNorm scales, then "
        "removal of the channels whose |gamma| is smallest across the whole network, `amount` of all prunable "
        "BatchNorm channels, each layer keeping at least `min_keep_ratio`: the preset `channel` with importance "
        "bn-scale and global_pruning, after sparsity training. Channels are cut through "
        "Torch-Pruning's dependency graph (channel-splitting blocks rewritten first; Detect head whole unless `prune_head`). "
        "Records a histogram of |gamma| before and after sparsity training, and the threshold used.")
    Params = NetworkSlimmingParams
    structured = True

    def sparsity_epochs(self) -> int:
        return self.params.sparsity_epochs

    def sparsity_lr0(self) -> float | None:
        return self.params.sparsity_lr0

    def regularize(self, model) -> None:
        from prunebench_builtins.channel.slimming import add_l1_subgradient

        add_l1_subgradient(model, self.params.s, self.params.prune_head)

    def snapshot(self, model) -> dict[str, Any]:
        from prunebench_builtins.channel.slimming import gamma_histogram

        return gamma_histogram(model, self.params.prune_head)

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        from prunebench_builtins.channel.slimming import slimming_prune

        p = self.params
        return slimming_prune(model, amount, ctx, round_to=p.round_to, min_keep_ratio=p.min_keep_ratio,
                              prune_head=p.prune_head)


@hookimpl
def register_strategies(register):
    register(Channel)
    register(L1Channel)
    register(NetworkSlimming)
