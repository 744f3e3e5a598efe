"""What every kind of cell shares, read by the runner and by deployment variants alike (neither imports the
other for it): the scratch folder, which dense checkpoint a cell started from, and the headline split's
per-image matches with their bootstrap."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def baseline_identity(yolo) -> dict[str, Any]:
    """Which dense checkpoint a cell started from (its sha256): a leaderboard compares rows of one baseline only."""
    from prunebench.util.filehash import file_sha256

    path = getattr(yolo, "ckpt_path", None)
    if not path or not Path(path).is_file():
        return {"sha256": None, "checkpoint": None, "why": "the model source gave no checkpoint file"}
    return {"sha256": file_sha256(path), "checkpoint": str(path)}


def per_image_results(per_image: list[dict[str, Any]], split: str, intervals) -> dict[str, Any]:
    """details.per_image (the validator's per-image matches, compact) and details.bootstrap (mAP on resamples of
    the images, for the intervals every report draws) of the headline split."""
    from prunebench.records.matches import Matches

    matches = Matches.from_stats(per_image)
    out: dict[str, Any] = {"per_image": {"split": split, **matches.encode()}}
    if intervals.resamples > 0:
        out["bootstrap"] = {"split": split, **matches.replicates(intervals.resamples, intervals.seed)}
    return out


def scratch_folder(cache_dir: Path) -> Path:
    path = Path(cache_dir) / "scratch"
    path.mkdir(parents=True, exist_ok=True)
    return path
