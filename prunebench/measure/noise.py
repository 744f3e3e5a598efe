"""Was a timing taken on a busy machine? One rule for every runtime (PyTorch, ONNX Runtime, ...), so the §
a leaderboard prints sits on the runtime that was noisy, for a reason it can name.

A timing is noisy when any of these holds:
- its forward timing's IQR is more than NOISY_IQR of its median (torch.utils.benchmark warns there too);
- the per-pair speed-up ratios' IQR is more than NOISY_IQR of their median;
- the dense model's own latency moved by more than DRIFT of its median across the pairs (both models drift
  together, so the ratio may hold, but a machine that changes speed by a quarter within one timing is busy:
  the records show pairs jumping between 38 and 68 ms behind a ratio that read 1.02x);
- the 1-minute load average, before or after, was above the machine's core count.
"""

from __future__ import annotations

import os
import statistics
from typing import Any, Sequence

NOISY_IQR = 0.1
DRIFT = 0.25


def iqr(values: Sequence[float]) -> float | None:
    """Interquartile range (inclusive quartiles) of `values`; 0.0 for one value, None for none."""
    values = list(values)
    if not values:
        return None
    if len(values) == 1:
        return 0.0
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q3 - q1


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # not on every platform
        return None


def noisy_reasons(forward: dict[str, Any] | None, paired: dict[str, Any] | None, load: dict[str, Any] | None,
                  cores: int | None = None) -> list[str]:
    """Why these timings were taken on a busy machine (empty when nothing says so); see the module docstring."""
    reasons = []
    spread = (forward or {}).get("iqr_over_median")
    if spread and spread > NOISY_IQR:
        reasons.append(f"forward IQR is {spread:.2f} of the median (> {NOISY_IQR})")
    if paired and paired.get("speedup"):
        pair_iqr = paired.get("iqr")
        if pair_iqr is None and paired.get("per_pair"):
            pair_iqr = iqr(paired["per_pair"])
        if pair_iqr and pair_iqr / paired["speedup"] > NOISY_IQR:
            reasons.append(f"per-pair speed-up IQR is {pair_iqr / paired['speedup']:.2f} of the median (> {NOISY_IQR})")
        dense = [v for v in paired.get("reference_ms") or [] if isinstance(v, (int, float)) and v > 0]
        if len(dense) > 1:
            moved = (max(dense) - min(dense)) / statistics.median(dense)
            if moved > DRIFT:
                reasons.append(f"the dense model's latency moved {moved:.0%} across the pairs ({min(dense):.1f} to "
                               f"{max(dense):.1f} ms; > {DRIFT:.0%})")
    cores = cores or os.cpu_count() or 1
    busiest = max((v for v in (load or {}).values() if isinstance(v, (int, float))), default=None)
    if busiest is not None and busiest > cores:
        reasons.append(f"1-minute load average {busiest} above the {cores} cores")
    return reasons
