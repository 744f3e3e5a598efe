"""A user's own tiny study, written where a test wants it: a YOLO dataset of 4 train and 4 val images (copied from
the shipped coco128, so the COCO yolo11n scores above 0) and a two-cell suite over it (dense, L1 unstructured 30 %,
no fine-tuning, 64 px, short timings): about a minute on 2 cores. Used by the API docs' test and the wheel test."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
COCO128 = REPO / "data" / "coco128"
WEIGHTS = REPO / "weights" / "yolo11n.pt"


def make_dataset(folder: Path, images_per_split: int = 4) -> Path:
    """A data YAML with its images and labels under `folder`; returns the YAML's path."""
    folder = Path(folder)
    for split in ("train", "val"):
        images, labels = folder / "images" / split, folder / "labels" / split
        images.mkdir(parents=True, exist_ok=True)
        labels.mkdir(parents=True, exist_ok=True)
        for image in sorted((COCO128 / "images" / split).glob("*.jpg"))[:images_per_split]:
            shutil.copy(image, images / image.name)
            label = COCO128 / "labels" / split / f"{image.stem}.txt"
            if label.is_file():
                shutil.copy(label, labels / label.name)
    names = yaml.safe_load((COCO128 / "data.yaml").read_text())["names"]
    data = folder / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(folder.resolve()), "train": "images/train", "val": "images/val",
                                    "names": names}))
    return data


SUITE = """\
name: my-study
models:
  - name: yolo11n
    params: {{weights: {weights}}}
datasets:
  - name: my-data
    params: {{data: {data}}}
strategies:
  - name: l1-unstructured
    amounts: [0.3]
seeds: [0]
finetune: {{epochs: 0}}
evaluation:
  imgsz: 64
  batch: 4
  device: cpu
  measure: {{min_run_time: 0.05, throughput_batch: 1, speedup_pairs: 1}}
  intervals: {{resamples: 20}}
"""


def make_suite(folder: Path, weights: Path = WEIGHTS) -> Path:
    """`folder/my-study.yaml` over a dataset made in `folder/my-data`; results go to `folder/results/my-study`."""
    folder = Path(folder)
    data = make_dataset(folder / "my-data")
    suite = folder / "my-study.yaml"
    suite.write_text(SUITE.format(weights=Path(weights).resolve(), data=data))
    return suite
