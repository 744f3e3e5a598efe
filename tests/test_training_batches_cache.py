"""`prunebench.pruning.training_batches` never writes into the user's dataset folder: Ultralytics' label cache
(`labels/train.cache` beside the labels) goes to prunebench's cache instead."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")


def test_training_batches_keeps_its_label_cache_in_prunebench_cache(tmp_path, monkeypatch):
    from prunebench import pruning
    from prunebench.testing import synthetic_buds

    monkeypatch.setenv("PRUNEBENCH_CACHE", str(tmp_path / "cache"))
    data = synthetic_buds(tmp_path / "user-data", train=6, val=2, imgsz=64, seed=0)
    before = sorted(p.relative_to(tmp_path / "user-data") for p in (tmp_path / "user-data").rglob("*"))
    batches, info = pruning.training_batches(data.data_yaml, imgsz=64, batch=2, batches=2, seed=0)
    assert info["images"] == 4 and len(batches) == 2
    after = sorted(p.relative_to(tmp_path / "user-data") for p in (tmp_path / "user-data").rglob("*"))
    assert after == before, f"written into the dataset folder: {sorted(set(after) - set(before))}"
    from prunebench.yolo.label_cache import CACHES_DIRNAME

    cached = sorted((tmp_path / "cache" / CACHES_DIRNAME).iterdir())
    assert len(cached) == 1 and "train.cache" in cached[0].name
    # a second call reads it (the same batches, drawn by the same seed)
    again, _ = pruning.training_batches(data.data_yaml, imgsz=64, batch=2, batches=2, seed=0)
    assert all((a["img"] == b["img"]).all() for a, b in zip(batches, again))
    assert sorted((tmp_path / "cache" / CACHES_DIRNAME).iterdir()) == cached
