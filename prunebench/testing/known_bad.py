"""Strategies that are wrong in the ways a careless author's could be, for checking that the kit catches them.

Each is a real `Strategy` (per-layer L1 magnitude pruning over prunebench.pruning.prunable_convs, as
`l1-unstructured` does) with one defect, and each `KnownBad` entry says which checks of `check_strategy` must
fail on it and what the first of them must say. An author runs them on their own machine (the scaffold's
tests/test_known_bad.py does) to see that the kit they rely on catches what it claims to:

    from prunebench.testing import check_strategy
    from prunebench.testing.known_bad import KNOWN_BAD

    @pytest.mark.parametrize("bad", KNOWN_BAD, ids=str)
    def test_the_kit_fails_it(bad, prunebench_tiny_data, prunebench_trained_baseline, tmp_path):
        report = check_strategy(bad.strategy, prunebench_tiny_data, tmp_path, baseline=prunebench_trained_baseline)
        assert bad.missed(report) == [], str(report)

No torch at import (it is imported inside `prune`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prunebench.plugin.base import CellContext, Strategy, check_amount
from prunebench.testing.conformance import (ACCURACY, AMOUNT, DETERMINISTIC, PROTECTED, REPORT, REPORT_MATCHES,
                                            ConformanceReport)


def _zero_smallest(model, amount: float) -> list:
    """Per-layer L1: zero `amount` of every prunable conv's weights (the smallest by magnitude)."""
    from torch.nn.utils import prune

    from prunebench import pruning

    layers = pruning.prunable_convs(model)
    for _, conv in layers:
        prune.l1_unstructured(conv, "weight", amount=amount)
        prune.remove(conv, "weight")
    return layers


def _report(model, amount: float, layers, **overrides: Any) -> dict[str, Any]:
    from prunebench import pruning

    return {"requested": amount, **pruning.sparsity_stats(model, layers), **overrides}


class ReportsMoreThanItZeroes(Strategy):
    """Zeroes half the amount asked (15 % for 30 %) and reports the amount asked."""

    name = "known-bad-reports-more-than-it-zeroes"

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        check_amount(amount, self.name, structured=False)
        return _report(model, amount, _zero_smallest(model, amount / 2), achieved_sparsity=amount)


class ReportsWithoutZeroing(Strategy):
    """Zeroes nothing and reports the amount asked."""

    name = "known-bad-zeroes-nothing"

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        from prunebench import pruning

        check_amount(amount, self.name, structured=False)
        return _report(model, amount, pruning.prunable_convs(model), achieved_sparsity=amount)


class ZeroesDFLBins(Strategy):
    """Per-layer L1 as asked, then the trap of a YOLOv5-style prune(): the DFL conv pruned like any conv (its
    bins 0..7, the smallest weights, zeroed). Its report is honest."""

    name = "known-bad-zeroes-dfl-bins"

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        import torch

        from prunebench import pruning

        check_amount(amount, self.name, structured=False)
        layers = _zero_smallest(model, amount)
        dfl = pruning.detect_head(model).dfl.conv
        with torch.no_grad():
            dfl.weight[:, : dfl.weight.shape[1] // 2] = 0.0
        return _report(model, amount, layers)


class ZeroesAClassOutputConv(Strategy):
    """Per-layer L1 as asked, then every weight of the first class branch's output conv (cv3.0's last conv)
    zeroed: that scale's class scores become a constant. Its report is honest (those weights are prunable)."""

    name = "known-bad-zeroes-a-class-output-conv"

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        import torch

        from prunebench import pruning

        check_amount(amount, self.name, structured=False)
        layers = _zero_smallest(model, amount)
        last = [m for m in pruning.detect_head(model).cv3[0].modules() if isinstance(m, torch.nn.Conv2d)][-1]
        with torch.no_grad():
            last.weight.zero_()
        return _report(model, amount, layers)


class IgnoresAmount(Strategy):
    """Per-layer L1 at a hard-coded 30 %, whatever amount is asked; its report is honest."""

    name = "known-bad-ignores-amount"

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        check_amount(amount, self.name, structured=False)
        return _report(model, amount, _zero_smallest(model, 0.3))


class DrawsFromTheGlobalGenerator(Strategy):
    """Zeroes `amount` of every prunable conv's weights chosen by a random score from torch's global generator
    (instead of one seeded by ctx.seed): two runs with the same seed prune different weights."""

    name = "known-bad-draws-from-the-global-generator"

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        import torch

        from prunebench import pruning

        check_amount(amount, self.name, structured=False)
        layers = pruning.prunable_convs(model)
        with torch.no_grad():
            for _, conv in layers:
                count = int(round(amount * conv.weight.numel()))
                conv.weight.view(-1)[torch.rand(conv.weight.numel()).argsort()[:count]] = 0.0
        return _report(model, amount, layers)


class CrashesAtLargeAmounts(Strategy):
    """Per-layer L1 up to 50 %; above it, an IndexError from inside its own scoring (a bug that only a second amount
    shows)."""

    name = "known-bad-crashes-at-large-amounts"

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        check_amount(amount, self.name, structured=False)
        if amount > 0.5:
            _score_filters(model, amount)
        return _report(model, amount, _zero_smallest(model, amount))


def _score_filters(model, amount: float) -> None:
    from prunebench import pruning

    _, first = pruning.prunable_convs(model)[0]
    first.weight[int(amount * 100) + first.weight.shape[0]]  # IndexError: index 76 is out of bounds


def _l1_channels(model, amount: float, imgsz: int, cut_groups=None) -> dict[str, Any]:
    """l1 channel pruning through prunebench.pruning.prune_structured and Torch-Pruning (`cut_groups`: a custom
    cut instead of the MagnitudePruner)."""
    from prunebench import pruning

    def cut(model, ignored_layers, example_input) -> dict[str, Any]:
        import torch_pruning as tp

        if cut_groups is not None:
            return cut_groups(model, ignored_layers, example_input)
        tp.pruner.BasePruner(model, example_input, importance=tp.importance.MagnitudeImportance(p=1),
                             pruning_ratio=amount, ignored_layers=ignored_layers).step()
        return {}

    return pruning.prune_structured(model, amount, imgsz, False, cut)


class InflatesItsReductions(Strategy):
    """l1 channel pruning as asked, then `param_reduction` and `macs_reduction` reported 0.2 higher than they are."""

    name = "known-bad-inflates-its-reductions"
    structured = True

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        check_amount(amount, self.name, structured=True)
        report = _l1_channels(model, amount, ctx.imgsz)
        return {**report, "param_reduction": report["param_reduction"] + 0.2,
                "macs_reduction": report["macs_reduction"] + 0.2}


class SkipsEveryGroup(Strategy):
    """The data-driven author's trap: its own loop over Torch-Pruning's groups selects the conv output channels with
    `dep.pruning_fn is tp.prune_conv_out_channels`, which is never true (each access of a bound method is a new
    object; `==` is the test), so no group is pruned and the report, honest, says 0.0."""

    name = "known-bad-skips-every-group"
    structured = True

    def prune(self, model, amount: float, ctx: CellContext) -> dict[str, Any]:
        check_amount(amount, self.name, structured=True)

        def cut(model, ignored_layers, example_input) -> dict[str, Any]:
            import torch
            import torch_pruning as tp

            graph = tp.DependencyGraph().build_dependency(model, example_inputs=example_input,
                                                          ignored_layers=ignored_layers)
            for group in list(graph.get_all_groups(ignored_layers=ignored_layers,
                                                   root_module_types=[torch.nn.Conv2d])):
                if any(dep.pruning_fn is tp.prune_conv_out_channels for dep, _ in group):  # the trap: never true
                    group.prune(list(range(int(amount * len(group[0][1])))))
            return {}

        return _l1_channels(model, amount, ctx.imgsz, cut_groups=cut)


@dataclass(frozen=True)
class KnownBad:
    strategy: type[Strategy]
    fails: tuple[str, ...]  # checks of check_strategy that must fail on it (others may fail too)
    says: str  # what the first of them must say

    def __str__(self) -> str:
        return self.strategy.name

    def missed(self, report: ConformanceReport) -> list[str]:
        """What the kit failed to catch in `report` (empty when it caught everything this entry expects)."""
        missed = [f"{check!r} passed" for check in self.fails if report.checks.get(check, "ok") == "ok"]
        first = report.checks.get(self.fails[0], "ok")
        if first != "ok" and self.says not in first:
            missed.append(f"{self.fails[0]!r} failed without saying {self.says!r}: {first}")
        return missed


KNOWN_BAD = (
    KnownBad(ReportsMoreThanItZeroes, (REPORT_MATCHES, AMOUNT),
             "at amount 0.3: prune() reports achieved_sparsity 0.3000"),
    KnownBad(ReportsWithoutZeroing, (REPORT_MATCHES, AMOUNT), "the model's non-zero parameters fell by 0:"),
    KnownBad(ZeroesDFLBins, (PROTECTED, ACCURACY), "of the DFL conv's 16 fixed weights changed"),
    # measured: the trained baseline, 5 % pruned this way, went from mAP50 0.308 to 0.000
    KnownBad(ZeroesAClassOutputConv, (PROTECTED, ACCURACY), "the class output conv cv3.0.2 has"),
    KnownBad(IgnoresAmount, (AMOUNT,), "at amount 0.6: asked 0.6 of the weights, measured 0.3000"),
    KnownBad(DrawsFromTheGlobalGenerator, (DETERMINISTIC,), "with seed 0 gave different weights"),
    KnownBad(CrashesAtLargeAmounts, (REPORT,), "at amount 0.6: IndexError: index 76 is out of bounds"),
    KnownBad(InflatesItsReductions, (REPORT_MATCHES,), "prune() reports param_reduction"),
    KnownBad(SkipsEveryGroup, (AMOUNT,), "at amount 0.3: structured pruning left"),
)
