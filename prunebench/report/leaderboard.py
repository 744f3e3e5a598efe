"""Records -> leaderboards: one table per model x dataset, as GitHub markdown, CSV, JSON, LaTeX or HTML.

Rows: the plain dense row and the fine-tuned dense control(s) first, then the pruned rows grouped by cost
class, mean ± sample std over seeds. What each row is compared with, where it stands and what dominates it is
decided in `prunebench.report.rows` (the one row model the plots and compare read too); this module only says
it. Reads records only; imports neither torch nor matplotlib (plots live in `prunebench.report.plots`).
"""

from __future__ import annotations

import csv
import datetime
import html
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from prunebench.records.record import Record
from prunebench.records.literature import Figure
from prunebench.report.intervals import Estimate, seed_spread_note
from prunebench.report.first_screen import leaderboard_answers
from prunebench.report.rows import (AVERAGED, COST_CLASS_WIDTH, Row, Section, as_records, build_sections,
                                    figure_prefix, runtimes_in, size_label)
from prunebench.report.answers import answer
from prunebench.report.speed import Speed, speed_text
from prunebench.report.verdicts import (COLLAPSE_FLOOR, COLLAPSE_FRACTION, COLLAPSED, DOMINATED, NONE,
                                        NONE_AS_CHEAP, TIED, other_deployments, other_dense_models)

MISSING = "—"
NOT_MEASURED = "not measured"
PARETO_MARK = "★"
UNSTRUCTURED_MARK = "†"
NO_CONTROL_MARK = "‡"
BUSY_MARK = "§"
EXTENSIONS = {"github": ".md", "csv": ".csv", "json": ".json", "latex": ".tex", "html": ".html"}
SHOWN_WITH_STD = ("map50", "map50_95", "precision", "recall", "latency_ms")
NO_CONTROL_NOTE = (f"{NO_CONTROL_MARK} no fine-tuned control with this recipe: Δ is against the un-fine-tuned dense "
                   "model and flatters fine-tuned rows.")
SPLIT_WHY = {
    "test": "the test split (held out: the val split chose the baseline's best epoch, so val figures would be "
            "optimistic)",
    "val": "the val split (the dataset has no test split; val also chose the baseline's best epoch, so these "
           "figures are optimistic)",
}


# ---------------------------------------------------------------- rows -> cells
def _number(value: float | None, fmt: str, scale: float = 1.0) -> str:
    return MISSING if value is None else format(value * scale, fmt)


def _with_std(row: Row, metric: str, fmt: str, scale: float = 1.0) -> str:
    mean, std = row.stats.get(metric, (None, None))
    text = _number(mean, fmt, scale)
    if mean is not None and std is not None and metric in SHOWN_WITH_STD:
        text += f" ± {format(std * scale, fmt)}"
    return text


def _marked(text: str, *marks: str) -> str:
    marks = tuple(m for m in marks if m)
    return f"{text} {' '.join(marks)}" if marks else text


def interval_text(estimate: Estimate | None, signed: bool = False, scale: float = 100) -> str:
    """"43.4 [38.1, 48.9]" (percent points), "+0.9 [-2.0, 3.7]" for a Δ; the value alone without an interval."""
    if estimate is None:
        return MISSING
    fmt = "+.1f" if signed else ".1f"
    text = format(estimate.value * scale, fmt)
    if estimate.replicates is not None:
        text += f" [{format(estimate.low * scale, fmt)}, {format(estimate.high * scale, fmt)}]"
    return text


def strategy_cell(row: Row) -> str:
    """The label, the schedule's steps ("l1-channel, 5 steps") and the row's footnote numbers."""
    text = row.strategy + (f", {row.steps} steps" if row.steps and row.steps > 1 else "")
    return _marked(text, ", ".join(f"[{n}]" for n in row.notes) if row.ok else "")


def amount_cell(row: Row) -> str:
    """"30%" asked, or a speed-up target "2x" (or measured on a runtime, "2x@onnx") with what it achieved."""
    text = row.first.record.asked.asked()
    if row.target is not None and row.achieved_speedup is not None:
        text += f" (achieved {row.achieved_speedup:.2f}x)"
    return text


def speedup_text(speedup: Speed | None) -> str:
    """"1.34x [1.29, 1.40] ·31p" (prunebench.report.speed.speed_text)."""
    return speed_text(speedup, MISSING)


def reference_cell(row: Row) -> str:
    if row.reference is None:
        return MISSING
    return _marked(row.reference.strategy, "" if row.reference_matches else NO_CONTROL_MARK)


def verdict_cell(row: Row) -> str:
    if row.reference is None:
        return MISSING
    if row.verdict is None:
        return "no interval"
    return row.verdict


def reduction_cell(row: Row, metric: str) -> str:
    """The reduction against the dense row: pruned rows, and the dense model at a smaller input (fewer GFLOPs)."""
    if row.is_dense and not (row.is_smaller_input and metric == "gflops"):
        return MISSING
    return _number(row.reductions.get(metric), ".1f", 100)


def dominated_cell(row: Row) -> str:
    return row.domination.text if row.domination is not None else MISSING


def pareto_cell(row: Row) -> str:
    return PARETO_MARK if row.pareto else ""


def _speed_cell(row: Row, runtime: str) -> str:
    speedup = row.speed if runtime == "torch" else row.runtime_speed.get(runtime)
    return _marked(speedup_text(speedup), UNSTRUCTURED_MARK if row.unstructured else "",
                   BUSY_MARK if row.noisy_on(runtime) else "")


def _shows_domination(section: Section) -> bool:
    return any(r.domination is not None for r in section.rows)


def _runtimes(section: Section) -> list[str]:
    return ["torch", *section.runtimes]


def _deploys(section: Section) -> bool:
    """The section has rows deployed otherwise than as trained (exports, smaller inputs)."""
    return any(r.variant != "torch" or r.is_smaller_input for r in section.rows)


def speedup_vs_torch_cell(row: Row) -> str:
    """The cell's own pairs against dense torch FP32, or "not measured": never a product of two ratios."""
    return NOT_MEASURED if row.vs_torch is None else speedup_text(row.vs_torch)


def speedup_vs_fp32_cell(row: Row) -> str:
    """An INT8 row's pairs against its own FP32 export in the same runtime (FP32 rows: not applicable)."""
    if row.vs_fp32 is None:
        return NOT_MEASURED if row.variant.endswith("-int8") else MISSING
    return speedup_text(row.vs_fp32)


def conversion_cell(row: Row) -> str:
    return interval_text(row.conversion.get("map50_95"), signed=True) if row.conversion else MISSING


def _failed(lead: list[str], row: Row, width: int) -> list[str]:
    refs = ", ".join(f"[{n}]" for n in row.notes)
    return lead + [f"failed {refs}"] + [MISSING] * (width - len(lead) - 1)


def compact_table(section: Section) -> tuple[list[str], list[list[str]]]:
    """The table a reader reads first: about 12 columns (the full table has the rest)."""
    runtimes = _runtimes(section)
    dominated = _shows_domination(section)
    deploys = _deploys(section)
    headers = ["Strategy", "Amount", *(["Deploy"] if deploys else []), "n", "mAP50-95 [95% CI]", "Δ vs",
               "Δ mAP50-95 [95% CI]", "Verdict", "GFLOPs −%",
               *[f"Speed-up {r}" if len(runtimes) > 1 else "Speed-up" for r in runtimes],
               *(["vs dense torch"] if deploys else []), "Size (MB)", PARETO_MARK,
               *(["Dominated by"] if dominated else [])]
    table = []
    for row in section.rows:
        lead = [strategy_cell(row), amount_cell(row), *([row.deploy_label] if deploys else []), str(len(row.cells))]
        if not row.ok:
            table.append(_failed(lead, row, len(headers)))
            continue
        table.append(lead + [
            interval_text(row.accuracy.get("map50_95")), reference_cell(row),
            interval_text(row.delta.get("map50_95"), signed=True), verdict_cell(row), reduction_cell(row, "gflops"),
            *[_speed_cell(row, r) for r in runtimes], *([speedup_vs_torch_cell(row)] if deploys else []),
            _number(row.mean("size_fp16_gzip_bytes"), ".2f", 1e-6), pareto_cell(row),
            *([dominated_cell(row)] if dominated else [])])
    return headers, table


def full_table(section: Section) -> tuple[list[str], list[list[str]]]:
    """Every figure of every row: classes and ranks, both mAPs with intervals, P, R, before fine-tuning, counts,
    costs, and latency and speed-up per runtime."""
    before = any(r.before.get("map50_95") is not None for r in section.rows)
    dominated = _shows_domination(section)
    deploys = _deploys(section)
    runtime_headers = [h for r in section.runtimes for h in (f"Latency {r} (ms)", f"Speed-up {r}")]
    headers = ["Class", "#", "Strategy", "Amount", *(["Deploy"] if deploys else []), "n", "Seeds", "mAP50 [95% CI]",
               "mAP50-95 [95% CI]", *(["Δ vs torch FP32 [95% CI]"] if deploys else []),
               *(["mAP50-95 before FT"] if before else []), "P", "R", "Δ vs", "Why this reference",
               "Δ mAP50 [95% CI]", "Δ mAP50-95 [95% CI]", "Verdict", "Params (M)", "Params −%", "Non-zero (M)",
               "Non-zero −%", "GFLOPs", "GFLOPs −%", "Size (MB)", "Latency (ms)", "Speed-up", *runtime_headers,
               *(["vs dense torch", "INT8 vs its FP32"] if deploys else []), PARETO_MARK,
               *(["Dominated by"] if dominated else [])]
    table = []
    for row in section.rows:
        lead = [f"C{row.cost_class}" if row.cost_class else "", f"{row.rank}/{row.class_size}" if row.rank else "",
                strategy_cell(row), amount_cell(row), *([row.deploy_label] if deploys else []), str(len(row.cells)),
                " ".join(map(str, row.seeds))]
        if not row.ok:
            table.append(_failed(lead, row, len(headers)))
            continue
        runtime_cells = [cell for r in section.runtimes for cell in (
            _marked(_number(row.runtime_latency.get(r), ".2f"), BUSY_MARK if row.noisy_on(r) else ""),
            _speed_cell(row, r))]
        table.append(lead + [
            interval_text(row.accuracy.get("map50")), interval_text(row.accuracy.get("map50_95")),
            *([conversion_cell(row)] if deploys else []),
            *([_number(row.before.get("map50_95"), ".1f", 100)] if before else []),
            _with_std(row, "precision", ".1f", 100), _with_std(row, "recall", ".1f", 100),
            reference_cell(row), row.reference_why or MISSING, interval_text(row.delta.get("map50"), signed=True),
            interval_text(row.delta.get("map50_95"), signed=True), verdict_cell(row),
            _number(row.mean("params"), ".3f", 1e-6), reduction_cell(row, "params"),
            _number(row.mean("nonzero_params"), ".3f", 1e-6), reduction_cell(row, "nonzero_params"),
            _number(row.mean("gflops"), ".2f"), reduction_cell(row, "gflops"),
            _number(row.mean("size_fp16_gzip_bytes"), ".2f", 1e-6),
            _marked(_with_std(row, "latency_ms", ".2f"), BUSY_MARK if row.noisy_on("torch") else ""),
            _speed_cell(row, "torch"), *runtime_cells,
            *([speedup_vs_torch_cell(row), speedup_vs_fp32_cell(row)] if deploys else []),
            pareto_cell(row), *([dominated_cell(row)] if dominated else [])])
    return headers, table


def display_table(section: Section, full: bool = False) -> tuple[list[str], list[list[str]]]:
    """The compact table (default) or the full one."""
    return full_table(section) if full else compact_table(section)


def _estimate_fields(prefix: str, estimate: Estimate | None) -> dict[str, float | None]:
    if estimate is None:
        return {prefix: None, f"{prefix}_low": None, f"{prefix}_high": None}
    return {prefix: _round(estimate.value), f"{prefix}_low": _round(estimate.low), f"{prefix}_high": _round(estimate.high)}


def machine_rows(section: Section, runtimes: Sequence[str] = (), deploys: bool = False) -> list[dict[str, Any]]:
    """Flat rows with raw numbers (for CSV and JSON): fractions, counts, bytes, ms; None when missing.
    `runtimes`: the extra runtimes of every section, so all rows have the same keys; `deploys`: some section
    has deployment variants (then every row says how it is deployed)."""
    out = []
    for row in section.rows:
        first = row.first
        item: dict[str, Any] = {
            "suite": ", ".join(section.suites), "model": section.model, "role": section.role,
            "dataset": section.dataset, "synthetic": section.synthetic, "eval_split": first.eval_split,
            "imgsz": first.imgsz, "device": row.device, "baseline_generation": section.generation,
            "strategy": row.strategy, "strategy_name": first.strategy_name,
            "amount": row.amount, "target": row.target, "achieved_speedup": _round(row.achieved_speedup),
            "steps": row.steps, "finetune": row.recipe, "status": "ok" if row.ok else "failed", "n": len(row.cells),
            "seeds": " ".join(map(str, row.seeds)), "cost_class": row.cost_class, "rank": row.rank,
            "pareto": row.pareto, "collapsed": row.collapsed, "unstructured": row.unstructured,
            "noisy_runtimes": " | ".join(f"{r}: {'; '.join(why)}" for r, why in row.noisy_runtimes.items()) or None,
            "reference": row.reference.strategy if row.reference else None, "reference_why": row.reference_why or None,
            "reference_matches_recipe": row.reference_matches if row.reference else None}
        for metric in AVERAGED:
            mean, std = row.stats.get(metric, (None, None))
            item[metric], item[f"{metric}_std"] = _round(mean), _round(std)
        for metric in ("map50", "map50_95"):
            estimate = row.accuracy.get(metric)
            item[f"{metric}_low"] = _round(estimate.low) if estimate else None
            item[f"{metric}_high"] = _round(estimate.high) if estimate else None
            item.update(_estimate_fields(f"delta_{metric}", row.delta.get(metric)))
        item.update(verdict=row.verdict, map50_before_finetune=_round(row.before.get("map50")),
                    map50_95_before_finetune=_round(row.before.get("map50_95")),
                    params_reduction=_round(row.reductions.get("params")),
                    nonzero_params_reduction=_round(row.reductions.get("nonzero_params")),
                    gflops_reduction=_round(row.reductions.get("gflops")),
                    placed_latency_ms=_round(row.placed_latency), **_speed_fields("speedup", row.speed))
        if deploys:
            item.update(deploy=row.variant, deploy_imgsz=first.imgsz,
                        **_speed_fields("speedup_vs_dense_torch", row.vs_torch),
                        **_speed_fields("speedup_vs_own_fp32", row.vs_fp32),
                        **_estimate_fields("conversion_map50_95", row.conversion.get("map50_95")))
        for runtime in runtimes:
            item[f"latency_ms_{runtime}"] = _round(row.runtime_latency.get(runtime))
            item.update(_speed_fields("speedup", row.runtime_speed.get(runtime), f"_{runtime}"))
        item.update(domination=row.domination.kind if row.domination else None,
                    dominated_by=row.domination.text if row.domination else None,
                    footnotes=" | ".join(section.footnotes[n - 1] for n in row.notes) or None)
        out.append(item)
    return out


def _speed_fields(prefix: str, speed: Speed | None, runtime: str = "") -> dict[str, Any]:
    """<prefix>, _iqr, _low, _high (the 95 % interval; None without one), _pairs, _capped; each followed by
    `runtime` ("_onnxruntime"), whose value is named speedup_vs_dense_<runtime> as in the records."""
    value = f"speedup_vs_dense{runtime}" if runtime else prefix
    keys = [f"{prefix}_{part}{runtime}" for part in ("iqr", "low", "high", "pairs", "capped")]
    if speed is None:
        return dict.fromkeys([value, *keys])
    return dict(zip([value, *keys], [
        _round(speed.value), _round(speed.iqr), _round(speed.low) if speed.has_interval else None,
        _round(speed.high) if speed.has_interval else None, speed.pairs,
        speed.capped if speed.pairs is not None else None]))


def _round(value: float | None) -> float | None:
    """Six decimals: exact for counts and bytes, no float noise (0.6250000000000001) in goldens."""
    return None if value is None else round(value, 6)


# ---------------------------------------------------------------- sections -> document
def column_notes(sections: list[Section] | None = None) -> list[str]:
    """What every column means and how each verdict is decided (docs/leaderboard-columns.md is this list)."""
    sections = sections or []
    imgsz = "/".join(map(str, sorted({i for s in sections for i in s.imgsz}, key=str))) or "the suite's imgsz"
    versions = ", ".join(sorted({v for s in sections for v in s.ultralytics})) or "the installed version"
    return [
        "Strategy: the suite's label for the strategy entry; \"dense\" is the model as loaded (or adapted), not "
        "fine-tuned; \"dense-ft\" (\"dense-ft-<hex>\" when the suite has several recipes) is the fine-tuned dense "
        "control: the dense model given exactly a recipe the pruned rows got. \", N steps\": iterative pruning "
        "with fine-tuning between steps. [n]: a footnote under the table.",
        "Amount: what the strategy was asked to remove (a fraction of weights for unstructured strategies, of "
        "channels for structured ones), or a speed-up target in GFLOPs (\"2x\" = dense GFLOPs / 2) with the "
        "speed-up it achieved.",
        "Deploy (suites with `evaluation.deploy` or `smaller_inputs`): how the row's model runs: torch (the kept "
        "checkpoint in PyTorch FP32, as trained), onnx / onnx-int8 (Ultralytics' ONNX export in ONNX Runtime, FP32 "
        "or static INT8 from ONNX Runtime's quantizer), openvino / openvino-int8 (Ultralytics' OpenVINO export, "
        "FP32 or INT8 from NNCF), \"torch @320\" (the dense model at a smaller input). Every export is validated "
        "on the exported file itself (batch 1, rect=False, as Ultralytics' validator forces on a static export) "
        "and the torch rows at rect=False too, so every row stands on one footing; INT8 calibrates on the train "
        "split only. Δ vs torch FP32 [95% CI] (full table): the row minus the same cell deployed as trained, paired "
        "over the images: the conversion's (or the smaller input's) own cost. INT8 vs its FP32 (full table): the "
        "INT8 export timed in pairs against the same model's FP32 export in the same runtime: what quantizing buys "
        "on this CPU (whose instruction-set flags, VNNI and AMX among them, the records keep).",
        "n: cells (seeds) in the row. Seeds: which.",
        f"mAP50, mAP50-95, P (precision), R (recall): % on the headline split named in the section header, at imgsz "
        f"{imgsz}, from Ultralytics' detection validator (ultralytics {versions}) on the kept checkpoint; with "
        "n > 1 the mean over seeds (P and R ± the seeds' sample std).",
        "[95% CI]: a 95 % bootstrap interval (2.5th to 97.5th percentile). Every record keeps its mAP on B "
        "resamples of the test images (drawn over the image names with a fixed seed, so every record on the same "
        "images shares them); a row of k seeds draws k of its seeds with replacement for each resample and "
        "averages them, so the interval holds both the images' and the seeds' spread.",
        "Δ vs: the reference the row must beat. The user can always ship the dense model as it is, so a fine-tuned "
        "pruned row is compared with the BETTER of dense and the fine-tuned control with its recipe (beyond the "
        "interval; when they tie, the one that scores higher); rows without fine-tuning and the controls compare "
        f"with dense. {NO_CONTROL_MARK}: no control has the row's recipe, so Δ flatters it. Why this reference: "
        "which of the two, and why.",
        "Δ mAP50, Δ mAP50-95: the row minus its reference, in points, with the 95 % interval of the PAIRED "
        "difference: the same image resamples and the same seed draws for both, so what the images and a "
        "seed's baseline share cancels. When each seed has its own baseline, a row run at fewer seeds (n) is "
        "compared over the seeds it shares.",
        "Verdict: better or worse when the Δ mAP50-95 interval excludes 0; tie when it holds 0; \"no interval\" "
        "when a record has no resamples (nothing is claimed).",
        "mAP50-95 before FT: right after pruning, before fine-tuning (pruned rows with fine-tuning).",
        f"Class: cost class. Pruned rows are taken from the most to the least GFLOPs; a row not yet in a class "
        f"starts the next one (C1, C2, ...) and every later row whose GFLOPs AND non-zero params are both within "
        f"{COST_CLASS_WIDTH:.0%} of that first row's joins it. #: 1 + the rows of the class more accurate beyond "
        "the interval (ties share a rank) / rows ranked; collapsed rows are not ranked.",
        "Params (M), Non-zero (M): all parameters and the non-zero ones, in millions. Params −%, Non-zero −%, "
        "GFLOPs −%: the reduction achieved against the dense row, in % (measured, not the amount asked).",
        "GFLOPs: one forward pass, batch 1, a multiply-add = 2 FLOPs, fused model; dense kernels compute zeros too.",
        "Size (MB): the fp16 state dict compressed with gzip -9, in 10^6 bytes.",
        "Latency (ms): median model-only forward pass, batch 1 (torch.utils.benchmark), mean ± std over seeds.",
        "Speed-up: dense latency over this row's, on the same device and runtime, timed in the cell itself: pruned "
        "and dense model back to back in alternating pairs, the order swapped every pair, so the machine's drift "
        "cancels. Shown as \"1.34x [1.29, 1.40] ·31p\": the median of the per-pair ratios, its 95 % interval "
        "(distribution-free, from order statistics: docs/speed-measurement.md) and the pairs timed; pairs are "
        "timed until the interval lies within ±3 % of the median or a time cap is reached, and \"capped\" marks a "
        "row where the cap came first (its interval is wider than asked). With several seeds: the mean of the "
        "medians and of each end of the interval, the fewest pairs, capped if any seed was. \"(no CI; IQR 0.05)\": "
        "a record timed before intervals (5 pairs, too few for any 95 % interval of a median): the figure stands "
        "without one, with the interquartile range of its per-pair ratios. \"(no CI)\" alone: no pairs, dense "
        "latency over the row's from separate timings. Dense rows are 1.00x by definition. A deployed variant's "
        "Speed-up is against the dense model deployed the same way (same runtime, precision and input). "
        "vs dense torch: the row's OWN pairs against the dense model in PyTorch FP32 at the suite's input, timed "
        "in its cell, in the same form; \"not measured\" when the record holds no such pairs. It is never a "
        "product of two ratios (a dense export's ratio times a speed-up within the runtime disagreed with the "
        "cells' own pairs by up to 17 %). INT8 vs its FP32: likewise, the INT8 export's own pairs against its FP32 "
        f"export. {UNSTRUCTURED_MARK}: unstructured pruning (dense kernels: no speed-up is claimed). {BUSY_MARK}: "
        "this runtime's timing was noisy (its forward IQR or the pairs' IQR above 10 % of the median, the dense "
        "model's latency moving over 25 % across the pairs, or the load average above the core count); the note "
        "under the table says why.",
        "Faster, equal, slower (the latency rule of ★, Dominated by and the answers): two rows' latencies are "
        "EQUAL unless the 95 % interval of their ratio excludes 1, as accuracy is a tie unless the Δ interval "
        "excludes 0; there is no fixed tie. When one cell timed the two rows against each other (a row and its "
        "dense reference, dense torch, or its FP32 export), that interval is the cell's own. Two rows each timed "
        "against a common dense row get the ratio of their speed-ups with the interval of its endpoints, "
        "[low_a / high_b, high_a / low_b]: every ratio the two intervals allow together, so it is conservative (at "
        "least as wide as the ratio's own interval, whatever the dependence between the two timings). A row of "
        "dense shape (a control, an unstructured row) stands at its dense row's place, exactly. Rows placed on "
        "different dense rows timed separately (another model not paired with this one) also carry those two "
        "latencies' IQR bands. Records timed before intervals have no 95 % interval: their IQR band (median ± "
        "IQR of the per-pair ratios, wider than a normal-theory 95 % interval of a median of 5 pairs, about ± "
        "0.81 IQR) stands in, still not a 95 % interval; with "
        "no spread at all two latencies count as equal.",
        f"{PARETO_MARK}: on the frontier of mAP50-95 against latency: no other row is at least as fast (not slower "
        "by the latency rule above) and more accurate beyond the interval, or faster (by that rule) and not less "
        "accurate beyond it. A row is placed at dense latency over its speed-up (rows of dense shape at dense "
        "latency; an exported row at dense torch latency over its own pairs against dense torch). A collapsed "
        f"row (mAP50-95 below max({COLLAPSE_FLOOR:g}, {COLLAPSE_FRACTION:.0%} of its reference's)) is never starred; "
        "without intervals nothing is starred.",
        "Dominated by: the cheaper alternatives on the same dataset, split and device (the dense rows of the other "
        "models, in every deployment; the own model's dense rows deployed otherwise: exports such as INT8, smaller "
        "inputs; in one runtime and precision GFLOPs no higher and latency not slower by the latency rule, as for "
        "★; across runtimes or precisions latency alone; \"(GFLOPs only)\" when one side has no latency) "
        "that are more accurate beyond the interval (the same images at any input size: the bootstrap pairs by "
        "image names). \"tie: X\": X costs no more and "
        "the interval holds 0. \"none\": every alternative that costs no more is less accurate beyond the "
        "interval: pruning paid off. \"none as cheap\": every alternative is slower by the latency rule (or, in "
        "one runtime, has more GFLOPs). \"collapsed\": about 0 mAP, not counted as undominated.",
        f"{MISSING}: not measured (or not applicable); \"not measured\": a figure this kind of row has, missing "
        "from its record.",
    ]


def column_notes_markdown() -> str:
    """docs/leaderboard-columns.md (tests/test_leaderboard.py checks the file is this text)."""
    lines = ["# Leaderboard columns", "",
             "What each column of a prunebench leaderboard means, and how each verdict follows from the 95 % "
             "intervals. Generated from `prunebench.report.leaderboard.column_notes()`.", ""]
    return "\n".join(lines + [f"- {note}" for note in column_notes()]) + "\n"


def split_line(section: Section) -> str:
    """Which split the accuracy is on, why that one, and how wide its resampling is."""
    splits = section.eval_splits
    if not splits:
        return "Accuracy: split not recorded."
    if len(splits) > 1:
        return (f"Accuracy: rows use different splits ({', '.join(splits)}); Δ, ranks and verdicts compare rows "
                "of one split only.")
    images = sorted({b.get("images") for r in section.rows for c in r.cells if (b := c.record.bootstrap)} - {None})
    resamples = sorted({b.get("resamples") for r in section.rows for c in r.cells if (b := c.record.bootstrap)}
                       - {None})
    counts = sorted({len({c.record.seed for c in r.cells}) for r in section.rows}) or [1]
    seeds = seed_spread_note(counts[-1]) + ("; rows of one seed carry no seed spread" if counts[0] == 1 < counts[-1]
                                            else "")
    intervals = (f"; 95 % intervals from {'/'.join(map(str, resamples))} paired bootstrap resamples of its "
                 f"{'/'.join(map(str, images))} images and of the seeds ({seeds})" if images else
                 "; no record holds bootstrap resamples, so no interval and no verdict")
    why = SPLIT_WHY.get(splits[0], f"the {splits[0]} split")
    if splits[0] == "val" and not _trained_here(section):
        why = ("the val split (the dataset has no test split; the weights were used as they are, not trained here, "
               "so no split chose an epoch, but their own training data may hold these images: coco128's are COCO "
               "train2017 images)")
    return f"Accuracy: on {why}{intervals}."


def _trained_here(section: Section) -> bool:
    """Whether a baseline was trained or adapted here (its recipe in the model's params), so val chose its epoch."""
    return any(isinstance(c.record.spec.get("model"), dict) and
               any((c.record.spec["model"].get("params") or {}).get(k) is not None for k in ("baseline", "arch"))
               for r in section.rows for c in r.cells)  # records hold every param, unset ones as null


def _sparsity_budget_text(recipe: dict[str, Any]) -> str | None:
    """A control that matches a sparsity training's budget (network slimming's) trains those epochs first."""
    sparsity = recipe.get("sparsity")
    if not isinstance(sparsity, dict):
        return None
    lr0 = f"lr0 {sparsity['lr0']:g}, " if isinstance(sparsity.get("lr0"), (int, float)) else ""
    return f"{sparsity.get('epochs')} epochs ({lr0}the sparsity training's budget without its penalty), then"


def recipe_text(recipe: dict[str, Any]) -> str:
    """"25 epochs, SGD, lr0 0.01, warm-up 0 epochs, batch 8, imgsz 640" (a sparsity-matched control: "80 epochs
    (lr0 0.01, the sparsity training's budget without its penalty), then 15 epochs, ...")."""
    parts = [f"{recipe['epochs']} epochs" if recipe.get("epochs") is not None else None,
             str(recipe["optimizer"]) if recipe.get("optimizer") else None,
             f"lr0 {recipe['lr0']:g}" if isinstance(recipe.get("lr0"), (int, float)) else None,
             f"warm-up {recipe['warmup_epochs']:g} epochs" if isinstance(recipe.get("warmup_epochs"), (int, float))
             else None,
             f"batch {recipe['batch']}" if recipe.get("batch") else None,
             f"imgsz {recipe['imgsz']}" if recipe.get("imgsz") else None,
             f"distilled from dense (dis {recipe.get('dis', 6.0):g})" if recipe.get("distill") == "dense" else None]
    text = ", ".join(p for p in parts if p) or "recipe not recorded"
    first = _sparsity_budget_text(recipe)
    return f"{first} {text}" if first else text


def reference_line(section: Section) -> str:
    controls = section.controls
    named = ("; ".join(f"{label} = dense + {recipe_text(recipe)}" for label, recipe in sorted(controls.items()))
             if controls else "none in these records")
    return ("Reference for Δ: each fine-tuned pruned row against the better of dense (as loaded) and the "
            f"fine-tuned control with its recipe ({named}); rows without fine-tuning and the controls against "
            "dense. Column Δ vs names it per row.")


def worth_line(section: Section, sections: list[Section]) -> str:
    """Is pruning worth it, in counts of the Dominated by column."""
    others = other_dense_models(section, sections)
    deployed = other_deployments(section)
    if not others and not deployed:
        return (f"Is pruning worth it: no other model has dense rows on {section.dataset} on this device, so no "
                "pruned row is checked against a cheaper dense model (add one to the suite with role: reference).")
    judged = [r for r in section.pruned if r.domination is not None]
    count = {kind: sum(r.domination.kind == kind for r in judged) for kind in (DOMINATED, TIED, NONE, NONE_AS_CHEAP,
                                                                                COLLAPSED)}
    against = [f"the dense rows of {', '.join(others)}" if others else None,
               f"{section.model}'s own dense model deployed as {', '.join(deployed)}" if deployed else None]
    return (f"Is pruning worth it (against {' and '.join(a for a in against if a)}): of {len(judged)} pruned rows, "
            f"{count[NONE]} beat every dense model that costs no more beyond the interval, {count[NONE_AS_CHEAP]} "
            f"cost less than all of them (nothing to beat), {count[TIED]} tie with one that costs no more, "
            f"{count[DOMINATED]} are dominated (a dense model costs no more and is more accurate beyond the "
            f"interval), {count[COLLAPSED]} collapsed.")


def deployment_lines(section: Section) -> list[str]:
    """How the rows were validated and timed, when the section deploys more than one way."""
    if not any(r.variant != "torch" or r.is_smaller_input for r in section.rows):
        return []
    precisions = sorted({str(p) for r in section.rows for c in r.cells
                         if (p := c.detail("measure", "latency", "deployment", "inference_precision"))})
    flags = sorted({" ".join(f) for r in section.rows for c in r.cells
                    if isinstance(f := c.record.env("cpu_flags"), list)})
    lines = ["Validation: torch rows on the kept .pt at rect=False, exports on the exported file itself at batch 1 "
             "and rect=False (what Ultralytics' validator forces on a static export), so one footing for every row "
             "and Δ vs torch FP32 (full table) is the conversion's alone; INT8 calibrated on the train split only.",
             "Deploy: each export timed in its own runtime (1 thread like torch, batch 1, forward only): Speed-up is "
             "against the dense model deployed the same way, vs dense torch against the dense model in PyTorch FP32 "
             "at the suite's input, both in alternating pairs within the cell."]
    if precisions or flags:
        lines.append("Runtime facts: " + "; ".join(
            ([f"OpenVINO CPU inference precision {', '.join(precisions)} (an FP32 IR runs in bf16 on AMX CPUs "
              "unless told otherwise)"] if precisions else [])
            + ([f"CPU flags {' | '.join(flags)}"] if flags else [])) + ".")
    return lines


def provenance_line(section: Section) -> str:
    commits = ", ".join(f"{sha[:10]}{' (uncommitted changes)' if dirty else '' if dirty is False else ' (?)'}"
                        for sha, dirty in section.commits)
    shared = {tuple(v) for v in section.baselines.values()}
    if not section.baselines:
        base = "baseline checkpoint not recorded"
    elif len({sha for v in section.baselines.values() for sha in v}) == 1:
        base = "one baseline checkpoint for every seed"
    else:
        base = f"a baseline checkpoint per seed ({len(section.baselines)} seeds)" if len(shared) == len(
            section.baselines) else "baselines per seed"
    older = (f"; these cells started from an OLDER baseline than the section above for their seed (generation "
             f"{section.generation}): their rows are compared only among themselves") if section.generation else ""
    return f"Provenance: prunebench commit {commits or 'unknown'}; {base}{older}."


def one_line_answer(section: Section, sections: list[Section]) -> str:
    """The section's answer in one line, which the leaderboard's header and the site's index both show: for a
    model under study, what the intervals decide about its pruned rows (answers.answer)."""
    if section.pruned or section.controls:
        return answer(section)
    return (f"{section.model} is a reference model on {section.dataset}: dense only, never pruned; its rows are "
            "what the pruned models are judged against.")




def section_notes(section: Section) -> list[str]:
    notes = [f"[{n}] {text}" for n, text in enumerate(section.footnotes, 1)]
    if any(row.unstructured for row in section.rows):
        notes.append(f"{UNSTRUCTURED_MARK} Unstructured pruning zeros weights inside tensors of unchanged shape: "
                     "dense kernels still multiply the zeros, so no speed-up is claimed (the measured ratio is "
                     "shown). Its gains show in Non-zero params and in Size.")
    if any(row.ok and not row.reference_matches for row in section.rows):
        notes.append(NO_CONTROL_NOTE)
    noisy: dict[str, list[str]] = {}
    for row in section.rows:
        for runtime, why in row.noisy_runtimes.items():
            # A variant's own timing is kept where a torch cell keeps its torch timing: say which runtime it was.
            if runtime == "torch":
                runtime = (row.first.record.deploy or {}).get("runtime", runtime)
            noisy.setdefault(runtime, [])
            noisy[runtime] += [f"{row.strategy} {size_label(row.amount, row.target)}"
                               + (f" {row.deploy_label}" if row.deploy_label != "torch" else "") + f": {'; '.join(why)}"]
    for runtime, lines in noisy.items():
        notes.append(f"{BUSY_MARK} {runtime} timed on a busy machine: " + " | ".join(lines[:4])
                     + (f" | and {len(lines) - 4} more" if len(lines) > 4 else ""))
    if section.pruned and not any(row.is_dense and row.ok for row in section.rows):
        notes.append("These cells' dense baseline has no record here (it was trained again since, and its dense "
                     "cells re-ran on the new one): no Δ is taken against another baseline; rerun these cells "
                     "(`prunebench run SUITE --only ... --force`) to compare them."
                     if section.generation else
                     "No dense baseline finished for this model and dataset: Δ and speed-up cannot be computed "
                     "(run the suite again: its dense cells are part of every plan).")
    return notes


def section_header(section: Section, sections: list[Section], suite: str, generated: str) -> list[str]:
    dataset = section.dataset + (" (SYNTHETIC stand-in data: its numbers say nothing about real images)"
                                 if section.synthetic else "")
    role = ("reference model: dense only, never pruned; here to show what a smaller or larger dense model "
            "achieves" if section.role == "reference" else "under study")
    lines = []
    if section.pruned or section.controls:
        lines.append(one_line_answer(section, sections))
    lines += [f"Suite: {', '.join(section.suites) or suite}", f"Model: {section.model} ({role})",
              f"Dataset: {dataset}", split_line(section)]
    lines += deployment_lines(section)
    if section.pruned:
        lines += [reference_line(section), worth_line(section, sections)]
    elif section.controls:
        lines.append("Controls: " + "; ".join(f"{label} = dense + {recipe_text(recipe)}"
                                              for label, recipe in sorted(section.controls.items())))
    lines += [f"Device: {'; '.join(section.devices.values())}", provenance_line(section)]
    if section.drift:
        lines.append(section.drift)
    lines.append(f"Date: {generated}")
    return lines


def document(records: Sequence[Record | dict[str, Any]], *, suite: str | None, generated: str,
             plot_links: Sequence[str], full: bool = False, notes_link: str | None = None,
             full_link: str | None = None, literature: Sequence[Figure] = ()) -> list[tuple]:
    """The leaderboard as format-neutral blocks: ("h1"|"h2"|"p", text), ("list", items), ("table", headers, rows),
    ("images", links). `full`: the full tables instead of the compact ones. `notes_link`: where the column notes
    are (else they are appended); `full_link`: the full tables' file, linked from the compact document;
    `literature`: published figures the suite declares, in a table of their own after the measured ones."""
    records = as_records(records)
    sections = build_sections(records)
    placed: set[str] = set()
    suite = suite or ", ".join(sorted({r.suite for r in records if r.suite})) or "unnamed suite"
    blocks: list[tuple] = [("h1", f"prunebench leaderboard: {suite}" + (" (full tables)" if full else ""))]
    if partial := partial_line(records):
        blocks.append(("p", partial))
    blocks += [("p", sentence) for sentence in leaderboard_answers(sections)]  # the site's first-screen sentence
    links = [f"[what each column means]({notes_link})" if notes_link else None,
             f"[every figure of every row]({full_link})" if full_link else None]
    if any(links):
        blocks.append(("p", "See also: " + ", ".join(x for x in links if x) + "."))
    if not sections:
        blocks.append(("p", "No records yet: run the suite (`prunebench run SUITE`), then render again."))
    for section in sections:
        blocks += [("h2", section.title), ("list", section_header(section, sections, suite, generated)),
                   ("table", *display_table(section, full=full))]
        if notes := section_notes(section):
            blocks.append(("list", notes))
        if not full:
            prefix = figure_prefix(section.model, section.dataset)
            figures = [link for link in plot_links if Path(link).name.startswith(prefix)] if not section.generation \
                else []
            blocks += [("images", figures)] if figures else []
            placed.update(figures)
    if literature:
        blocks += literature_blocks(literature)
    if sections and not notes_link:
        blocks += [("h2", "Columns"), ("list", column_notes(sections))]
    if not full and (rest := [link for link in plot_links if link not in placed]):
        blocks += [("h2", "Plots"), ("images", rest)]
    return blocks


LITERATURE_TITLE = "Published figures (measured elsewhere: never ranked with the rows above)"
LITERATURE_HEADERS = ["Source", "Model", "Dataset", "Setting", "Metric", "Value", "Note"]


def literature_table(figures: Sequence[Figure]) -> tuple[list[str], list[list[str]]]:
    """The suite's published figures as a table: each as its source gave it, in its own units."""
    return LITERATURE_HEADERS, [[f.source, f.model, f.dataset, f.setting, f.metric, f"{f.value:g}", f.note or "—"]
                                for f in figures]


def literature_blocks(figures: Sequence[Figure]) -> list[tuple]:
    return [("h2", LITERATURE_TITLE),
            ("p", "Other models, data, hardware and evaluators than the rows above: context for reading them, "
                  "never a reference for Δ, ★, ranks or \"Dominated by\"."),
            ("table", *literature_table(figures))]


def partial_line(records: Sequence[Record]) -> str | None:
    """Said at the top while a suite is still being run: how many of its planned cells have ok records (each
    record names its suite's cell count as planned when it ran: details.suite_cells)."""
    by_suite: dict[str, tuple[int, set[str]]] = {}
    for r in records:
        planned = r.detail("suite_cells")
        if isinstance(planned, int) and not isinstance(planned, bool):
            total, done = by_suite.get(r.suite, (0, set()))
            by_suite[r.suite] = (max(total, planned), done | ({r.name} if r.ok else set()))
    partial = [f"{suite} {len(done)} of {total}" for suite, (total, done) in sorted(by_suite.items())
               if len(done) < total]
    if not partial:
        return None
    return (f"PARTIAL: cells with an ok record, of those planned: {', '.join(partial)}; rows may change as the "
            "rest arrive (`prunebench run` resumes).")


# ---------------------------------------------------------------- document -> text
def _alt(link: str) -> str:
    """"yolov8n__buds__accuracy_vs_amount.png" -> "yolov8n × buds: accuracy vs amount"."""
    parts = Path(link).stem.split("__")
    what = parts[-1].replace("_", " ")
    return f"{parts[0]} × {parts[1]}: {what}" if len(parts) == 3 else what


def _markdown(blocks: list[tuple]) -> str:
    from tabulate import tabulate

    from prunebench.report.escape import markdown_cell, markdown_text

    parts, heading = [], ""
    for kind, *content in blocks:
        if kind == "h1":
            parts.append(f"# {markdown_cell(content[0])}")
        elif kind == "h2":
            heading = content[0]
            parts.append(f"## {markdown_cell(content[0])}")
        elif kind == "p":
            parts.append(markdown_text(content[0]))
        elif kind == "list":  # the column notes are prunebench's own text, and name "dense-ft-<hex>"
            parts.append("\n".join(f"- {markdown_text(item, angle_brackets=heading != 'Columns')}"
                                    for item in content[0]))
        elif kind == "table":
            parts.append(tabulate([[markdown_cell(c) if isinstance(c, str) else c for c in row] for row in content[1]],
                                  headers=[markdown_cell(h) for h in content[0]], tablefmt="github",
                                  disable_numparse=True))
        elif kind == "images":
            parts.append("\n\n".join(f"![{_alt(link)}]({link})" for link in content[0]))
    return "\n\n".join(parts) + "\n"


def _html(blocks: list[tuple]) -> str:
    from tabulate import tabulate

    parts = []
    for kind, *content in blocks:
        if kind in ("h1", "h2"):
            parts.append(f"<{kind}>{html.escape(content[0])}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{html.escape(content[0])}</p>")
        elif kind == "list":
            parts.append("<ul>\n" + "\n".join(f"<li>{html.escape(i)}</li>" for i in content[0]) + "\n</ul>")
        elif kind == "table":
            parts.append(tabulate(content[1], headers=content[0], tablefmt="html", disable_numparse=True))
        elif kind == "images":
            parts.append("\n".join(f'<p><img src="{html.escape(link)}" alt="{html.escape(_alt(link))}"></p>'
                                   for link in content[0]))
    return "\n".join(parts) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}


def _latex_text(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex(blocks: list[tuple]) -> str:
    from tabulate import tabulate

    parts = ["% Generated by prunebench. Needs \\usepackage{booktabs}; the table uses Unicode (± Δ ★ —):"
             " compile with xelatex or lualatex."]
    for kind, *content in blocks:
        if kind == "h1":
            parts.append(f"\\section*{{{_latex_text(content[0])}}}")
        elif kind == "h2" and content[0] != "Plots":
            parts.append(f"\\subsection*{{{_latex_text(content[0])}}}")
        elif kind == "p":
            parts.append(_latex_text(content[0]))
        elif kind == "list":
            parts.append("\\begin{itemize}\n" + "\n".join(f"  \\item {_latex_text(i)}" for i in content[0])
                         + "\n\\end{itemize}")
        elif kind == "table":
            parts.append(tabulate(content[1], headers=content[0], tablefmt="latex_booktabs", disable_numparse=True))
    return "\n\n".join(parts) + "\n"


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if rows:
        from prunebench.report.escape import csv_cell

        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue()


def check_format(fmt: str, allowed: Iterable[str] = EXTENSIONS) -> None:
    allowed = list(allowed)
    if fmt not in allowed:
        raise ValueError(f"unknown output format {fmt!r}: use one of {', '.join(allowed)} "
                         f"(e.g. `--format {allowed[0]}`).")


DOCS_NOTES = Path(__file__).resolve().parents[2] / "docs" / "leaderboard-columns.md"  # in a source checkout
FULL_STEM = "LEADERBOARD-full"


def render(records: list[Record | dict[str, Any]], fmt: str = "github", *, suite: str | None = None,
           generated: str | None = None, plot_links: Sequence[str] = (), full: bool = False,
           notes_link: str | None = None, full_link: str | None = None, literature: Sequence[Figure] = ()) -> str:
    """The leaderboard of `records` as text. `generated` is the date in each header (default: today);
    `plot_links` are image paths relative to where the output will be written (markdown and HTML only);
    `full`: the full tables; `notes_link` / `full_link`: see `document`."""
    check_format(fmt)
    records = as_records(records)
    if fmt in ("csv", "json"):
        runtimes = runtimes_in(records)
        sections = build_sections(records)
        deploys = any(_deploys(s) for s in sections)
        rows = [item for section in sections for item in machine_rows(section, runtimes, deploys)]
        return _csv(rows) if fmt == "csv" else json.dumps(rows, indent=1, ensure_ascii=False) + "\n"
    blocks = document(records, suite=suite, generated=generated or datetime.date.today().isoformat(),
                      plot_links=plot_links, full=full, notes_link=notes_link, full_link=full_link,
                      literature=literature)
    return {"github": _markdown, "html": _html, "latex": _latex}[fmt](blocks)


def write(results_dirs: list[Path], out_path: Path | None = None, fmt: str = "github", plots: bool = True) -> Path:
    """Render the records of all `results_dirs` (merged) into `out_path` (default `<first dir>/LEADERBOARD.<ext>`):
    the compact tables, with the figures in `<first dir>/plots/` linked when `plots`, and beside it the full
    tables (`LEADERBOARD-full.<ext>`; markdown and HTML). The column notes are linked when this checkout has
    docs/leaderboard-columns.md within reach, else written under the tables."""
    from prunebench.records import literature
    from prunebench.records.store import iter_records, warn_once
    from prunebench.util.atomic import atomic_write_text

    check_format(fmt)
    dirs = [Path(d) for d in results_dirs]
    if not dirs:
        raise ValueError("no results folder given: pass at least one folder holding a cells/ folder of records.")
    records = [record for _, record in iter_records(dirs)]
    if not records:
        raise ValueError(f"no records found in {', '.join(str(d) for d in dirs)} (looked in each folder's cells/): "
                         "run the suite first (`prunebench run SUITE`) or point at the folder it wrote.")
    if len(dirs) > 1:  # several folders: the merged leaderboard and its plots go to a folder of their own
        check_output_of_its_own(out_path, dirs)
    out_path = Path(out_path) if out_path else dirs[0] / f"LEADERBOARD{EXTENSIONS[fmt]}"
    links: list[str] = []
    if plots:
        from prunebench.report.plots import write_plots

        figures = write_plots(records, (dirs[0] if len(dirs) == 1 else out_path.parent) / "plots")
        links = [Path(os.path.relpath(p, out_path.parent)).as_posix() for p in figures if p.suffix == ".png"]
    notes_link = _notes_link(out_path) if fmt in ("github", "html") else None
    full_path = out_path.with_name(f"{FULL_STEM}{EXTENSIONS[fmt]}") if fmt in ("github", "html") else None
    published = literature.read(dirs, warn=warn_once)
    from prunebench.report.latency_targets import leaderboard_text as latency_targets_text  # "" without such targets
    from prunebench.report.sensitivity import leaderboard_text as sensitivity_text  # "" without sensitivity maps

    atomic_write_text(out_path, render(records, fmt, plot_links=links, notes_link=notes_link,
                                       full_link=full_path.name if full_path else None, literature=published)
                      + sensitivity_text(dirs[0], out_path, fmt) + latency_targets_text(records, fmt))
    if full_path is not None:
        atomic_write_text(full_path, render(records, fmt, full=True, notes_link=notes_link, literature=published))
    return out_path


def check_output_of_its_own(out_path: Path | None, dirs: list[Path]) -> None:
    """ValueError unless `out_path` is given and lies outside every results folder of `dirs` (a leaderboard of
    several folders written into one of them would replace that folder's own LEADERBOARD and plots)."""
    if out_path is None:
        raise ValueError(f"{len(dirs)} results folders given: write their leaderboard to a folder of its own with "
                         "`-o DIR` (it gets LEADERBOARD.md and plots/), never into one of them, whose own leaderboard "
                         "it would replace")
    where = Path(out_path).resolve().parent
    for folder in dirs:
        if where == folder.resolve() or folder.resolve() in where.parents:
            raise ValueError(f"-o {out_path} is inside the results folder {folder}, one of the {len(dirs)} being "
                             "rendered together: its own LEADERBOARD and plots would be replaced; give a folder "
                             "outside all of them")


def _notes_link(out_path: Path) -> str | None:
    """docs/leaderboard-columns.md relative to `out_path`, when both are in this checkout."""
    if not DOCS_NOTES.is_file():
        return None
    try:
        Path(out_path).resolve().relative_to(DOCS_NOTES.parents[1])
    except ValueError:
        return None
    return Path(os.path.relpath(DOCS_NOTES, Path(out_path).resolve().parent)).as_posix()
