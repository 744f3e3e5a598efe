"""Compare two results folders cell by cell, in the spirit of `asv compare`.

Cells are matched by what was run (model, dataset, strategy label and params, amount or speed-up
target, seed), not by record key, so runs of different code versions or suite settings still line
up. Only changes larger than the threshold are shown: absolute for accuracy (fractions, so 0.01 =
one percentage point), relative for everything else (0.01 = 1 %). A cell that failed on one side
only is always shown; so is a cell whose accuracy was measured on another split or image size (its
accuracy is then not compared). The summary says in words whether accuracy matched. Reads records
only; imports neither torch nor matplotlib.

A shown change is called better or worse only when the spreads of both sides allow it (the same rules as
the leaderboard's): mAP when the paired bootstrap interval of the difference (both records resampled over the
same images) excludes 0, else "within interval"; a paired speed-up when the two differ by more than the sum
of their IQRs, else "within spread"; an absolute latency only between two quiet timings on one machine and
beyond the sum of their IQRs, else it is "context" (another machine, another load: not a verdict). Counted
costs (GFLOPs, params, sizes) have no spread: any change beyond the threshold is better or worse; precision
and recall, which have no interval, "changed".

Accuracy across processors: CPU (and GPU) training is not bit-identical across processors, so when the two
records were made on different processors (environment device_name, else cpu) a change of mAP is a draw of
training noise as much as of the images. It is judged against the paired image interval widened by the
seed-to-seed spread the records show (the SD of the row's seeds on each side, pooled, times a t quantile for
that few seeds, times √2 for a difference of two trainings); with one seed on each side there is no spread to
judge by, and the change is shown as "context" with that sentence. On the same processor with the same commit
(clean trees) and the same torch and Ultralytics, CPU training reproduces exactly: any accuracy difference,
however small, is shown as "unexpected".
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from prunebench.report.intervals import Estimate, verdict
from prunebench.report.leaderboard import check_format
from prunebench.report.rows import ACCURACY, Entry, entries
from prunebench.report.speed import against, ratio
from prunebench.util.canonical import canonical_json
from prunebench.util.metrics import CATALOGUE
from prunebench.records.store import iter_records

DEFAULT_METRICS = ("map50", "map50_95", "precision", "recall", "latency_ms", "e2e_latency_ms", "speedup_vs_dense",
                   "gflops", "params", "nonzero_params", "size_fp16_gzip_bytes")
# metric -> (label, scale for display, format, higher is better, compared in absolute points), from the catalogue
METRICS: dict[str, tuple[str, float, str, bool, bool]] = {
    m.name: (m.heading, m.scale, m.fmt, m.higher_is_better, m.points) for m in CATALOGUE}
RESULT_ORDER = {"failed": 0, "unexpected": 1, "worse": 2, "better": 3, "fixed": 4, "changed": 5, "within interval": 6,
                "within spread": 7, "context": 8, "n/a": 9}
ONE_SEED_ACROSS_PROCESSORS = ("another processor, one seed: CPU training is not bit-identical across processors, so "
                              "this is context, not a verdict")
EXACT = "same processor, commit, torch and Ultralytics: training should reproduce exactly"
LATENCY = ("latency_ms", "e2e_latency_ms", "throughput_ips", "latency_iqr_ms")
SPREAD_OF = {"latency_ms": "latency_iqr_ms", "speedup_vs_dense": "speedup_iqr"}


def identity(entry: Entry) -> str:
    """What was run, independent of code version and record key: model, dataset, strategy label and params,
    amount or speed-up target, seed."""
    return canonical_json([entry.model, entry.dataset, entry.strategy, entry.record.strategy_spec.get("params") or {},
                           entry.amount, entry.target, entry.seed, *_runtime(entry)])


def cell_name(entry: Entry) -> str:
    """As the record names the cell: "<model>.<dataset>.<label>.<a0.30 | x2.00>.s<seed>"."""
    return f"{entry.model}.{entry.dataset}.{entry.strategy}.{entry.record.asked.label()}.s{entry.seed}"


def evaluation_text(entry: Entry) -> str:
    return f"{entry.eval_split or 'split not recorded'} at imgsz {entry.imgsz}"


def _load(folder: Path) -> dict[str, list[Entry]]:
    """identity -> the newest record per device in `folder`."""
    newest: dict[tuple[str, str], Entry] = {}
    for entry in entries(record for _, record in iter_records([folder])):
        slot = (identity(entry), entry.device)
        if slot not in newest or str(entry.record.finished_at) > str(newest[slot].record.finished_at):
            newest[slot] = entry
    if not newest:
        raise ValueError(f"no records found in {folder} (looked in {Path(folder) / 'cells'}): compare needs two "
                         "results folders written by `prunebench run`; check the path.")
    grouped: dict[str, list[Entry]] = {}
    for (ident, _), entry in sorted(newest.items()):
        grouped.setdefault(ident, []).append(entry)
    return grouped


def _pairs(a: list[Entry], b: list[Entry]) -> tuple[list[tuple[Entry, Entry]], list[Entry], list[Entry]]:
    """Pair by device; one record left on each side is paired across devices (then labelled A -> B)."""
    by_device = {e.device: e for e in b}
    pairs = [(x, by_device.pop(x.device)) for x in a if x.device in by_device]
    left_a = [x for x in a if not any(x is paired for paired, _ in pairs)]
    left_b = list(by_device.values())
    if len(left_a) == 1 and len(left_b) == 1:
        return pairs + [(left_a[0], left_b[0])], [], []
    return pairs, left_a, left_b


def _change(metric: str, a: float | None, b: float | None, threshold: float) -> tuple[str, str] | None:
    """(result, change text) when the difference counts, else None."""
    label, scale, fmt, higher_better, absolute = METRICS[metric]
    if a is None and b is None:
        return None
    if a is None or b is None:
        return "n/a", "measured on one side only"
    if absolute:
        diff = b - a
        if abs(diff) <= threshold:
            return None
        text = f"{format(diff * scale, '+' + fmt)} pts"
    else:
        if a == b or (a != 0 and abs(b / a - 1) <= threshold):
            return None
        diff = b - a
        text = f"{(b / a - 1) * 100:+.1f}% (x{b / a:.2f})" if a else "from 0"
    return ("better" if (diff > 0) == higher_better else "worse"), text


def processor(entry: Entry) -> str | None:
    """The processor a record trained and was evaluated on: its device name, else its CPU."""
    return entry.record.env("device_name") or entry.record.env("cpu")


def other_processors(a: Entry, b: Entry) -> bool:
    pa, pb = processor(a), processor(b)
    return pa is not None and pb is not None and pa != pb


def reproducible(a: Entry, b: Entry) -> bool:
    """Same processor, same commit from clean trees, same torch and Ultralytics, on a CPU: identical accuracy
    is expected."""
    env_a, env_b = a.record.env, b.record.env
    return (processor(a) is not None and not other_processors(a, b) and a.record.env("device") == "cpu"
            and b.record.env("device") == "cpu" and env_a("git_sha") is not None
            and env_a("git_dirty") is False and env_b("git_dirty") is False
            and all(env_a(k) == env_b(k) for k in ("git_sha", "torch", "ultralytics")))


def row_identity(entry: Entry) -> str:
    """What was run, without the seed: the seeds of one row."""
    return canonical_json([entry.model, entry.dataset, entry.strategy, entry.record.strategy_spec.get("params") or {},
                           entry.amount, entry.target, entry.device, *_runtime(entry)])


def _runtime(entry: Entry) -> list[str]:
    """A measured-latency target's runtime ("2x@onnx" is not "2x"); nothing for other cells, whose identities stay
    as they were."""
    return [entry.record.target_runtime] if entry.record.target_runtime else []


def seed_values(grouped: dict[str, list[Entry]]) -> dict[str, list[Entry]]:
    """row identity -> the ok entries of that row, one per seed."""
    rows: dict[str, list[Entry]] = {}
    for group in grouped.values():
        for entry in group:
            if entry.ok:
                rows.setdefault(row_identity(entry), []).append(entry)
    return rows


def seed_term(metric: str, a: Entry, b: Entry, seeds: tuple[dict, dict]) -> tuple[float, str] | None:
    """(half-width a difference of two trainings gets from seed noise, how it was found) from the seeds of the
    row on each side: the pooled SD, times the t quantile of its degrees of freedom, times √2; None with one seed
    on each side."""
    squares, df, counts = 0.0, 0, []
    for entry, rows in ((a, seeds[0]), (b, seeds[1])):
        values = [e.metric(metric) for e in rows.get(row_identity(entry), [])]
        values = [v for v in values if v is not None]
        counts.append(len(values))
        if len(values) > 1:
            mean = sum(values) / len(values)
            squares += sum((v - mean) ** 2 for v in values)
            df += len(values) - 1
    if df == 0:
        return None
    from scipy.stats import t as student_t  # here: scipy.stats takes about a second to import

    sd = (squares / df) ** 0.5
    return (float(student_t.ppf(0.975, df)) * sd * 2 ** 0.5,
            f"seed SD {sd * 100:.1f} pts over {counts[0]} + {counts[1]} seeds, t({df})")


def judged(metric: str, a: Entry, b: Entry, found: tuple[str, str],
           seeds: tuple[dict, dict] = ({}, {})) -> tuple[str, str]:
    """A change beyond the threshold, called better or worse only where both sides' spreads allow it."""
    result, text = found
    if result not in ("better", "worse"):
        return found
    if metric in ("map50", "map50_95"):
        ea, eb = _estimate(a, metric), _estimate(b, metric)
        if ea is None or eb is None or verdict(eb.minus(ea)) is None:
            return "changed", text + " (no paired interval)"
        difference = eb.minus(ea)
        low, high, note = difference.low, difference.high, ""
        if other_processors(a, b):
            term = seed_term(metric, a, b, seeds)
            if term is None:
                return "context", f"{text} [{low * 100:+.1f}, {high * 100:+.1f}] ({ONE_SEED_ACROSS_PROCESSORS})"
            spread, how = term
            low = difference.value - ((difference.value - low) ** 2 + spread ** 2) ** 0.5
            high = difference.value + ((high - difference.value) ** 2 + spread ** 2) ** 0.5
            note = f" with the seed spread (another processor; {how})"
        shown = f"{text} [{low * 100:+.1f}, {high * 100:+.1f}]{note}"
        return ("within interval" if low <= 0 <= high else result), shown
    if metric in ("precision", "recall"):
        return "changed", text
    if metric == "speedup_vs_dense":
        sa, sb = (against([e], "dense") for e in (a, b))
        if sa is not None and sb is not None and sa.has_interval and sb.has_interval:
            # the two speed-ups' ratio with the endpoints' interval (report.speed.ratio): conservative
            low, high = ratio(sb, sa).bounds()
            shown = f"{text} (95 % intervals [{sa.low:.2f}, {sa.high:.2f}], [{sb.low:.2f}, {sb.high:.2f}])"
            return ("within interval" if low <= 1 <= high else result), shown
        ia, ib = a.metric("speedup_iqr"), b.metric("speedup_iqr")
        if ia is None or ib is None or abs(b.metric(metric) - a.metric(metric)) <= ia + ib:
            return "within spread", text + (f" (IQRs {ia:.2f}, {ib:.2f})" if ia is not None and ib is not None else "")
        return result, text
    if metric in LATENCY:
        same_place = a.device == b.device and a.record.env("hostname") == b.record.env("hostname")
        quiet = not (a.noisy_reasons("torch") or b.noisy_reasons("torch"))
        spread = SPREAD_OF.get(metric)
        ia, ib = (a.metric(spread), b.metric(spread)) if spread else (None, None)
        beyond = ia is not None and ib is not None and abs(b.metric(metric) - a.metric(metric)) > ia + ib
        if not (same_place and quiet and beyond):
            why = "another machine" if not same_place else "a busy timing" if not quiet else "within the IQRs"
            return "context", f"{text} ({why}: compare the paired speed-ups)"
    return result, text


def _estimate(entry: Entry, metric: str) -> Estimate | None:
    value, replicates, pairing = entry.estimate_parts(metric)
    if value is None:
        return None
    return Estimate(value, np.asarray(replicates, dtype=float) if replicates else None, pairing)


def _value(metric: str, value: float | None) -> str:
    _, scale, fmt, _, _ = METRICS[metric]
    return "—" if value is None else format(value * scale, fmt)


def _rows(pairs: list[tuple[Entry, Entry]], metrics: Sequence[str], threshold: float,
          seeds: tuple[dict, dict] = ({}, {})) -> tuple[list[dict], dict]:
    """The changes worth showing, and counts: values compared, and per cell whether its accuracy matched."""
    rows: list[dict] = []
    counts = {"values": 0, "accuracy_cells": 0, "accuracy_changed": 0, "accuracy_one_side": 0,
              "accuracy_not_comparable": 0}
    accuracy = [m for m in metrics if m in ACCURACY]
    for a, b in pairs:
        device = a.device if a.device == b.device else f"{a.device} -> {b.device}"
        base = {"cell": cell_name(a), "device": device}
        if a.ok != b.ok:
            failed = b if a.ok else a
            rows.append(base | {"metric": "status", "a": "ok" if a.ok else "failed", "b": "ok" if b.ok else "failed",
                                "change": failed.error_line, "result": "failed" if a.ok else "fixed",
                                "a_value": None, "b_value": None})
            continue
        if not a.ok:
            continue
        comparable = evaluation_text(a) == evaluation_text(b)
        if accuracy and not comparable:
            counts["accuracy_not_comparable"] += 1
            rows.append(base | {"metric": "evaluation", "a": evaluation_text(a), "b": evaluation_text(b),
                                "change": "accuracy measured on another split or size: not compared",
                                "result": "n/a", "a_value": None, "b_value": None})
        cell_changes = []
        for metric in metrics:
            if metric in ACCURACY and not comparable:
                continue
            va, vb = a.metric(metric), b.metric(metric)
            counts["values"] += va is not None or vb is not None
            found = _change(metric, va, vb, threshold)
            beyond = found is not None
            if metric in ACCURACY and None not in (va, vb) and va != vb and reproducible(a, b):
                found = ("unexpected", f"{format((vb - va) * METRICS[metric][1], '+.2f')} pts ({EXACT})")
            elif found is not None and None not in (va, vb):
                found = judged(metric, a, b, found, seeds)
            if found is not None:
                if None not in (va, vb) and beyond:
                    cell_changes.append(metric)
                rows.append(base | {"metric": metric, "a": _value(metric, va), "b": _value(metric, vb),
                                    "change": found[1], "result": found[0], "a_value": va, "b_value": vb})
        if accuracy and comparable:
            measured = [(a.metric(m), b.metric(m)) for m in accuracy]
            if any(None not in pair for pair in measured):
                counts["accuracy_cells"] += 1
                counts["accuracy_changed"] += any(m in cell_changes for m in accuracy)
            counts["accuracy_one_side"] += any((x is None) != (y is None) for x, y in measured)
    order = [*METRICS, "evaluation"]
    rows.sort(key=lambda r: (RESULT_ORDER[r["result"]], r["cell"], r["device"],
                             order.index(r["metric"]) if r["metric"] in order else -1))
    return rows, counts


def accuracy_verdict(counts: dict[str, int], threshold: float, metrics: Sequence[str]) -> str:
    """One sentence that says whether accuracy matched, never leaving it to be inferred from an empty table."""
    names = [METRICS[m][0].split(" (")[0] for m in metrics if m in ACCURACY]
    if not names:
        return "Accuracy was not compared (no accuracy metric asked for)."
    within = f"within {_points(threshold)} ({', '.join(names)})"
    cells, changed = counts["accuracy_cells"], counts["accuracy_changed"]
    extra = []
    if counts["accuracy_one_side"]:
        extra.append(f"{counts['accuracy_one_side']} measured on one side only")
    if counts["accuracy_not_comparable"]:
        extra.append(f"{counts['accuracy_not_comparable']} measured on another split or size, not compared")
    tail = f"; {'; '.join(extra)}." if extra else "."
    if not cells:
        return "Accuracy could not be compared: no matched cell has it on both sides" + tail
    if changed == 0:
        return f"Accuracy matched on all {cells} cells {within}" + tail
    return f"Accuracy changed by more than {_points(threshold)} on {changed} of {cells} cells ({', '.join(names)})" + tail


def _points(threshold: float) -> str:
    points = threshold * 100
    return f"{points:g} pt" + ("" if points == 1 else "s")


def _check(threshold: float, metrics: Sequence[str], fmt: str) -> None:
    check_format(fmt, ("github", "csv", "json"))
    if not threshold >= 0:
        raise ValueError(f"threshold {threshold!r} is negative: use 0 or more (0.01 hides changes under one "
                         "percentage point of accuracy and under 1 % of latency, size and FLOPs).")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(map(repr, unknown))} for compare: choose from "
                         f"{', '.join(METRICS)}.")


def compare(dir_a: Path, dir_b: Path, *, threshold: float = 0.01, metrics: Sequence[str] = DEFAULT_METRICS,
            fmt: str = "github") -> str:
    """The cells of two results folders side by side: how many matched, which are only in one, and each
    metric that changed by more than `threshold` (absolute for accuracy fractions, relative otherwise)."""
    _check(threshold, metrics, fmt)
    a, b = _load(Path(dir_a)), _load(Path(dir_b))
    pairs, only_a, only_b = [], [], []
    for ident in sorted(a.keys() | b.keys()):
        matched, left_a, left_b = _pairs(a.get(ident, []), b.get(ident, []))
        pairs += matched
        only_a += left_a
        only_b += left_b
    rows, counts = _rows(pairs, metrics, threshold, (seed_values(a), seed_values(b)))
    only_a_names = sorted(f"{cell_name(e)} ({e.device})" for e in only_a)
    only_b_names = sorted(f"{cell_name(e)} ({e.device})" for e in only_b)
    if fmt == "json":
        return json.dumps({"a": str(dir_a), "b": str(dir_b), "threshold": threshold, "matched": len(pairs),
                           "only_in_a": only_a_names, "only_in_b": only_b_names, "values_compared": counts["values"],
                           "accuracy_cells_compared": counts["accuracy_cells"],
                           "accuracy_cells_changed": counts["accuracy_changed"],
                           "accuracy": accuracy_verdict(counts, threshold, metrics),
                           "changes": [_machine(r) for r in rows]}, indent=1, ensure_ascii=False) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        from prunebench.report.escape import csv_cell

        writer = csv.DictWriter(buffer, fieldnames=["result", "cell", "device", "metric", "a", "b", "change"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in _machine(r).items()} for r in rows)
        return buffer.getvalue()
    return _text(dir_a, dir_b, threshold, pairs, only_a_names, only_b_names, rows, counts,
                 accuracy_verdict(counts, threshold, metrics))


def _machine(row: dict[str, Any]) -> dict[str, Any]:
    numeric = row["metric"] in METRICS
    return {"result": row["result"], "cell": row["cell"], "device": row["device"], "metric": row["metric"],
            "a": row["a_value"] if numeric else row["a"], "b": row["b_value"] if numeric else row["b"],
            "change": row["change"]}


def _text(dir_a, dir_b, threshold, pairs, only_a, only_b, rows, counts, verdict) -> str:
    from tabulate import tabulate

    from prunebench.report.escape import markdown_cell

    changed = len([r for r in rows if r["metric"] in METRICS])
    lines = [f"A: {dir_a}", f"B: {dir_b}",
             f"Cells matched: {len(pairs)}; only in A: {len(only_a)}; only in B: {len(only_b)}.",
             *[f"  only in A: {markdown_cell(name)}" for name in only_a],
             *[f"  only in B: {markdown_cell(name)}" for name in only_b],
             f"Threshold {threshold:g}: shown are accuracy changes over {threshold * 100:g} pts (absolute) and other "
             f"changes over {threshold * 100:g} % (relative). {changed} of {counts['values']} compared "
             "values changed more than that.", verdict]
    if rows:
        table = [[markdown_cell(str(c)) for c in (r["result"], r["cell"], r["device"], METRICS[r["metric"]][0]
                                                  if r["metric"] in METRICS else r["metric"], r["a"], r["b"],
                                                  r["change"])] for r in rows]
        lines += ["", tabulate(table, headers=["Result", "Cell", "Device", "Metric", "A", "B", "Change"],
                               tablefmt="github", disable_numparse=True)]
    else:
        lines.append("No change above the threshold.")
    return "\n".join(lines) + "\n"
