"""Channel pruning on every detection family Ultralytics ships (issue 15): the matrix.

For the smallest scale of each shipped detection YAML (untrained, 64 px, one torch thread):
- the rewrites (prunebench.yolo.rewrites) compute exactly what the original blocks compute;
- check_channel_prunable's proof (dead channels removed through the graph move no output) passes;
- every built-in structured strategy in the registry prunes 0.3: parameters and GFLOPs drop, eval
  outputs keep their shapes, the blocks left whole are listed, and the pruned model survives
  save_model / ultralytics.YOLO(path) at its pruned size;
- once per family, the l1-channel-pruned model fine-tunes one epoch keeping its structure.
The COCO checkpoints in weights/ prune the same way. RT-DETR and non-detection models are
refused, each with its exact message.
"""

from __future__ import annotations

import copy
import functools
import math
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from prunebench.plugin.loader import load_plugins  # noqa: E402
from prunebench.testing import TINY_IMGSZ, tiny_context, tiny_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
AMOUNT = 0.3
NC = 1  # the classes of prunebench_tiny_data (synthetic buds)

# family -> (architecture, blocks rewritten, modules left whole besides the head).
FAMILIES = {
    "v3": ("yolov3-tiny.yaml", {}, []),
    "v5": ("yolov5n.yaml", {}, []),
    "v6": ("yolov6n.yaml", {}, []),
    "v8": ("yolov8n.yaml", {"C2f": 8}, []),
    "v9": ("yolov9t.yaml", {"ELAN1": 1, "RepNCSPELAN4": 7}, []),
    "v10": ("yolov10n.yaml", {"C2f": 7, "PSA": 1, "C2fCIB": 1}, ["model.10.attn"]),
    "11": ("yolo11n.yaml", {"C3k2": 8, "C2PSA": 1}, ["model.10.m.0.attn"]),
    "12": ("yolo12n.yaml", {"C3k2": 3}, [f"model.{i}.m.{j}.{k}.attn" for i in (6, 8) for j in (0, 1) for k in (0, 1)]),
    "26": ("yolo26n.yaml", {"C3k2": 8, "C2PSA": 1}, ["model.10.m.0.attn", "model.22.m.0.1.attn"]),
    # Blocks the nano families lack: C2 (P6), ADown (v9c), CBLinear + CBFuse (v9e, at a quarter width).
    "v8-p6": ("yolov8n-p6.yaml", {"C2f": 5, "C2": 6}, []),
    "v9c": ("yolov9c.yaml@0.25", {"RepNCSPELAN4": 8, "ADown": 5}, []),
    "v9e": ("yolov9e.yaml@0.25", {"RepNCSPELAN4": 12, "ADown": 8, "CBLinear": 5}, []),
}
FINE_TUNED = ("v3", "v5", "v6", "v8", "v9", "v10", "11", "12", "26")  # one per family; v8-p6 / v9c / v9e add blocks
PARAMS = {"network-slimming": {"sparsity_epochs": 0}}  # the matrix prunes by the baseline's own scales


def _structured_builtins() -> list[str]:
    """Every channel strategy prunebench ships, from the registry: a new one joins the matrix by itself."""
    registry = load_plugins().registry
    return sorted(name for name in registry.names("strategies")
                  if registry.get("strategies", name).structured
                  and registry.get("strategies", name).__module__.startswith("prunebench_builtins."))


STRATEGIES = _structured_builtins()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Two threads on two shared cores run these small convs several times slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ----------------------------------------------------------------------------- models


def _quarter_width(name: str, width: float) -> dict:
    """A shipped YAML at `width`: also the ELAN widths and CBLinear parts, which Ultralytics does not scale."""
    from ultralytics.nn.tasks import yaml_model_load

    cfg = copy.deepcopy(yaml_model_load(name))
    cfg["width_multiple"] = width

    def scaled(c: int) -> int:
        return max(8, int(c * width) // 8 * 8)

    for layer in cfg["backbone"] + cfg["head"]:
        kind, args = layer[2], layer[3]
        if kind in ("RepNCSPELAN4", "ELAN1"):
            args[1], args[2] = scaled(args[1]), scaled(args[2])
        elif kind == "SPPELAN":
            args[1] = scaled(args[1])
        elif kind == "CBLinear":
            args[0] = [scaled(c) for c in args[0]]
    return cfg


@functools.cache
def _dense(family: str):
    arch = FAMILIES[family][0]
    name, _, width = arch.partition("@")
    torch.manual_seed(0)
    return tiny_model(_quarter_width(name, float(width)) if width else name, nc=NC)


def dense(family: str):
    return copy.deepcopy(_dense(family))


def strategy(name: str):
    cls = load_plugins().registry.get("strategies", name)
    return cls(cls.Params(**PARAMS.get(name, {})))


_PRUNED: dict[tuple[str, str], tuple[nn.Module, dict]] = {}


def pruned(family: str, name: str, data, work: Path):
    """(model, report) of `family` pruned by strategy `name` at AMOUNT, made once: callers that change the
    model (train it) take a copy."""
    if (family, name) not in _PRUNED:
        model = dense(family)
        _PRUNED[family, name] = model, strategy(name).prune(model, AMOUNT, tiny_context(data, work))
    return _PRUNED[family, name]


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def outputs(model, x):
    """Eval-mode outputs: (decoded predictions, {raw head output name: tensor})."""
    model.eval()
    with torch.no_grad():
        y, raw = model(x)
    heads = raw.get("one2one", raw)
    return y, {k: v for k, v in heads.items() if k in ("boxes", "scores")}


def fused_flops(model) -> int:
    """FLOPs at 64 px of a fused copy (Conv+BN folded by Ultralytics' own fuse, RepConv / RepVGGDW included)."""
    from prunebench.measure.costs import count_flops, deployable_copy

    return count_flops(deployable_copy(model, torch.device("cpu")), TINY_IMGSZ)[0]


@functools.cache
def _dense_outputs(family: str):
    return outputs(copy.deepcopy(_dense(family)), image())


def randomize_batchnorms(model, seed: int = 0):
    """Random BN scales and shifts, statistics matched to the activations (else an untrained model's
    features fade with depth and its outputs hardly depend on them): a wrong copy shows in the outputs."""
    from prunebench.yolo.prunability import calibrate_batchnorms

    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=g) + 0.5
            m.bias.data = torch.rand(n, generator=g) - 0.5
    calibrate_batchnorms(model, TINY_IMGSZ, seed)
    return model


def image(seed: int = 1):
    return torch.rand(1, 3, TINY_IMGSZ, TINY_IMGSZ, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- the rewrites


@pytest.mark.parametrize("family", FAMILIES)
def test_rewrites_compute_exactly_what_the_blocks_compute(family):
    from ultralytics.nn.modules.block import C2f

    from prunebench.yolo import rewrites

    model = randomize_batchnorms(dense(family)).eval()
    before = {name: m for name, m in model.model.named_children()}
    norms = {(m.eps, m.momentum) for m in model.modules() if isinstance(m, nn.BatchNorm2d)}
    x = image()
    expected = outputs(model, x)[0]

    assert rewrites.split_blocks(model) == FAMILIES[family][1]
    assert outputs(model, x)[0].sub(expected).abs().max().item() == 0.0
    # The split convs keep Ultralytics' BatchNorm eps 1e-3 and momentum 0.03 (new ones would get 1e-5, 0.1).
    assert {(m.eps, m.momentum) for m in model.modules() if isinstance(m, nn.BatchNorm2d)} == norms == {(1e-3, 0.03)}
    for name, layer in model.model.named_children():  # Ultralytics' routing attributes survive
        assert (layer.f, layer.i, layer.type, layer.np) == (before[name].f, before[name].i, before[name].type,
                                                            before[name].np)
    assert not any(m.training for m in model.modules())
    assert rewrites.split_blocks(model) == {}  # idempotent

    for m in model.modules():  # Ultralytics' exporter runs C2f-family blocks through forward_split
        if isinstance(m, C2f):
            m.forward = m.forward_split
    assert outputs(model, x)[0].sub(expected).abs().max().item() == 0.0


def test_rewrites_keep_train_mode():
    from prunebench.yolo import rewrites

    model = dense("v10").train()
    assert rewrites.split_blocks(model)
    assert all(m.training for m in model.modules())


# ----------------------------------------------------------------------------- check_channel_prunable


@pytest.mark.parametrize("family", FAMILIES)
def test_removing_dead_channels_through_the_graph_moves_no_output(family):
    """check_channel_prunable's proof, on every family: also what proves the rewrites' graph mapping right."""
    from prunebench.yolo.channels import check_channel_prunable

    model = dense(family)
    params, kinds = n_params(model), [type(m) for m in model.modules()]
    assert check_channel_prunable(model) is None
    assert n_params(model) == params and [type(m) for m in model.modules()] == kinds  # a copy was proved on


def test_a2c2f_with_a_residual_gamma_is_left_whole_and_the_rest_pruned(prunebench_tiny_data, tmp_path):
    """YOLO12 l/x give A2C2f a learnable per-channel residual scale; here yolo12l at a quarter of its width."""
    from ultralytics.nn.tasks import yaml_model_load

    from prunebench.yolo.channels import check_channel_prunable

    cfg = copy.deepcopy(yaml_model_load("yolo12l.yaml"))
    cfg["scales"] = {"l": [0.5, 0.25, 512]}  # still scale "l", so A2C2f gets its gamma
    model = tiny_model(cfg, nc=NC)
    assert [n for n, _ in model.named_parameters() if n.endswith("gamma")] == ["model.6.gamma", "model.8.gamma"]
    check_channel_prunable(model)
    params = n_params(model)
    report = strategy("l1-channel").prune(model, AMOUNT, tiny_context(prunebench_tiny_data, tmp_path))
    whole = {e["module"]: e for e in report["blocks_left_whole"]}
    assert list(whole) == ["model.6", "model.8", "model.21"]
    assert whole["model.6"]["type"] == "A2C2f" and "residual scale (gamma" in whole["model.6"]["reason"]
    assert n_params(model) < 0.9 * params and model.model[6].gamma.numel() == model.model[6].cv2.conv.out_channels
    assert outputs(model, image())[0].shape == (1, 4 + NC, 84)


def test_a_block_that_still_chunks_is_named(monkeypatch):
    """Without the C2f rewrite, Torch-Pruning's graph maps C2f's chunk wrongly: the check says which block."""
    from ultralytics.nn.modules.block import C2f

    from prunebench.yolo import rewrites
    from prunebench.yolo.channels import check_channel_prunable

    monkeypatch.setattr(rewrites, "REWRITES", {k: v for k, v in rewrites.REWRITES.items() if k is not C2f})
    with pytest.raises(ValueError) as error:
        check_channel_prunable(dense("v8"))
    assert re.match(r"channel pruning cannot prune this model: block model\.21 \(C2f\) at model\.21\.m\.0\.cv2\.conv "
                    r"cannot be channel-pruned: Torch-Pruning failed to remove its channels \(IndexError: index \d+ "
                    r"is out of bounds for dimension 0 with size \d+\); the blocks reading it are model\.22 "
                    r"\(Detect\)\.", str(error.value))
    assert "add a rewrite to prunebench/yolo/rewrites.py" in str(error.value)


def test_a_block_that_halves_its_input_by_count_is_named(monkeypatch):
    """ADown as Ultralytics writes it (x.chunk(2)) after its producer lost unequal halves: named, not crashed."""
    import torch.nn.functional as F
    from ultralytics.nn.modules.block import ADown

    from prunebench.yolo import rewrites
    from prunebench.yolo.channels import check_channel_prunable

    class Chunking(rewrites.ADownSplit):
        def forward(self, x):
            x1, x2 = F.avg_pool2d(x, 2, 1, 0, False, True).chunk(2, 1)
            return torch.cat((self.cv1(x1), self.cv2(F.max_pool2d(x2, 3, 2, 1))), 1)

    monkeypatch.setitem(rewrites.REWRITES, ADown, Chunking)
    with pytest.raises(ValueError, match=r"^channel pruning cannot prune this model: block model\.3 \(ADown\) cannot "
                                         r"be channel-pruned: its forward raised RuntimeError: Given groups=1, "):
        check_channel_prunable(dense("v9c"))


def test_a_block_the_graph_maps_wrongly_is_caught_by_its_outputs(monkeypatch):
    """ADown sliced by `split`, as a first rewrite did: Torch-Pruning 1.6 maps the split's parts in reverse
    order, so it removes the wrong channels without any error; only the outputs show it."""
    import torch.nn.functional as F

    from prunebench.yolo import rewrites
    from prunebench.yolo.channels import check_channel_prunable

    def split_forward(self, x):
        x1, x2 = F.avg_pool2d(x, 2, 1, 0, False, True).split((self.cv1.conv.in_channels,
                                                                self.cv2.conv.in_channels), 1)
        return torch.cat((self.cv1(x1), self.cv2(F.max_pool2d(x2, 3, 2, 1))), 1)

    monkeypatch.setattr(rewrites.ADownSplit, "forward", split_forward)
    with pytest.raises(ValueError, match=r"^channel pruning cannot prune this model: block model\.\d+ "
                                         r"\(RepNCSPELAN4\) at model\.\d+\.cv4\.conv cannot be channel-pruned: "
                                         r"removing zeroed channels moved the head's outputs by up to [\d.e+]+; "
                                         r"the blocks reading it are model\.\d+ \(ADown\)"):
        check_channel_prunable(dense("v9c"))


REFUSAL = ("channel pruning cannot prune this model: its head {where} is {head}, {task} model. Channel strategies "
           "prune YOLO detection models (a Detect or v10Detect head: YOLOv3, v5, v6, v8, v9, v10, 11, 12, 26); use "
           "the detection variant of the architecture (e.g. yolo11n.yaml, not yolo11n-seg.yaml) or a detection "
           "checkpoint.")
RTDETR_REFUSAL = ("channel pruning cannot prune this model: its head model.28 is RTDETRDecoder (RT-DETR), a "
                  "transformer decoder whose query and attention widths are fixed, and prunebench does not train "
                  "RT-DETR. Channel strategies prune YOLO detection models (a Detect or v10Detect head: YOLOv3, v5, "
                  "v6, v8, v9, v10, 11, 12, 26); use one of those, e.g. `arch: yolo11n.yaml`.")
# arch -> (Ultralytics model class, head layer, head, task words)
NON_DETECTION = {
    "yolov8n-seg.yaml": ("SegmentationModel", "model.22", "Segment", "a segmentation", "segment"),
    "yolo11n-pose.yaml": ("PoseModel", "model.23", "Pose", "a pose-estimation", "pose"),
    "yolo11n-obb.yaml": ("OBBModel", "model.23", "OBB", "an oriented-box (OBB)", "obb"),
    "yolo11n-cls.yaml": ("ClassificationModel", "model.10", "Classify", "a classification", "classify"),
}


@functools.cache
def _other_model(arch: str):
    from ultralytics.nn import tasks

    cls = tasks.RTDETRDetectionModel if arch.startswith("rtdetr") else getattr(tasks, NON_DETECTION[arch][0])
    return cls(arch, nc=NC, verbose=False)


@pytest.mark.parametrize("arch", NON_DETECTION)
def test_non_detection_models_are_refused_before_pruning(arch):
    from prunebench.yolo.channels import check_channel_prunable

    _, where, head, task, _ = NON_DETECTION[arch]
    with pytest.raises(ValueError) as error:
        check_channel_prunable(_other_model(arch))
    assert str(error.value) == REFUSAL.format(where=where, head=head, task=task)


def test_rtdetr_is_refused_before_pruning():
    from prunebench.yolo.channels import check_channel_prunable

    with pytest.raises(ValueError) as error:
        check_channel_prunable(_other_model("rtdetr-l.yaml"))
    assert str(error.value) == RTDETR_REFUSAL


def test_a_model_that_is_not_ultralytics_is_refused():
    from prunebench.yolo.channels import check_channel_prunable

    with pytest.raises(ValueError) as error:
        check_channel_prunable(nn.Sequential(nn.Conv2d(3, 8, 3)))
    assert str(error.value) == (
        "channel pruning cannot prune this model: a Sequential is not an Ultralytics model (no `model` layer list). "
        "Channel strategies prune YOLO detection models (a Detect or v10Detect head: YOLOv3, v5, v6, v8, v9, v10, "
        "11, 12, 26).")


@pytest.mark.parametrize("arch, message", [
    ("rtdetr-l.yaml", ("arch 'rtdetr-l.yaml' is RT-DETR (its head is RTDETRDecoder), a transformer detector "
                       "prunebench does not support")),
    ("yolo11n-pose.yaml", ("arch 'yolo11n-pose.yaml' is not a detection architecture (its head is Pose); "
                           "for detection use yolo11n.yaml")),
    ("yolo11n-obb.yaml", ("arch 'yolo11n-obb.yaml' is not a detection architecture (its head is OBB); "
                          "for detection use yolo11n.yaml")),
    ("yolo11n-cls.yaml", ("arch 'yolo11n-cls.yaml' is not a detection architecture (its head is Classify); "
                          "for detection use yolo11n.yaml")),
    ("yolov8n-seg.yaml", ("arch 'yolov8n-seg.yaml' is not a detection architecture (its head is Segment); "
                          "for detection use yolov8n.yaml")),
])
def test_architectures_that_are_not_yolo_detectors_are_refused_by_name(arch, message):
    from prunebench_builtins.ultralytics_models import architectures

    with pytest.raises(ValueError) as error:
        architectures.resolve(arch)
    said, _, available = str(error.value).partition("; shipped detection architectures: ")
    assert said == message
    assert "yolo11{n,s,m,l,x}.yaml" in available and "rtdetr" not in available and "-seg" not in available


@pytest.mark.parametrize("arch", ["rtdetr-l.yaml", "yolo11n-pose.yaml", "yolo11n-obb.yaml", "yolov8n-seg.yaml"])
def test_checkpoints_that_are_not_yolo_detectors_are_refused_on_load(arch, tmp_path):
    from prunebench.yolo.checkpoints import load_yolo, save_model

    path = save_model(_other_model(arch), tmp_path / f"{Path(arch).stem}.pt", half=True)
    hint = ("`weights:` must be an Ultralytics detection checkpoint, such as the weights/best.pt that `yolo detect "
            "train` writes (YOLOv3/5/8/11 family)")
    if arch.startswith("rtdetr"):
        expected = (f"{path} holds an RT-DETR model (head: RTDETRDecoder), a transformer detector prunebench does "
                    f"not support; {hint}")
    else:
        _, _, head, _, task = NON_DETECTION[arch]
        expected = f"{path} holds a {task!r} model (head: {head}), not a detection model; {hint}"
    with pytest.raises(ValueError) as error:
        load_yolo(path)
    assert str(error.value) == expected


# ----------------------------------------------------------------------------- the matrix


def test_the_matrix_has_every_builtin_channel_strategy():
    assert {"l1-channel", "network-slimming"} <= set(STRATEGIES)
    assert all(load_plugins().registry.get("strategies", name).structured for name in STRATEGIES)


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("family", FAMILIES)
def test_channel_strategy_prunes_the_family(family, name, prunebench_tiny_data, tmp_path):
    from ultralytics import YOLO

    from prunebench.yolo.checkpoints import save_model

    reference = _dense(family)
    model, report = pruned(family, name, prunebench_tiny_data, tmp_path)

    # Untrained: every BatchNorm scale is 1.0, so network slimming's global ranking is all ties and may
    # take cheap channels (v10, 11, 12: GFLOPs -7 to -9 %); the per-layer criteria take about 40 %.
    assert report["params_before"] == n_params(reference)
    assert report["params_after"] == n_params(model) < 0.95 * n_params(reference)
    assert report["gflops_after"] < 0.95 * report["gflops_before"]
    assert report["channels"] and all(after < before for before, after in report["channels"].values())
    assert report["blocks_split"] == FAMILIES[family][1]
    head = f"model.{len(reference.model) - 1}"
    assert [e["module"] for e in report["blocks_left_whole"]] == FAMILIES[family][2] + [head]
    assert all(e["reason"] for e in report["blocks_left_whole"])

    x = image()
    (y_dense, raw_dense), (y, raw) = _dense_outputs(family), outputs(model, x)
    assert y.shape == y_dense.shape and (y.shape[1] == 4 + NC or y.shape[2] == 6)  # per anchor, or end-to-end
    assert {k: v.shape for k, v in raw.items()} == {k: v.shape for k, v in raw_dense.items()}

    path = save_model(model, tmp_path / "pruned.pt")
    loaded = YOLO(str(path)).model
    assert n_params(loaded) == n_params(model)
    assert torch.equal(outputs(loaded, x)[0], y)


@pytest.mark.parametrize("family", FINE_TUNED)
def test_pruned_family_fine_tunes_one_epoch(family, prunebench_tiny_data, tmp_path):
    from prunebench.yolo import training

    assert len(prunebench_tiny_data.names) == NC
    model = copy.deepcopy(pruned(family, "l1-channel", prunebench_tiny_data, tmp_path)[0])
    params = n_params(model)
    assert fused_flops(model) < 0.8 * fused_flops(_dense(family))  # fuse() works on every rewritten block
    trained, info = training.train(model, prunebench_tiny_data.data_yaml, epochs=1, imgsz=TINY_IMGSZ, batch=4,
                                   device="cpu", seed=0, work_dir=tmp_path / "ft", keep="structure")
    assert n_params(trained) == params
    assert info["loss_curve"] and all(math.isfinite(v) for row in info["loss_curve"] for k, v in row.items()
                                      if k.endswith("_loss"))
    assert outputs(trained, image())[0].shape == _dense_outputs(family)[0].shape


# ----------------------------------------------------------------------------- real COCO checkpoints


@pytest.mark.parametrize("weights", ["yolov8n.pt", "yolo11n.pt", "yolo26n.pt"])
def test_coco_checkpoints_prune_and_reload_smaller(weights, prunebench_tiny_data, tmp_path):
    from ultralytics import YOLO

    from prunebench.yolo.channels import check_channel_prunable
    from prunebench.yolo.checkpoints import load_model, save_model

    model = load_model(REPO / "weights" / weights)
    check_channel_prunable(model)
    x = image()
    shape, params = outputs(model, x)[0].shape, n_params(model)
    report = strategy("l1-channel").prune(model, AMOUNT, tiny_context(prunebench_tiny_data, tmp_path))
    assert report["params_after"] == n_params(model) < 0.8 * params
    assert report["gflops_after"] < 0.8 * report["gflops_before"]
    assert outputs(model, x)[0].shape == shape
    loaded = YOLO(str(save_model(model, tmp_path / weights))).model
    assert n_params(loaded) == n_params(model)


# ----------------------------------------------------------------------------- export


def test_a_pruned_model_with_every_rewrite_kind_exports_to_onnx_and_matches_torch(prunebench_tiny_data, tmp_path):
    """YOLOv10n holds C2f, C2fCIB and PSA rewrites; Ultralytics' exporter swaps in forward_split on the C2f ones."""
    import numpy as np

    from prunebench.yolo.checkpoints import load_model, save_model
    from prunebench.yolo.export import export_checkpoint, import_onnxruntime

    model, _ = pruned("v10", "l1-channel", prunebench_tiny_data, tmp_path)
    path = save_model(model, tmp_path / "pruned.pt")
    onnx = export_checkpoint(path, "onnx", imgsz=TINY_IMGSZ, out_dir=tmp_path / "onnx")
    session = import_onnxruntime().InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    x = image()
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    want = outputs(load_model(path), x)[0].numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * max(float(np.abs(want).max()), 1.0))


@pytest.mark.parametrize("family", ["11", "v9c"])
def test_a_pruned_model_passes_the_check_and_prunes_again(family, prunebench_tiny_data, tmp_path):
    """Iterative schedules prune the same model several times: the rewritten blocks (ADown's split by its
    convs' current widths, C2PSA's halves) stay right at their pruned widths."""
    from prunebench.yolo.channels import check_channel_prunable

    model = copy.deepcopy(pruned(family, "l1-channel", prunebench_tiny_data, tmp_path)[0])
    check_channel_prunable(model)
    params = n_params(model)
    report = strategy("l1-channel").prune(model, AMOUNT, tiny_context(prunebench_tiny_data, tmp_path))
    assert report["blocks_split"] == {}  # already rewritten
    assert n_params(model) < 0.8 * params
    assert outputs(model, image())[0].shape == _dense_outputs(family)[0].shape
