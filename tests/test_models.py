"""prunebench_builtins.ultralytics_models and prunebench.yolo.checkpoints: what a user points `weights:` / `arch:` at."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from prunebench_builtins.ultralytics_models import UltralyticsModel, architectures
from prunebench.plugin.base import CellContext, PreparedDataset
from tests.test_training import TINY_IMGSZ, tiny_model, write_tiny_dataset

REPO = Path(__file__).resolve().parents[1]


def source(**params) -> UltralyticsModel:
    return UltralyticsModel(UltralyticsModel.Params(**params))


def context(tmp_path: Path, data_yaml: Path | None = None, fingerprint: str = "tiny-v1") -> CellContext:
    dataset = None if data_yaml is None else PreparedDataset(
        data_yaml=data_yaml, names={0: "bud", 1: "leaf"}, synthetic=True, fingerprint=fingerprint)
    return CellContext(device="cpu", seed=0, cache_dir=tmp_path / "cache", work_dir=tmp_path / "work",
                       imgsz=TINY_IMGSZ, batch=4, dataset=dataset, log=lambda message: None)


# ---------------------------------------------------------------- params and checks (no torch)
def test_missing_weights_say_where_to_put_them(tmp_path):
    missing = tmp_path / "runs" / "best.pt"
    with pytest.raises(ValueError) as error:
        source(weights=str(missing)).check()
    assert str(error.value) == (
        f"model weights not found: {missing}. Put your trained Ultralytics detection checkpoint (e.g. the "
        f"runs/detect/train/weights/best.pt that `yolo detect train` writes) at {missing}, or point `weights:` "
        "at it, or use `arch: yolov8n.yaml` instead to train a baseline here")
    with pytest.raises(ValueError, match="^model weights not found"):
        source(weights=str(missing)).fingerprint()


@pytest.mark.parametrize("params, message", [
    ({}, "give exactly one of `weights:`"),
    ({"weights": "a.pt", "arch": "yolov8n.yaml"}, "give exactly one of `weights:`"),
    ({"arch": "yolov8n.yaml", "baseline": {"lr0": 0.01}}, "would be ignored by `optimizer: auto`"),
    ({"arch": "yolov8n.yaml", "baseline": {"epoch": 3}}, "Extra inputs are not permitted"),
    ({"arch": "yolov8n.yaml", "baseline": {"optimizer": "Lion"}}, "Input should be 'auto', 'SGD'"),
])
def test_params_reject_what_cannot_work(params, message):
    with pytest.raises(ValidationError, match=message):
        UltralyticsModel.Params(**params)


@pytest.mark.parametrize("arch, yaml_name, scale", [
    ("yolov8n.yaml", "yolov8.yaml", "n"),
    ("yolov5s.yaml", "yolov5.yaml", "s"),
    ("yolo11m.yaml", "yolo11.yaml", "m"),
    ("yolov3-tiny.yaml", "yolov3-tiny.yaml", ""),
    ("yolov10n.yaml", "yolov10n.yaml", "n"),
])
def test_shipped_architectures_resolve_like_ultralytics(arch, yaml_name, scale):
    found = architectures.resolve(arch)
    assert (found.yaml_path.name, found.scale, found.shipped) == (yaml_name, scale, True)


@pytest.mark.parametrize("arch, message", [
    ("yolov8n", r"^arch 'yolov8n' must be an architecture YAML, e.g. `arch: yolov8n.yaml`"),
    ("yolov8q.yaml", r"^arch 'yolov8q.yaml' is not an architecture Ultralytics [\d.]+ ships; shipped detection"),
    ("yolov8n-seg.yaml", r"^arch 'yolov8n-seg.yaml' is not a detection architecture \(its head is Segment\)"),
    ("yolov3n.yaml", r"^arch 'yolov3n.yaml': yolov3.yaml has no scale 'n'; it has no scales"),
    ("no/such/dir/my.yaml", r"^architecture YAML not found: .*no/such/dir/my.yaml"),
])
def test_unusable_architectures_list_the_shipped_detection_yamls(arch, message):
    with pytest.raises(ValueError, match=message) as error:
        source(arch=arch).check()
    assert "yolov8{n,s,m,l,x}.yaml" in str(error.value) and "yolov3-tiny.yaml" in str(error.value)
    assert "yolov8{n,s,m,l,x}-seg.yaml" not in str(error.value)


def test_own_architecture_yaml_is_fingerprinted_by_content(tmp_path):
    own = tmp_path / "my-yolov8n.yaml"
    own.write_bytes(architectures.resolve("yolov8n.yaml").yaml_path.read_bytes())
    first = source(arch=str(own)).fingerprint()
    own.write_text(own.read_text() + "\n# tweaked\n")
    second = source(arch=str(own)).fingerprint()
    assert first["arch_yaml_sha256"] != second["arch_yaml_sha256"]
    assert set(first) == {"arch", "arch_yaml_sha256", "ultralytics", "baseline"}
    assert first["baseline"]["epochs"] == UltralyticsModel.Params(arch="x.yaml").recipe.epochs


def test_weights_fingerprint_is_the_content_hash_remembered_until_the_file_changes(tmp_path):
    import os

    from prunebench.util import filehash

    weights = tmp_path / "w.pt"
    weights.write_bytes(b"first")
    os.utime(weights, (1e9, 1e9))  # older than filehash.RACY_SECONDS, so its digest may be remembered
    assert source(weights=str(weights)).fingerprint() == {"weights_sha256": hashlib.sha256(b"first").hexdigest()}
    assert filehash.StatCache(filehash.default_cache_file()).entries[str(weights.resolve())][3] == hashlib.sha256(b"first").hexdigest()
    weights.write_bytes(b"second, longer")
    assert source(weights=str(weights)).fingerprint()["weights_sha256"] == hashlib.sha256(b"second, longer").hexdigest()


def test_check_and_fingerprint_import_no_torch():
    code = ("import sys; from prunebench_builtins.ultralytics_models import UltralyticsModel as M; "
            "s = M(M.Params(arch='yolov8n.yaml')); s.check(); s.fingerprint(); "
            "print([m for m in ('torch', 'ultralytics') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- checkpoints on disk
def test_weights_load_as_a_detection_yolo(tmp_path):
    from prunebench.yolo.checkpoints import save_model
    from prunebench.yolo.training import count_parameters

    model = tiny_model()
    path = save_model(model, tmp_path / "best.pt")
    loaded = source(weights=str(path)).load(context(tmp_path))
    assert loaded.task == "detect"
    assert count_parameters(loaded.model) == count_parameters(model)


def test_a_truncated_checkpoint_is_a_clear_error(tmp_path):
    from prunebench.yolo.checkpoints import save_model

    path = save_model(tiny_model(), tmp_path / "best.pt")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"best.pt is not a readable PyTorch checkpoint: the file is empty, "
                                         r"truncated or corrupted \(copy it again\); `weights:` must be an "
                                         r"Ultralytics detection checkpoint"):
        source(weights=str(path)).load(context(tmp_path))


def test_a_state_dict_is_not_a_model_checkpoint(tmp_path):
    import torch

    path = tmp_path / "weights.pt"
    torch.save(tiny_model().state_dict(), path)
    with pytest.raises(ValueError, match=r"weights.pt is a PyTorch file but not an Ultralytics model checkpoint "
                                         r"\(it has no 'model' or 'ema' module, e.g. a bare state_dict\)"):
        source(weights=str(path)).load(context(tmp_path))


def test_a_classification_checkpoint_is_not_a_detector(tmp_path):
    from prunebench.yolo.checkpoints import save_model
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.nn.tasks import ClassificationModel

    path = save_model(ClassificationModel("yolov8n-cls.yaml", nc=3, verbose=False), tmp_path / "cls.pt")
    with pytest.raises(ValueError, match=r"cls.pt holds a 'classify' model \(head: Classify\), not a detection model"):
        source(weights=str(path)).load(context(tmp_path))


def test_save_model_half_writes_fp16_and_leaves_the_model_fp32(tmp_path):
    import torch

    from prunebench.yolo.checkpoints import save_model

    model = tiny_model()
    path = save_model(model, tmp_path / "half.pt", half=True)
    stored = torch.load(path, map_location="cpu", weights_only=False)["model"]
    assert next(stored.parameters()).dtype == torch.float16
    assert next(model.parameters()).dtype == torch.float32
    assert not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------- baselines from an architecture
@pytest.mark.slow
def test_baseline_is_trained_once_then_reused_from_the_cache(tmp_path, monkeypatch):
    from prunebench_builtins.ultralytics_models import loading
    from prunebench.yolo import training

    data_yaml = write_tiny_dataset(tmp_path / "data", train=8, val=4)
    recipe = {"epochs": 1, "imgsz": TINY_IMGSZ, "batch": 4, "seed": 0}
    ctx = context(tmp_path, data_yaml)

    first = source(arch="yolov8n.yaml", baseline=recipe).load(ctx)
    folders = list((ctx.cache_dir / "baselines").iterdir())
    best = [f for f in folders if f.is_dir()][0] / "best.pt"
    assert best.is_file() and (best.parent / "baseline.json").is_file()
    assert first.task == "detect" and len(first.model.names) == 2
    assert not (best.parent / "run").exists()

    def must_not_train(*args, **kwargs):
        raise AssertionError("the cached baseline was trained again")

    monkeypatch.setattr(training, "train_baseline", must_not_train)
    again = source(arch="yolov8n.yaml", baseline=recipe).load(ctx)
    assert again.ckpt_path == first.ckpt_path == str(best)

    # Another recipe or another dataset is another baseline.
    other_recipe = loading.baseline_dir(ctx.cache_dir, source(arch="yolov8n.yaml", baseline={**recipe, "seed": 1})
                                        .fingerprint(), "tiny-v1", "yolov8n")
    other_data = loading.baseline_dir(ctx.cache_dir, source(arch="yolov8n.yaml", baseline=recipe).fingerprint(),
                                      "tiny-v2", "yolov8n")
    assert len({best.parent, other_recipe, other_data}) == 3
    with pytest.raises(AssertionError, match="trained again"):
        source(arch="yolov8n.yaml", baseline=recipe).load(context(tmp_path, data_yaml, fingerprint="tiny-v2"))


def test_weights_must_be_a_pytorch_checkpoint(tmp_path):
    exported = tmp_path / "best.onnx"
    exported.write_bytes(b"onnx")
    with pytest.raises(ValueError, match=r"best.onnx is not a .pt file: give the PyTorch checkpoint Ultralytics "
                                         r"trained \(e.g. best.pt\); exports such as .onnx or .engine cannot be pruned"):
        source(weights=str(exported)).check()


# ---------------------------------------------------------------- pretrained weights: used as they are, or adapted
YOLO11N = REPO / "weights" / "yolo11n.pt"
TEA = REPO / "data" / "tea_bud" / "data.yaml"


def tea_context(tmp_path: Path) -> CellContext:
    names = {0: "good", 1: "bad", 2: "more_than_two"}
    dataset = PreparedDataset(data_yaml=TEA, names=names, synthetic=False, fingerprint="tea")
    return CellContext(device="cpu", seed=0, cache_dir=tmp_path / "cache", work_dir=tmp_path / "work",
                       imgsz=TINY_IMGSZ, batch=8, dataset=dataset, log=lambda message: None)


def test_the_shipped_weights_load_as_coco_detectors():
    from prunebench_builtins.ultralytics_models import file_sha256

    yolo = source(weights=str(YOLO11N)).load(context(Path("/nonexistent")))  # no dataset: nothing to compare with
    assert yolo.task == "detect" and len(yolo.model.names) == 80 and yolo.model.names[0] == "person"
    assert file_sha256(YOLO11N) == "0ebbc80d4a7680d14987a577cd21342b65ecfd94632bd9a8da63ae6417644ee1"


def test_weights_alone_with_other_classes_name_the_users_file(tmp_path):
    with pytest.raises(ValueError) as error:
        source(weights=str(YOLO11N)).load(tea_context(tmp_path))
    message = str(error.value)
    assert message.startswith(f"{YOLO11N} predicts 80 classes (person, bicycle, car, motorcycle, airplane, bus, ...) "
                              "but the dataset has 3 classes (good, bad, more_than_two)")
    assert "add a recipe to the model's params, e.g. `baseline: {epochs: 25, imgsz: 640, batch: 8}`" in message
    assert str(tmp_path / "cache") not in message


@pytest.mark.slow
def test_weights_with_a_baseline_recipe_are_adapted_once_with_a_new_head(tmp_path, monkeypatch):
    """`weights:` + `baseline:` is transfer learning: a 3-class head on the COCO backbone, trained on the suite's
    data, cached like a baseline trained from scratch; the backbone keeps the pretrained weights' values."""
    import torch

    from prunebench.yolo import training

    recipe = {"epochs": 1, "imgsz": TINY_IMGSZ, "batch": 8, "seed": 0}
    ctx = tea_context(tmp_path)
    adapted = source(weights=str(YOLO11N), baseline=recipe).load(ctx)
    assert adapted.model.names == {0: "good", 1: "bad", 2: "more_than_two"}
    assert adapted.model.model[-1].nc == 3
    folder = next(p for p in (ctx.cache_dir / "baselines").iterdir() if p.is_dir())
    assert folder.name.startswith("yolo11n-")
    pretrained = source(weights=str(YOLO11N)).load(context(tmp_path)).model
    first_conv = lambda m: next(x for x in m.modules() if isinstance(x, torch.nn.Conv2d)).weight.float()
    # One epoch at a small learning rate moves the first conv a little: it started from COCO, not from scratch.
    assert torch.allclose(first_conv(adapted.model), first_conv(pretrained), atol=0.05)

    monkeypatch.setattr(training, "train_baseline", lambda *a, **k: (_ for _ in ()).throw(AssertionError("again")))
    assert source(weights=str(YOLO11N), baseline=recipe).load(ctx).ckpt_path == adapted.ckpt_path
