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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from prunebench.base import DatasetSource, ModelSource, Strategy
from prunebench.registry import Registry, UnknownNameError
from prunebench.yaml_lines import YamlError, line_for, load_with_lines

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$"
DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"


class _UserModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_UserModel):
    name: str = Field(pattern=NAME_PATTERN, description="Your label for this model; unique in the suite.")
    plugin: str = Field("ultralytics", description="The model plugin that builds or loads it.")
    params: dict[str, Any] = Field(default_factory=dict, description="Validated by the plugin's own params.")


class DatasetEntry(_UserModel):
    name: str = Field(pattern=NAME_PATTERN, description="Your label for this dataset; unique in the suite.")
    plugin: str = Field("ultralytics", description="The dataset plugin: `ultralytics` (a data YAML) or `synthetic-buds`.")
    params: dict[str, Any] = Field(default_factory=dict, description="Validated by the plugin's own params.")


class StrategyEntry(_UserModel):
    name: str = Field(description="The pruning strategy, e.g. l1-unstructured.")
    label: str | None = Field(None, pattern=NAME_PATTERN, description="Distinguishes two entries of one strategy.")
    params: dict[str, Any] = Field(default_factory=dict, description="Validated by the strategy's own params.")
    amounts: list[float] = Field(min_length=1, description="Fractions to prune, each strictly between 0 and 1.")

    @field_validator("amounts")
    @classmethod
    def _amounts_in_range(cls, amounts: list[float]) -> list[float]:
        for amount in amounts:
            if not 0.0 < amount < 1.0:
                raise ValueError(f"amount {amount} is outside (0, 1): write 0.3 for 30 %")
        if len(set(amounts)) != len(amounts):
            raise ValueError(f"amounts repeat: {amounts}")
        return amounts

    @property
    def key(self) -> str:
        return self.label or self.name


class FinetuneSettings(_UserModel):
    epochs: int = Field(0, ge=0, description="Fine-tuning epochs after pruning; 0 skips fine-tuning.")
    # Defaults measured on suites/strategies.yaml's YOLOv8n (mAP50-95 0.299): 30 % L1-pruned, 3 epochs with
    # Ultralytics' `auto` (AdamW 0.002 after a warm-up) ended at 0.129-0.230, and at 0.002-0.001 without the
    # warm-up; SGD 0.001 without warm-up recovered 0.307-0.309. A trained model wants a small step, not a restart.
    optimizer: Literal["SGD", "AdamW", "Adam", "auto"] = Field(
        "SGD", description="Ultralytics optimizer for fine-tuning (and sparsity training); auto lets Ultralytics "
                           "pick optimizer and learning rate as for training from scratch (ignores lr0).")
    lr0: float = Field(0.001, gt=0, description="Initial learning rate of fine-tuning (and sparsity training).")
    warmup_epochs: float = Field(0.0, ge=0, description="Ultralytics warm-up epochs (its bias learning rate "
                                                        "starts at 0.1): meant for training from scratch.")
    imgsz: int | None = Field(None, ge=32, description="Training image size; default: evaluation.imgsz.")
    batch: int | None = Field(None, ge=1, description="Training batch size; default: evaluation.batch.")


class MeasureSettings(_UserModel):
    latency: bool = Field(True, description="Measure latency and throughput on real validation images.")
    threads: int | None = Field(None, ge=1, description="Threads for timing; default: 1 on CPU (the steady figure: "
                                                        "on a 2-core machine a 5-call latency CV of 3.8 % with one "
                                                        "thread, 14 % with two), torch's own on GPU.")
    throughput_batch: int = Field(8, ge=1, description="Batch size for the throughput figure.")
    min_run_time: float = Field(1.0, gt=0, description="Seconds of timed runs per latency figure.")
    speedup_pairs: int = Field(5, ge=0, description="Pruned cells: time the pruned and the dense model in this "
                                                    "many alternating pairs for the speed-up (drift cancels); "
                                                    "0 compares the cells' separate latencies instead.")


class EvaluationSettings(_UserModel):
    imgsz: int = Field(640, ge=32, description="Validation and latency image size (pixels).")
    batch: int = Field(16, ge=1, description="Validation batch size.")
    device: str = Field("auto", pattern=DEVICE_PATTERN, description="auto, cpu, cuda or cuda:N.")
    conf: float = Field(0.001, gt=0, lt=1, description="Validation confidence threshold.")
    iou: float = Field(0.7, gt=0, lt=1, description="Validation NMS IoU threshold.")
    measure: MeasureSettings = Field(default_factory=MeasureSettings, description="Latency measurement settings.")


class ExecutorSettings(_UserModel):
    name: str = Field("local", description="Executor plugin: local (default) or ray.")
    params: dict[str, Any] = Field(default_factory=dict, description="Validated by the executor's own params.")


class Suite(_UserModel):
    name: str = Field(pattern=NAME_PATTERN, description="The suite's name; results go to results/<name>.")
    description: str = Field("", description="Free text, shown nowhere but here.")
    models: list[ModelEntry] = Field(min_length=1, description="The dense models to prune.")
    datasets: list[DatasetEntry] = Field(min_length=1, description="Datasets to fine-tune and evaluate on.")
    strategies: list[StrategyEntry] = Field(default_factory=list, description="Empty: dense baselines only.")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1,
                             description="One cell per seed; leaderboards show mean and std over seeds.")
    finetune: FinetuneSettings = Field(default_factory=FinetuneSettings, description="Fine-tuning after pruning.")
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings,
                                           description="Validation and measurement settings.")
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings, description="Where cells run.")
    results: str | None = Field(None, description="Results folder; default results/<name>, relative to where you run.")

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds repeat: {seeds}")
        return seeds

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

    def instance(self):
        return self.cls(self.params)


@dataclass(frozen=True)
class LoadedSuite:
    suite: Suite
    path: Path | None
    models: dict[str, Resolved]
    datasets: dict[str, Resolved]
    strategies: dict[str, Resolved]

    @property
    def results_dir(self) -> Path:
        return Path(self.suite.results or f"results/{self.suite.name}")


class SuiteError(ValueError):
    """One or more problems in a suite, each 'file:line: path: message'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


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
                message += f" (got {error['input']!r})"
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
            key = entry.key if isinstance(entry, StrategyEntry) else entry.name
            resolved[kind][key] = Resolved(entry, cls, params)
    if problems:
        fail(problems)
    return LoadedSuite(suite, path, resolved["models"], resolved["datasets"], resolved["strategies"])


def suite_json_schema() -> dict[str, Any]:
    return Suite.model_json_schema()


def describe_params(params_cls: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) of each field of a plugin's Params."""
    rows = []
    for name, field in params_cls.model_fields.items():
        annotation = field.annotation
        type_name = re.sub(r"typing\.|<class '|'>", "", str(getattr(annotation, "__name__", annotation)))
        default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
        rows.append((name, type_name, default, field.description or ""))
    return rows
