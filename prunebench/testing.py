"""A pytest plugin for strategy authors (installed through the `pytest11` entry point).

Fixtures (all imports lazy: pytest loads this module in every session of every project
that has prunebench installed):
  prunebench_plugins    the loaded plugins (built-ins and every installed third party's)
  prunebench_registry   their registry: registry.get("strategies", "my-strategy")
  prunebench_tiny_data  a tiny synthetic-buds dataset (PreparedDataset), made once per session
  prunebench_tiny_model a fresh, untrained YOLOv8n DetectionModel (use it for shape checks)
  prunebench_ctx        a CellContext for calling strategy.prune() in a test

And the conformance check a strategy author runs in their own test suite:

    from prunebench.testing import check_strategy

    def test_my_strategy_conforms(prunebench_registry, prunebench_tiny_data, tmp_path):
        report = check_strategy(prunebench_registry.get("strategies", "my-strategy"),
                                prunebench_tiny_data, tmp_path)
        assert report.passed, report
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

TINY_IMGSZ = 64


@pytest.fixture
def prunebench_plugins():
    from prunebench.plugins import load_plugins

    return load_plugins()


@pytest.fixture
def prunebench_registry(prunebench_plugins):
    return prunebench_plugins.registry


@pytest.fixture(scope="session")
def prunebench_tiny_data(tmp_path_factory):
    from prunebench.plugins import load_plugins

    source_cls = load_plugins().registry.get("datasets", "synthetic-buds")
    source = source_cls(source_cls.Params(train=8, val=4, imgsz=TINY_IMGSZ, seed=0))
    return source.prepare(tmp_path_factory.mktemp("prunebench-tiny-data"))


@pytest.fixture
def prunebench_tiny_model():
    return tiny_model()


@pytest.fixture
def prunebench_ctx(prunebench_tiny_data, tmp_path):
    return tiny_context(prunebench_tiny_data, tmp_path)


def tiny_model(arch: str = "yolov8n.yaml", nc: int | None = None):
    """An untrained detection model built from an Ultralytics architecture YAML (`nc` classes, else the YAML's)."""
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    return DetectionModel(arch, nc=nc, verbose=False)


def tiny_context(dataset, work_dir: Path, seed: int = 0):
    from prunebench.base import CellContext

    return CellContext(device="cpu", seed=seed, cache_dir=Path(work_dir) / "cache", work_dir=Path(work_dir),
                       imgsz=TINY_IMGSZ, batch=4, dataset=dataset, log=lambda message: None)


@dataclass
class ConformanceReport:
    strategy: str
    checks: dict[str, str] = field(default_factory=dict)  # check name -> "ok" or what went wrong
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(result == "ok" for result in self.checks.values())

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
                   params: dict[str, Any] | None = None, arch: str = "yolov8n.yaml",
                   finetune_epochs: int = 1) -> ConformanceReport:
    """Run a strategy through what prunebench will ask of it; every check is recorded, none raises.

    - params: the defaults validate, an unknown key is rejected;
    - amount: an unstructured strategy reaches `amount` sparsity over the layers it reports
      (`achieved_sparsity`) within `tolerance`; a structured one removes parameters;
    - the pruned model runs a forward pass and Ultralytics validation;
    - fine-tuning keeps the pruning (the zeros, or the smaller architecture);
    - the pruned, fine-tuned model survives a save / `ultralytics.YOLO(path)` round trip.
    """
    import torch
    from pydantic import ValidationError

    from prunebench.yolo import checkpoints, evaluate, training

    work_dir = Path(work_dir)
    report = ConformanceReport(getattr(strategy_cls, "name", repr(strategy_cls)))

    def check(name: str, fn) -> Any:
        try:
            result = fn()
            report.checks[name] = "ok"
            return result
        except Exception as exc:  # the report says what failed; the author's test asserts on it
            report.checks[name] = f"{type(exc).__name__}: {exc}"
            return None

    def params_validate():
        validated = strategy_cls.Params.model_validate(params or {})
        try:
            strategy_cls.Params.model_validate({**(params or {}), "no_such_param_xyz": 1})
        except ValidationError:
            return validated
        raise AssertionError("Params accepted an unknown key; subclass prunebench.Params (extra='forbid')")

    validated = check("params validate", params_validate)
    if validated is None:
        return report
    strategy = strategy_cls(validated)
    model = tiny_model(arch, nc=len(dataset.names))
    dense_params = _params_count(model)
    ctx = tiny_context(dataset, work_dir)

    def prune():
        result = strategy.prune(model, amount, ctx)
        assert isinstance(result, dict), f"prune() must return a dict report, got {type(result).__name__}"
        return result

    pruned = check("prune returns a report", prune)
    if pruned is None:
        return report
    report.details["prune_report"] = pruned

    def amount_achieved():
        if strategy.structured:
            after = _params_count(model)
            assert after < dense_params, f"structured pruning left {after} of {dense_params} parameters"
            report.details["param_reduction"] = 1 - after / dense_params
            achieved = pruned.get("channel_reduction")  # what the built-in channel strategies report
            if achieved is not None:
                assert abs(achieved - amount) <= tolerance, f"asked {amount} of channels, removed {achieved:.4f}"
        else:
            achieved = pruned.get("achieved_sparsity")
            assert achieved is not None, "an unstructured strategy reports `achieved_sparsity`"
            assert abs(achieved - amount) <= tolerance, f"asked {amount}, achieved {achieved:.4f}"
            zeros = sum(int((p == 0).sum()) for p in model.parameters())
            assert zeros > 0, "the model has no zeros"

    check("requested amount is achieved", amount_achieved)

    def runs_and_validates():
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, TINY_IMGSZ, TINY_IMGSZ))
        result = evaluate.evaluate(model, dataset.data_yaml, imgsz=TINY_IMGSZ, batch=4, device="cpu",
                                   work_dir=work_dir / "val")
        assert "map50_95" in result["metrics"]

    check("pruned model runs and validates", runs_and_validates)

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


def _assert_kept(model, masks, params_before: int, keep: str) -> None:
    if keep == "structure":
        after = _params_count(model)
        assert after == params_before, f"the architecture changed: {params_before} -> {after} parameters"
        return
    now = _conv_zero_masks(model)
    lost = sum(int((masks[name] & ~now[name]).sum()) for name in masks if name in now)
    assert lost == 0, f"{lost} pruned weights are no longer zero"
