"""What a strategy is asked for, parsed once: a fraction to remove (0.3) or a speed-up target in GFLOPs ("2x").

The suite parses what the user wrote into an `Amount`; the plan puts its two numbers in the cell's spec (the key
hashes them) and names the cell with `label()`; records, compare and the leaderboard rebuild the same value from
the spec (`Amount.of`) and print `label()` or `asked()`. Every text form of an amount is a method here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[xX×]\s*$")


@dataclass(frozen=True)
class Amount:
    """Exactly one of `fraction` (of the strategy's unit, in [0, 1); 0.0 for a dense row) and `target` (> 1)."""

    fraction: float | None = None
    target: float | None = None

    @classmethod
    def parse(cls, value: object) -> Amount:
        """What a suite's `amounts` entry says: a number in (0, 1) or text like "2x" / "1.5x". ValueError says
        what is wrong in the words the suite's errors use."""
        if isinstance(value, Amount):
            return value
        if isinstance(value, str):
            return cls(target=parse_target(value))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"amount {value!r} is neither a fraction in (0, 1) (0.3 = remove 30 %) nor a speed-up "
                             "target above 1x written like '2x' or '1.5x' (the pruned model's GFLOPs = dense / 2)")
        if not 0.0 < value < 1.0:
            raise ValueError(f"amount {value} is outside (0, 1): write 0.3 for 30 % (or a speed-up target "
                             "such as '2x' for a channel strategy)")
        return cls(fraction=float(value))

    @classmethod
    def of(cls, amount: float | None, target: float | None) -> Amount:
        """As a cell's spec (or a record's) holds it: `target` when set, else the fraction (0.0 when none)."""
        if target is not None:
            return cls(target=float(target))
        return cls(fraction=float(amount or 0.0))

    @property
    def is_target(self) -> bool:
        return self.target is not None

    def label(self) -> str:
        """The amount in a cell's name (and in `compare`): "a0.30" or "x2.00"."""
        return f"x{self.target:.2f}" if self.target is not None else f"a{self.fraction:.2f}"

    def asked(self) -> str:
        """The amount as the leaderboard, plots and answers print it: "30%" or "2x"."""
        if self.target is not None:
            return f"{self.target:g}x"
        return f"{(self.fraction or 0.0) * 100:.4g}%"

    def suite_value(self) -> float | str:
        """As a suite writes it: 0.3 or "2x"."""
        return self.fraction if self.target is None else target_text(self.target)


def parse_target(text: str) -> float:
    """"2x" -> 2.0: a speed-up target in GFLOPs (the pruned model's GFLOPs = dense GFLOPs / 2). Kept to the six
    significant digits of its text form ("%g"), as cell keys have always hashed it."""
    match = _TARGET.match(text)
    if not match or float(match.group(1)) <= 1.0 or not math.isfinite(float(match.group(1))):
        raise ValueError(f"amount {text!r} is neither a fraction in (0, 1) (0.3 = remove 30 %) nor a speed-up "
                         "target above 1x written like '2x' or '1.5x' (the pruned model's GFLOPs = dense / 2)")
    return float(target_text(float(match.group(1)))[:-1])


def target_text(target: float) -> str:
    return f"{target:g}x"


def size_label(amount: float | None, target: float | None) -> str:
    """What the strategy was asked for, from a spec's two fields: "30%" of its unit, or a speed-up target "2x"."""
    return Amount.of(amount, target).asked()
