"""The record: one cell's single truth, as a typed value with one owner.

A `Record` is built from a cell (`Record.new`), changed through its methods while the cell runs (`phase`,
`add_metrics`, `set_detail`, `mark_ok`, `mark_failed`), written with `to_json` and read back with
`from_json`, which migrates an older schema version first (records.migrations) and checks the type of every
top-level field, so a reader never digs through a malformed dict (modelled on pytest's `TestReport._to_json` /
`_from_json`). Readers use its accessors (`model_name`, `strategy_label`, `metric(...)`, `detail(...)`) instead of
`.get(...)` chains, and the typed values of what each phase produced: `evaluated` (records.evaluation), `finetuned`
(records.finetuning), `prune_report` (records.prune_report), `measurement` (util.measurement) and
`environment_info` (records.environment), each written only through its `put_...` method.

The JSON on disk (schema version 2; a schema-1 record is migrated on read, records.migrations):

    schema_version  int
    key             the TRAIN key: hash of what shapes the trained model (spec minus evaluation, input file
                    fingerprints, schema version); the file is <name>.<key>.json
    measure_key     hash of the evaluation settings (spec.evaluation); a record whose key matches but whose
                    measure_key does not is re-measured from its kept model, not retrained
    name            <model>.<dataset>.<strategy label>.<a0.30 | x2.00>.s<seed>
    suite           suite name
    suite_file      the suite file, relative to the results folder (else absolute): its folder is where the
                    suite's relative paths start, for `prunebench measure` later
    spec            {"model": {"name", "plugin", "params", "role": "study" | "reference"},
                     "dataset": {"name", "plugin", "params", "synthetic"},
                     "strategy": {"name", "label", "params", "structured", and for pruned rows "plugin" {"name",
                     "distribution", "version"} (the plugin that registered the strategy, the distribution that
                     declared it and its version; both in the key) and "version" (the class's `version`)}
                     (name "dense" for dense rows; label "dense" = as loaded or adapted, "dense-ft[-<hex>]" = the
                     fine-tuned dense control),
                     "amount" (fraction asked; 0.0 for dense; null with a target), "target" (speed-up in
                     GFLOPs, e.g. 2.0, or null), "target_runtime" (only for a speed-up measured on a deploy
                     runtime, "2x@onnx": "onnx"; details.latency_target says how it was reached), "seed", "finetune" (the resolved recipe or null), "schedule"
                     (iterative steps or null), "evaluation" {...}}
    status          "ok" | "failed"
    error           None | {"type", "message", "hint" (what to do, or None), "phase" (where it failed), "traceback"}
    metrics         flat numbers, any may be missing (None); accuracy on the headline split (details.eval_split):
                    precision, recall, map50, map50_95,
                    params, nonzero_params, sparsity, gflops, nonzero_gflops,
                    size_fp32_bytes, size_fp16_bytes, size_fp16_gzip_bytes,
                    latency_ms, latency_iqr_ms, e2e_latency_ms, throughput_ips, speedup_vs_dense, speedup_iqr,
                    and latency_ms_<runtime>, speedup_vs_dense_<runtime>, ... for runtimes other than torch;
                    a reference model's dense cells: speedup_vs_study[_<runtime>], speedup_vs_study_iqr[...]
                    (the dense model under study's latency over this one's, in pairs; details.measure.timed_against);
                    on a GPU: peak_gpu_memory_mb (the cell's peak allocated, MiB; details.gpu_memory has the rest)
    spec.deploy     only in a deployment variant's record (prunebench.run.variants): {variant, format,
                    precision, runtime, imgsz, parent {name, key}}; such a record's name ends in the variant
                    (".onnx-int8", ".i320")
    details         eval_split, metrics_by_split {split: accuracy}, per_class_ap, curves (P/R/F1 vs
                    confidence), metrics_before_finetune, loss_curve, finetune, prune_report, schedule_steps,
                    sparsity_training, measure (full statistics and conventions), model_file {path, sha256, bytes},
                    baseline {sha256, checkpoint} (the dense checkpoint the cell started from), per_image (the
                    validator's per-image matches on the headline split, records.matches), bootstrap (mAP on
                    resamples of those images), suite_cells (the suite's planned cell count); finetune.runs[*] say
                    amp / amp_used / autocast_dtype; gpu_memory (CUDA cells only, measure/gpu_memory.py)
    timings         seconds per phase: load, sparsity_train, prune, finetune, evaluate, measure, total
    environment     device, device_name, cpu, threads (used for timing), torch, cuda, ultralytics, prunebench,
                    python, platform, hostname, git_sha and git_dirty (prunebench's own); deployment variants:
                    cpu_flags; Ray cells: ray_node, ray_placement (records.environment.Environment)
    started_at, finished_at   ISO 8601 UTC

No torch here: every command that reads records imports this module.
"""

from __future__ import annotations

import math
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

from prunebench.records.environment import Environment
from prunebench.records.evaluation import Evaluation
from prunebench.records.finetuning import FineTuning
from prunebench.records.migrations import SCHEMA_VERSION, STEPS, migrate
from prunebench.records.prune_report import PruneReport
from prunebench.util.amount import Amount
from prunebench.util.measurement import Measurement

DENSE = "dense"  # spec.strategy.name of dense rows, and the label of the dense model as loaded
DENSE_FT = "dense-ft"  # label (prefix) of the fine-tuned dense controls
OK, FAILED = "ok", "failed"

# Top-level fields and the JSON types they must have (None allowed where listed).
_FIELDS: dict[str, tuple[type, ...]] = {
    "key": (str,), "name": (str,), "suite": (str,), "spec": (dict,), "measure_key": (str,), "status": (str,),
    "error": (dict, type(None)), "metrics": (dict,), "details": (dict,), "timings": (dict,),
    "environment": (dict,), "started_at": (str, type(None)), "finished_at": (str, type(None)),
    "suite_file": (str, type(None)),
}
_REQUIRED = ("key", "name", "spec", "status")


class RecordError(ValueError):
    """A file that is not a record this version can read: the reason says what is wrong with it."""


class CellLike(Protocol):  # prunebench.run.plan.Cell, without importing the planner
    suite: str
    key: str
    measure_key: str
    spec: dict[str, Any]

    @property
    def name(self) -> str: ...


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def finite(value: Any) -> float | None:
    """A finite number as float, else None (bools, strings, NaN and None are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def study_model_for(candidates: Iterable[str]) -> str | None:
    """THE rule for which model under study a reference model's dense cells are timed against, in a run and in a
    re-measure alike: the first by name of the study models with a dense row on the cell's dataset."""
    names = sorted({str(c) for c in candidates if c})
    return names[0] if names else None


@dataclass(frozen=True)
class ModelFile:
    """A cell's kept checkpoint as its record names it."""

    path: str  # relative to the results folder
    sha256: str | None
    bytes: int | None

    def resolve(self, results_dir: Path) -> Path:
        """The file inside `results_dir`; OutsideFolder (a ValueError) when the record names one elsewhere."""
        from prunebench.util.safe_paths import inside

        return inside(results_dir, self.path, what="kept model path")


@dataclass
class Record:
    key: str
    name: str
    spec: dict[str, Any]
    suite: str = ""
    measure_key: str = ""
    status: str = FAILED  # failed until mark_ok: a cell that dies half-way says so
    error: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None
    suite_file: str | None = None
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)  # top-level keys of newer writers, kept on rewrite
    current_phase: str | None = field(default=None, compare=False, repr=False)  # never written

    # ------------------------------------------------------------ building and changing
    @classmethod
    def new(cls, cell: CellLike, environment: Environment | Mapping[str, Any] | None = None) -> Record:
        if isinstance(environment, Environment):
            environment = environment.to_json()
        return cls(key=cell.key, name=cell.name, suite=cell.suite, spec=cell.spec, measure_key=cell.measure_key,
                   environment=dict(environment or {}), started_at=now())

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time a phase into `timings[name]`; a failure inside it is recorded as having happened there."""
        start = time.perf_counter()
        self.current_phase = name
        try:
            yield
        except BaseException:
            raise  # current_phase stays: mark_failed reads it
        else:
            self.current_phase = None
        finally:
            self.timings[name] = round(time.perf_counter() - start, 3)

    def add_metrics(self, values: Mapping[str, Any]) -> None:
        self.metrics.update(values)

    def set_detail(self, name: str, value: Any) -> None:
        self.details[name] = value

    def put_evaluation(self, evaluation: Evaluation) -> None:
        """The one place an evaluation enters a record: its headline metrics, and its fields into details."""
        self.add_metrics(evaluation.metrics)
        self.details.update(evaluation.to_details())

    @property
    def evaluated(self) -> Evaluation | None:
        """What evaluating the cell produced (None when it never got there)."""
        return Evaluation.from_details(self.details)

    def put_finetuning(self, finetuning: FineTuning) -> None:
        """The one place fine-tuning enters a record (replacing what an earlier run of the same cell wrote)."""
        self.details.update(finetuning.to_details())

    @property
    def finetuned(self) -> FineTuning | None:
        return FineTuning.from_details(self.details)

    def put_measurement(self, measurement: Measurement, *, replacing: Callable[[str], bool] | None = None) -> None:
        """The one place a measurement enters a record (a run, a deployment variant, a re-measure): its metrics,
        after removing the earlier ones `replacing` says it owns; details.measure; and what the timing used (threads,
        CPU flags) into the environment."""
        if replacing is not None:
            for name in [name for name in self.metrics if replacing(name)]:
                del self.metrics[name]
        self.add_metrics(measurement.metrics)
        self.details.update(measurement.to_details())
        if environment := measurement.environment():
            self.update_environment(**environment)

    @property
    def measurement(self) -> Measurement | None:
        """What measuring the cell produced (None when it never got there)."""
        return Measurement.from_record(self.metrics, self.details, self.environment)

    def put_prune_report(self, report: PruneReport) -> None:
        """The one place what pruning did enters a record (the strategy's report, the verdict on what it delivered,
        an iterative schedule's steps), replacing what an earlier phase of the same cell wrote."""
        self.details.update(report.to_details())

    @property
    def prune_report(self) -> PruneReport | None:
        """What pruning the cell did (None: a dense cell, or one that failed before pruning)."""
        return PruneReport.from_details(self.details)

    def put_environment(self, environment: Environment) -> None:
        """Where and with what the record's numbers were made (replacing the environment it had)."""
        self.environment = environment.to_json()

    @property
    def environment_info(self) -> Environment:
        """The environment as a typed value (`environment` stays the JSON object, as written)."""
        return Environment.from_json(self.environment)

    def add_export(self, fmt: str, entry: Mapping[str, Any]) -> None:
        """Note an export of the kept model (details.exports[fmt])."""
        self.details.setdefault("exports", {})[fmt] = dict(entry)

    @property
    def exports(self) -> dict[str, dict[str, Any]]:
        exports = self.detail("exports")
        return {k: v for k, v in exports.items() if isinstance(v, dict)} if isinstance(exports, dict) else {}

    def update_environment(self, **values: Any) -> None:
        self.environment = dict(self.environment, **values)

    def mark_ok(self) -> None:
        self.status, self.error, self.current_phase = OK, None, None

    def mark_failed(self, exc: BaseException, hint: str | None = None, phase: str | None = None) -> Record:
        self.status = FAILED
        self.error = {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__, "hint": hint,
                      "phase": phase if phase is not None else self.current_phase,
                      "traceback": "".join(traceback.format_exception(exc, limit=20))}
        self.current_phase = None
        if self.finished_at is None:
            self.finished_at = now()
        return self

    def finish(self, total_seconds: float) -> None:
        self.timings["total"] = round(total_seconds, 3)
        self.finished_at = now()

    # ------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        data = dict(self.extra)
        data.update(schema_version=self.schema_version, key=self.key, measure_key=self.measure_key,
                    suite=self.suite, name=self.name, spec=self.spec, status=self.status, error=self.error,
                    metrics=self.metrics, details=self.details, timings=self.timings,
                    environment=self.environment, started_at=self.started_at, finished_at=self.finished_at)
        if self.suite_file is not None:
            data["suite_file"] = self.suite_file
        return data

    @classmethod
    def from_json(cls, data: Any) -> Record:
        """The record in `data` (a parsed JSON object); RecordError naming what is wrong otherwise."""
        if not isinstance(data, dict):
            raise RecordError(f"not a JSON object but {type(data).__name__}")
        data = migrate(data)  # an older version is lifted step by step; anything else is named below
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
                raise RecordError(f"schema version {version} is newer than this prunebench reads ({SCHEMA_VERSION}):"
                                  " upgrade prunebench to read it")
            raise RecordError(f"schema version {version!r}: this prunebench reads versions {min(STEPS)} to "
                              f"{SCHEMA_VERSION} (older ones migrated on read)")
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise RecordError(f"no {', '.join(missing)}")
        values: dict[str, Any] = {}
        for name, types in _FIELDS.items():
            if name not in data:
                continue
            value = data[name]
            if not isinstance(value, types):
                wanted = " or ".join("null" if t is type(None) else {"dict": "an object", "str": "a string"}.get(
                    t.__name__, t.__name__) for t in types)
                raise RecordError(f"{name} is {_json_type(value)}, not {wanted}")
            values[name] = value
        if values["status"] not in (OK, FAILED):
            raise RecordError(f"status {values['status']!r} is neither 'ok' nor 'failed'")
        for part in ("model", "dataset", "strategy"):
            if part in values["spec"] and not isinstance(values["spec"][part], dict):
                raise RecordError(f"spec.{part} is {_json_type(values['spec'].get(part))}, not an object")
        extra = {k: v for k, v in data.items() if k not in _FIELDS and k != "schema_version"}
        return cls(**values, schema_version=version, extra=extra)

    # ------------------------------------------------------------ reading: the spec
    def _spec_part(self, part: str) -> dict[str, Any]:
        value = self.spec.get(part)
        return value if isinstance(value, dict) else {}

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def model_name(self) -> str:
        return str(self._spec_part("model").get("name", "unknown"))

    @property
    def model_plugin(self) -> str | None:
        return self._spec_part("model").get("plugin")

    @property
    def model_role(self) -> str:
        return str(self._spec_part("model").get("role") or "study")

    @property
    def dataset_name(self) -> str:
        return str(self._spec_part("dataset").get("name", "unknown"))

    @property
    def dataset_spec(self) -> dict[str, Any]:
        return self._spec_part("dataset")

    @property
    def strategy_spec(self) -> dict[str, Any]:
        return self._spec_part("strategy")

    @property
    def strategy_name(self) -> str:
        return str(self.strategy_spec.get("name") or "unknown")

    @property
    def strategy_label(self) -> str:
        """The suite's name for the strategy entry (its label when it has one)."""
        strategy = self.strategy_spec
        return str(strategy.get("label") or strategy.get("name") or "unknown")

    @property
    def strategy_plugin(self) -> dict[str, Any] | None:
        """{"name", "distribution", "version"} of the plugin that pruned (None: dense, or an older record)."""
        value = self.strategy_spec.get("plugin")
        return value if isinstance(value, dict) else None

    @property
    def strategy_version(self) -> str | None:
        """The strategy class's `version` (None: dense, or an older record)."""
        value = self.strategy_spec.get("version")
        return value if isinstance(value, str) else None

    @property
    def structured(self) -> bool | None:
        value = self.strategy_spec.get("structured")
        return value if isinstance(value, bool) else None

    @property
    def is_dense(self) -> bool:
        return self.strategy_name == DENSE

    @property
    def is_plain_dense(self) -> bool:
        """The dense model as loaded or adapted (not fine-tuned)."""
        return self.is_dense and self.strategy_label == DENSE

    @property
    def target(self) -> float | None:
        return finite(self.spec.get("target"))

    @property
    def amount(self) -> float | None:
        """The fraction asked; None when the cell has a speed-up target instead."""
        return None if self.target is not None else float(finite(self.spec.get("amount")) or 0.0)

    @property
    def target_runtime(self) -> str | None:
        """The deploy runtime a measured-latency target was timed on (spec.target_runtime); None otherwise."""
        value = self.spec.get("target_runtime")
        return value if isinstance(value, str) else None

    @property
    def asked(self) -> Amount:
        """What the strategy was asked for, as the plan parsed it (0.0 for a dense row)."""
        return Amount.of(self.amount, self.target, self.target_runtime)

    @property
    def seed(self) -> int | None:
        seed = self.spec.get("seed")
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    @property
    def recipe(self) -> dict[str, Any] | None:
        """The resolved fine-tuning recipe, or None without fine-tuning."""
        value = self.spec.get("finetune")
        return value if isinstance(value, dict) and value else None

    @property
    def schedule(self) -> dict[str, Any] | None:
        value = self.spec.get("schedule")
        return value if isinstance(value, dict) and value else None

    @property
    def evaluation(self) -> dict[str, Any]:
        return self._spec_part("evaluation")

    @property
    def imgsz(self) -> Any:
        """The input size the record was evaluated and timed at: the suite's, or a smaller-input variant's own."""
        deploy = self.deploy
        if deploy and deploy.get("imgsz"):
            return deploy["imgsz"]
        return self.evaluation.get("imgsz")

    @property
    def deploy(self) -> dict[str, Any] | None:
        """spec.deploy of a deployment variant (prunebench.run.variants): {variant, format, precision, runtime,
        imgsz, parent {name, key}}; None for a cell deployed as trained (torch at the suite's imgsz)."""
        value = self.spec.get("deploy")
        return value if isinstance(value, dict) and value else None

    @property
    def variant(self) -> str:
        """How the row is deployed: "torch" (as trained), "onnx", "onnx-int8", "openvino", "openvino-int8"."""
        return str((self.deploy or {}).get("variant") or "torch")

    @property
    def is_variant(self) -> bool:
        """A record that deploys another cell's kept model (an export, or a smaller input)."""
        return self.deploy is not None

    @property
    def is_smaller_input(self) -> bool:
        deploy = self.deploy
        return bool(deploy) and deploy.get("variant") == "torch" and deploy.get("imgsz") != self.evaluation.get(
            "imgsz")

    # ------------------------------------------------------------ reading: results
    def metric(self, name: str) -> float | None:
        """A finite number, or None when the record lacks it."""
        return finite(self.metrics.get(name))

    def detail(self, *path: str) -> Any:
        """details[path[0]][path[1]]..., or None where any step is missing."""
        value: Any = self.details
        for step in path:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        return value

    def detail_dict(self, *path: str) -> dict[str, Any]:
        """detail(*path) when it is an object, else {}."""
        value = self.detail(*path)
        return value if isinstance(value, dict) else {}

    def timing(self, phase: str) -> float | None:
        return finite(self.timings.get(phase))

    def env(self, name: str) -> Any:
        return self.environment.get(name)

    @property
    def eval_split(self) -> str | None:
        split = self.detail("eval_split")
        return str(split) if split else None

    @property
    def model_file(self) -> ModelFile | None:
        entry = self.detail("model_file")
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not entry["path"]:
            return None
        sha = entry.get("sha256")
        size = entry.get("bytes")
        return ModelFile(entry["path"], sha if isinstance(sha, str) else None,
                         size if isinstance(size, int) and not isinstance(size, bool) else None)

    def model_path(self, results_dir: Path) -> Path | None:
        """Where the record says its kept model is (the file may be missing), or None when it kept none."""
        kept = self.model_file
        return kept.resolve(results_dir) if kept else None

    @property
    def baseline_sha(self) -> str | None:
        """sha256 of the dense checkpoint the cell started from (details.baseline), when recorded."""
        sha = self.detail("baseline", "sha256")
        return str(sha) if sha else None

    @property
    def bootstrap(self) -> dict[str, Any] | None:
        """details.bootstrap: mAP50 and mAP50-95 on resamples of the headline split's images, when recorded."""
        found = self.detail("bootstrap")
        return found if isinstance(found, dict) and isinstance(found.get("map50_95"), list) else None

    @property
    def timed_against(self) -> str | None:
        """For a reference model's dense cell: the study model its latency was paired with, as recorded."""
        named = self.detail("measure", "timed_against", "model")
        return str(named) if named else None

    @property
    def error_type(self) -> str:
        return str((self.error or {}).get("type") or "error")

    @property
    def error_message(self) -> str:
        return str((self.error or {}).get("message") or "")

    @property
    def error_hint(self) -> str | None:
        hint = (self.error or {}).get("hint")
        return str(hint) if hint else None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


__all__ = ["DENSE", "DENSE_FT", "FAILED", "OK", "SCHEMA_VERSION", "ModelFile", "Record", "RecordError", "finite",
           "now", "study_model_for"]
