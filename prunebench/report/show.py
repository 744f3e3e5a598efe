"""`prunebench show CELL`: one cell's record, readably.

CELL is a record file, a cell name, a key prefix (at least 4 characters), or else a glob or part of a
name that only one record matches, looked up in the given
results folders (default: every folder under ./results that has a cells/ folder). Reads records and
checks files; runs no model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prunebench.records.kept import export_content
from prunebench.records.record import Record, RecordError
from prunebench.records.store import CELLS_DIRNAME, iter_records, read_record
from prunebench.util.filehash import hash_file
from prunebench.util.metrics import ACCURACY
from prunebench.util.patterns import matches
from prunebench.util.safe_paths import inside


def find_record(cell: str, results_dirs: list[Path] | None = None) -> tuple[Path, Record, Path]:
    """(record path, record, its results folder) for CELL; ValueError (one paragraph) when none or several match."""
    candidate = Path(cell)
    if candidate.suffix == ".json" and candidate.is_file():
        try:
            record = read_record(candidate)
        except RecordError as exc:
            raise ValueError(f"{candidate} is not a prunebench record this version can read: {exc}") from None
        return candidate, record, _results_of(candidate)
    dirs = results_dirs if results_dirs else sorted(p.parent for p in Path("results").glob(f"*/{CELLS_DIRNAME}"))
    if not dirs:
        raise ValueError(f"no results folder to look for {cell!r} in (none under ./results); pass --results DIR")
    exact, by_key, partial = [], [], []
    for folder in dirs:
        for path, record in iter_records([folder]):
            name = record.name
            if cell in (name, path.name, path.stem):
                exact.append((path, record, Path(folder)))
            elif len(cell) >= 4 and record.key.startswith(cell):
                by_key.append((path, record, Path(folder)))
            elif matches(name, [cell]):  # a glob or a part of the name, as --only takes them
                partial.append((path, record, Path(folder)))
    found = exact or by_key or partial
    if len(found) == 1:
        return found[0]
    where = ", ".join(str(d) for d in dirs)
    if not found:
        raise ValueError(f"no record named {cell!r} or with a key starting {cell!r} in {where}; "
                         "`prunebench leaderboard DIR` lists the cells, or pass a record file")
    listed = "; ".join(f"{r.name} ({p})" for p, r, _ in found[:8])
    raise ValueError(f"{cell!r} matches {len(found)} records: {listed}{' ...' if len(found) > 8 else ''}; "
                     "give the full cell name, a longer key prefix, --results DIR or the record file")


def _results_of(record_path: Path) -> Path:
    folder = record_path.resolve().parent
    return folder.parent if folder.name == CELLS_DIRNAME else folder


def render(record: Record, path: Path, results_dir: Path) -> str:
    lines: list[str] = []
    add = lines.append
    spec, metrics, details = record.spec, record.metrics, record.details
    add(f"{record.name}   [{record.status}]")
    add(f"  record: {path}")
    add(f"  key {record.key}, measure_key {record.measure_key or '-'}, suite {record.suite}, "
        f"schema {record.schema_version}")
    error = record.error
    if error:
        add("")
        add(f"error ({error.get('phase') or 'unknown phase'}): {error.get('type')}: {error.get('message')}")
        if error.get("hint"):
            add(f"  hint: {error['hint']}")

    add("")
    add("spec")
    model, dataset, strategy = record.spec.get("model") or {}, record.dataset_spec, record.strategy_spec
    add(f"  model     {model.get('name')} (plugin {model.get('plugin')}, role {model.get('role', '-')}) "
        f"{_compact(model.get('params'))}".rstrip())
    add(f"  dataset   {dataset.get('name')} (plugin {dataset.get('plugin')}"
        f"{', synthetic' if dataset.get('synthetic') else ''}) {_compact(dataset.get('params'))}".rstrip())
    structured = {True: ", structured", False: ", unstructured"}.get(strategy.get("structured"), "")
    add(f"  strategy  {strategy.get('label', strategy.get('name'))} (name {strategy.get('name')}{structured}) "
        f"{_compact(strategy.get('params'))}".rstrip())
    amount = (f"target {spec['target']}x fewer GFLOPs" if spec.get("target") is not None
              else f"amount {spec.get('amount')}")
    add(f"  {amount}, seed {spec.get('seed')}")
    add(f"  finetune  {_compact(spec.get('finetune')) or 'none'}")
    if spec.get("schedule"):
        add(f"  schedule  {_compact(spec['schedule'])}")
    evaluation = dict(record.evaluation)
    measure = evaluation.pop("measure", None)
    add(f"  evaluation {_compact(evaluation)}")
    add(f"  measure   {_compact(measure)}")

    if record.ok or any(metrics.get(k) is not None for k in ACCURACY):
        add("")
        split = details.get("eval_split", "val")
        add(f"accuracy (headline split: {split})")
        add("  " + _row(metrics, ACCURACY))
        for name, values in sorted((details.get("metrics_by_split") or {}).items()):
            add(f"  {name:<5} " + _row(values or {}, ACCURACY))
        before = details.get("metrics_before_finetune")
        if before:
            add("  before fine-tuning: " + _row(before, ACCURACY))
        add("")
        add("costs")
        add("  " + _row(metrics, ("params", "nonzero_params", "sparsity", "gflops", "nonzero_gflops")))
        add("  " + _row(metrics, ("size_fp32_bytes", "size_fp16_bytes", "size_fp16_gzip_bytes")))
        add("")
        add("latency")
        add(_latency(metrics, record.detail_dict("measure"), record.environment))

    timings = record.timings
    if timings:
        add("")
        add("timings (s): " + ", ".join(f"{k} {v:g}" for k, v in timings.items() if isinstance(v, (int, float))))
    add("")
    add("files")
    add(_files(record, results_dir))
    env = record.environment
    if env:
        add("")
        add(f"environment: {env.get('device')} ({env.get('device_name')}), {env.get('threads')} timing threads, "
            f"torch {env.get('torch')}, ultralytics {env.get('ultralytics')}, prunebench {env.get('prunebench')}, "
            f"host {env.get('hostname')}, git {str(env.get('git_sha') or '-')[:12]}")
    add(f"started {record.started_at}, finished {record.finished_at}")
    return "\n".join(lines) + "\n"


def _latency(metrics: dict[str, Any], measure: dict[str, Any], env: dict[str, Any]) -> str:
    out = []
    latency = measure.get("latency") or {}
    if metrics.get("latency_ms") is None:
        reason = latency.get("skipped") if isinstance(latency, dict) else None
        out.append(f"  torch: not measured{f' ({reason})' if reason else ''}")
    else:
        noisy = " [busy machine: noisy]" if latency.get("noisy") else ""
        out.append(f"  torch ({env.get('device', '?')}, {latency.get('threads', env.get('threads'))} threads): "
                   f"forward {metrics['latency_ms']:.2f} ms (IQR {_num(metrics.get('latency_iqr_ms'))}), "
                   f"end to end {_num(metrics.get('e2e_latency_ms'))} ms, throughput "
                   f"{_num(metrics.get('throughput_ips'), '{:.1f}')} img/s{noisy}")
        out.append(f"    speed-up vs dense {_speedup(metrics)}"
                   + _pairs(measure.get("paired_speedup")))
    for runtime, info in sorted((measure.get("runtimes") or {}).items()):
        value = metrics.get(f"latency_ms_{runtime}")
        providers = ", ".join(info.get("providers") or []) or "?"
        noisy = " [busy machine: noisy]" if info.get("noisy") else ""
        out.append(f"  {runtime} ({providers}, {info.get('threads')} threads): forward {_num(value)} ms "
                   f"(IQR {_num(metrics.get(f'latency_iqr_ms_{runtime}'))}){noisy}")
        if info.get("cuda_unavailable"):
            out.append(f"    {info['cuda_unavailable']}")
        out.append(f"    speed-up vs dense {_speedup(metrics, f'_{runtime}')}"
                   + _pairs(info.get("paired_speedup")))
    remeasured = measure.get("remeasured")
    if remeasured:
        out.append(f"  re-measured {remeasured.get('at')} on {remeasured.get('device')} from the kept model")
    return "\n".join(out)


def _files(record: Record, results_dir: Path) -> str:
    out = []
    entry = record.model_file
    try:
        path = record.model_path(results_dir)
    except ValueError as exc:  # a path outside the results folder: named, never opened
        out.append(f"  model: refused: {exc}")
        path = entry = None
    if entry is None:
        if not out:
            out.append("  model: none kept (run the suite with `keep_models: all` to keep one)")
    elif path is None:
        out.append("  model: none kept (run the suite with `keep_models: all` to keep one)")
    elif not path.is_file():
        out.append(f"  model: {path}  MISSING (recorded {entry.bytes} bytes)")
    else:
        recorded = entry.sha256
        actual = hash_file(path)
        check = ("sha256 matches the record" if actual == recorded else
                 f"sha256 MISMATCH: file {actual[:16]}..., record {str(recorded)[:16]}... (replaced after the run)")
        out.append(f"  model: {path}  ({path.stat().st_size} bytes; {check})")
    exports = record.exports
    for fmt, info in sorted(exports.items()):
        try:
            export = inside(results_dir, str(info.get("path", "")), what=f"{fmt} export path")
        except ValueError as exc:
            out.append(f"  {fmt}: refused: {exc}")
            continue
        if not export.exists():
            out.append(f"  {fmt}: {export}  MISSING")
            continue
        now = export_content(export)
        same = now["sha256"] == info.get("sha256")
        stale = entry is not None and info.get("model_sha256") not in (None, entry.sha256)
        out.append(f"  {fmt}: {export}  ({now['bytes']} bytes, imgsz {info.get('imgsz')}; "
                   f"{'sha256 matches the record' if same else 'sha256 MISMATCH (changed since export)'}"
                   f"{'; exported from another model file (stale)' if stale else ''})")
    if path is not None and path.is_file() and not exports:
        out.append(f"  exports: none recorded (`prunebench export {results_dir} --only {record.name} "
                   "--format onnx`)")
    return "\n".join(out)


def _pairs(paired: dict[str, Any] | None) -> str:
    if not paired or "per_pair" not in paired:
        return ""
    return f" (per pair {', '.join(f'{r:.3f}' for r in paired['per_pair'])})"


def _speedup(metrics: dict[str, Any], suffix: str = "") -> str:
    """"1.342x [1.290, 1.401], 31 pairs (IQR 0.050)"; "no 95 % interval" for a record timed before them."""
    value = metrics.get(f"speedup_vs_dense{suffix}")
    if value is None:
        return "-"
    low, high = metrics.get(f"speedup_low{suffix}"), metrics.get(f"speedup_high{suffix}")
    pairs, capped = metrics.get(f"speedup_pairs{suffix}"), metrics.get(f"speedup_capped{suffix}") is True
    interval = f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else " (no 95 % interval)"
    counted = f", {pairs} pairs" + (", time cap hit before the asked width" if capped else "") if pairs else ""
    return f"{value:.3f}x{interval}{counted} (IQR {_num(metrics.get(f'speedup_iqr{suffix}'), '{:.3f}')})"


def _num(value, fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _row(values: dict[str, Any], keys: tuple[str, ...]) -> str:
    parts = []
    for key in keys:
        value = values.get(key)
        if value is None:
            text = "-"
        elif isinstance(value, float) and key.endswith("bytes"):
            text = f"{value:.0f}"
        elif isinstance(value, float):
            text = f"{value:.4g}"
        else:
            text = str(value)
        parts.append(f"{key} {text}")
    return ", ".join(parts)


def _compact(value: Any) -> str:
    if value in (None, {}, []):
        return ""
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))
