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
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from prunebench.kept import (NO_KEPT_MODEL_HINT, Found, NoKeptModel, find_reference, is_dense, kept_model,
                             record_name, select_records, study_model_of)
from prunebench.results import cells_dir, write_record

# Metrics measure() owns: every one is replaced by a re-measure (stale per-runtime ones removed first).
MEASURED = ("params", "nonzero_params", "sparsity", "gflops", "nonzero_gflops", "size_fp32_bytes", "size_fp16_bytes",
            "size_fp16_gzip_bytes", "latency_ms", "latency_iqr_ms", "e2e_latency_ms", "throughput_ips",
            "speedup_vs_dense", "speedup_iqr", "speedup_vs_study", "speedup_vs_study_iqr")
PER_RUNTIME = ("latency_ms_", "latency_iqr_ms_", "speedup_vs_dense_", "speedup_iqr_", "speedup_vs_study_")


def resolve_settings(record: dict[str, Any], measure_settings: Any = None):
    """The MeasureSettings to use: `measure_settings` when it is one; a mapping is laid over the record's own
    spec.evaluation.measure (so a partial one overrides only what it names); None: the record's own."""
    from prunebench.suite import MeasureSettings

    if isinstance(measure_settings, MeasureSettings):
        return measure_settings
    own = dict((((record.get("spec") or {}).get("evaluation") or {}).get("measure")) or {})
    if measure_settings:
        own.update({k: v for k, v in dict(measure_settings).items() if v is not None})
    fields = set(MeasureSettings.model_fields)
    return MeasureSettings.model_validate({k: v for k, v in own.items() if k in fields})


def check_overrides(*, runtimes: str | None = None, threads: int | None = None, min_run_time: float | None = None,
                    speedup_pairs: int | None = None) -> dict[str, Any]:
    """Command-line overrides of the records' measure settings, validated; ValueError (one paragraph) otherwise,
    including when ONNX Runtime is asked for but not installed."""
    from pydantic import ValidationError

    from prunebench.suite import MeasureSettings

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


def remeasure_record(record: dict[str, Any], results_dir: Path, *, measure_settings: Any = None, device: str,
                     images: list[Path] | None, cache_dir: Path, plugins=None) -> dict[str, Any]:
    """The record re-measured from its kept model (see the module docstring); the record given is not changed.

    `measure_settings`: a suite's MeasureSettings, a mapping of overrides on the record's own, or None.
    `device`: resolved ("cpu", "cuda:N"). `images`: the latency images (the dataset's val images); None
    prepares the record's dataset through its plugin (`plugins`, default: all installed) in `cache_dir`.
    NoKeptModel when the record kept no model; ValueError when a kept file's sha256 is not the record's."""
    from prunebench.environment import environment, timing_threads
    from prunebench.measure.cell import as_speedup_vs_study, measure
    from prunebench.plan import short_hash
    from prunebench.yolo.checkpoints import load_model

    if record.get("status") != "ok":
        raise ValueError(f"{record_name(record)}: a failed record has no model to re-measure; rerun the cell")
    settings = resolve_settings(record, measure_settings)
    checkpoint = kept_model(record, results_dir)
    spec = record.get("spec") or {}
    imgsz = int((spec.get("evaluation") or {}).get("imgsz") or 640)

    reference_found, reference_note = None, None
    wants_pairs = settings.latency and settings.speedup_pairs > 0
    study = study_model_of(record, results_dir) if wants_pairs else None
    if wants_pairs and not is_dense(record):
        reference_found = find_reference(record, results_dir)
        if reference_found is None:
            reference_note = ("no dense reference with a kept model (label dense, same model, dataset and seed) in "
                              f"{results_dir}: speed-up not timed")
    elif study is not None:  # a reference model's dense cell: timed against the dense model under study
        reference_found = find_reference(record, results_dir, model=study)
        if reference_found is None:
            reference_note = (f"no dense record of {study} (the model under study) with a kept model in {results_dir}: "
                              "latency not paired with it")
    reference_checkpoint = kept_model(reference_found.record, results_dir) if reference_found else None

    if settings.latency and images is None:
        images = dataset_images(record, cache_dir, plugins=plugins, results_dir=results_dir)
    threads = timing_threads(device, settings.threads)
    model = load_model(checkpoint)
    start = time.perf_counter()
    metrics, details = measure(model, imgsz=imgsz, device=device, images=list(images or []) if settings.latency else [],
                               threads=threads, batch_throughput=settings.throughput_batch,
                               min_run_time=settings.min_run_time, pairs=settings.speedup_pairs,
                               runtimes=tuple(settings.runtimes), checkpoint=checkpoint,
                               reference_checkpoint=reference_checkpoint)
    seconds = time.perf_counter() - start
    if study is not None and reference_found is not None:
        as_speedup_vs_study(metrics, study, details)

    updated = copy.deepcopy(record)
    old = updated.setdefault("metrics", {})
    for key in [k for k in old if k in MEASURED or k.startswith(PER_RUNTIME)]:
        del old[key]
    old.update(metrics)
    env = environment(device, threads)
    details["remeasured"] = {
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "device": device, "threads": threads,
        "settings": settings.model_dump(mode="json"), "model_file": str(checkpoint),
        "reference": ({"name": reference_found.name, "model_file": str(reference_checkpoint)}
                      if reference_found else None),
        "reference_note": reference_note, "previous_environment": record.get("environment"),
        "previous_measure_key": record.get("measure_key"),
    }
    updated.setdefault("details", {})["measure"] = details
    updated.setdefault("timings", {})["measure"] = round(seconds, 3)
    updated["environment"] = env
    evaluation = updated.setdefault("spec", {}).setdefault("evaluation", {})
    evaluation["measure"] = settings.model_dump(mode="json")
    updated["measure_key"] = short_hash(evaluation)  # as prunebench.plan keys the evaluation block
    return updated


def dataset_images(record: dict[str, Any], cache_dir: Path, *, plugins=None,
                   results_dir: Path | None = None) -> list[Path]:
    """The record's dataset's val images: its plugin (spec.dataset.plugin) built with spec.dataset.params,
    prepared in `cache_dir` (a generated dataset is generated again if the cache lost it). Relative paths in
    the params start at the suite file's folder, as in the run (the record's suite_file, relative to
    `results_dir`); a record without one resolves them against the current folder."""
    from prunebench.plugins import load_plugins

    dataset = (record.get("spec") or {}).get("dataset") or {}
    plugins = plugins or load_plugins()
    try:
        cls = plugins.registry.get("datasets", dataset.get("plugin"))
    except LookupError as exc:
        raise ValueError(f"{record_name(record)}: its dataset plugin is not installed here ({exc}); "
                         "install the plugin that provides it, or pass the images yourself") from None
    base_dir = None
    if record.get("suite_file"):
        suite_file = Path(record["suite_file"])
        base_dir = (suite_file if suite_file.is_absolute() else Path(results_dir or ".") / suite_file).parent
    source = cls(cls.Params.model_validate(dataset.get("params") or {}), base_dir=base_dir)
    source.check()
    prepared = source.prepare(Path(cache_dir))
    if not prepared.val_images:
        raise ValueError(f"{record_name(record)}: dataset {dataset.get('name')!r} has no validation images to time "
                         "latency on; re-measure with latency off or fix the dataset")
    return list(prepared.val_images)


# ---------------------------------------------------------------- a results folder (`prunebench measure`)
@dataclass
class Row:
    name: str
    status: str  # "re-measured" | "skipped: ..." | "failed: ..."
    record: dict[str, Any] | None = None


def remeasure_folder(results_dir: Path, *, patterns: Iterable[str] = (), overrides: Mapping[str, Any] | None = None,
                     device: str | None = None, cache_dir: Path, plugins=None,
                     log: Callable[[str], None] = print) -> list[Row]:
    """Re-measure every ok record (matching `patterns`) that kept its model, dense references first, each
    written atomically under the cell's lock; records without a kept model are skipped (listed)."""
    from filelock import FileLock, Timeout

    from prunebench.environment import resolve_device

    selected = select_records(results_dir, patterns)
    if not selected:
        raise ValueError(f"no ok record in {cells_dir(results_dir)}" + (f" matches {' '.join(patterns)}" if patterns
                                                                        else "") + "; nothing to re-measure")
    selected.sort(key=lambda f: (not is_dense(f.record), f.name))  # references first: their rows are timed too
    images_by_dataset: dict[str, list[Path]] = {}
    locks = cells_dir(results_dir) / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    rows = []
    for found in selected:
        name = found.name
        try:
            kept_model(found.record, results_dir, verify=False)
        except NoKeptModel:
            rows.append(Row(name, "skipped: no kept model"))
            continue
        lock = FileLock(str(locks / f"{found.path.name}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            rows.append(Row(name, "skipped: another prunebench process holds this cell"))
            continue
        try:
            where = resolve_device(device or (found.record.get("environment") or {}).get("device") or "auto")
            settings = resolve_settings(found.record, overrides)
            images = None
            if settings.latency:
                key = _dataset_key(found.record)
                if key not in images_by_dataset:
                    images_by_dataset[key] = dataset_images(found.record, cache_dir, plugins=plugins,
                                                            results_dir=results_dir)
                images = images_by_dataset[key]
            log(f"{name}: re-measuring on {where} ({', '.join(settings.runtimes)})")
            updated = remeasure_record(found.record, results_dir, measure_settings=settings, device=where,
                                       images=images, cache_dir=cache_dir, plugins=plugins)
            write_record(results_dir, found.path.name, updated)
            rows.append(Row(name, "re-measured", updated))
        except (ValueError, RuntimeError, OSError) as exc:
            rows.append(Row(name, f"failed: {exc}"))
        finally:
            lock.release()
    return rows


def _dataset_key(record: dict[str, Any]) -> str:
    from prunebench.plan import canonical_json

    dataset = (record.get("spec") or {}).get("dataset") or {}
    return canonical_json({"plugin": dataset.get("plugin"), "params": dataset.get("params")})


def table(rows: list[Row]) -> str:
    """A short table: cell, what happened, latency (torch and ONNX Runtime) and paired speed-ups with their IQR."""
    from tabulate import tabulate

    def num(value, fmt="{:.2f}"):
        return "-" if value is None else fmt.format(value)

    def speed(metrics, suffix=""):
        value, spread = metrics.get(f"speedup_vs_dense{suffix}"), metrics.get(f"speedup_iqr{suffix}")
        if value is None and (study := metrics.get(f"speedup_vs_study{suffix}")) is not None:
            # a reference model's dense cell: how much faster than the model under study, in pairs
            return f"{study:.2f}x vs study ± {num(metrics.get(f'speedup_vs_study_iqr{suffix}'))}"
        return "-" if value is None else f"{value:.2f}x ± {num(spread)}"

    lines = []
    for row in rows:
        m = (row.record or {}).get("metrics") or {}
        lines.append((row.name, row.status if len(row.status) < 90 else row.status[:87] + "...",
                      num(m.get("latency_ms")), speed(m), num(m.get("latency_ms_onnxruntime")), speed(m, "_onnxruntime"),
                      num(m.get("gflops"), "{:.3f}")))
    return tabulate(lines, headers=("cell", "result", "torch ms", "speed-up (IQR)", "ORT ms", "ORT speed-up (IQR)",
                                    "GFLOPs"), tablefmt="github")


def summary_error(rows: list[Row]) -> str | None:
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


__all__ = ["Found", "Row", "check_overrides", "dataset_images", "remeasure_folder", "remeasure_record", "resolve_settings", "table"]
