"""`check_strategy`: a strategy run through what prunebench will ask of it, measured rather than trusted.

Every check is recorded in the report and none raises, so an author's test asserts `report.passed` and reads
every verdict at once. What the checks are and why: `check_strategy`'s docstring and
docs/writing-a-strategy-plugin.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prunebench.testing import measured
from prunebench.testing.baseline import TINY_IMGSZ, TrainedBaseline, tiny_context, tiny_model
from prunebench.testing.failures import ConformanceFailure, require
from prunebench.testing.protected import ProtectedLayers
from prunebench.testing.validation import validate_checkpoint

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
# How far a report's figure may be from the measured one. The built-ins' reports match to rounding (6 decimals
# for achieved_sparsity, 4 for channel_reduction); a report that says 0.50 where 0.25 was done is far beyond.
REPORT_TOLERANCE = 0.005

PARAMS, REPORT, NO_GRADIENTS = "params validate", "prune returns a report", "prune leaves no gradients"
AMOUNT, REPORT_MATCHES, PROTECTED = "requested amount is achieved", "the report matches the model", \
    "protected layers are untouched"
VALIDATES, ACCURACY = "pruned model runs and validates", "a small amount keeps a trained model's accuracy"
FINETUNE, ROUND_TRIP = "fine-tuning keeps the pruning", "save / YOLO(path) round trip keeps the pruning"
CHECKS = (PARAMS, REPORT, NO_GRADIENTS, AMOUNT, REPORT_MATCHES, PROTECTED, VALIDATES, ACCURACY, FINETUNE, ROUND_TRIP)


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


def as_the_runner_gives_it(model):
    """The state a cell hands a model to prune(): as `ultralytics.YOLO(path)` loads it, in eval mode with every
    parameter frozen (requires_grad=False), float32, on the CPU, no gradients (docs/strategy-contract.md)."""
    model.float().cpu().eval()
    for p in model.parameters():
        p.requires_grad_(False)
        p.grad = None
    return model


def check_strategy(strategy_cls, dataset, work_dir: Path, *, amount: float = 0.5, tolerance: float = 0.05,
                   params: dict[str, Any] | None = None, arch: str = "yolov8n.yaml", finetune_epochs: int = 1,
                   baseline: TrainedBaseline | None = None, small_amount: float = SMALL_AMOUNT,
                   min_kept_share: float | None = None,
                   report_tolerance: float = REPORT_TOLERANCE) -> ConformanceReport:
    """Run a strategy through what prunebench will ask of it; every check is recorded, none raises.

    The model is an untrained `arch` with the dataset's classes, handed over as a cell hands it (eval mode,
    frozen: `as_the_runner_gives_it`); counts are taken on it before and after `prune()` (testing.measured).

    - params: the defaults validate, an unknown key is rejected;
    - prune returns a dict report, and leaves no gradients behind (every `param.grad` None);
    - amount, measured: unstructured, the weights newly zeroed over the weights it prunes (its report's
      `prunable_weights`, else prunebench.pruning.prunable_convs) within `tolerance` of `amount`; structured,
      fewer parameters and the output channels removed over the prunable channels (or over the reported
      `removable_channels`, those a cut can reach) within `tolerance`;
    - the report matches the model: `achieved_sparsity` (unstructured) or `channel_reduction` and any
      `removed_channels` and `params_before` / `params_after` (structured) within `report_tolerance` of what was
      measured;
    - protected layers, by shape and value (testing.protected): the DFL conv keeps its fixed bins 0..reg_max-1,
      each head branch's output conv its width and a live weight in every output;
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

    validated = check(PARAMS, params_validate)
    if validated is None:
        return report
    strategy = strategy_cls(validated)
    with torch.random.fork_rng():  # the same untrained model every run; the caller's RNG left alone
        torch.manual_seed(0)
        model = as_the_runner_gives_it(tiny_model(arch, nc=len(dataset.names)))
    protected = ProtectedLayers.capture(model)
    before = measured.Counts.of(model)
    ctx = tiny_context(dataset, work_dir)

    def prune():
        result = strategy.prune(model, amount, ctx)
        require(isinstance(result, dict), f"prune() must return a dict report, got {type(result).__name__}")
        return result

    pruned = check(REPORT, prune)
    if pruned is None:
        return report
    report.details["prune_report"] = pruned

    def no_gradients():
        left = [name for name, p in model.named_parameters() if p.grad is not None]
        require(not left, f"prune() left gradients in {len(left)} parameters (e.g. {', '.join(left[:3])}); clear them "
                          "(model.zero_grad(set_to_none=True)) before returning: fine-tuning would add them to its "
                          "first step")

    check(NO_GRADIENTS, no_gradients)
    after = measured.Counts.of(model)
    figures = (measured.structured if strategy.structured else measured.unstructured)(before, after, pruned)
    report.details["measured"] = figures
    if strategy.structured:
        report.details["param_reduction"] = figures["param_reduction"]
    check(AMOUNT, lambda: measured.check_amount_achieved(figures, pruned, amount, tolerance, strategy.structured))
    check(REPORT_MATCHES, lambda: measured.check_report_matches(figures, pruned, report_tolerance,
                                                                strategy.structured))
    check(PROTECTED, lambda: protected.assert_kept(model))

    def runs_and_validates():
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, TINY_IMGSZ, TINY_IMGSZ))
        report.details["metrics"] = _validate_model(model, dataset, work_dir / "val", TINY_IMGSZ)

    check(VALIDATES, runs_and_validates)

    def small_amount_keeps_accuracy():
        if baseline is None:
            raise ConformanceFailure("no trained model to check accuracy on: pass baseline=prunebench_trained_baseline "
                                     "(the kit's session fixture); an untrained model scores 0 whatever is done to it")
        share = min_kept_share if min_kept_share is not None else \
            MIN_KEPT_SHARE["structured" if strategy.structured else "unstructured"]
        before_map = baseline.metrics["map50"]
        trained = checkpoints.load_yolo(baseline.checkpoint).model  # as a cell loads it: frozen, eval mode
        guard = ProtectedLayers.capture(trained)
        strategy_cls(validated).prune(trained, small_amount, tiny_context(baseline.dataset, work_dir / "small",
                                                                         imgsz=baseline.imgsz))
        after_map = _validate_model(trained, baseline.dataset, work_dir / "small", baseline.imgsz)["map50"]
        report.details["accuracy"] = {"amount": small_amount, "map50_before": before_map, "map50_after": after_map,
                                      "min_kept_share": share}
        failures = [f"on the trained model too, {problem}" for problem in guard.problems(trained)]
        if not (after_map > 0 and after_map >= share * before_map):
            failures.insert(0, (
                f"pruning {small_amount:.0%} of a trained YOLOv8n took its mAP50 from {before_map:.3f} to "
                f"{after_map:.3f}; a {'structured' if strategy.structured else 'unstructured'} strategy must keep at "
                f"least {share:.0%} of it ({share * before_map:.3f}) at so small an amount. Something the model needs "
                "was pruned (the DFL conv? a head output? the wrong end of the ranking?)"))
        require(not failures, "; ".join(failures))

    check(ACCURACY, small_amount_keeps_accuracy)

    keep = "structure" if strategy.structured else "masks"
    masks, params_before = _conv_zero_masks(model), _params_count(model)

    def finetune_keeps_pruning():
        trained, _ = training.train(model, dataset.data_yaml, epochs=finetune_epochs, imgsz=TINY_IMGSZ, batch=4,
                                    device="cpu", seed=0, work_dir=work_dir / "finetune", keep=keep)
        _assert_kept(trained, masks, params_before, keep)
        return trained

    trained = check(FINETUNE, finetune_keeps_pruning)

    def round_trip():
        from prunebench.yolo.env import import_ultralytics

        import_ultralytics()
        from ultralytics import YOLO

        path = checkpoints.save_model(trained if trained is not None else model, work_dir / "pruned.pt")
        _assert_kept(YOLO(str(path)).model.float(), masks, params_before, keep)

    check(ROUND_TRIP, round_trip)
    return report


def _validate_model(model, dataset, work_dir: Path, imgsz: int) -> dict[str, float]:
    """Accuracy as a record measures it (the model saved, then `YOLO(path).val`), checked to be real numbers."""
    from prunebench.yolo import checkpoints

    path = checkpoints.save_model(model, Path(work_dir) / "validated.pt")
    return validate_checkpoint(path, dataset, work_dir, imgsz)


def _assert_kept(model, masks, params_before: int, keep: str) -> None:
    if keep == "structure":
        after = _params_count(model)
        require(after == params_before, f"the architecture changed: {params_before} -> {after} parameters")
        return
    now = _conv_zero_masks(model)
    lost = sum(int((masks[name] & ~now[name]).sum()) for name in masks if name in now)
    require(lost == 0, f"{lost} pruned weights are no longer zero")
