"""A model whose weights hold NaN or infinity fails its cell, by name: a strategy (or a fine-tuning run) that writes
non-finite weights would otherwise evaluate to mAP 0 and be recorded as an ok cell."""

from __future__ import annotations


class NonFiniteWeights(ValueError):
    """The model holds NaN or infinite values after a phase."""


def check_finite(model, after: str) -> None:
    """NonFiniteWeights naming the first tensors (parameters and buffers) with NaN or infinite values."""
    import torch

    bad = []
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                bad.append((name, int((~torch.isfinite(tensor)).sum())))
    if bad:
        shown = ", ".join(f"{name} ({count:,} values)" for name, count in bad[:3])
        more = f" and {len(bad) - 3} more tensors" if len(bad) > 3 else ""
        raise NonFiniteWeights(f"the model holds NaN or infinite weights after {after}: {shown}{more}; the cell "
                               "fails rather than be evaluated as a model that detects nothing")
