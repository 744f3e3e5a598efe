"""The images INT8 exports calibrate on: the dataset's TRAIN split, never the split a record reports.

Ultralytics' exporter calibrates on `data=` at `split` (engine/exporter.py, `get_int8_calibration_dataloader`:
`split = self.args.split or "val"`), so `export(quantize=8, data=<the dataset's YAML>)` would calibrate on
the val split, and on datasets without a test split val is the split the leaderboard reports. Here the
exporter gets a data YAML of its own whose `val` is a list of the train split's images (absolute paths,
at most `max_images`, evenly spaced through the sorted list), and `split="val"` explicitly: whatever the
exporter's default, it reads only those images. `calibration_images()` says which they were, so a record
can name them and a test can check they miss the reported split.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from prunebench.util.atomic import atomic_write_text

SPLIT = "train"  # the only split calibration reads
MAX_IMAGES = 300  # Ultralytics warns below 300 calibration images; NNCF's default subset is 300 too


@dataclass(frozen=True)
class Calibration:
    data_yaml: Path  # hand this to the exporter as `data=`, with split="val"
    images: list[Path]  # exactly the images it holds

    def summary(self) -> dict:
        names = sorted(p.name for p in self.images)
        return {"split": SPLIT, "images": len(self.images),
                "images_sha": hashlib.sha256("\n".join(names).encode()).hexdigest()[:16],
                "how": "Ultralytics' exporter with data= a YAML whose val lists these train images, split='val'"}


def calibration_images(data_yaml: Path, max_images: int = MAX_IMAGES) -> list[Path]:
    """Up to `max_images` images of the train split, evenly spaced through its sorted list."""
    from prunebench.yolo.labels import list_split_images, read_data_yaml

    if max_images < 1:
        raise ValueError(f"calibration: max_images {max_images} must be at least 1")
    images = list_split_images(read_data_yaml(data_yaml), SPLIT)
    if len(images) <= max_images:
        return images
    step = len(images) / max_images
    return [images[int(i * step)] for i in range(max_images)]


def calibration_data(data_yaml: Path, out_dir: Path, max_images: int = MAX_IMAGES) -> Calibration:
    """Write `out_dir/calibration.yaml` (train, val: the calibration list; the dataset's names) and its list."""
    from prunebench.yolo.labels import read_data_yaml

    data = read_data_yaml(data_yaml)
    images = calibration_images(data_yaml, max_images)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    listing = out_dir / "calibration-images.txt"
    atomic_write_text(listing, "".join(f"{p.resolve()}\n" for p in images))
    # No test key, and train = val = the list: no path in this YAML reaches another split's images.
    content = {"path": str(out_dir.resolve()), "train": str(listing.resolve()), "val": str(listing.resolve()),
               "names": dict(data.names)}
    target = out_dir / "calibration.yaml"
    atomic_write_text(target, yaml.safe_dump(content, sort_keys=False))
    return Calibration(target, images)


__all__ = ["Calibration", "MAX_IMAGES", "SPLIT", "calibration_data", "calibration_images"]
