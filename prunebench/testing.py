"""A pytest plugin for strategy authors (installed through the `pytest11` entry point).

Fixtures (all imports lazy: pytest loads this module in every session of every project
that has prunebench installed):
  prunebench_plugins          the loaded plugins (built-ins and every installed third party's)
  prunebench_registry         their registry: registry.get("strategies", "my-strategy")
  prunebench_tiny_data        a tiny synthetic-buds dataset (PreparedDataset), made once per session
  prunebench_tiny_model       a fresh, untrained YOLOv8n DetectionModel (use it for shape checks)
  prunebench_ctx              a CellContext for calling strategy.prune() in a test
  prunebench_trained_baseline a YOLOv8n trained from scratch on synthetic buds at 64 px, once per
                              session (about 25 s of training on 2 idle CPU cores), so that the
                              kit can tell harm from noise: an untrained model scores 0 whatever
                              is done to it

And the conformance check a strategy author runs in their own test suite:

    from prunebench.testing import check_strategy

    def test_my_strategy_conforms(prunebench_registry, prunebench_tiny_data, prunebench_trained_baseline,
                                  tmp_path):
        report = check_strategy(prunebench_registry.get("strategies", "my-strategy"),
                                prunebench_tiny_data, tmp_path, baseline=prunebench_trained_baseline)
        assert report.passed, report
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

TINY_IMGSZ = 64

# The trained baseline: YOLOv8n from scratch on easy synthetic buds at 64 px. 128 images at batch 8 for 20
# epochs are 320 optimizer steps; measured on a 2-core CPU: 48 CPU-seconds of training (so about 25 s of wall
# clock on two idle cores; 125-168 s on a machine shared at load average 8), val mAP50 0.308, mAP50-95 0.077
# (10 epochs reached about half that). Deterministic: seeded, in Ultralytics' deterministic mode.
BASELINE_ARCH = "yolov8n.yaml"
BASELINE_DATA = {"train": 128, "val": 32, "imgsz": 64, "seed": 0, "difficulty": 0.0, "buds_per_image": (1, 3)}
BASELINE_EPOCHS, BASELINE_BATCH = 20, 8
BASELINE_MIN_MAP50 = 0.2  # below this a change in accuracy could not be told from noise: refuse to check with it

# The accuracy check prunes the trained baseline by SMALL_AMOUNT (no fine-tuning) and asks that it keeps this
# share of its mAP50. Measured at 0.05 on the baseline above: l1-unstructured 102 %, global-l1-unstructured
# 100 %; l1-channel and channel 94 %, fpgm-channel 99 %, channel with random importance 88-99 % (seeds 0-2);
# network-slimming 55 % and global l1 channel 60 % (a global ranking empties some layers far more than others,
# and slimming's |gamma| ranking means little without sparsity training); a strategy that zeroes half the DFL
# bins 0 %. Removing whole channels moves an un-fine-tuned nano model far more than zeroing its smallest
# weights, hence a threshold per kind, each loose enough for the built-ins and tight enough for breakage.
# (random-unstructured keeps 0 %, 102 % or 74 % with seeds 0, 1, 2: a random baseline may fail this check.)
SMALL_AMOUNT = 0.05
MIN_KEPT_SHARE = {"unstructured": 0.8, "structured": 0.4}

CHECKS = (
    "params validate",
    "prune returns a report",
    "requested amount is achieved",
    "protected layers are untouched",
    "pruned model runs and validates",
    "a small amount keeps a trained model's accuracy",
    "fine-tuning keeps the pruning",
    "save / YOLO(path) round trip keeps the pruning",
)


@pytest.fixture
def prunebench_plugins():
    from prunebench.plugin.loader import load_plugins

    return load_plugins()


@pytest.fixture
def prunebench_registry(prunebench_plugins):
    return prunebench_plugins.registry


@pytest.fixture(scope="session")
def prunebench_tiny_data(tmp_path_factory):
    return synthetic_buds(tmp_path_factory.mktemp("prunebench-tiny-data"), train=8, val=4, imgsz=TINY_IMGSZ, seed=0)


@pytest.fixture
def prunebench_tiny_model():
    return tiny_model()


@pytest.fixture
def prunebench_ctx(prunebench_tiny_data, tmp_path):
    return tiny_context(prunebench_tiny_data, tmp_path)


@pytest.fixture(scope="session")
def prunebench_trained_baseline(tmp_path_factory):
    """A trained YOLOv8n and its dataset (TrainedBaseline), trained once per pytest session in its tmp dir."""
    return trained_baseline(tmp_path_factory.mktemp("prunebench-trained-baseline"))


def synthetic_buds(folder: Path, **params):
    """A synthetic-buds dataset (PreparedDataset) written under `folder`."""
    from prunebench.plugin.loader import load_plugins

    source_cls = load_plugins().registry.get("datasets", "synthetic-buds")
    return source_cls(source_cls.Params(**params)).prepare(Path(folder))


def tiny_model(arch: str = "yolov8n.yaml", nc: int | None = None):
    """An untrained detection model built from an Ultralytics architecture YAML (`nc` classes, else the YAML's)."""
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    return DetectionModel(arch, nc=nc, verbose=False)


def tiny_context(dataset, work_dir: Path, seed: int = 0, imgsz: int = TINY_IMGSZ):
    from prunebench.plugin.base import CellContext

    return CellContext(device="cpu", seed=seed, cache_dir=Path(work_dir) / "cache", work_dir=Path(work_dir),
                       imgsz=imgsz, batch=4, dataset=dataset, log=lambda message: None)


@dataclass(frozen=True)
class TrainedBaseline:
    """A trained detection model to prune, with the dataset it was trained on and its own accuracy."""

    checkpoint: Path  # an Ultralytics checkpoint: `YOLO(checkpoint)` loads it
    dataset: Any  # PreparedDataset
    imgsz: int
    metrics: dict[str, float]  # precision, recall, map50, map50_95 on the dataset's val split
    train_seconds: float  # wall-clock seconds of training (0 when reused from the folder)
    train_cpu_seconds: float  # CPU seconds this process spent training (0 when reused)


def trained_baseline(folder: Path) -> TrainedBaseline:
    """Train the kit's baseline into `folder`, or reuse the one already there."""
    import torch

    from prunebench.yolo import checkpoints, training

    folder = Path(folder)
    dataset = synthetic_buds(folder, **BASELINE_DATA)
    checkpoint, summary = folder / "baseline.pt", folder / "baseline.json"
    imgsz = BASELINE_DATA["imgsz"]
    if checkpoint.is_file() and summary.is_file():
        metrics = json.loads(summary.read_text(encoding="utf-8"))["metrics"]
        return TrainedBaseline(checkpoint, dataset, imgsz, metrics, 0.0, 0.0)
    with torch.random.fork_rng():  # the same initial weights every session; the caller's RNG left alone
        torch.manual_seed(0)
        model = tiny_model(BASELINE_ARCH, nc=len(dataset.names))
    started, cpu_started = time.perf_counter(), time.process_time()
    model, _ = training.train(model, dataset.data_yaml, epochs=BASELINE_EPOCHS, imgsz=imgsz, batch=BASELINE_BATCH,
                              device="cpu", seed=0, work_dir=folder / "work", label="the kit's baseline training")
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    checkpoints.save_model(model, checkpoint)
    metrics = _validate_checkpoint(checkpoint, dataset, folder / "work", imgsz)
    if not metrics["map50"] >= BASELINE_MIN_MAP50:
        raise RuntimeError(
            f"the conformance kit's baseline reached mAP50 {metrics['map50']:.3f} after {BASELINE_EPOCHS} epochs, "
            f"under the {BASELINE_MIN_MAP50} it needs to tell harm from noise; with the same recipe it reached 0.31 "
            "when measured, so Ultralytics' training has changed: please report it with `pip list`")
    summary.write_text(json.dumps({"metrics": metrics, "train_seconds": seconds, "train_cpu_seconds": cpu_seconds})
                       + "\n", encoding="utf-8")
    return TrainedBaseline(checkpoint, dataset, imgsz, metrics, seconds, cpu_seconds)


class ConformanceFailure(AssertionError):
    """A check's verdict, with its message as the report shows it (not an `assert`: pytest rewrites those in
    plugin modules, and `python -O` drops them)."""


def _require(condition: Any, message: str) -> None:
    if not condition:
        raise ConformanceFailure(message)


@dataclass
class ConformanceReport:
    strategy: str
    checks: dict[str, str] = field(default_factory=dict)  # check name -> "ok" or what went wrong
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(result == "ok" for result in self.checks.values())

    def failed(self) -> list[str]:
        return [name for name, result in self.checks.items() if result != "ok"]

    def __str__(self) -> str:
        lines = [f"conformance of strategy {self.strategy!r}:"]
        lines += [f"  {'PASS' if r == 'ok' else 'FAIL'} {name}{'' if r == 'ok' else ': ' + r}"
                  for name, r in self.checks.items()]
        return "\n".join(lines)


def _params_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _conv_zero_masks(model) -> dict[str, Any]:
    import torch

    return {name: (m.weight == 0).clone() for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}


def check_strategy(strategy_cls, dataset, work_dir: Path, *, amount: float = 0.5, tolerance: float = 0.05,
                   params: dict[str, Any] | None = None, arch: str = "yolov8n.yaml", finetune_epochs: int = 1,
                   baseline: TrainedBaseline | None = None, small_amount: float = SMALL_AMOUNT,
                   min_kept_share: float | None = None) -> ConformanceReport:
    """Run a strategy through what prunebench will ask of it; every check is recorded, none raises.

    - params: the defaults validate, an unknown key is rejected;
    - amount: an unstructured strategy reaches `amount` sparsity over the layers it reports
      (`achieved_sparsity`) within `tolerance`; a structured one removes parameters;
    - protected layers: the Detect head's DFL conv keeps its fixed weights 0..reg_max-1 (they decode
      boxes), the last conv of each class branch keeps one output per class and of each box branch
      4 x reg_max outputs;
    - the pruned model runs a forward pass and validates with Ultralytics (from a saved checkpoint, as
      records are measured), with every metric finite and in [0, 1];
    - accuracy: `baseline` (the `prunebench_trained_baseline` fixture) pruned by `small_amount`, with no
      fine-tuning, keeps at least `min_kept_share` of its mAP50 (default MIN_KEPT_SHARE: 0.8 for an
      unstructured strategy, 0.4 for a structured one), and scores above 0; without a baseline this
      check fails and says how to pass one;
    - fine-tuning keeps the pruning (the zeros, or the smaller architecture);
    - the pruned, fine-tuned model survives a save / `ultralytics.YOLO(path)` round trip.
    """
    import torch
    from pydantic import ValidationError

    from prunebench.yolo import checkpoints, training

    work_dir = Path(work_dir)
    report = ConformanceReport(getattr(strategy_cls, "name", repr(strategy_cls)))

    def check(name: str, fn) -> Any:
        try:
            result = fn()
            report.checks[name] = "ok"
            return result
        except Exception as exc:  # the report says what failed; the author's test asserts on it
            report.checks[name] = str(exc) if isinstance(exc, ConformanceFailure) else f"{type(exc).__name__}: {exc}"
            return None

    def params_validate():
        validated = strategy_cls.Params.model_validate(params or {})
        try:
            strategy_cls.Params.model_validate({**(params or {}), "no_such_param_xyz": 1})
        except ValidationError:
            return validated
        raise ConformanceFailure("Params accepted an unknown key; subclass prunebench.Params (extra='forbid')")

    validated = check("params validate", params_validate)
    if validated is None:
        return report
    strategy = strategy_cls(validated)
    model = tiny_model(arch, nc=len(dataset.names))
    dense_params = _params_count(model)
    protected = ProtectedLayers.capture(model)
    ctx = tiny_context(dataset, work_dir)

    def prune():
        result = strategy.prune(model, amount, ctx)
        _require(isinstance(result, dict), f"prune() must return a dict report, got {type(result).__name__}")
        return result

    pruned = check("prune returns a report", prune)
    if pruned is None:
        return report
    report.details["prune_report"] = pruned

    def amount_achieved():
        if strategy.structured:
            after = _params_count(model)
            _require(after < dense_params, f"structured pruning left {after} of {dense_params} parameters")
            report.details["param_reduction"] = 1 - after / dense_params
            # What the built-in channel strategies report: over the channels a cut can reach when they say so
            # (YOLO11's neck convs tied to the whole Detect head are counted in channel_reduction but never cut).
            achieved = pruned.get("removable_reduction", pruned.get("channel_reduction"))
            if achieved is not None:
                _require(abs(achieved - amount) <= tolerance, f"asked {amount} of channels, removed {achieved:.4f}")
        else:
            achieved = pruned.get("achieved_sparsity")
            _require(achieved is not None, "an unstructured strategy reports `achieved_sparsity`")
            _require(abs(achieved - amount) <= tolerance, f"asked {amount}, achieved {achieved:.4f}")
            zeros = sum(int((p == 0).sum()) for p in model.parameters())
            _require(zeros > 0, "the model has no zeros")

    check("requested amount is achieved", amount_achieved)
    check("protected layers are untouched", lambda: protected.assert_kept(model))

    def runs_and_validates():
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, TINY_IMGSZ, TINY_IMGSZ))
        report.details["metrics"] = _validate_model(model, dataset, work_dir / "val", TINY_IMGSZ)

    check("pruned model runs and validates", runs_and_validates)

    def small_amount_keeps_accuracy():
        if baseline is None:
            raise ConformanceFailure("no trained model to check accuracy on: pass baseline=prunebench_trained_baseline "
                                 "(the kit's session fixture); an untrained model scores 0 whatever is done to it")
        share = min_kept_share if min_kept_share is not None else \
            MIN_KEPT_SHARE["structured" if strategy.structured else "unstructured"]
        before = baseline.metrics["map50"]
        trained = checkpoints.load_yolo(baseline.checkpoint).model  # as a cell loads it: frozen, eval mode
        guard = ProtectedLayers.capture(trained)
        strategy_cls(validated).prune(trained, small_amount, tiny_context(baseline.dataset, work_dir / "small",
                                                                         imgsz=baseline.imgsz))
        after = _validate_model(trained, baseline.dataset, work_dir / "small", baseline.imgsz)["map50"]
        report.details["accuracy"] = {"amount": small_amount, "map50_before": before, "map50_after": after,
                                      "min_kept_share": share}
        failures = [f"on the trained model too, {problem}" for problem in guard.problems(trained)]
        if not (after > 0 and after >= share * before):
            failures.insert(0, (
                f"pruning {small_amount:.0%} of a trained YOLOv8n took its mAP50 from {before:.3f} to {after:.3f}; "
                f"a {'structured' if strategy.structured else 'unstructured'} strategy must keep at least "
                f"{share:.0%} of it ({share * before:.3f}) at so small an amount. Something the model needs was "
                "pruned (the DFL conv? a head output? the wrong end of the ranking?)"))
        _require(not failures, "; ".join(failures))

    check("a small amount keeps a trained model's accuracy", small_amount_keeps_accuracy)

    keep = "structure" if strategy.structured else "masks"
    masks, params_before = _conv_zero_masks(model), _params_count(model)

    def finetune_keeps_pruning():
        trained, _ = training.train(model, dataset.data_yaml, epochs=finetune_epochs, imgsz=TINY_IMGSZ, batch=4,
                                    device="cpu", seed=0, work_dir=work_dir / "finetune", keep=keep)
        _assert_kept(trained, masks, params_before, keep)
        return trained

    trained = check("fine-tuning keeps the pruning", finetune_keeps_pruning)

    def round_trip():
        from prunebench.yolo.env import import_ultralytics

        import_ultralytics()
        from ultralytics import YOLO

        path = checkpoints.save_model(trained if trained is not None else model, work_dir / "pruned.pt")
        _assert_kept(YOLO(str(path)).model.float(), masks, params_before, keep)

    check("save / YOLO(path) round trip keeps the pruning", round_trip)
    return report


class ProtectedLayers:
    """What no strategy may change in a detection head: the DFL conv's fixed weights (the bin indices
    0..reg_max-1 that turn a distribution over bins into a box side) and the widths of the head's output
    convs (one output per class in each class branch, 4 x reg_max in each box branch)."""

    def __init__(self, dfl_weight, nc: int, reg_max: int):
        self.dfl_weight, self.nc, self.reg_max = dfl_weight, nc, reg_max

    @classmethod
    def capture(cls, model) -> "ProtectedLayers":
        head = _detect_head(model)
        dfl = getattr(getattr(head, "dfl", None), "conv", None)
        return cls(None if dfl is None else dfl.weight.detach().clone(), int(head.nc), int(head.reg_max))

    def problems(self, model) -> list[str]:
        import torch

        head = _detect_head(model)
        found = []
        dfl = getattr(getattr(head, "dfl", None), "conv", None)
        if self.dfl_weight is not None:
            if dfl is None or dfl.weight.shape != self.dfl_weight.shape:
                found.append(f"the DFL conv was removed or reshaped (was {tuple(self.dfl_weight.shape)})")
            elif not torch.equal(dfl.weight.detach().cpu().float(), self.dfl_weight.cpu().float()):
                changed = int((dfl.weight.detach().cpu().float() != self.dfl_weight.cpu().float()).sum())
                found.append(f"{changed} of the DFL conv's {self.dfl_weight.numel()} fixed weights changed (they are "
                             f"the bin indices 0..{self.reg_max - 1} that decode boxes; leave model.dfl alone, "
                             "as prunebench.yolo.prunable.prunable_convs does)")
        if int(head.nc) != self.nc:
            found.append(f"the head's class count changed from {self.nc} to {int(head.nc)}")
        for branches, want, what in (("cv3", self.nc, "class"), ("one2one_cv3", self.nc, "class"),
                                     ("cv2", 4 * self.reg_max, "box"), ("one2one_cv2", 4 * self.reg_max, "box")):
            for i, branch in enumerate(getattr(head, branches, None) or []):
                convs = [(n, m) for n, m in branch.named_modules() if isinstance(m, torch.nn.Conv2d)]
                if not convs:
                    continue
                name, last = convs[-1]
                outputs = last.weight.shape[0]
                if outputs != want or last.out_channels != want:
                    found.append(f"the {what} output conv {branches}.{i}.{name} has {outputs} outputs instead of "
                                 f"{want} ({'one per class' if what == 'class' else '4 sides x reg_max bins'}); "
                                 "a head's output convs must keep their widths")
        return found

    def assert_kept(self, model) -> None:
        found = self.problems(model)
        _require(not found, "; ".join(found))


def _detect_head(model):
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.nn.modules.head import Detect

    heads = [m for m in model.modules() if isinstance(m, Detect)]
    _require(heads, "the model has no Detect head any more")
    return heads[-1]


def _validate_model(model, dataset, work_dir: Path, imgsz: int) -> dict[str, float]:
    """Accuracy as a record measures it (the model saved, then `YOLO(path).val`), checked to be real numbers."""
    from prunebench.yolo import checkpoints

    path = checkpoints.save_model(model, Path(work_dir) / "validated.pt")
    return _validate_checkpoint(path, dataset, work_dir, imgsz)


def _validate_checkpoint(path: Path, dataset, work_dir: Path, imgsz: int) -> dict[str, float]:
    from prunebench.yolo import evaluate

    metrics = evaluate.evaluate(path, dataset.data_yaml, imgsz=imgsz, batch=16, device="cpu",
                                work_dir=Path(work_dir))["metrics"]
    bad = {k: v for k, v in metrics.items() if not (isinstance(v, float) and math.isfinite(v) and 0.0 <= v <= 1.0)}
    _require(not bad, f"validation gave metrics that are not numbers in [0, 1]: {bad}")
    _require(metrics["map50_95"] <= metrics["map50"] + 1e-9, f"mAP50-95 above mAP50: {metrics}")
    return metrics


def _assert_kept(model, masks, params_before: int, keep: str) -> None:
    if keep == "structure":
        after = _params_count(model)
        _require(after == params_before, f"the architecture changed: {params_before} -> {after} parameters")
        return
    now = _conv_zero_masks(model)
    lost = sum(int((masks[name] & ~now[name]).sum()) for name in masks if name in now)
    _require(lost == 0, f"{lost} pruned weights are no longer zero")
