"""The `channel` strategy: Torch-Pruning's importance criteria, the training-data gradients of taylor /
hessian, and the selection all channel strategies share (round_to to the NEAREST multiple).

Untrained YOLOv8n and YOLO11n (one class, BatchNorm scales randomised so bn-scale has something to
rank) at 64 px, on the 8-image synthetic dataset of prunebench.testing. Every prune runs once per
module (`run` caches it) and several tests read it.
"""

from __future__ import annotations

import copy
from functools import cache

import pytest

torch = pytest.importorskip("torch")

from prunebench_builtins.channel import Channel, L1Channel, NetworkSlimming  # noqa: E402
from torch import nn  # noqa: E402

from prunebench.testing import TINY_IMGSZ, tiny_context, tiny_model  # noqa: E402

ARCHS = ["yolov8n.yaml", "yolo11n.yaml"]
CRITERIA = ["l1", "l2", "lamp", "taylor", "hessian", "bn-scale", "group-norm", "fpgm", "random"]
AMOUNT = 0.3
# Per layer, each layer's kept count is rounded to the nearest allowed value, so errors of either
# sign cancel over the ~60 layers; measured within 0.011 of the amount on both models with round_to=8.
# (Torch-Pruning's own round_to rounds every layer down: 0.348 asked 0.3 on YOLOv8n.)
TOLERANCE = 0.025


@cache
def _built(arch: str, nc: int = 1):
    torch.manual_seed(0)
    model = tiny_model(arch, nc=nc)
    g = torch.Generator().manual_seed(1)
    for m in model.modules():  # distinct scales: bn-scale must have something to rank, and no ties
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = torch.rand(m.num_features, generator=g) + 0.1
    return model


def fresh(arch: str, nc: int = 1):
    model = copy.deepcopy(_built(arch, nc))
    for p in model.parameters():
        p.requires_grad_(False)  # as YOLO(path).model loads: gradient criteria must cope
    return model


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def outputs(model, x):
    model.eval()
    with torch.no_grad():
        return model(x)[0]


def kept_by_gamma(dense_bn: nn.BatchNorm2d, pruned_bn: nn.BatchNorm2d) -> list[int]:
    """Which of the dense BatchNorm's channels survive, identified by their (distinct) scales."""
    dense = dense_bn.weight.detach().tolist()
    return sorted(dense.index(v) for v in pruned_bn.weight.detach().tolist())


def bn_scales(model) -> torch.Tensor:
    return torch.cat([m.weight.detach() for m in model.modules() if isinstance(m, nn.BatchNorm2d)])


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These models are tiny (64 px): one thread does each prune in about a second, while two threads
    on a shared 2-core machine wait on each other (measured 25 s for the same prune under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def other_data(tmp_path_factory):
    """Another 8-image synthetic dataset (another generator seed): other pixels, other boxes."""
    from prunebench.plugin.loader import load_plugins

    source_cls = load_plugins().registry.get("datasets", "synthetic-buds")
    source = source_cls(source_cls.Params(train=8, val=4, imgsz=TINY_IMGSZ, seed=1))
    return source.prepare(tmp_path_factory.mktemp("other-data"))


@pytest.fixture(scope="module")
def run(prunebench_tiny_data, tmp_path_factory):
    """run(arch, strategy, seed=0, data=None, amount, repeat=0, **params) -> (dense, pruned, report), each run
    once per module (another `repeat` runs the same thing again, separately)."""
    done: dict = {}
    work = tmp_path_factory.mktemp("criteria")

    def _run(arch, strategy=Channel, seed=0, data=None, amount=AMOUNT, repeat=0, **params):
        if strategy is Channel:
            params.setdefault("calibration_batches", 1)  # taylor / hessian: 4 of the 8 training images, one batch
        key = (arch, strategy.name, seed, id(data), amount, repeat, tuple(sorted(params.items())))
        if key not in done:
            dense, model = fresh(arch), fresh(arch)
            ctx = tiny_context(data or prunebench_tiny_data, work, seed=seed)
            report = strategy(strategy.Params(**params)).prune(model, amount, ctx)
            done[key] = (dense, model, report)
        return done[key]

    return _run


# ----------------------------------------------------------------------------- every criterion


@pytest.mark.parametrize("criterion", CRITERIA)
@pytest.mark.parametrize("arch", ARCHS, ids=["yolov8n", "yolo11n"])
def test_every_criterion_prunes_to_nearest_multiples_and_runs(arch, criterion, run):
    dense, model, report = run(arch, importance=criterion, round_to=8)
    assert report["importance"] == criterion and report["importance_fn"].startswith("tp.importance.")
    assert n_params(model) == report["params_after"] < report["params_before"] == n_params(dense)
    assert report["gflops_after"] < report["gflops_before"]
    x = torch.rand(1, 3, TINY_IMGSZ, TINY_IMGSZ)
    assert outputs(model, x).shape == outputs(dense, x).shape
    # round_to: every conv that lost channels keeps a multiple of 8, and the total is near the amount.
    assert report["channels"] and all(after % 8 == 0 for _, after in report["channels"].values())
    assert abs(report["removable_reduction"] - AMOUNT) <= TOLERANCE
    # The DFL conv (fixed bin weights) and the whole Detect head are untouched.
    assert torch.equal(model.model[-1].dfl.conv.weight, dense.model[-1].dfl.conv.weight)
    assert not any(name.startswith(f"model.{len(model.model) - 1}.") for name in report["channels"])
    # As loaded: still frozen, and no gradient left behind in the checkpoint-to-be.
    assert not any(p.requires_grad or p.grad is not None for p in model.parameters())
    if criterion in ("taylor", "hessian"):
        calibration = report["calibration"]
        assert calibration["images"] == 4 and calibration["batches"] == 1  # the tiny context's batch is 4
        # taylor: one backward pass per batch; hessian: one per image (per-sample gradients for E[g^2]).
        assert calibration["backward_passes"] == (1 if criterion == "taylor" else 4)
        assert calibration["nonzero_gradients"] > 100
    else:
        assert "calibration" not in report


@pytest.mark.parametrize("arch", ARCHS, ids=["yolov8n", "yolo11n"])
def test_l1_removes_the_channels_a_direct_l1_computation_ranks_lowest(arch, run):
    """Layers 0 and 1: the group of conv i is its filters, its BatchNorm and the next block's input
    channels (model.1's conv; the C2f / C3k2 of model.2, whose first conv the rewrite split in two)."""
    dense, model, _ = run(arch, importance="l1", round_to=8)
    for i, consumer in ((0, dense.model[1].conv), (1, dense.model[2].cv1.conv)):
        conv, bn = dense.model[i].conv, dense.model[i].bn
        score = (conv.weight.abs().sum((1, 2, 3)) + bn.weight.abs() + consumer.weight.abs().sum((0, 2, 3)))
        kept = kept_by_gamma(bn, model.model[i].bn)
        expected = sorted(torch.argsort(score, descending=True)[: len(kept)].tolist())
        assert 0 < len(kept) < conv.out_channels
        assert kept == expected, f"model.{i}"


def test_taylor_and_hessian_use_the_training_gradients(run, other_data):
    arch = "yolov8n.yaml"
    l1 = bn_scales(run(arch, importance="l1", round_to=8)[1])
    taylor = bn_scales(run(arch, importance="taylor", round_to=8)[1])
    hessian = bn_scales(run(arch, importance="hessian", round_to=8)[1])
    assert l1.shape == taylor.shape == hessian.shape  # same counts per layer (per-layer amounts)...
    assert not torch.equal(taylor, l1) and not torch.equal(hessian, l1) and not torch.equal(taylor, hessian)
    # ... other training images, other gradients, other channels; the same images, the same channels.
    assert not torch.equal(bn_scales(run(arch, importance="taylor", round_to=8, data=other_data)[1]), taylor)
    assert torch.equal(bn_scales(run(arch, importance="taylor", round_to=8, repeat=1)[1]), taylor)


def test_group_norm_is_l2_over_the_whole_group(run):
    """Documented, not hoped: with group_reduction mean, group-norm and l2 are the same Torch-Pruning class
    and normaliser, so they pick the same channels; l2 over the conv's own filters only picks others."""
    arch = "yolov8n.yaml"
    l2 = bn_scales(run(arch, importance="l2", round_to=8)[1])
    assert torch.equal(bn_scales(run(arch, importance="group-norm", round_to=8)[1]), l2)
    assert not torch.equal(bn_scales(run(arch, importance="l2", round_to=8, group_reduction="first")[1]), l2)


def test_random_is_drawn_from_the_cell_seed(run):
    arch = "yolo11n.yaml"
    first = run(arch, importance="random", round_to=8)[1]
    same = run(arch, importance="random", round_to=8, repeat=1)[1]
    other = run(arch, importance="random", round_to=8, seed=1)[1]
    assert torch.equal(bn_scales(first), bn_scales(same))
    assert bn_scales(first).shape == bn_scales(other).shape and not torch.equal(bn_scales(first), bn_scales(other))


def test_hessian_scores_average_squared_gradients_over_every_sample():
    """Torch-Pruning 1.6.1's accumulate_grad kept only the last sample; ours averages them all, and
    HessianImportance then scores w^2 * E[g^2] over the group (conv filters and next conv's inputs)."""
    import torch_pruning as tp
    from prunebench_builtins.channel.criteria import FixedHessianImportance

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 1), nn.Conv2d(4, 3, 1))
    graph = tp.DependencyGraph().build_dependency(net, example_inputs=torch.rand(1, 2, 3, 3))
    imp = FixedHessianImportance()
    grads = {name: [] for name, _ in net.named_parameters()}
    for sample in torch.rand(5, 1, 2, 3, 3):
        net.zero_grad()
        net(sample).pow(2).sum().backward()
        imp.accumulate_grad(net)
        for name, p in net.named_parameters():
            grads[name].append(p.grad.clone())
    fisher = {name: torch.stack(g).pow(2).mean(0) for name, g in grads.items()}
    w0, w1 = net[0].weight.detach(), net[1].weight.detach()
    out_part = (w0 ** 2 * fisher["0.weight"]).sum((1, 2, 3))
    in_part = (w1 ** 2 * fisher["1.weight"]).sum((0, 2, 3))
    expected = (out_part + in_part) / 2
    expected = expected / expected.mean()  # Torch-Pruning's default 'mean' normaliser
    group = graph.get_pruning_group(net[0], tp.prune_conv_out_channels, list(range(4)))
    assert torch.allclose(imp(group), expected, rtol=1e-5)


# ----------------------------------------------------------------------------- round_to and selection


@pytest.mark.parametrize("strategy", [L1Channel, NetworkSlimming], ids=lambda s: s.name)
def test_round_to_keeps_the_nearest_multiple_in_the_presets(strategy, run):
    """yolo11n at 0.3 with round_to=8 (channel itself: test_every_criterion_... above)."""
    dense, model, report = run("yolo11n.yaml", strategy, round_to=8)
    assert report["channels"] and all(after % 8 == 0 for _, after in report["channels"].values())
    assert abs(report["removable_reduction"] - AMOUNT) <= TOLERANCE
    # channel_reduction also counts the neck convs tied to the whole head, which no group can cut.
    assert report["channel_reduction"] < report["removable_reduction"]
    x = torch.rand(1, 3, TINY_IMGSZ, TINY_IMGSZ)
    assert outputs(model, x).shape == outputs(dense, x).shape


def test_rounding_is_to_the_nearest_allowed_count():
    from prunebench_builtins.channel.selection import rounded_keep

    assert rounded_keep(64 * 0.7, 64, 8, 1) == 48  # 44.8: nearer 48 than 40 (rounding down gave 40)
    assert rounded_keep(16 * 0.7, 16, 8, 1) == 8  # 11.2: nearer 8 than 16
    assert rounded_keep(12.0, 16, 8, 1) == 16  # a tie keeps more
    assert rounded_keep(8 * 0.1, 8, 8, 1) == 8  # a layer of round_to channels stays whole
    assert rounded_keep(20 * 0.95, 20, 8, 1) == 20  # 19: the layer's own 20 is nearer than 16
    assert rounded_keep(3.0, 64, 8, 1) == 8  # never 0: at least round_to
    assert rounded_keep(64 * 0.7, 64, None, 1) == 45 and rounded_keep(16 * 0.7, 16, None, 1) == 11
    assert rounded_keep(64 * 0.05, 64, None, 7) == 7  # the floor (min_keep_ratio)


def test_global_selection_takes_the_lowest_scores_everywhere_above_each_floor():
    from prunebench_builtins.channel.selection import ScoredGroup, kept_counts

    groups = [ScoredGroup(None, None, torch.tensor([0.1, 0.2, 5.0, 6.0], dtype=torch.float64), convs=1, bns=1),
              ScoredGroup(None, None, torch.tensor([0.3, 4.0, 0.15, 7.0], dtype=torch.float64), convs=2, bns=2)]
    # 12 channel-convs in all, 0.5 asked: 6 go. By score: 0.1 (1), 0.15 (2), 0.2 (1), 0.3 (2) = 6.
    kept, threshold = kept_counts(groups, 0.5, round_to=None, global_pruning=True, min_keep_ratio=0.0)
    assert kept == [2, 2] and threshold == pytest.approx(0.3)
    # With a floor of half the channels, group 0 stops at 2 and the ranking moves on.
    kept, _ = kept_counts(groups, 0.9, round_to=None, global_pruning=True, min_keep_ratio=0.5)
    assert kept == [2, 2]


def test_global_channel_prunes_unevenly_to_the_amount_with_a_floor(run):
    report = run("yolov8n.yaml", importance="lamp", global_pruning=True, min_keep_ratio=0.2, amount=0.5)[2]
    assert report["selection"] == "global"
    assert abs(report["removable_reduction"] - 0.5) <= 0.005  # global: exact up to one channel's weight
    ratios = {round(after / before, 2) for before, after in report["channels"].values()}
    assert len(ratios) > 3
    assert all(after >= 0.2 * before for before, after in report["channels"].values())


def test_an_already_pruned_model_prunes_again(run, prunebench_tiny_data, tmp_path):
    """Iterative schedules prune the pruned model again: amount is then a fraction of its current widths."""
    _, pruned, first = run("yolov8n.yaml", importance="l1", round_to=8)
    model = copy.deepcopy(pruned)
    report = Channel(Channel.Params(importance="l1", round_to=8)).prune(
        model, AMOUNT, tiny_context(prunebench_tiny_data, tmp_path))
    assert report["params_before"] == first["params_after"] and report["params_after"] < report["params_before"]
    assert all(after % 8 == 0 for _, after in report["channels"].values())
    x = torch.rand(1, 3, TINY_IMGSZ, TINY_IMGSZ)
    assert outputs(model, x).shape == outputs(pruned, x).shape


# ----------------------------------------------------------------------------- errors and description


@pytest.mark.parametrize("criterion", ["taylor", "hessian"])
def test_a_gradient_criterion_without_a_dataset_says_what_is_missing(criterion, tmp_path):
    from prunebench import CellContext

    ctx = CellContext(device="cpu", seed=0, cache_dir=tmp_path, work_dir=tmp_path, imgsz=TINY_IMGSZ, batch=4)
    model = fresh("yolov8n.yaml")
    with pytest.raises(ValueError, match=rf"importance '{criterion}' .* TRAINING data, but this cell has no dataset"):
        Channel(Channel.Params(importance=criterion)).prune(model, AMOUNT, ctx)
    assert n_params(model) == n_params(_built("yolov8n.yaml"))  # failed before touching the model


def test_a_gradient_criterion_on_data_of_other_classes_fails_before_pruning(prunebench_tiny_data, tmp_path):
    model = fresh("yolov8n.yaml", nc=3)
    with pytest.raises(ValueError, match="the model predicts 3 classes but .* has 1"):
        Channel(Channel.Params(importance="taylor")).prune(model, AMOUNT, tiny_context(prunebench_tiny_data, tmp_path))
    assert n_params(model) == n_params(_built("yolov8n.yaml", 3))


def test_params_name_their_choices_and_reject_others():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Channel.Params(importance="l3")
    with pytest.raises(ValidationError):
        Channel.Params(round_to=0)
    for params in (Channel.Params, L1Channel.Params, NetworkSlimming.Params):
        assert all(field.description for field in params.model_fields.values()), params.__name__


def test_list_strategies_describes_channel_and_its_params(capsys):
    from prunebench.cli import main

    assert main(["list", "strategies"]) == 0
    out = capsys.readouterr().out
    section = out[out.index("## channel  "):]
    section = section[: section.index("\n## ")] if "\n## " in section else section
    for name in Channel.Params.model_fields:
        assert f"| {name} " in section, name
    for criterion in CRITERIA:
        assert criterion in section
    assert "TaylorImportance" in section and "calibration_batches" in section
