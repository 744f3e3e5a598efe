"""How a row names what its strategy was asked for; read by rows and verdicts alike (neither imports the other
for it)."""


def size_label(amount: float | None, target: float | None) -> str:
    """What the strategy was asked for: "30%" of its unit, or a speed-up target "2x"."""
    if target is not None:
        return f"{target:g}x"
    return f"{(amount or 0.0) * 100:.4g}%"
