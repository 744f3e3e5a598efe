"""The unstructured strategies on untrained YOLOv8n / YOLOv5n models (fast: no training)."""

from __future__ import annotations

import copy
import json
import statistics
from functools import lru_cache

import pytest

torch = pytest.importorskip("torch")

from prunebench import CellContext  # noqa: E402
from prunebench_builtins.unstructured import GlobalL1Unstructured, L1Unstructured, RandomUnstructured  # noqa: E402

STRATEGIES = [L1Unstructured, GlobalL1Unstructured, RandomUnstructured]


@lru_cache(maxsize=None)
def _built(cfg: str):
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics import YOLO

    return YOLO(cfg).model


def fresh(cfg: str = "yolov8n.yaml"):
    return copy.deepcopy(_built(cfg))


def ctx(tmp_path, seed: int = 0) -> CellContext:
    return CellContext(device="cpu", seed=seed, cache_dir=tmp_path, work_dir=tmp_path, imgsz=128, batch=1)


def conv_weights(model):
    """Every Conv2d weight but the DFL's, counted independently of the code under test."""
    return {name: m.weight.detach() for name, m in model.named_modules()
            if isinstance(m, torch.nn.Conv2d) and ".dfl." not in name}


@pytest.mark.parametrize("amount", [0.3, 0.6, 0.9])
@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
def test_achieved_sparsity_matches_the_request(strategy, amount, tmp_path):
    model = fresh()
    report = strategy().prune(model, amount, ctx(tmp_path))

    weights = conv_weights(model)
    zeros = sum(int((w == 0).sum()) for w in weights.values())
    total = sum(w.numel() for w in weights.values())
    assert abs(zeros / total - amount) < 0.01
    assert report["achieved_sparsity"] == pytest.approx(zeros / total, abs=1e-6)
    assert report["requested"] == amount
    assert 0 < report["model_sparsity"] < 1
    assert set(report["layers"]) == set(weights)
    json.dumps(report, allow_nan=False)  # the record is JSON


@pytest.mark.parametrize("strategy", [L1Unstructured, RandomUnstructured], ids=lambda s: s.name)
def test_per_layer_strategies_prune_every_layer_by_the_amount(strategy, tmp_path):
    report = strategy().prune(fresh(), 0.6, ctx(tmp_path))
    assert all(abs(s - 0.6) < 0.01 for s in report["layers"].values()), report["layers"]


def test_global_pruning_prunes_layers_unevenly(tmp_path):
    report = GlobalL1Unstructured().prune(fresh(), 0.6, ctx(tmp_path))
    per_layer = list(report["layers"].values())
    assert abs(report["achieved_sparsity"] - 0.6) < 0.01
    assert statistics.pstdev(per_layer) > 0.1  # measured 0.20 on yolov8n
    assert min(per_layer) < 0.4 and max(per_layer) > 0.8


def test_l1_zeroes_the_smallest_weights_of_each_layer(tmp_path):
    original = conv_weights(fresh())
    model = copy.deepcopy(_built("yolov8n.yaml"))
    L1Unstructured().prune(model, 0.5, ctx(tmp_path))
    for name, after in conv_weights(model).items():
        before = original[name]
        removed, kept = before[after == 0].abs(), before[after != 0].abs()
        assert removed.max() <= kept.min(), name
        assert torch.equal(after[after != 0], before[after != 0])  # survivors unchanged


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
@pytest.mark.parametrize("cfg", ["yolov8n.yaml", "yolov5n.yaml"])
def test_dfl_weights_are_left_as_the_bin_indices(strategy, cfg, tmp_path):
    model = fresh(cfg)
    report = strategy().prune(model, 0.9, ctx(tmp_path))
    dfl = model.model[-1].dfl.conv.weight.flatten()
    assert torch.equal(dfl, torch.arange(16, dtype=dfl.dtype))
    assert not any(".dfl." in name for name in report["layers"])


def _zero_mask(model):
    return torch.cat([(w == 0).flatten() for w in conv_weights(model).values()])


def test_random_pruning_is_reproducible_by_seed(tmp_path):
    masks = {}
    for run, seed in [("a", 1), ("b", 1), ("c", 2)]:
        model = fresh()
        RandomUnstructured().prune(model, 0.5, ctx(tmp_path, seed=seed))
        masks[run] = _zero_mask(model)
    assert torch.equal(masks["a"], masks["b"])
    assert not torch.equal(masks["a"], masks["c"])
    assert (masks["a"] != masks["c"]).float().mean() > 0.3  # independent draws disagree on ~half


def test_random_pruning_leaves_the_global_random_state_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    RandomUnstructured().prune(fresh(), 0.5, ctx(tmp_path, seed=7))
    assert torch.equal(torch.rand(3), expected)


def test_random_differs_from_magnitude(tmp_path):
    l1, rnd = fresh(), fresh()
    L1Unstructured().prune(l1, 0.5, ctx(tmp_path))
    RandomUnstructured().prune(rnd, 0.5, ctx(tmp_path))
    assert (_zero_mask(l1) != _zero_mask(rnd)).float().mean() > 0.3


def test_pruned_model_still_runs_and_stays_the_same_size(tmp_path):
    model = fresh()
    before = sum(p.numel() for p in model.parameters())
    L1Unstructured().prune(model, 0.6, ctx(tmp_path))
    assert sum(p.numel() for p in model.parameters()) == before
    assert not any(name.endswith("_orig") or name.endswith("_mask") for name, _ in model.named_parameters())
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 128, 128))
    assert out[0].shape[0] == 1


@pytest.mark.parametrize("amount", [-0.1, 1.5])
def test_an_amount_outside_zero_to_one_is_a_clear_error(amount, tmp_path):
    with pytest.raises(ValueError, match=r"l1-unstructured: amount .* is not a fraction of weights to zero in \[0, 1\]"):
        L1Unstructured().prune(fresh(), amount, ctx(tmp_path))


def test_strategies_are_registered_through_the_entry_point():
    from prunebench.plugin.loader import load_plugins

    registry = load_plugins().registry
    for strategy in STRATEGIES:
        assert registry.get("strategies", strategy.name) is strategy
        assert strategy.structured is False
        assert strategy.description
