"""Write a synthetic-buds dataset to disk in Ultralytics format, once per params.

The dataset is generated into a hidden temp folder and renamed into place when complete, under
a file lock: an interrupted generation never leaves a half dataset, and two processes asking
for the same dataset generate it once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from filelock import FileLock
from tqdm import tqdm

from prunebench_builtins.synthetic_buds import generator
from prunebench_builtins.synthetic_buds.version import GENERATOR_VERSION

SPLIT_IDS = {"train": 0, "val": 1}  # part of each image's seed: the splits never share an image
PROGRESS_THRESHOLD = 50


def dataset_name(params: dict[str, Any]) -> str:
    identity = json.dumps({"params": params, "generator_version": GENERATOR_VERSION}, sort_keys=True)
    return f"synthetic-buds-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"


def ensure_dataset(cache_dir: Path, params: dict[str, Any]) -> Path:
    """The dataset's folder under `cache_dir/datasets`, generated first if it is not there yet."""
    root = Path(cache_dir) / "datasets"
    root.mkdir(parents=True, exist_ok=True)
    name = dataset_name(params)
    final = root / name
    if final.is_dir():
        return final
    with FileLock(str(root / f"{name}.lock")):
        if final.is_dir():  # another process made it while we waited
            return final
        for stale in root.glob(f".{name}.tmp-*"):  # left by a killed generation; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        tmp = root / f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            write_dataset(tmp, params)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def write_dataset(folder: Path, params: dict[str, Any]) -> None:
    """images/{train,val}/*.jpg, labels/{train,val}/*.txt (`0 cx cy w h`), data.yaml, params.json."""
    knobs = generator.Knobs.from_difficulty(params["difficulty"])
    low, high = params["buds_per_image"]
    counts = {"train": params["train"], "val": params["val"]}
    total = sum(counts.values())
    bar = tqdm(total=total, desc="synthetic-buds: generating", unit="img", file=sys.stderr, leave=False,
               disable=total <= PROGRESS_THRESHOLD or not sys.stderr.isatty())
    with bar:
        for split, count in counts.items():
            (folder / "images" / split).mkdir(parents=True)
            (folder / "labels" / split).mkdir(parents=True)
            for index in range(count):
                rng = np.random.default_rng([params["seed"], SPLIT_IDS[split], index])
                image, boxes = generator.render(rng, params["imgsz"], int(rng.integers(low, high, endpoint=True)),
                                                knobs)
                stem = f"{split}_{index:06d}"
                (folder / "images" / split / f"{stem}.jpg").write_bytes(generator.encode_jpeg(image, rng))
                lines = "".join(f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n" for cx, cy, w, h in boxes)
                (folder / "labels" / split / f"{stem}.txt").write_text(lines, encoding="utf-8")
                bar.update()
    # No `path:` key: Ultralytics then resolves train/val against this file's folder, so the dataset
    # still works after the cache is moved.
    data = {"train": "images/train", "val": "images/val", "names": {0: "bud"}}
    (folder / "data.yaml").write_text("# synthetic tea buds, written by prunebench\n" + yaml.safe_dump(data),
                                      encoding="utf-8")
    (folder / "params.json").write_text(json.dumps({"params": params, "generator_version": GENERATOR_VERSION},
                                                   indent=1, sort_keys=True) + "\n", encoding="utf-8")
