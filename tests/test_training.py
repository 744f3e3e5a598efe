"""prunebench.yolo.training: fine-tuning keeps what pruning did (zeros, or the smaller architecture).

The helpers at the top (a tiny detection dataset written with numpy + cv2, an untrained
YOLOv8n, per-layer magnitude zeroing) are shared with test_evaluate.py and test_models.py.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

TINY_IMGSZ = 64


def write_tiny_dataset(root: Path, *, names=("bud", "leaf"), train: int = 8, val: int = 4, imgsz: int = TINY_IMGSZ,
                       seed: int = 0) -> Path:
    """A detection set in Ultralytics format: per image one filled ellipse (class 0) and, with two
    classes, one rectangle (class 1) on a noisy background. Returns the data YAML."""
    import cv2
    import numpy as np
    import yaml

    rng = np.random.default_rng(seed)
    root = Path(root)
    for split, count in (("train", train), ("val", val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            image = rng.integers(60, 120, (imgsz, imgsz, 3), dtype=np.uint8)
            lines = []
            for cls in range(len(names)):
                w, h = (int(v) for v in rng.integers(imgsz // 5, imgsz // 2, 2))
                cx = int(rng.integers(w // 2 + 1, imgsz - w // 2 - 1))
                cy = int(rng.integers(h // 2 + 1, imgsz - h // 2 - 1))
                if cls == 0:
                    cv2.ellipse(image, (cx, cy), (w // 2, h // 2), 0, 0, 360, (40, 200, 40), -1)
                else:
                    cv2.rectangle(image, (cx - w // 2, cy - h // 2), (cx + w // 2, cy + h // 2), (40, 40, 220), -1)
                lines.append(f"{cls} {cx / imgsz:.6f} {cy / imgsz:.6f} {w / imgsz:.6f} {h / imgsz:.6f}")
            cv2.imwrite(str(root / "images" / split / f"{index:03d}.png"), image)
            (root / "labels" / split / f"{index:03d}.txt").write_text("\n".join(lines) + "\n")
    data_yaml = root / "data.yaml"
    data_yaml.write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val",
                                         "names": dict(enumerate(names))}))
    return data_yaml


def tiny_model(nc: int = 2, arch: str = "yolov8n.yaml"):
    """An untrained detection model with `nc` classes (seeded, so runs compare)."""
    import torch

    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    return DetectionModel(arch, nc=nc, verbose=False)


def zero_smallest_half(model) -> int:
    """Per-layer magnitude pruning of every Conv2d but the fixed DFL conv; returns how many weights it zeroed."""
    import torch

    zeroed = 0
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Conv2d) and ".dfl" not in name:
                weight = module.weight
                threshold = weight.abs().flatten().kthvalue(max(1, weight.numel() // 2)).values
                small = weight.abs() <= threshold
                weight[small] = 0
                zeroed += int(small.sum())
    return zeroed


def yolo(path: Path):
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics import YOLO

    return YOLO(str(path))


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny-data"))


def fit(model, data_yaml, work_dir, **kwargs):
    from prunebench.yolo.training import train

    settings = dict(epochs=1, imgsz=TINY_IMGSZ, batch=4, device="cpu", seed=0, work_dir=work_dir)
    return train(model, data_yaml, **{**settings, **kwargs})


@pytest.mark.slow
def test_masks_survive_steps_ema_fp16_checkpoint_and_reload(tiny_data, tmp_path):
    import torch

    from prunebench.yolo.checkpoints import save_model
    from prunebench.yolo.training import ConvMasks

    model = tiny_model()
    zeroed = zero_smallest_half(model)
    masks = ConvMasks.capture(model)
    assert masks.count >= zeroed > 100_000
    before = {name: p.detach().clone() for name, p in model.named_parameters()}

    trained, info = fit(model, tiny_data, tmp_path / "finetune", keep="masks")

    assert trained is model  # this instance was trained, now holding the EMA weights
    assert masks.lost(trained) == 0
    changed = [n for n, p in trained.named_parameters() if not torch.equal(before[n], p)]
    assert len(changed) > 100, "training moved (almost) nothing"
    assert not trained.training and not any(p.requires_grad for p in trained.parameters())
    assert torch.equal(trained.model[-1].dfl.conv.weight.flatten(), torch.arange(16.0))  # DFL stays frozen
    assert info["epochs"] == 1 and info["train_seconds"] > 0 and info["kept_zeros"] == masks.count
    assert [row["epoch"] for row in info["loss_curve"]] == [1]
    assert set(info["loss_curve"][0]) == {"epoch", "box_loss", "cls_loss", "dfl_loss"}
    assert all(math.isfinite(v) for k, v in info["loss_curve"][0].items() if k != "epoch")

    # The trainer's own checkpoint holds the EMA in fp16: the zeros are there too.
    last = yolo(tmp_path / "finetune" / "train" / "weights" / "last.pt").model
    assert masks.lost(last) == 0

    path = save_model(trained, tmp_path / "pruned.pt")
    reloaded = yolo(path).model
    assert masks.lost(reloaded) == 0
    assert all(torch.equal(a, b) for a, b in zip(trained.state_dict().values(), reloaded.state_dict().values()))


@pytest.mark.slow
def test_regularize_runs_once_per_step_on_live_gradients_and_unkept_zeros_come_back(tiny_data, tmp_path):
    from prunebench.yolo.training import ConvMasks

    model = tiny_model()
    zero_smallest_half(model)
    masks = ConvMasks.capture(model)
    calls = []

    def regularize(m):
        assert m is model
        grads = [p.grad for p in m.parameters() if p.grad is not None]
        calls.append(sum(float(g.abs().sum()) for g in grads))

    trained, info = fit(model, tiny_data, tmp_path / "sparsity", epochs=2, keep="none", regularize=regularize)

    # 8 images at batch 4 = 2 backward passes per epoch, each followed by one step and one call.
    assert len(calls) == 4
    assert all(total > 0 for total in calls), "regularize must see the gradients of the backward pass"
    assert [row["epoch"] for row in info["loss_curve"]] == [1, 2]
    # Without keep="masks", Ultralytics' optimizer step and EMA bring the pruned weights back.
    assert masks.lost(trained) > masks.count // 2


def narrow_first_box_branch(model) -> None:
    """Halve the hidden width of the head's first box branch (two Conv blocks), as channel pruning would."""
    from ultralytics.nn.modules import Conv

    branch = model.model[-1].cv2[0]
    first, second = branch[0], branch[1]
    c_in, hidden = first.conv.in_channels, first.conv.out_channels
    branch[0] = Conv(c_in, hidden // 2, 3)
    branch[1] = Conv(hidden // 2, second.conv.out_channels, 3)


@pytest.mark.slow
def test_structure_keeps_the_smaller_architecture_through_training_and_reload(tiny_data, tmp_path):
    from prunebench.yolo.checkpoints import save_model
    from prunebench.yolo.training import count_parameters

    full = count_parameters(tiny_model())
    model = tiny_model()
    narrow_first_box_branch(model)
    smaller = count_parameters(model)
    assert smaller < full

    trained, _ = fit(model, tiny_data, tmp_path / "finetune", keep="structure")

    assert count_parameters(trained) == smaller
    assert count_parameters(yolo(save_model(trained, tmp_path / "pruned.pt")).model) == smaller
    # The model's YAML still describes the full width: rebuilding from it (what Model.train does) would widen it.
    assert count_parameters(tiny_model(arch=copy.deepcopy(trained.yaml))) == full


def test_unknown_keep_mode_is_rejected(tmp_path):
    from prunebench.yolo.training import train

    with pytest.raises(ValueError, match=r"^train\(keep='weights'\): keep must be one of none, masks, structure$"):
        train(object(), tmp_path / "data.yaml", epochs=1, imgsz=64, batch=1, device="cpu", seed=0,
              work_dir=tmp_path, keep="weights")


def test_a_head_for_other_classes_is_refused_before_training(tiny_data, tmp_path):
    model = tiny_model(nc=80)
    with pytest.raises(ValueError, match=r"^the model predicts 80 classes but .*data\.yaml has 2: fine-tuning keeps"):
        fit(model, tiny_data, tmp_path / "finetune")
    assert not (tmp_path / "finetune" / "train" / "weights" / "last.pt").exists()


def test_loss_curve_keeps_one_row_per_epoch_and_turns_nan_into_none():
    import torch

    from prunebench.yolo.training import LossCurve

    curve = LossCurve()
    curve.record(SimpleNamespace(epoch=1, tloss={"box_loss": torch.tensor(1.0), "cls_loss": torch.tensor(2.0)}))
    curve.record(SimpleNamespace(epoch=0, tloss={"box_loss": torch.tensor(float("nan")), "cls_loss": torch.tensor(3.0)}))
    curve.record(SimpleNamespace(epoch=0, tloss={"box_loss": torch.tensor(0.5), "cls_loss": torch.tensor(0.25)}))
    assert curve.rows() == [{"epoch": 1, "box_loss": 0.5, "cls_loss": 0.25}, {"epoch": 2, "box_loss": 1.0, "cls_loss": 2.0}]
    curve.record(SimpleNamespace(epoch=2, tloss={"box_loss": torch.tensor(float("inf"))}))
    assert curve.rows()[-1] == {"epoch": 3, "box_loss": None}


def test_conv_masks_reapply_zeros_and_count_what_came_back():
    import torch

    from prunebench.yolo.training import ConvMasks

    model = torch.nn.Sequential(torch.nn.Conv2d(2, 2, 1, bias=False), torch.nn.Conv2d(2, 2, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.0, 1.0], [2.0, 0.0]]).view(2, 2, 1, 1))
        model[1].weight.fill_(1.0)
    masks = ConvMasks.capture(model)
    assert list(masks.masks) == ["0"] and masks.count == 2  # the conv without zeros needs no mask
    with torch.no_grad():
        model[0].weight.add_(5.0)
    assert masks.lost(model) == 2
    masks.apply(model)
    assert masks.lost(model) == 0
    assert model[0].weight.flatten().tolist() == [0.0, 6.0, 7.0, 0.0]


@pytest.mark.slow
def test_the_sparsity_penalty_is_added_after_clipping_so_clipping_cannot_shrink_it(tiny_data, tmp_path):
    """Ultralytics' loss is summed over the batch, so its gradients are clipped hard (max norm 10). A penalty added
    before clipping shrank with them: on the real tea photos 20 epochs at s=0.05 moved the median |gamma| by 0.025.
    Added after clipping, the gradient the optimizer sees for gamma is the clipped loss gradient plus s*sign(gamma)."""
    import torch

    model = tiny_model()
    seen = []

    def regularize(m):
        grads = torch.cat([p.grad.flatten() for p in m.parameters() if p.grad is not None])
        seen.append(float(grads.norm()))  # the norm regularize is handed: already clipped to <= 10
        for bn in (x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d)):
            if bn.weight.grad is not None:
                bn.weight.grad.add_(1.0 * torch.sign(bn.weight))  # a penalty far larger than the clipped gradient

    before = torch.cat([bn.weight.detach().abs().flatten() for bn in model.modules()
                        if isinstance(bn, torch.nn.BatchNorm2d)]).median()
    trained, _ = fit(model, tiny_data, tmp_path / "sparsity", epochs=2, keep="none", regularize=regularize, lr0=0.01,
                     optimizer="SGD", warmup_epochs=0)
    after = torch.cat([bn.weight.detach().abs().flatten() for bn in trained.modules()
                       if isinstance(bn, torch.nn.BatchNorm2d)]).median()
    assert seen and max(seen) <= 10.0 + 1e-3  # regularize runs on clipped gradients
    # 4 SGD steps (momentum 0.937) at lr 0.01 with |grad| >= 1 on every gamma: at least 0.04 of drift, undamped.
    assert float(before - after) > 0.04, (float(before), float(after))


def test_sparsity_verdict_needs_near_dead_channels():
    from prunebench.run.cell_phases import sparsity_verdict

    before = {"p10": 0.55, "median": 0.96}
    assert sparsity_verdict(before, {"p10": 0.00001, "median": 0.24})["effective"] is True
    verdict = sparsity_verdict(before, {"p10": 0.49, "median": 0.89})
    assert verdict["effective"] is False and "no mass of near-dead channels" in verdict["reason"]
    assert sparsity_verdict(None, None)["effective"] is None


def test_auto_epochs_scale_with_the_training_split(tiny_data):
    from prunebench.yolo.training import resolve_epochs

    recipe = {"epochs": "auto", "min_steps": 150, "batch": 4}
    assert resolve_epochs(recipe, tiny_data) == (75, 150)  # 8 images at batch 4: 2 steps an epoch
    assert resolve_epochs({**recipe, "batch": 8}, tiny_data) == (150, 150)
    assert resolve_epochs({**recipe, "epochs": 3}, tiny_data) == (3, 6)
