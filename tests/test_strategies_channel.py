"""The channel strategies (l1-channel, network-slimming) and the C2f rewrite, on untrained models
(the `channel` strategy's criteria and the shared selection: tests/test_channel_criteria.py).

Fast tests prune untrained YOLOv8n / YOLOv5n / YOLOv3-tiny / YOLO11n at 128 px; the slow one
validates a pruned trained model (the conformance kit's baseline) with Ultralytics.
"""

from __future__ import annotations

import copy
import json
import math
from functools import lru_cache

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from prunebench import CellContext  # noqa: E402
from prunebench_builtins.channel import L1Channel, NetworkSlimming  # noqa: E402

IMGSZ = 128


class _ImportedOnFirstUse:
    """prunebench.yolo.prunable imports (and so configures) Ultralytics; at collection time conftest has
    not yet pointed PRUNEBENCH_CACHE at a temporary folder, so wait until a test runs."""

    def __getattr__(self, name):
        from prunebench.yolo import prunable as module

        return getattr(module, name)


prunable = _ImportedOnFirstUse()


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small models: one thread is enough, while two threads on a shared 2-core machine wait on each
    other (this module took 6.5 min under load with two, see tests/test_channel_criteria.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@lru_cache(maxsize=None)
def _built(cfg: str, nc: int | None = None):
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    return DetectionModel(cfg, nc=nc, verbose=False)


def fresh(cfg: str = "yolov8n.yaml", nc: int | None = None):
    return copy.deepcopy(_built(cfg, nc))


def ctx(tmp_path) -> CellContext:
    return CellContext(device="cpu", seed=0, cache_dir=tmp_path, work_dir=tmp_path, imgsz=IMGSZ, batch=1)


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def randomize_batchnorms(model, seed: int = 0):
    """Non-trivial BN scales and statistics, so that a wrong copy would show in the outputs."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=g) + 0.1
            m.bias.data = torch.rand(n, generator=g) - 0.5
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    return model


def predictions(model, x):
    model.eval()
    with torch.no_grad():
        return model(x)[0]


def head_convs(model):
    return {name: m for name, m in model.model[-1].named_modules() if isinstance(m, nn.Conv2d)}


def prunable_bn_channels(model, prune_head=False) -> int:
    return sum(bn.num_features for _, bn in prunable.prunable_batchnorms(model, prune_head))


# ----------------------------------------------------------------------------- the C2f rewrite


@pytest.mark.parametrize("cfg", ["yolov8n.yaml", "yolo11n.yaml"])
def test_c2f_split_computes_exactly_what_c2f_computes(cfg):
    model = randomize_batchnorms(fresh(cfg)).eval()
    x = torch.rand(2, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(1))
    expected = predictions(model, x)

    assert prunable.split_c2f_blocks(model) == 8
    assert predictions(model, x).sub(expected).abs().max().item() == 0.0
    block = next(m for m in model.modules() if isinstance(m, prunable.C2fSplit))
    assert block.cv0.bn.eps == block.cv1.bn.eps == 1e-3  # Ultralytics' eps, not torch's 1e-5
    assert block.cv0.conv.out_channels == block.cv1.conv.out_channels == block.c
    assert prunable.split_c2f_blocks(model) == 0  # idempotent


def test_c2f_split_keeps_the_train_mode_of_the_block():
    model = fresh().train()
    prunable.split_c2f_blocks(model)
    assert all(m.training for m in model.modules())


# ----------------------------------------------------------------------------- l1-channel


@pytest.mark.parametrize("cfg, params_before, param_range, macs_range", [
    # measured: yolov8n 3.157 M -> 1.175 M params, MACs -54.2 %; yolov5n 2.655 M -> 1.049 M, MACs -50.6 %
    ("yolov8n.yaml", 3_157_200, (0.58, 0.68), (0.49, 0.59)),
    ("yolov5n.yaml", 2_654_816, (0.55, 0.65), (0.46, 0.56)),
])
def test_l1_channel_halves_the_prunable_channels(cfg, params_before, param_range, macs_range, tmp_path):
    model = fresh(cfg)
    report = L1Channel().prune(model, 0.5, ctx(tmp_path))

    assert report["params_before"] == params_before
    assert report["params_after"] == n_params(model) < params_before
    assert param_range[0] < report["param_reduction"] < param_range[1]
    assert macs_range[0] < report["macs_reduction"] < macs_range[1]
    assert report["macs_after"] == prunable.count_macs_and_params(model, IMGSZ)[0]
    assert report["gflops_before"] == pytest.approx(2 * report["macs_before"] / 1e9, abs=1e-4)
    assert report["channel_reduction"] == pytest.approx(0.5, abs=0.01)
    assert report["channels"] and all(after < before for before, after in report["channels"].values())
    json.dumps(report, allow_nan=False)


@pytest.mark.parametrize("cfg", ["yolov8n.yaml", "yolov5n.yaml", "yolov3-tiny.yaml", "yolo11n.yaml"])
def test_l1_channel_pruned_model_runs_in_eval_and_train_mode(cfg, tmp_path):
    model = fresh(cfg)
    L1Channel().prune(model, 0.5, ctx(tmp_path))
    model.eval()
    with torch.no_grad():
        y = model(torch.rand(1, 3, IMGSZ, IMGSZ))
    assert y[0].shape[:2] == (1, 4 + model.model[-1].nc)
    model.train()
    raw = model(torch.rand(2, 3, IMGSZ, IMGSZ))  # the head's raw outputs, as the loss takes them
    assert raw["boxes"].shape[0] == 2


def test_l1_channel_leaves_the_detect_head_alone_by_default(tmp_path):
    model = fresh()
    before = {name: (m.out_channels, m.weight.detach().clone()) for name, m in head_convs(model).items()}
    L1Channel().prune(model, 0.5, ctx(tmp_path))
    after = head_convs(model)
    assert {n: m.out_channels for n, m in after.items()} == {n: c for n, (c, _) in before.items()}
    # Only the first conv of each branch changes, and only in its inputs (the neck got thinner).
    changed = {n for n, m in after.items() if not torch.equal(m.weight, before[n][1])}
    assert changed and all(n.endswith(".0.conv") for n in changed)
    assert all(after[n].in_channels < before[n][1].shape[1] for n in changed)


def test_l1_channel_prune_head_thins_the_head_but_keeps_its_outputs(tmp_path):
    model = fresh()
    before = {name: m.out_channels for name, m in head_convs(model).items()}
    L1Channel(L1Channel.Params(prune_head=True)).prune(model, 0.5, ctx(tmp_path))
    after = {name: m.out_channels for name, m in head_convs(model).items()}
    head = model.model[-1]
    outputs = {n for n in after if n.endswith(".2") or n == "dfl.conv"}
    assert outputs and all(after[n] == before[n] for n in outputs)
    assert {after[f"cv2.{i}.2"] for i in range(head.nl)} == {4 * head.reg_max}
    assert {after[f"cv3.{i}.2"] for i in range(head.nl)} == {head.nc}
    assert any(after[n] < before[n] for n in after if n not in outputs)


def test_round_to_keeps_multiples_of_eight(tmp_path):
    unrounded, rounded = fresh(), fresh()
    L1Channel().prune(unrounded, 0.3, ctx(tmp_path))
    report = L1Channel(L1Channel.Params(round_to=8)).prune(rounded, 0.3, ctx(tmp_path))

    def widths(model):
        ignored = prunable.structured_ignored_layers(model)
        return [m.out_channels for _, m in prunable.modules_outside(model, ignored, nn.Conv2d)]

    assert any(c % 8 for c in widths(unrounded))  # 0.3 of 16 is not a multiple of 8: rounding matters
    assert all(c % 8 == 0 for c in widths(rounded))
    # Each layer keeps the NEAREST multiple, so the total stays near the amount (Torch-Pruning's
    # round_to rounds every layer down: 0.348 for 0.3 on this model).
    assert abs(report["channel_reduction"] - 0.3) <= 0.025


def test_global_l1_channel_prunes_layers_unevenly(tmp_path):
    model = fresh()
    report = L1Channel(L1Channel.Params(global_pruning=True)).prune(model, 0.5, ctx(tmp_path))
    ratios = {round(after / before, 2) for before, after in report["channels"].values()}
    assert len(ratios) > 3
    assert 0.3 < report["channel_reduction"] < 0.7


def test_pruning_nothing_changes_no_output(tmp_path):
    """Tracing runs the model in eval mode: BatchNorm statistics must not move."""
    model = randomize_batchnorms(fresh())
    x = torch.rand(1, 3, IMGSZ, IMGSZ)
    expected = predictions(copy.deepcopy(model), x)
    model.train()
    report = L1Channel().prune(model, 0.0, ctx(tmp_path))
    assert model.training  # mode restored
    assert report["channels"] == {} and report["params_after"] == report["params_before"]
    assert predictions(model, x).sub(expected).abs().max().item() == 0.0


def test_frozen_parameters_stay_frozen(tmp_path):
    model = fresh()
    for p in model.parameters():
        p.requires_grad_(False)  # as YOLO(path).model loads
    L1Channel().prune(model, 0.5, ctx(tmp_path))
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("strategy", [L1Channel, NetworkSlimming], ids=lambda s: s.name)
def test_pruned_model_round_trips_through_torch_save(strategy, tmp_path):
    model = randomize_batchnorms(fresh())
    strategy().prune(model, 0.5, ctx(tmp_path))
    torch.save(model, tmp_path / "pruned.pt")
    loaded = torch.load(tmp_path / "pruned.pt", weights_only=False)
    assert n_params(loaded) == n_params(model)
    x = torch.rand(1, 3, IMGSZ, IMGSZ)
    assert torch.equal(predictions(loaded, x), predictions(model, x))


@pytest.mark.parametrize("amount", [1.0, -0.2])
def test_an_amount_of_one_or_less_than_zero_is_a_clear_error(amount, tmp_path):
    with pytest.raises(ValueError, match=r"l1-channel: amount .* is not a fraction of channels to remove in \[0, 1\)"):
        L1Channel().prune(fresh(), amount, ctx(tmp_path))


# ----------------------------------------------------------------------------- network slimming


def test_regularize_adds_s_times_sign_gamma_to_prunable_bn_grads():
    model = fresh()
    g = torch.Generator().manual_seed(0)
    for p in model.parameters():
        p.grad = torch.randn(p.shape, generator=g)
    for _, bn in prunable.prunable_batchnorms(model):
        bn.weight.data[::3] *= -1  # some negative scales, so sign() matters
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}

    NetworkSlimming(NetworkSlimming.Params(s=0.005)).regularize(model)

    penalised = {f"{name}.weight" for name, _ in prunable.prunable_batchnorms(model)}
    assert len(penalised) > 40  # yolov8n: 45 outside the head
    for name, p in model.named_parameters():
        expected = grads[name] + 0.005 * torch.sign(p.data) if name in penalised else grads[name]
        assert torch.equal(p.grad, expected), name
    head = f"model.{len(model.model) - 1}."
    assert any(name.startswith(head) for name, _ in model.named_parameters())
    assert not any(name.startswith(head) for name in penalised)


def test_snapshot_is_a_histogram_of_all_prunable_bn_scales():
    model = randomize_batchnorms(fresh())
    snap = NetworkSlimming().snapshot(model)
    assert sum(snap["counts"]) == snap["channels"] == prunable_bn_channels(model)
    assert len(snap["edges"]) == len(snap["counts"]) + 1 and snap["edges"][0] == 0.0
    assert snap["p10"] <= snap["median"] <= snap["p90"] <= snap["edges"][-1]
    json.dumps(snap, allow_nan=False)

    for _, bn in prunable.prunable_batchnorms(model):
        bn.weight.data *= 0.1  # what sparsity training does, crudely
    assert NetworkSlimming().snapshot(model)["median"] == pytest.approx(snap["median"] * 0.1, rel=1e-4)


@pytest.mark.parametrize("cfg", ["yolov8n.yaml", "yolov5n.yaml"])
def test_slimming_removes_the_amount_of_prunable_bn_channels(cfg, tmp_path):
    model = randomize_batchnorms(fresh(cfg))
    before = prunable_bn_channels(model)
    report = NetworkSlimming().prune(model, 0.5, ctx(tmp_path))
    after = prunable_bn_channels(model)
    assert abs((1 - after / before) - 0.5) < 0.02
    assert report["bn_channels_removable"] == before
    assert 0 < report["bn_threshold"] < 1.1
    assert report["params_after"] == n_params(model) < report["params_before"]


def test_slimming_removes_the_small_scales_first(tmp_path):
    model = fresh()
    prunable.split_c2f_blocks(model)  # so that BNs coupled by residual adds get the same pattern
    for _, bn in prunable.prunable_batchnorms(model):
        n = bn.num_features
        bn.weight.data = torch.cat([torch.full((n // 2,), 1e-3), torch.linspace(0.5, 1.0, n - n // 2)])
    report = NetworkSlimming().prune(model, 0.5, ctx(tmp_path))
    assert report["bn_threshold"] == pytest.approx(1e-3)
    remaining = torch.cat([bn.weight.detach() for _, bn in prunable.prunable_batchnorms(model)])
    assert remaining.min() >= 0.5


def test_slimming_never_empties_a_layer(tmp_path):
    model = randomize_batchnorms(fresh())
    name, victim = prunable.prunable_batchnorms(model)[0]  # model.0.bn: 16 channels, nothing coupled
    victim.weight.data.fill_(1e-6)
    NetworkSlimming(NetworkSlimming.Params(min_keep_ratio=0.25)).prune(model, 0.5, ctx(tmp_path))
    assert dict(prunable.prunable_batchnorms(model))[name].num_features == math.ceil(0.25 * 16)


def test_slimming_round_to_keeps_multiples_of_eight(tmp_path):
    model = randomize_batchnorms(fresh())
    NetworkSlimming(NetworkSlimming.Params(round_to=8)).prune(model, 0.3, ctx(tmp_path))
    widths = [bn.num_features for _, bn in prunable.prunable_batchnorms(model)]
    assert all(w % 8 == 0 for w in widths)
    assert abs((1 - sum(widths) / prunable_bn_channels(fresh())) - 0.3) <= 0.025


def test_slimming_asks_for_its_sparsity_epochs():
    assert NetworkSlimming(NetworkSlimming.Params(sparsity_epochs=3)).sparsity_epochs() == 3
    assert NetworkSlimming.structured and L1Channel.structured


def test_channel_strategies_are_registered_through_the_entry_point():
    from prunebench.plugin.loader import load_plugins

    registry = load_plugins().registry
    assert registry.get("strategies", "l1-channel") is L1Channel
    assert registry.get("strategies", "network-slimming") is NetworkSlimming


# ----------------------------------------------------------------------------- Ultralytics validates it


@pytest.mark.slow
def test_ultralytics_validates_a_channel_pruned_model(prunebench_trained_baseline, tmp_path):
    """The pruned module, handed to Ultralytics in memory, validates to the numbers prunebench reports for its
    saved checkpoint, and what was validated is the pruned architecture. The model is the conformance kit's
    trained baseline, so the numbers are not 0 (an untrained model's would be, whatever went wrong)."""
    from prunebench.yolo import checkpoints, evaluate
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics import YOLO

    baseline = prunebench_trained_baseline
    model = checkpoints.load_yolo(baseline.checkpoint).model
    dense = {name: m.out_channels for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    L1Channel().prune(model, 0.1, ctx(tmp_path))
    pruned = {name: m.out_channels for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    assert sum(pruned.values()) < sum(dense[name] for name in pruned if name in dense)

    ours = evaluate.evaluate(checkpoints.save_model(model, tmp_path / "pruned.pt"), baseline.dataset.data_yaml,
                             imgsz=baseline.imgsz, batch=16, device="cpu", work_dir=tmp_path / "ours")["metrics"]
    yolo = YOLO("yolov8n.yaml")
    yolo.model = model
    theirs = yolo.val(data=str(baseline.dataset.data_yaml), imgsz=baseline.imgsz, batch=16, device="cpu", workers=0,
                      plots=False, save_json=False, project=str(tmp_path / "val"), name="v", verbose=False).box
    assert ours["map50"] > 0.1  # still a detector at 10 % of its channels removed
    assert (theirs.map50, theirs.map, theirs.mp, theirs.mr) == pytest.approx(
        (ours["map50"], ours["map50_95"], ours["precision"], ours["recall"]), abs=1e-6)
    validated = {name: m.out_channels for name, m in yolo.model.named_modules() if isinstance(m, nn.Conv2d)}
    assert validated == pruned  # fusing BatchNorm into the convs changes no width; nothing was rebuilt
