"""What a strategy is asked for, parsed once: a fraction to remove (0.3), a speed-up target in GFLOPs ("2x"), or a
speed-up measured on a named deploy runtime ("2x@openvino-int8": the pruned model runs 2x faster than the dense one
there, timed in pairs; docs/latency-targets.md).

The suite parses what the user wrote into an `Amount`; the plan puts its two numbers in the cell's spec (the key
hashes them) and names the cell with `label()`; records, compare and the leaderboard rebuild the same value from
the spec (`Amount.of`) and print `label()` or `asked()`. Every text form of an amount is a method here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[xX×]\s*(?:@\s*(?P<runtime>\S*))?\s*$")
# A runtime's name goes into cell names and file names: lower-case letters, digits and inner dashes only.
_RUNTIME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NOT_AN_AMOUNT = ("is neither a fraction in (0, 1) (0.3 = remove 30 %) nor a speed-up target above 1x written like "
                  "'2x' or '1.5x' (the pruned model's GFLOPs = dense / 2) or '2x@openvino-int8' (measured 2x faster "
                  "than the dense model on that deploy runtime)")


@dataclass(frozen=True)
class Amount:
    """Exactly one of `fraction` (of the strategy's unit, in [0, 1); 0.0 for a dense row) and `target` (> 1);
    `runtime` (only with a target) makes the target a measured speed-up on that deploy runtime instead of GFLOPs."""

    fraction: float | None = None
    target: float | None = None
    runtime: str | None = None

    @classmethod
    def parse(cls, value: object) -> Amount:
        """What a suite's `amounts` entry says: a number in (0, 1) or text like "2x" / "1.5x" / "2x@onnx". ValueError
        says what is wrong in the words the suite's errors use (which runtimes a suite may name is the suite's
        business: config.suite checks the name against its `evaluation.deploy`)."""
        if isinstance(value, Amount):
            return value
        if isinstance(value, str):
            return cls(target=parse_target(value), runtime=parse_runtime(value))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"amount {value!r} {_NOT_AN_AMOUNT}")
        if not 0.0 < value < 1.0:
            raise ValueError(f"amount {value} is outside (0, 1): write 0.3 for 30 % (or a speed-up target "
                             "such as '2x' for a channel strategy)")
        return cls(fraction=float(value))

    @classmethod
    def of(cls, amount: float | None, target: float | None, runtime: str | None = None) -> Amount:
        """As a cell's spec (or a record's) holds it: `target` (and its `runtime`) when set, else the fraction (0.0
        when none)."""
        if target is not None:
            return cls(target=float(target), runtime=runtime or None)
        return cls(fraction=float(amount or 0.0))

    @property
    def is_target(self) -> bool:
        return self.target is not None

    @property
    def is_latency_target(self) -> bool:
        """A speed-up measured on a runtime, not counted in GFLOPs."""
        return self.runtime is not None

    def label(self) -> str:
        """The amount in a cell's name (and in `compare`): "a0.30", "x2.00" or "x2.00-openvino-int8" (no "@": names
        keep to letters, digits, dots and dashes)."""
        if self.target is None:
            return f"a{self.fraction:.2f}"
        return f"x{self.target:.2f}" + (f"-{self.runtime}" if self.runtime else "")

    def asked(self) -> str:
        """The amount as the leaderboard, plots and answers print it: "30%", "2x" or "2x@openvino-int8"."""
        if self.target is not None:
            return f"{self.target:g}x" + (f"@{self.runtime}" if self.runtime else "")
        return f"{(self.fraction or 0.0) * 100:.4g}%"

    def suite_value(self) -> float | str:
        """As a suite writes it: 0.3, "2x" or "2x@openvino-int8"."""
        return self.fraction if self.target is None else self.asked()


def parse_target(text: str) -> float:
    """"2x" -> 2.0: a speed-up target in GFLOPs (the pruned model's GFLOPs = dense GFLOPs / 2). Kept to the six
    significant digits of its text form ("%g"), as cell keys have always hashed it."""
    match = _TARGET.match(text)
    if not match or float(match.group(1)) <= 1.0 or not math.isfinite(float(match.group(1))):
        raise ValueError(f"amount {text!r} {_NOT_AN_AMOUNT}")
    return float(target_text(float(match.group(1)))[:-1])


def parse_runtime(text: str) -> str | None:
    """"2x@onnx-int8" -> "onnx-int8"; None for a GFLOPs target ("2x"). The name's spelling only: whether the suite
    can time on it is config.suite's check."""
    match = _TARGET.match(text)
    runtime = match.group("runtime") if match else None
    if runtime is None:
        return None
    if not _RUNTIME.match(runtime):
        raise ValueError(f"amount {text!r}: after '@' comes the deploy runtime the speed-up is measured on, one of "
                         "torch, onnx, onnx-int8, openvino, openvino-int8 (lower case, as `evaluation.deploy` "
                         f"spells it); got {runtime!r}")
    return runtime


def target_text(target: float) -> str:
    return f"{target:g}x"


def size_label(amount: float | None, target: float | None, runtime: str | None = None) -> str:
    """What the strategy was asked for, from a spec's fields: "30%" of its unit, or a speed-up target "2x" (measured
    on a runtime: "2x@onnx")."""
    return Amount.of(amount, target, runtime).asked()
