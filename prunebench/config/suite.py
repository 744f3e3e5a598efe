"""Suites: Pydantic models of the YAML a user writes, and load_suite() with file:line errors.

Validation runs in two steps: the suite's own structure (this module's models), then each
model / dataset / strategy entry is resolved by name through the plugin registry and its
`params` block is validated by that plugin's own Params model.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, ValidationError, WithJsonSchema,
                      field_validator, model_validator)

from prunebench.plugin.base import DatasetSource, ModelSource, Strategy
from prunebench.plugin.registry import Registry, UnknownNameError
from prunebench.config.yaml_lines import YamlError, line_for, load_with_lines
from prunebench.util.amount import Amount, target_text

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$"
# A record's file name is <model>.<dataset>.<label>.<amount>.s<seed>.<key>.json: 64 characters a name keeps it
# far below the 255 bytes a file system allows.
NAME_MAX = 64
SEED_MAX = 2**32 - 1  # Ultralytics seeds numpy, whose seeds are 0 .. 2**32 - 1
DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"


class _UserModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_UserModel):
    name: str = Field(pattern=NAME_PATTERN, max_length=NAME_MAX, description="Your label for this model; unique in the suite.")
    plugin: str = Field("ultralytics", description="The model plugin that builds or loads it.")
    params: dict[str, Any] = Field(default_factory=dict, description="Validated by the plugin's own params.")
    role: Literal["study", "reference"] = Field(
        "study", description="study: pruned by every strategy; reference: a dense model every pruned row is "
                             "compared with (adapted and fine-tuned like the others, never pruned).")
    datasets: list[str] | None = Field(
        None, min_length=1, description="Only these datasets (by name) for this model; default: every dataset. "
                                        "E.g. a checkpoint used as it is on the data it was trained for, and a "
                                        "second entry adapting it to another dataset.")


class ScheduleSettings(_UserModel):
    steps: int = Field(ge=2, description="Prune in this many steps, each followed by fine-tuning, reaching the "
                                         "amount (or the speed-up target) at the last step.")
    finetune_epochs_per_step: int = Field(ge=1, description="Fine-tuning epochs after each step; the total, steps x "
                                                            "this, is the cell's fine-tuning budget.")


class FinetuneOverride(_UserModel):
    """The fields of `finetune` a dataset or a strategy entry may set for itself (same meanings)."""

    epochs: int | Literal["auto"] | None = None
    min_steps: int | None = Field(None, ge=1)
    optimizer: Literal["SGD", "AdamW", "Adam", "auto"] | None = None
    lr0: float | None = Field(None, gt=0)
    warmup_epochs: float | None = Field(None, ge=0)
    imgsz: int | None = Field(None, ge=32)
    batch: int | None = Field(None, ge=1)
    amp: bool | Literal["bf16"] | None = None
    distill: Literal["dense", "none"] | None = None
    dis: float | None = Field(None, gt=0)


class DatasetEntry(_UserModel):
    name: str = Field(pattern=NAME_PATTERN, max_length=NAME_MAX, description="Your label for this dataset; unique in the suite.")
    plugin: str = Field("ultralytics", description="The dataset plugin: `ultralytics` (a data YAML) or `synthetic-buds`.")
    params: dict[str, Any] = Field(default_factory=dict, description="Validated by the plugin's own params.")
    finetune: FinetuneOverride | None = Field(
        None, description="This dataset's own fine-tuning recipe (fields of the suite's `finetune`), e.g. a gentle "
                          "learning rate for a model already trained on it; a strategy entry's `finetune` still "
                          "wins. Every cell on the dataset, its dense control included, gets it.")


def unique_seeds(seeds: list[int]) -> list[int]:
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds repeat: {seeds}")
    return seeds


# A suite's amount: written 0.3 or "2x", held as an Amount (parsed by StrategyEntry's validator), dumped as written.
AskedAmount = Annotated[Amount, PlainValidator(Amount.parse), PlainSerializer(Amount.suite_value),
                        WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}]})]


class StrategyEntry(_UserModel):
    name: str = Field(description="The pruning strategy, e.g. l1-unstructured.")
    label: str | None = Field(None, pattern=NAME_PATTERN, max_length=NAME_MAX, description="Distinguishes two entries of one strategy.")
    params: dict[str, Any] = Field(default_factory=dict, description="Validated by the strategy's own params.")
    amounts: list[AskedAmount] = Field(
        min_length=1, description="Fractions to prune, each strictly between 0 and 1 (0.3 = 30 %), or, for channel "
                                  "strategies, speed-up targets in GFLOPs written '2x', '1.5x', or measured on a "
                                  "deploy runtime the suite lists, written '2x@openvino-int8', '1.5x@torch' "
                                  "(docs/latency-targets.md).")
    schedule: ScheduleSettings | None = Field(
        None, description="Iterative pruning (channel strategies): prune in `steps` steps with fine-tuning between "
                          "them instead of at once; replaces `finetune.epochs` by steps x finetune_epochs_per_step.")
    finetune: FinetuneOverride | None = Field(
        None, description="This entry's own fine-tuning recipe (fields of the suite's `finetune`); the dense control "
                          "gets the same recipe, so the comparison stays fair.")
    seeds: list[Annotated[int, Field(ge=0, le=SEED_MAX)]] | None = Field(
        None, min_length=1,
        description="Run this entry at these of the suite's seeds only (the heaviest rows may keep fewer where time "
                    "forbids more; a dense control with this entry's own recipe runs at the same seeds); default: "
                    "every seed of the suite.")

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int] | None) -> list[int] | None:
        return None if seeds is None else unique_seeds(seeds)

    @field_validator("label")
    @classmethod
    def _not_reserved(cls, label: str | None) -> str | None:
        from prunebench.util.names import name_problem

        if label is not None and (problem := name_problem(label)):
            raise ValueError(problem)
        return label

    @field_validator("amounts", mode="before")
    @classmethod
    def _amounts_in_range(cls, amounts: Any) -> Any:
        """Parsed here, once, into `Amount`s (errors name the list, as the suite reference shows them)."""
        if not isinstance(amounts, list):
            return amounts  # pydantic says it is not a list
        parsed = [Amount.parse(amount) for amount in amounts]
        if len(set(parsed)) != len(parsed):
            raise ValueError(f"amounts repeat: {amounts}")
        return parsed

    @property
    def key(self) -> str:
        return self.label or self.name

    @property
    def targets(self) -> list[float]:
        return [a.target for a in self.amounts if a.target is not None]


# Fine-tuning defaults, chosen on validation splits only (the test splits chose nothing): AdamW at lr0 0.0005
# with Ultralytics' 3-epoch warm-up was the one recipe of seven whose dense control kept or beat the adapted
# model on both real datasets (tea photos val mAP50-95 52.5 -> 76.8, BCCD 62.4 -> 64.2) while recovering a
# 2x channel cut about as well as the best (docs/finetune-recipe.md; suites/experiments/). The old default,
# SGD at 0.01 without warm-up, took the BCCD control 4.8 points below the model it started from.
MIN_STEPS_DEFAULT = 150
OPTIMIZER_DEFAULT = "AdamW"
LR0_DEFAULT = 0.0005
WARMUP_EPOCHS_DEFAULT = 3.0


class FinetuneSettings(_UserModel):
    epochs: int | Literal["auto"] = Field(
        "auto", description="Fine-tuning epochs after pruning; 0 skips fine-tuning; auto: enough epochs for "
                            "`min_steps` optimizer steps on the dataset's training split (at least one epoch), so "
                            "the budget scales with the dataset.")
    min_steps: int = Field(MIN_STEPS_DEFAULT, ge=1, description="With `epochs: auto`: the fewest optimizer steps "
                                                                "(one per batch) fine-tuning takes.")
    optimizer: Literal["SGD", "AdamW", "Adam", "auto"] = Field(
        OPTIMIZER_DEFAULT, description="Ultralytics optimizer for fine-tuning; auto lets Ultralytics pick optimizer "
                                       "and learning rate as for training from scratch (ignores lr0). The default "
                                       "recipe (AdamW, lr0 0.0005, 3 warm-up epochs) is docs/finetune-recipe.md's.")
    lr0: float = Field(LR0_DEFAULT, gt=0, description="Initial learning rate of fine-tuning.")
    warmup_epochs: float = Field(WARMUP_EPOCHS_DEFAULT, ge=0, description="Ultralytics warm-up epochs (the "
                                 "learning rate ramps up from 0, the bias one down from 0.1; Ultralytics ends the "
                                 "warm-up before the last epoch); 0 starts at lr0 at once.")
    imgsz: int | None = Field(None, ge=32, description="Training image size; default: evaluation.imgsz.")
    batch: int | None = Field(None, ge=1, description="Training batch size; default: evaluation.batch.")
    amp: bool | Literal["bf16"] = Field(
        False, description="Mixed precision in fine-tuning, as Ultralytics' `amp`: false (fp32), true (fp16 autocast "
                           "with a gradient scaler, after Ultralytics' AMP check, skipped offline), bf16. CUDA only: "
                           "CPU training stays fp32. Each training run's record says what it used.")
    distill: Literal["dense", "none"] = Field(
        "none", description="dense: fine-tune with Ultralytics' knowledge distillation (ultralytics/nn/distill_model.py: "
                            "the neck features that feed Detect aligned to the teacher's through a 1x1 projector), "
                            "the teacher being the dense model the cell started from; through prunebench's own "
                            "training, so a pruned architecture and its masks are kept. The dense control of the "
                            "recipe distills too. none: plain fine-tuning.")
    dis: float = Field(6.0, gt=0, description="With `distill: dense`: the distillation loss weight (Ultralytics' `dis`).")


class MeasureSettings(_UserModel):
    latency: bool = Field(True, description="Measure latency and throughput on real validation images.")
    threads: int | None = Field(None, ge=1, description="Threads for timing; default: 1 on CPU (the steady figure: "
                                                        "on a 2-core machine a 5-call latency CV of 3.8 % with one "
                                                        "thread, 14 % with two), torch's own on GPU.")
    throughput_batch: int = Field(8, ge=1, description="Batch size for the throughput figure.")
    min_run_time: float = Field(1.0, gt=0, description="Seconds of timed runs per latency figure.")
    speedup_pairs: int = Field(15, ge=0, description="Pruned cells: time the pruned and the dense model in at least "
                                                     "this many alternating pairs for the speed-up (drift cancels), "
                                                     "then on until its 95 % interval is within speedup_halfwidth "
                                                     "or speedup_cap_s is reached (docs/speed-measurement.md); 0 "
                                                     "compares the cells' separate latencies instead.")
    speedup_halfwidth: float = Field(0.03, gt=0, lt=1, description="Stop timing pairs once the speed-up's 95 % "
                                                                    "interval lies within this fraction of it "
                                                                    "(0.03: ±3 %).")
    speedup_cap_s: float = Field(60.0, gt=0, description="Seconds of pair timing at most per speed-up of a cell; "
                                                         "the record says when the cap came before the width.")
    runtimes: list[Literal["torch", "onnxruntime"]] = Field(
        default_factory=lambda: ["torch"], min_length=1,
        description="Where latency is timed: torch (PyTorch eager) and/or onnxruntime (the kept model exported "
                    "to ONNX by Ultralytics; CPU provider, CUDA provider on a GPU when installed).")


class IntervalSettings(_UserModel):
    resamples: int = Field(1000, ge=0, le=100_000, description="Bootstrap resamples of the headline split's images "
                                                              "for the 95 % intervals of accuracy and of every Δ; "
                                                              "0 records no intervals.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of the resamples: records with the same seed and "
                                                         "resamples on the same images share them (a paired "
                                                         "bootstrap of any difference).")


# Deployment variants: how a kept model is deployed. torch = the kept .pt in PyTorch eager, FP32; the others are
# Ultralytics exports of it (prunebench.yolo.variants says how each is made and run).
DEPLOY_VARIANTS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")
DeployVariant = Literal["torch", "onnx", "onnx-int8", "openvino", "openvino-int8"]


class CalibrationSettings(_UserModel):
    max_images: int = Field(300, ge=1, le=100_000, description="INT8 exports calibrate on at most this many images of "
                                                               "the dataset's TRAIN split (evenly spaced), never on "
                                                               "the split that is reported.")


class EvaluationSettings(_UserModel):
    imgsz: int = Field(640, ge=32, description="Validation and latency image size (pixels).")
    batch: int = Field(16, ge=1, description="Validation batch size.")
    device: str = Field("auto", pattern=DEVICE_PATTERN, description="auto, cpu, cuda or cuda:N.")
    conf: float = Field(0.001, gt=0, lt=1, description="Validation confidence threshold.")
    iou: float = Field(0.7, gt=0, lt=1, description="Validation NMS IoU threshold.")
    split: Literal["auto", "val", "test"] = Field(
        "auto", description="The split whose accuracy is the headline: auto = test when the dataset has one (val "
                            "chose the baseline's best epoch, so val figures are optimistic), else val. Both are "
                            "recorded.")
    measure: MeasureSettings = Field(default_factory=MeasureSettings, description="Latency measurement settings.")
    intervals: IntervalSettings = Field(default_factory=IntervalSettings,
                                        description="How accuracy intervals are resampled.")
    deploy: list[DeployVariant] = Field(
        default_factory=lambda: ["torch"], min_length=1,
        description="How every cell's kept model is deployed, each a row of its own: torch (PyTorch FP32, as "
                    "trained), onnx / onnx-int8 (Ultralytics' ONNX export, FP32 or static INT8 through ONNX "
                    "Runtime's quantizer, run in ONNX Runtime), openvino / openvino-int8 (Ultralytics' OpenVINO "
                    "export, FP32 or INT8 through NNCF; needs the `openvino` extra). Each variant is validated "
                    "on the exported file itself and timed in its own runtime; no cell is retrained for a "
                    "variant. With any export here, every row (torch too) is validated with rect=False, the "
                    "setting Ultralytics forces on a static export, so the drop is the conversion's alone. "
                    "Must start with torch.")
    smaller_inputs: list[Annotated[int, Field(ge=32)]] = Field(
        default_factory=list, description="Also evaluate and time each model's dense model (as loaded or adapted, "
                                          "never pruned) at these smaller input sizes, e.g. [384, 320] when imgsz "
                                          "is 480: references every pruned row is compared with in \"Dominated "
                                          "by\" (the cheapest thing a deployer can try).")
    calibration: CalibrationSettings = Field(default_factory=CalibrationSettings,
                                             description="Calibration of the INT8 variants.")

    @field_validator("deploy")
    @classmethod
    def _deploy_list(cls, deploy: list[str]) -> list[str]:
        if len(set(deploy)) != len(deploy):
            raise ValueError(f"deploy variants repeat: {deploy}")
        if deploy[0] != "torch":
            raise ValueError(f"deploy must start with torch (the kept model as trained, which every export is made "
                             f"from and compared with): write [torch, {', '.join(d for d in deploy if d != 'torch')}]")
        return deploy

    @model_validator(mode="after")
    def _smaller_inputs(self) -> "EvaluationSettings":
        bigger = [s for s in self.smaller_inputs if s >= self.imgsz]
        if bigger or len(set(self.smaller_inputs)) != len(self.smaller_inputs):
            raise ValueError(f"smaller_inputs {self.smaller_inputs} must be distinct sizes below imgsz {self.imgsz} "
                             "(e.g. [384, 320] at imgsz 480)")
        odd = [s for s in self.smaller_inputs if s % 32]
        if odd:
            raise ValueError(f"smaller_inputs {odd} are not multiples of 32 (a YOLO detector's largest stride): "
                             "Ultralytics would round them up; write the size it runs at (e.g. 320, 352, 384)")
        return self

    @property
    def exports(self) -> list[str]:
        """The variants other than torch."""
        return [d for d in self.deploy if d != "torch"]


class ExecutorSettings(_UserModel):
    name: str = Field("local", description="Executor plugin: local (default) or ray.")
    params: dict[str, Any] = Field(default_factory=dict, description="Validated by the executor's own params.")


class LiteratureFigure(_UserModel):
    source: str = Field(min_length=1, max_length=300, description="Who reported it, with a link where there is one.")
    model: str = Field(min_length=1, max_length=100, description="The model it was reported for, e.g. YOLOv5x.")
    dataset: str = Field(min_length=1, max_length=100, description="The data it was measured on, e.g. COCO val2017.")
    setting: str = Field(min_length=1, max_length=200, description="What was done, e.g. per-layer L1 30 %, no "
                                                                   "fine-tuning.")
    metric: str = Field(min_length=1, max_length=100, description="The metric as its source computed it, e.g. "
                                                                  "mAP50-95 (pycocotools).")
    value: float = Field(allow_inf_nan=False, description="The published value, in the source's own units.")
    note: str = Field("", max_length=300, description="Anything a reader needs to compare it fairly.")


class Suite(_UserModel):
    name: str = Field(pattern=NAME_PATTERN, max_length=NAME_MAX, description="The suite's name; results go to results/<name>.")
    description: str = Field("", description="Free text, shown nowhere but here.")
    models: list[ModelEntry] = Field(min_length=1, description="The dense models to prune.")
    datasets: list[DatasetEntry] = Field(min_length=1, description="Datasets to fine-tune and evaluate on.")
    strategies: list[StrategyEntry] = Field(default_factory=list, description="Empty: dense baselines only.")
    seeds: list[Annotated[int, Field(ge=0, le=SEED_MAX)]] = Field(default_factory=lambda: [0], min_length=1,
                             description="One cell per seed; leaderboards combine the seeds with the resampled "
                                         "images in every interval.")
    baseline_per_seed: bool = Field(
        False, description="Train (or adapt) each model's dense baseline once per seed, with that seed, so the "
                           "seeds vary the whole chain (baseline, pruning, fine-tuning) and the intervals include "
                           "the baseline's own spread; false: one baseline (its recipe's seed) for every seed, "
                           "which only varies fine-tuning. Costs one baseline training per seed.")
    finetune: FinetuneSettings = Field(default_factory=FinetuneSettings, description="Fine-tuning after pruning.")
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings,
                                           description="Validation and measurement settings.")
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings, description="Where cells run.")
    cell_time_limit: float | None = Field(
        None, gt=0, description="Seconds one cell may run before it fails with a time-limit error (a strategy that "
                                "hangs); none by default. Each record notes the limit it ran under.")
    results: str | None = Field(None, description="Results folder; default results/<name>, relative to where you run.")
    literature: list[LiteratureFigure] = Field(
        default_factory=list, max_length=100,
        description="Published figures to show beside the measured rows, in their own labelled table of the "
                    "leaderboard, never ranked with them (measured elsewhere, on other data and hardware).")
    keep_models: Literal["all", "none"] = Field(
        "all", description="all: keep every ok cell's final model as an Ultralytics checkpoint in "
                           "<results>/models/ (`yolo val`, `prunebench export` and `prunebench measure` use it); "
                           "none: delete it after the cell.")

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        return unique_seeds(seeds)

    @model_validator(mode="after")
    def _strategy_seeds_are_the_suites(self) -> "Suite":
        for strategy in self.strategies:
            if any(seed not in self.seeds for seed in strategy.seeds or []):
                raise ValueError(f"strategy {strategy.key!r} has seeds {strategy.seeds}: give each once, from the "
                                 f"suite's seeds {self.seeds}")
        idle = [seed for seed in self.seeds if self.strategies
                and not any(s.seeds is None or seed in s.seeds for s in self.strategies)]
        if idle:
            raise ValueError(f"seeds {idle} run no strategy entry (each entry's `seeds:` leaves them out), so they "
                             "would train baselines for nothing: drop them from the suite's seeds or give them to "
                             "an entry")
        return self

    @model_validator(mode="after")
    def _known_datasets(self) -> "Suite":
        names = [d.name for d in self.datasets]
        for model in self.models:
            unknown = [n for n in model.datasets or [] if n not in names]
            if unknown:
                raise ValueError(f"model {model.name!r} names datasets {unknown} that the suite does not have; "
                                 f"its datasets are: {', '.join(names)}")
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> "Suite":
        for field, names in (
            ("models", [m.name for m in self.models]),
            ("datasets", [d.name for d in self.datasets]),
            ("strategies", [s.key for s in self.strategies]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                hint = " (give each a distinct `label`)" if field == "strategies" else ""
                raise ValueError(f"duplicate {field} names {dupes}: each name must be unique{hint}")
        return self


@dataclass(frozen=True)
class Resolved:
    """A suite entry bound to its plugin class and validated params."""

    entry: ModelEntry | DatasetEntry | StrategyEntry
    cls: type
    params: Any  # the plugin's Params instance
    base_dir: Path | None = None  # the suite file's folder: relative paths in params resolve against it
    plugin: dict[str, Any] | None = None  # Registry.plugin_identity of the plugin that registered `cls`

    def instance(self):
        return self.cls(self.params, base_dir=self.base_dir)


@dataclass(frozen=True)
class LoadedSuite:
    suite: Suite
    path: Path | None
    models: dict[str, Resolved]
    datasets: dict[str, Resolved]
    strategies: dict[str, Resolved]

    @property
    def results_dir(self) -> Path:
        from prunebench.util.safe_paths import user_path

        return user_path(self.suite.results or f"results/{self.suite.name}")


MAX_PROBLEM_CHARS = 800  # one problem's line (a paragraph naming two long paths fits); a value quoted in it is cut far shorter
MAX_PROBLEMS = 30


def clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


class SuiteError(ValueError):
    """One or more problems in a suite, each 'file:line: path: message', each line and their number bounded (a
    value that a user quoted back at them must not make the message megabytes long)."""

    def __init__(self, problems: list[str]):
        shown = [clipped(p, MAX_PROBLEM_CHARS) for p in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS} more problems")
        self.problems = shown
        super().__init__("\n".join(shown))


def _fmt_path(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def _pydantic_problems(exc: ValidationError, prefix: tuple, model: type[BaseModel] | None) -> list[tuple[tuple, str]]:
    problems = []
    for error in exc.errors():
        loc = prefix + tuple(p for p in error["loc"] if p not in ("function-after",))
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, error["loc"][:-1]) if model else []
            message = f"unknown key {str(loc[-1])!r}"
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
            if allowed:
                message += f" Allowed keys: {', '.join(allowed)}"
        elif error["type"] == "missing":
            message = f"required key {str(loc[-1])!r} is missing"
        else:
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] not in ("value_error", "assertion_error") and "input" in error:
                message += f" (got {clipped(repr(error['input']), 80)})"
        problems.append((loc, message))
    return problems


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names accepted at loc inside model (walks nested models and lists)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return []
        annotation = current.model_fields[part].annotation
        args = getattr(annotation, "__args__", ())
        current = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def load_suite(path: Path, registry: Registry, broken_plugins: list[str] = ()) -> LoadedSuite:
    """Read, validate and resolve a suite file; raise SuiteError with file:line messages."""
    path = Path(path)
    try:
        data, lines = load_with_lines(path)
    except YamlError as exc:
        raise SuiteError([str(exc)]) from None
    return validate_suite(data, registry, source=str(path), lines=lines, path=path, broken_plugins=broken_plugins)


def validate_suite(
    data: Any,
    registry: Registry,
    *,
    source: str = "<suite>",
    lines: dict[tuple, int] | None = None,
    path: Path | None = None,
    broken_plugins: list[str] = (),
) -> LoadedSuite:
    lines = lines or {}

    def where(loc: tuple) -> str:
        line = line_for(lines, loc)
        return f"{source}:{line}" if line else source

    def fail(problems: list[tuple[tuple, str]]):
        raise SuiteError([f"{where(loc)}: {_fmt_path(loc) or '(top level)'}: {msg}" for loc, msg in problems])

    if not isinstance(data, dict):
        fail([((), f"a suite is a mapping of keys (name, models, datasets, ...), got {type(data).__name__}")])
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        fail(_pydantic_problems(exc, (), Suite))

    problems: list[tuple[tuple, str]] = []
    resolved: dict[str, dict[str, Resolved]] = {"models": {}, "datasets": {}, "strategies": {}}
    groups = (
        ("models", suite.models, "plugin", ModelSource),
        ("datasets", suite.datasets, "plugin", DatasetSource),
        ("strategies", suite.strategies, "name", Strategy),
    )
    for kind, entries, name_field, base in groups:
        for index, entry in enumerate(entries):
            plugin_name = getattr(entry, name_field)
            try:
                cls = registry.get(kind, plugin_name)
            except UnknownNameError as exc:
                message = str(exc)
                if broken_plugins:
                    message += f" (plugins that failed to load: {', '.join(broken_plugins)}; see `prunebench plugins`)"
                problems.append(((kind, index, name_field), message))
                continue
            try:
                params = cls.Params.model_validate(entry.params)
            except ValidationError as exc:
                problems.extend(_pydantic_problems(exc, (kind, index, "params"), cls.Params))
                continue
            if isinstance(entry, StrategyEntry) and not getattr(cls, "structured", False):
                if entry.targets:
                    first = next(a for a in entry.amounts if a.is_target).suite_value()
                    problems.append(((kind, index, "amounts"), (
                        f"{entry.name!r} prunes weights inside tensors of unchanged shape, so its GFLOPs never drop on "
                        f"dense kernels: speed-up targets such as {first!r} need a channel strategy "
                        "(l1-channel, network-slimming, channel); give fractions such as 0.3 instead")))
                if entry.schedule is not None:
                    problems.append(((kind, index, "schedule"), (
                        f"iterative schedules prune channels step by step; {entry.name!r} is an unstructured "
                        "strategy: remove `schedule:` or use a channel strategy")))
            key = entry.key if isinstance(entry, StrategyEntry) else entry.name
            resolved[kind][key] = Resolved(entry, cls, params, path.parent.resolve() if path is not None else None,
                                           plugin=registry.plugin_identity(kind, plugin_name))
    for index, entry in enumerate(suite.strategies):
        problems += [(("strategies", index, *loc), message)
                     for loc, message in latency_target_problems(entry, suite.evaluation.deploy)]
    problems += [((("evaluation", "deploy", suite.evaluation.deploy.index(v)), message))
                 for v, message in missing_deploy_packages(suite.evaluation.deploy)]
    if suite.strategies and not any(m.role == "study" for m in suite.models):
        problems.append((("models",), "every model is a `role: reference`, so nothing would be pruned: mark the "
                                      "model under study `role: study` (the default)"))
    if problems:
        fail(problems)
    return LoadedSuite(suite, path, resolved["models"], resolved["datasets"], resolved["strategies"])


def latency_target_problems(entry: StrategyEntry, deploy: list[str]) -> list[tuple[tuple, str]]:
    """(location inside the entry, message) for each measured-latency target ("2x@onnx") the suite cannot time: a
    runtime it does not deploy to (the cell's final model is evaluated and timed there as a deployment variant),
    or an iterative schedule (a measured target is searched in one shot)."""
    found: list[tuple[tuple, str]] = []
    for position, amount in enumerate(entry.amounts):
        if amount.runtime is None or amount.runtime in deploy:
            continue
        can = (f"This suite can time measured-latency targets on {', '.join(deploy)} (its evaluation.deploy: the "
               "cell's final model is evaluated and timed on that runtime as a deployment variant)")
        if amount.runtime in DEPLOY_VARIANTS:
            fix = (f"add {amount.runtime!r} to evaluation.deploy"
                   + (' (it needs the openvino extra: pip install "prunebench[openvino]")'
                      if amount.runtime.startswith("openvino") else "") + " or name one of those")
            found.append((("amounts", position), f"{amount.suite_value()!r} asks for a speed-up measured on "
                                                 f"{amount.runtime!r}, which this suite does not deploy to. {can}: "
                                                 f"{fix}."))
            continue
        close = difflib.get_close_matches(amount.runtime, DEPLOY_VARIANTS, n=1)
        found.append((("amounts", position), (
            f"{amount.suite_value()!r}: {amount.runtime!r} is not a runtime prunebench deploys to"
            + (f" (did you mean {close[0]!r}?)" if close else "") + f"; those are {', '.join(DEPLOY_VARIANTS)}. "
            f"{can}.")))
    if entry.schedule is not None and any(a.runtime for a in entry.amounts):
        found.append((("schedule",), (
            "measured-latency targets (such as "
            f"{next(a for a in entry.amounts if a.runtime).suite_value()!r}) are searched in one shot, each step "
            "timed on the runtime; an iterative schedule is not supported with them: remove `schedule:` or give "
            "GFLOPs targets such as '2x'")))
    return found


# The Python packages each variant needs beyond prunebench's own dependencies (module, pip package).
DEPLOY_PACKAGES = {"openvino": (("openvino", "openvino"),), "openvino-int8": (("openvino", "openvino"), ("nncf", "nncf"))}


def missing_deploy_packages(deploy: list[str]) -> list[tuple[str, str]]:
    """(variant, message) for each variant whose packages are not installed (checked without importing them)."""
    import importlib.util
    import sys

    found = []
    for variant in deploy:
        missing = [package for module, package in DEPLOY_PACKAGES.get(variant, ())
                   if importlib.util.find_spec(module) is None]
        if missing:
            found.append((variant, f"{variant} needs the Python package{'s' * (len(missing) > 1)} "
                                   f"{', '.join(missing)}, not installed in this environment ({sys.executable}): "
                                   'pip install "prunebench[openvino]" (openvino and nncf), or remove '
                                   f"{variant} from evaluation.deploy"))
    return found


def suite_json_schema() -> dict[str, Any]:
    return Suite.model_json_schema()


def type_text(annotation: Any) -> str:
    """A param's type as `list strategies` shows it: a Literal as its allowed values ("one of 'l1', 'l2'"), unions
    and generics spelled out ("int or None", "tuple[int, int]"). No `|`: the table is Markdown."""
    import types
    import typing

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "None"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_text(a) for a in args)
    if origin is not None and args:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_text(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return re.sub(r"typing\.", "", str(annotation))


def describe_params(params_cls: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) of each field of a plugin's Params."""
    rows = []
    for name, field in params_cls.model_fields.items():
        type_name = type_text(field.annotation)
        default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
        rows.append((name, type_name, default, field.description or ""))
    return rows
