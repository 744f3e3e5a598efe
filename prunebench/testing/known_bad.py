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
from prunebench.testing.conformance import ACCURACY, AMOUNT, PROTECTED, REPORT_MATCHES, ConformanceReport


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
    """Zeroes half the amount asked (25 % for 50 %) and reports the amount asked."""

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
    KnownBad(ReportsMoreThanItZeroes, (REPORT_MATCHES, AMOUNT), "prune() reports achieved_sparsity 0.5000"),
    KnownBad(ReportsWithoutZeroing, (REPORT_MATCHES, AMOUNT), "the model's non-zero parameters fell by 0:"),
    KnownBad(ZeroesDFLBins, (PROTECTED, ACCURACY), "of the DFL conv's 16 fixed weights changed"),
    # measured: the trained baseline, 5 % pruned this way, went from mAP50 0.308 to 0.000
    KnownBad(ZeroesAClassOutputConv, (PROTECTED, ACCURACY), "the class output conv cv3.0.2 has"),
)
