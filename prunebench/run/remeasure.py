"""Re-time kept models without retraining them.

`remeasure_record` takes one ok record whose cell kept its model, loads that checkpoint (checked
against the record's sha256), finds the dense reference's kept model (label "dense", same model,
dataset and seed, same results folder), and runs `prunebench.measure.cell.measure` with the record's
`evaluation.measure` settings (or the ones given) on the dataset's validation images. It returns the
updated record: costs and latency metrics replaced (accuracy untouched), details.measure replaced
(with a "remeasured" note: when, on what, with which settings, and the environment it replaces),
spec.evaluation.measure and measure_key set to what was actually measured, environment set to the
machine that timed it. It writes nothing; `remeasure_folder` (the `prunebench measure` command) writes
each record atomically while holding the cell's lock, as a run would.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from prunebench.records.environment import Environment
from prunebench.records.index import RecordIndex
from prunebench.records.kept import NO_KEPT_MODEL_HINT, NoKeptModel, kept_model
from prunebench.records.record import Record, now
from prunebench.records.store import cell_lock, cells_dir, write_record
from prunebench.util.canonical import canonical_json, short_hash
from prunebench.util.measurement import RuntimeTiming
from prunebench.util.metrics import is_measured

# What training produced: a re-measure keeps it, whoever re-measures (a run whose measure key changed, or
# `prunebench measure`).
TRAINED_DETAILS = ("baseline", "loss_curve", "finetune", "prune_report", "schedule_steps", "sparsity_training",
                   "metrics_before_finetune", "metrics_before_finetune_split", "model_file", "delivered",
                   "latency_target")


def carry_training(earlier: Record, record: Record) -> None:
    """Copy into a new record of the same training what `earlier` trained (details and phase timings), noting
    which measurement it replaces; evaluation and measurement are then done anew."""
    for name in TRAINED_DETAILS:
        if name in earlier.details:
            record.set_detail(name, earlier.details[name])
    record.set_detail("remeasured_from", {"measure_key": earlier.measure_key, "finished_at": earlier.finished_at})
    record.timings.update({k: v for k, v in earlier.timings.items() if k not in ("evaluate", "measure", "total")})


@dataclass(frozen=True)
class TimingReference:
    """What a kept model's latency is timed against in pairs, when anything."""

    checkpoint: Path | None  # the dense record's kept model, checked against its sha256
    name: str | None  # that record's cell name
    study: str | None  # for a reference model's dense cell: the study model it is paired with
    note: str | None  # why there is none, when one was wanted


def timing_reference(record: Record, index: RecordIndex) -> TimingReference:
    """THE rule for what a kept model's latency is timed against in pairs, for a run's re-measure and
    `prunebench measure` alike: a pruned record, its own dense reference; a reference model's dense record, the
    dense model under study (records.index.RecordIndex.timing_reference)."""
    found, study = index.timing_reference(record)
    if found is not None:
        return TimingReference(kept_model(found.record, index.results_dir), found.name, study, None)
    if not record.is_dense:
        return TimingReference(None, None, None, "no dense reference with a kept model (label dense, same model, "
                                                 f"dataset and seed) in {index.results_dir}: speed-up not timed")
    if study is not None:
        return TimingReference(None, None, study, f"no dense record of {study} (the model under study) with a kept "
                                                  f"model in {index.results_dir}: latency not paired with it")
    return TimingReference(None, None, None, None)


def resolve_settings(record: Record, measure_settings: Any = None):
    """The MeasureSettings to use: `measure_settings` when it is one; a mapping is laid over the record's own
    spec.evaluation.measure (so a partial one overrides only what it names); None: the record's own."""
    from prunebench.config.suite import MeasureSettings

    if isinstance(measure_settings, MeasureSettings):
        return measure_settings
    own = record.evaluation.get("measure")
    own = dict(own) if isinstance(own, dict) else {}
    if measure_settings:
        own.update({k: v for k, v in dict(measure_settings).items() if v is not None})
    fields = set(MeasureSettings.model_fields)
    return MeasureSettings.model_validate({k: v for k, v in own.items() if k in fields})


def check_overrides(*, runtimes: str | None = None, threads: int | None = None, min_run_time: float | None = None,
                    speedup_pairs: int | None = None) -> dict[str, Any]:
    """Command-line overrides of the records' measure settings, validated; ValueError (one paragraph) otherwise,
    including when ONNX Runtime is asked for but not installed."""
    from pydantic import ValidationError

    from prunebench.config.suite import MeasureSettings

    overrides: dict[str, Any] = {"threads": threads, "min_run_time": min_run_time, "speedup_pairs": speedup_pairs}
    if runtimes is not None:
        overrides["runtimes"] = [r.strip() for r in runtimes.split(",") if r.strip()]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    try:
        MeasureSettings.model_validate(overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"bad measure settings on the command line ({problems}); --runtimes takes a comma-separated "
                         "list of torch, onnxruntime; --threads, --pairs and --min-run-time positive numbers") from None
    if "onnxruntime" in overrides.get("runtimes", []):
        from prunebench.yolo.export import check_format

        check_format("onnx")
    return overrides


def remeasure_record(record: Record, results_dir: Path, *, measure_settings: Any = None, device: str,
                     images: list[Path] | None, cache_dir: Path, plugins=None,
                     index: RecordIndex | None = None) -> Record:
    """The record re-measured from its kept model (see the module docstring); the record given is not changed.

    `measure_settings`: a suite's MeasureSettings, a mapping of overrides on the record's own, or None.
    `device`: resolved ("cpu", "cuda:N"). `images`: the latency images (the dataset's val images); None
    prepares the record's dataset through its plugin (`plugins`, default: all installed) in `cache_dir`.
    `index`: the folder's records, when the caller has read them already.
    NoKeptModel when the record kept no model; ValueError when a kept file's sha256 is not the record's."""
    from prunebench.measure.cell import measure
    from prunebench.measure.pairs import PairRule
    from prunebench.util.environment import environment, timing_threads
    from prunebench.yolo.checkpoints import load_model

    if not record.ok:
        raise ValueError(f"{record.name}: a failed record has no model to re-measure; rerun the cell")
    settings = resolve_settings(record, measure_settings)
    checkpoint = kept_model(record, results_dir)
    imgsz = int(record.imgsz or 640)

    reference = TimingReference(None, None, None, None)
    if settings.latency and settings.speedup_pairs > 0:
        reference = timing_reference(record, index or RecordIndex(results_dir))

    if settings.latency and images is None:
        images = dataset_images(record, cache_dir, plugins=plugins, results_dir=results_dir)
    threads = timing_threads(device, settings.threads)
    model = load_model(checkpoint)
    start = time.perf_counter()
    measured = measure(model, imgsz=imgsz, device=device, images=list(images or []) if settings.latency else [],
                       threads=threads, batch_throughput=settings.throughput_batch,
                       min_run_time=settings.min_run_time, pairs=settings.speedup_pairs,
                       rule=PairRule.from_settings(settings),
                       runtimes=tuple(settings.runtimes), checkpoint=checkpoint,
                       reference_checkpoint=reference.checkpoint)
    seconds = time.perf_counter() - start
    if reference.study is not None and reference.checkpoint is not None:
        measured = measured.against_study(reference.study)

    updated = copy.deepcopy(record)
    remeasured = {
        "at": now(), "device": device, "threads": threads,
        "settings": settings.model_dump(mode="json"), "model_file": str(checkpoint),
        "reference": ({"name": reference.name, "model_file": str(reference.checkpoint)}
                      if reference.checkpoint else None),
        "reference_note": reference.note, "previous_environment": record.environment,
        "previous_measure_key": record.measure_key,
    }
    measured = dataclasses.replace(measured, details=dict(measured.details, remeasured=remeasured))
    updated.put_measurement(measured, replacing=is_measured)  # stale per-runtime figures go too
    updated.timings["measure"] = round(seconds, 3)
    updated.put_environment(Environment.from_json(environment(device, threads)))
    evaluation = updated.spec.setdefault("evaluation", {})
    evaluation["measure"] = settings.model_dump(mode="json")
    updated.measure_key = short_hash(evaluation)  # as prunebench.run.plan keys the evaluation block
    return updated


def dataset_images(record: Record, cache_dir: Path, *, plugins=None,
                   results_dir: Path | None = None) -> list[Path]:
    """The record's dataset's val images: its plugin (spec.dataset.plugin) built with spec.dataset.params,
    prepared in `cache_dir` (a generated dataset is generated again if the cache lost it). Relative paths in
    the params start at the suite file's folder, as in the run (the record's suite_file, relative to
    `results_dir`); a record without one resolves them against the current folder."""
    from prunebench.plugin.loader import load_plugins

    dataset = record.dataset_spec
    plugins = plugins or load_plugins()
    try:
        cls = plugins.registry.get("datasets", dataset.get("plugin"))
    except LookupError as exc:
        raise ValueError(f"{record.name}: its dataset plugin is not installed here ({exc}); "
                         "install the plugin that provides it, or pass the images yourself") from None
    base_dir = None
    if record.suite_file:
        suite_file = Path(record.suite_file)
        base_dir = (suite_file if suite_file.is_absolute() else Path(results_dir or ".") / suite_file).parent
    source = cls(cls.Params.model_validate(dataset.get("params") or {}), base_dir=base_dir)
    source.check()
    prepared = source.prepare(Path(cache_dir))
    if not prepared.val_images:
        raise ValueError(f"{record.name}: dataset {dataset.get('name')!r} has no validation images to time "
                         "latency on; re-measure with latency off or fix the dataset")
    return list(prepared.val_images)


# ---------------------------------------------------------------- a results folder (`prunebench measure`)
@dataclass
class Remeasured:
    """What `prunebench measure` did with one record."""

    name: str
    status: str  # "re-measured" | "skipped: ..." | "failed: ..."
    record: Record | None = None


def remeasure_folder(results_dir: Path, *, patterns: Iterable[str] = (), overrides: Mapping[str, Any] | None = None,
                     device: str | None = None, cache_dir: Path, plugins=None,
                     log: Callable[[str], None] = print) -> list[Remeasured]:
    """Re-measure every ok record (matching `patterns`) that kept its model, dense references first, each
    written atomically under the cell's lock; records without a kept model are skipped (listed)."""
    from filelock import Timeout

    from prunebench.util.environment import resolve_device

    index = RecordIndex(results_dir)
    selected = index.select(patterns, kept_only=True)
    if not selected:
        raise ValueError(f"no ok record in {cells_dir(results_dir)}" + (f" matches {' '.join(patterns)}" if patterns
                                                                        else "") + "; nothing to re-measure")
    selected.sort(key=lambda f: (not f.record.is_dense, f.name))  # references first: their rows are timed too
    images_by_dataset: dict[str, list[Path]] = {}
    rows = []
    for found in selected:
        name = found.name
        try:
            kept_model(found.record, results_dir, verify=False)
        except NoKeptModel:
            rows.append(Remeasured(name, "skipped: no kept model"))
            continue
        lock = cell_lock(results_dir, found.path.name)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            rows.append(Remeasured(name, "skipped: another prunebench process holds this cell"))
            continue
        try:
            where = resolve_device(device or found.record.env("device") or "auto")
            settings = resolve_settings(found.record, overrides)
            images = None
            if settings.latency:
                key = canonical_json({"plugin": found.record.dataset_spec.get("plugin"),
                                      "params": found.record.dataset_spec.get("params")})
                if key not in images_by_dataset:
                    images_by_dataset[key] = dataset_images(found.record, cache_dir, plugins=plugins,
                                                            results_dir=results_dir)
                images = images_by_dataset[key]
            log(f"{name}: re-measuring on {where} ({', '.join(settings.runtimes)})")
            updated = remeasure_record(found.record, results_dir, measure_settings=settings, device=where,
                                       images=images, cache_dir=cache_dir, plugins=plugins, index=index)
            write_record(results_dir, found.path.name, updated)
            rows.append(Remeasured(name, "re-measured", updated))
        except (ValueError, RuntimeError, OSError) as exc:
            rows.append(Remeasured(name, f"failed: {exc}"))
        finally:
            lock.release()
    return rows


def table(rows: list[Remeasured]) -> str:
    """A short table: cell, what happened, latency (torch and ONNX Runtime) and paired speed-ups with their IQR,
    their 95 % interval and the pairs timed."""
    from tabulate import tabulate

    def num(value, fmt="{:.2f}"):
        return "-" if value is None else fmt.format(value)

    def speed(timing: RuntimeTiming | None) -> str:
        """"1.34x ± 0.05 [1.29, 1.40], 23 pairs (capped)"; the interval only when the record has it (records before
        it have not); a reference model's dense cell: how much faster than the model under study, in pairs."""
        found = timing and (timing.speedup("dense") or timing.speedup("study"))
        if found is None or found.value is None:
            return "-"
        text = f"{found.value:.2f}x{' vs study' if found.against == 'study' else ''} ± {num(found.iqr)}"
        text += f" [{found.low:.2f}, {found.high:.2f}]" if found.has_interval else ""
        return text + (f", {found.pairs} pairs" if found.pairs else "") + (" (capped)" if found.capped else "")

    lines = []
    for row in rows:
        measured = row.record.measurement if row.record is not None else None
        torch, ort = (measured.timing(r) if measured else None for r in ("torch", "onnxruntime"))
        lines.append((row.name, row.status if len(row.status) < 90 else row.status[:87] + "...",
                      num(torch and torch.latency_ms), speed(torch), num(ort and ort.latency_ms), speed(ort),
                      num(measured and measured.costs.gflops, "{:.3f}")))
    return tabulate(lines, headers=("cell", "result", "torch ms", "speed-up (IQR)", "ORT ms", "ORT speed-up (IQR)",
                                    "GFLOPs"), tablefmt="github")


def summary_error(rows: list[Remeasured]) -> str | None:
    """One paragraph for a non-zero exit, or None when every selected record was re-measured or skipped by design."""
    failed = [r for r in rows if r.status.startswith("failed")]
    done = [r for r in rows if r.status == "re-measured"]
    no_model = [r.name for r in rows if r.status == "skipped: no kept model"]
    if failed:
        return (f"{len(failed)} of {len(rows)} cells could not be re-measured (the table says why; first: "
                f"{failed[0].name}: {failed[0].status[len('failed: '):]})")
    if not done and no_model:
        return (f"none of the {len(no_model)} selected cells kept a model to re-measure ({', '.join(no_model[:3])}"
                f"{'...' if len(no_model) > 3 else ''}); {NO_KEPT_MODEL_HINT}")
    return None


__all__ = ["Remeasured", "TimingReference", "carry_training", "check_overrides", "timing_reference", "dataset_images", "remeasure_folder", "remeasure_record", "resolve_settings", "table"]
