"""The `synthetic-buds` dataset source: deterministic, valid Ultralytics labels, generated once, never half."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pydantic
import pytest

import prunebench_builtins.synthetic_buds as synthetic_buds
from prunebench_builtins.synthetic_buds import SyntheticBuds, generator, writer
from prunebench.yolo import labels

TINY = {"train": 5, "val": 3, "imgsz": 64}


def prepare(cache: Path, **params):
    return SyntheticBuds(SyntheticBuds.Params(**(TINY | params))).prepare(cache)


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def dataset_dirs(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "datasets").iterdir() if p.is_dir())


def test_same_params_give_identical_bytes_and_another_seed_differs(tmp_path):
    a = files_of(prepare(tmp_path / "a").data_yaml.parent)
    b = files_of(prepare(tmp_path / "b").data_yaml.parent)
    assert a == b and len([n for n in a if n.endswith(".jpg")]) == 8
    other = files_of(prepare(tmp_path / "c", seed=1).data_yaml.parent)
    assert a.keys() == other.keys()
    assert all(a[n] != other[n] for n in a if n.endswith(".jpg"))


def test_asking_for_more_images_keeps_the_first_ones(tmp_path):
    few = files_of(prepare(tmp_path / "a", train=2).data_yaml.parent)
    more = files_of(prepare(tmp_path / "b", train=4).data_yaml.parent)
    assert few["images/train/train_000001.jpg"] == more["images/train/train_000001.jpg"]
    assert few["images/val/val_000000.jpg"] == more["images/val/val_000000.jpg"]


def test_counts_and_labels_are_valid_ultralytics_format(tmp_path):
    prepared = prepare(tmp_path, train=12, val=6, imgsz=96, buds_per_image=(2, 4))
    data = labels.read_data_yaml(prepared.data_yaml)
    images = labels.check_dataset(data)  # raises on any malformed label line
    assert {split: len(found) for split, found in images.items()} == {"train": 12, "val": 6}
    assert prepared.val_images == images["val"] and data.names == prepared.names == {0: "bud"}
    assert prepared.synthetic is True and "12 train / 6 val images of 96 px, 2-4 buds each" in prepared.description
    for image in images["train"] + images["val"]:
        assert cv2.imread(str(image)).shape == (96, 96, 3)
        boxes = np.loadtxt(labels.label_path(image), ndmin=2)
        assert 2 <= len(boxes) <= 4 and (boxes[:, 0] == 0).all()
        cx, cy, w, h = boxes[:, 1:].T
        corners = np.concatenate([cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2])
        assert (corners >= -1e-6).all() and (corners <= 1 + 1e-6).all()  # inside the image, to 6 decimals
        assert (w * 96 >= 2).all() and (h * 96 >= 2).all()


def test_boxes_sit_on_the_pale_buds(tmp_path):
    """The labels must point at what was drawn: at difficulty 0 (no blur to speak of, little occlusion) the
    boxed pixels are clearly lighter and yellower than the leafy image around them."""
    prepared = prepare(tmp_path, train=1, val=10, imgsz=160, difficulty=0.0)
    inside, outside = [], []
    for image_path in prepared.val_images:
        image = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2HSV).astype(float)
        mask = np.zeros(image.shape[:2], bool)
        for _, cx, cy, w, h in np.loadtxt(labels.label_path(image_path), ndmin=2):
            x0, x1 = round((cx - w / 2) * 160), round((cx + w / 2) * 160)
            y0, y1 = round((cy - h / 2) * 160), round((cy + h / 2) * 160)
            mask[y0:y1, x0:x1] = True
        inside.append(image[mask, 2].mean())
        outside.append(image[~mask, 2].mean())
    assert np.mean(inside) > np.mean(outside) + 25  # brightness (V, 0-255)


def test_difficulty_adds_clutter():
    easy, hard = generator.Knobs.from_difficulty(0.0), generator.Knobs.from_difficulty(1.0)
    assert easy.distractors[1] < hard.distractors[1] and easy.min_bud > hard.min_bud
    assert easy.occlusion_prob < hard.occlusion_prob and easy.background_leaves[1] < hard.background_leaves[1]


def test_second_prepare_reuses_the_dataset(tmp_path, monkeypatch):
    first = prepare(tmp_path)
    stamp = first.data_yaml.stat().st_mtime_ns

    def must_not_run(*args, **kwargs):
        raise AssertionError("the dataset was generated again")

    monkeypatch.setattr(writer, "write_dataset", must_not_run)
    second = prepare(tmp_path)
    assert second.data_yaml == first.data_yaml and second.val_images == first.val_images
    assert second.data_yaml.stat().st_mtime_ns == stamp


def test_interrupted_generation_leaves_no_dataset(tmp_path, monkeypatch):
    real_render, calls = generator.render, []

    def render_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_render(*args, **kwargs)

    monkeypatch.setattr(generator, "render", render_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        prepare(tmp_path)
    assert dataset_dirs(tmp_path) == []
    assert not [p for p in (tmp_path / "datasets").iterdir() if ".tmp-" in p.name]

    monkeypatch.setattr(generator, "render", real_render)
    assert len(prepare(tmp_path).val_images) == 3


def test_leftovers_of_a_killed_generation_are_cleared(tmp_path):
    name = writer.dataset_name(SyntheticBuds.Params(**TINY).model_dump(mode="json"))
    stale = tmp_path / "datasets" / f".{name}.tmp-999-deadbeef"
    (stale / "images").mkdir(parents=True)
    prepared = prepare(tmp_path)
    assert not stale.exists() and dataset_dirs(tmp_path) == [name] == [prepared.data_yaml.parent.name]


def test_fingerprint_needs_no_generation_and_follows_params(tmp_path):
    source = SyntheticBuds(SyntheticBuds.Params(**TINY))
    assert source.fingerprint() == {"params": {**TINY, "seed": 0, "buds_per_image": [1, 6], "difficulty": 0.3},
                                    "generator_version": synthetic_buds.GENERATOR_VERSION}
    assert source.fingerprint() != SyntheticBuds(SyntheticBuds.Params(**TINY, seed=1)).fingerprint()
    source.check()  # nothing to check before generation, and nothing generated by it
    assert not (tmp_path / "datasets").exists()


def test_bad_params_are_refused():
    with pytest.raises(pydantic.ValidationError, match=r"buds_per_image must be \[least, most\] with 0 <= least "
                                                       r"<= most <= 50, got \[5, 2\]"):
        SyntheticBuds.Params(buds_per_image=(5, 2))
    with pytest.raises(pydantic.ValidationError, match="Extra inputs are not permitted"):
        SyntheticBuds.Params(size=64)
    with pytest.raises(pydantic.ValidationError, match="less than or equal to 1"):
        SyntheticBuds.Params(difficulty=2)


def test_plugin_modules_import_neither_torch_nor_numpy():
    code = ("import sys, prunebench_builtins.synthetic_buds, prunebench_builtins.ultralytics_datasets, prunebench.yolo.labels; "
            "print(sorted(m for m in ('torch', 'numpy', 'cv2', 'ultralytics') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.strip() == "[]"
