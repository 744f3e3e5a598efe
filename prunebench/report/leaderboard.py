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

from prunebench.report.rows import (AVERAGED, COST_CLASS_WIDTH, LATENCY_TIE, PARETO_FLOOR, PARETO_FLOOR_FRACTION,
                                    Row, Section, build_sections, figure_prefix, other_dense_models, runtimes_in,
                                    size_label)

MISSING = "—"
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


def strategy_cell(row: Row) -> str:
    """The label, the schedule's steps ("l1-channel, 5 steps") and the row's footnote numbers."""
    text = row.strategy + (f", {row.steps} steps" if row.steps and row.steps > 1 else "")
    return _marked(text, ", ".join(f"[{n}]" for n in row.notes) if row.ok else "")


def amount_cell(row: Row) -> str:
    """"30%" asked, or a speed-up target "2x" with what it achieved."""
    text = size_label(row.amount, row.target)
    if row.target is not None and row.achieved_speedup is not None:
        text += f" (achieved {row.achieved_speedup:.2f}x)"
    return text


def speedup_text(speedup: float | None, iqr: float | None) -> str:
    if speedup is None:
        return MISSING
    return f"{speedup:.2f}x" + (f" (IQR {iqr:.2f})" if iqr is not None else "")


def reference_cell(row: Row) -> str:
    if row.reference is None:
        return MISSING
    return _marked(row.reference.strategy, "" if row.reference_matches else NO_CONTROL_MARK)


def reduction_cell(row: Row, metric: str) -> str:
    return MISSING if row.is_dense else _number(row.reductions.get(metric), ".1f", 100)


def dominated_cell(row: Row) -> str:
    if row.dominated_by is not None:
        return row.dominated_by.text
    if row.dense_as_cheap is None:
        return MISSING
    return "none" if row.dense_as_cheap else "none as cheap"


def _shows_before(section: Section) -> bool:
    return any(r.before.get("map50_95") is not None for r in section.rows)


def _shows_domination(section: Section) -> bool:
    return any(r.dense_as_cheap is not None for r in section.rows)


def display_table(section: Section) -> tuple[list[str], list[list[str]]]:
    """Headers and text cells of a section's table. Optional columns: Device (several devices), mAP50-95 before
    FT (when a row has it), a latency and speed-up pair per extra runtime, Dominated by (when another model has
    dense rows on the dataset)."""
    several = len(section.devices) > 1
    before, dominated = _shows_before(section), _shows_domination(section)
    runtime_headers = [h for r in section.runtimes for h in (f"Latency {r} (ms)", f"Speed-up {r}")]
    headers = ["Class", "#", "Strategy", "Amount", *(["Device"] if several else []), "n", "mAP50", "mAP50-95",
               *(["mAP50-95 before FT"] if before else []), "P", "R", "Δ vs", "Δ mAP50", "Δ mAP50-95",
               "Params (M)", "Params −%", "Non-zero (M)", "Non-zero −%", "GFLOPs", "GFLOPs −%", "Size (MB)",
               "Latency (ms)", "Speed-up", *runtime_headers, PARETO_MARK, *(["Dominated by"] if dominated else [])]
    table = []
    for row in section.rows:
        lead = [f"C{row.cost_class}" if row.cost_class else "", f"{row.rank}/{row.class_size}" if row.rank else "",
                strategy_cell(row), amount_cell(row), *([row.device] if several else []), str(len(row.cells))]
        if not row.ok:
            refs = ", ".join(f"[{n}]" for n in row.notes)
            rest = [MISSING] * (len(headers) - len(lead) - 1)
            rest[headers.index(PARETO_MARK) - len(lead) - 1] = ""
            table.append(lead + [f"failed {refs}"] + rest)
            continue
        busy = BUSY_MARK if row.noisy else ""
        runtime_cells = [cell for r in section.runtimes for cell in (
            _number(row.runtime_latency.get(r), ".2f"), speedup_text(*row.runtime_speedup.get(r, (None, None))))]
        table.append(lead + [
            _with_std(row, "map50", ".1f", 100), _with_std(row, "map50_95", ".1f", 100),
            *([_number(row.before.get("map50_95"), ".1f", 100)] if before else []),
            _with_std(row, "precision", ".1f", 100), _with_std(row, "recall", ".1f", 100),
            reference_cell(row), _number(row.delta.get("map50"), "+.1f", 100),
            _number(row.delta.get("map50_95"), "+.1f", 100),
            _number(row.mean("params"), ".3f", 1e-6), reduction_cell(row, "params"),
            _number(row.mean("nonzero_params"), ".3f", 1e-6), reduction_cell(row, "nonzero_params"),
            _number(row.mean("gflops"), ".2f"), reduction_cell(row, "gflops"),
            _number(row.mean("size_fp16_gzip_bytes"), ".2f", 1e-6),
            _marked(_with_std(row, "latency_ms", ".2f"), busy),
            _marked(speedup_text(row.speedup, row.speedup_iqr), UNSTRUCTURED_MARK if row.unstructured else "", busy),
            *runtime_cells, PARETO_MARK if row.pareto else "", *([dominated_cell(row)] if dominated else []),
        ])
    return headers, table


def machine_rows(section: Section, runtimes: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Flat rows with raw numbers (for CSV and JSON): fractions, counts, bytes, ms; None when missing.
    `runtimes`: the extra runtimes of every section, so all rows have the same keys."""
    out = []
    for row in section.rows:
        first = row.first
        item: dict[str, Any] = {
            "suite": ", ".join(section.suites), "model": section.model, "role": section.role,
            "dataset": section.dataset, "synthetic": section.synthetic, "eval_split": first.eval_split,
            "imgsz": first.imgsz, "device": row.device, "strategy": row.strategy, "strategy_name": first.strategy_name,
            "amount": row.amount, "target": row.target, "achieved_speedup": _round(row.achieved_speedup),
            "steps": row.steps, "finetune": row.recipe, "status": "ok" if row.ok else "failed", "n": len(row.cells),
            "seeds": " ".join(map(str, row.seeds)), "cost_class": row.cost_class, "rank": row.rank,
            "pareto": row.pareto, "pareto_eligible": row.eligible, "unstructured": row.unstructured,
            "noisy": row.noisy, "reference": row.reference.strategy if row.reference else None,
            "reference_matches_recipe": row.reference_matches if row.reference else None}
        for metric in AVERAGED:
            mean, std = row.stats.get(metric, (None, None))
            item[metric], item[f"{metric}_std"] = _round(mean), _round(std)
        item.update(map50_before_finetune=_round(row.before.get("map50")),
                    map50_95_before_finetune=_round(row.before.get("map50_95")),
                    delta_map50=_round(row.delta.get("map50")), delta_map50_95=_round(row.delta.get("map50_95")),
                    params_reduction=_round(row.reductions.get("params")),
                    nonzero_params_reduction=_round(row.reductions.get("nonzero_params")),
                    gflops_reduction=_round(row.reductions.get("gflops")),
                    placed_latency_ms=_round(row.placed_latency), speedup=_round(row.speedup),
                    speedup_iqr=_round(row.speedup_iqr))
        for runtime in runtimes:
            speedup, iqr = row.runtime_speedup.get(runtime, (None, None))
            item[f"latency_ms_{runtime}"] = _round(row.runtime_latency.get(runtime))
            item[f"speedup_vs_dense_{runtime}"], item[f"speedup_iqr_{runtime}"] = _round(speedup), _round(iqr)
        item.update(dense_as_cheap=row.dense_as_cheap,
                    dominated_by=row.dominated_by.text if row.dominated_by else None,
                    footnotes=" | ".join(section.footnotes[n - 1] for n in row.notes) or None)
        out.append(item)
    return out


def _round(value: float | None) -> float | None:
    """Six decimals: exact for counts and bytes, no float noise (0.6250000000000001) in goldens."""
    return None if value is None else round(value, 6)


# ---------------------------------------------------------------- sections -> document
def _column_notes(sections: list[Section]) -> list[str]:
    imgsz = "/".join(map(str, sorted({i for s in sections for i in s.imgsz}, key=str))) or "the suite's size"
    versions = ", ".join(sorted({v for s in sections for v in s.ultralytics})) or "version unknown"
    evaluator = f"Ultralytics' detection validator (ultralytics {versions})"
    runtimes = sorted({r for s in sections for r in s.runtimes})
    notes = [
        f"Class: cost class. Within a model x dataset (and device), pruned rows are taken from the most to the least "
        f"GFLOPs; a row not yet in a class starts the next one (C1, C2, ...) and every later row whose GFLOPs AND "
        f"non-zero params are both within {COST_CLASS_WIDTH:.0%} of that first row's joins it. Only rows of one "
        "class cost about the same.",
        "#: rank by mAP50-95 within the cost class / rows in the class (equal means share a rank). Not ranked by "
        "nominal amount: an amount is a fraction of weights for unstructured strategies and of channels for "
        "structured ones, so equal amounts do not cost the same.",
        "Strategy: the suite's label for the strategy entry; \"dense\" is the model as loaded (or adapted), not "
        "fine-tuned; \"dense-ft\" (\"dense-ft-<hex>\" when the suite has several recipes) is the fine-tuned dense "
        "control: the dense model given exactly a recipe the pruned rows got. \", N steps\": iterative pruning "
        "with fine-tuning between steps. [n]: a footnote under the table.",
        "Amount: what the strategy was asked to remove (a fraction of weights for unstructured strategies, of "
        "channels for structured ones), or a speed-up target in GFLOPs (\"2x\" = dense GFLOPs / 2) with the "
        "speed-up it achieved.",
        "Device: the machine the row's latency was measured on.",
        "n: cells (seeds) in the row; with n > 1 accuracy and latency are mean ± sample std, the other columns means.",
        f"mAP50, mAP50-95, P (precision), R (recall): % on the headline split named in the section header, at imgsz "
        f"{imgsz}, from {evaluator} on the kept checkpoint.",
        "mAP50-95 before FT: the same right after pruning, before fine-tuning (pruned rows with fine-tuning).",
        "Δ vs: the dense row the Δ columns compare with: the fine-tuned control with this row's recipe (equal "
        "spec.finetune); rows without fine-tuning, and the controls, compare with \"dense\". "
        f"{NO_CONTROL_MARK}: no control has the row's recipe (see the note under the table).",
        "Δ mAP50, Δ mAP50-95: change from the row in Δ vs, in percentage points.",
        "Params (M), Non-zero (M): all parameters and the non-zero ones, in millions.",
        "Params −%, Non-zero −%, GFLOPs −%: the reduction achieved against the dense row, in % (measured, not the "
        "amount asked).",
        "GFLOPs: one forward pass, batch 1, a multiply-add = 2 FLOPs, fused model; dense kernels compute zeros too.",
        "Size (MB): the fp16 state dict compressed with gzip -9, in 10^6 bytes.",
        "Latency (ms): median model-only forward pass, batch 1 (torch.utils.benchmark). "
        f"{BUSY_MARK}: timed while the machine was busy (noisy).",
        "Speed-up: dense latency over this row's, on the same device: timed in the cell itself, pruned and dense "
        "model back to back in alternating pairs (median of the pairs' ratios, so the machine's drift cancels; "
        "IQR: the interquartile range of the per-pair ratios, mean over seeds), or, for records without those "
        f"pairs, the dense row's latency over this row's (no IQR). {UNSTRUCTURED_MARK}: unstructured pruning, "
        f"{BUSY_MARK}: timed while busy.",
        *[f"Latency {r} (ms), Speed-up {r}: the same on the {r} runtime (model exported from the kept checkpoint)."
          for r in runtimes],
        f"{PARETO_MARK}: on the Pareto frontier of mAP50-95 vs latency on that device: no other row is at least "
        f"as fast and at least as accurate, one of the two strictly. A row is placed at dense latency over its "
        f"speed-up (rows of dense shape, the controls and unstructured rows, at dense latency); latencies within "
        f"{LATENCY_TIE:.0%} count as equally fast (timing noise). A row whose mAP50-95 is below "
        f"max({PARETO_FLOOR:g}, {PARETO_FLOOR_FRACTION:.0%} of its Δ vs row's) is not eligible (a collapsed model "
        "is fast, not useful). The plots draw the same frontier.",
        "Dominated by: the dense model (a dense or dense-ft row of ANOTHER model on this dataset, same split and "
        "imgsz; the control with this row's recipe named first) that is at least as accurate, beyond the seeds' "
        "spread (its mean mAP50-95 >= this row's mean - sqrt(sd_dense² + sd_row²); a single seed has sd 0), and "
        f"no more costly (GFLOPs <= this row's, and latency <= this row's within {LATENCY_TIE:.0%} on the same "
        "device, both placed as for the ★; a reference model's dense rows timed in pairs against this model's "
        "dense one sit at this model's dense latency over that paired ratio, so drift between cells cancels). "
        "\"(GFLOPs only)\": no latency on one side on one device, judged on "
        "GFLOPs alone. \"none\": some dense model costs no more, and none of them is as accurate: pruning paid off. "
        "\"none as cheap\": every other dense model costs more, so nothing here says whether pruning beat "
        "a smaller dense model.",
        f"{MISSING}: not measured (or not applicable).",
    ]
    return notes


def split_line(section: Section) -> str:
    """Which split the accuracy is on, and why that one."""
    splits = section.eval_splits
    if not splits:
        return "Accuracy: split not recorded."
    if len(splits) > 1:
        return (f"Accuracy: rows use different splits ({', '.join(splits)}); Δ, ranks and verdicts compare rows "
                "of one split only.")
    return f"Accuracy: on {SPLIT_WHY.get(splits[0], f'the {splits[0]} split')}."


def recipe_text(recipe: dict[str, Any]) -> str:
    """"25 epochs, SGD, lr0 0.01, warm-up 0 epochs, batch 8, imgsz 640"."""
    parts = [f"{recipe['epochs']} epochs" if recipe.get("epochs") is not None else None,
             str(recipe["optimizer"]) if recipe.get("optimizer") else None,
             f"lr0 {recipe['lr0']:g}" if isinstance(recipe.get("lr0"), (int, float)) else None,
             f"warm-up {recipe['warmup_epochs']:g} epochs" if isinstance(recipe.get("warmup_epochs"), (int, float))
             else None,
             f"batch {recipe['batch']}" if recipe.get("batch") else None,
             f"imgsz {recipe['imgsz']}" if recipe.get("imgsz") else None]
    return ", ".join(p for p in parts if p) or "recipe not recorded"


def reference_line(section: Section) -> str:
    controls = section.controls
    if controls:
        named = "; ".join(f"{label} = dense + {recipe_text(recipe)}" for label, recipe in sorted(controls.items()))
        control_text = f"the fine-tuned dense control with the row's recipe ({named})"
    else:
        control_text = "the fine-tuned dense control with the row's recipe (none in these records)"
    return (f"Reference for Δ: each fine-tuned pruned row against {control_text}; rows without fine-tuning and "
            "the controls against dense (as loaded, not fine-tuned). Column Δ vs names it per row.")


def worth_line(section: Section, sections: list[Section]) -> str:
    """Issue 18's question, answered with counts of the Dominated by column."""
    others = other_dense_models(section, sections)
    if not others:
        return (f"Is pruning worth it: no other model has dense rows on {section.dataset}, so no pruned row is "
                "checked against a smaller dense model (add one to the suite with role: reference).")
    judged = [r for r in section.pruned if r.dense_as_cheap is not None]
    dominated = sum(r.dominated_by is not None for r in judged)
    beat = sum(r.dense_as_cheap and r.dominated_by is None for r in judged)
    cheaper = sum(r.dense_as_cheap is False for r in judged)
    return (f"Is pruning worth it (against the dense rows of {', '.join(others)}): {beat + cheaper} of {len(judged)} "
            f"pruned rows are dominated by no dense model: {beat} beat every dense model that costs no more, "
            f"{cheaper} cost less than all of them (none as cheap: nothing to beat); {dominated} are dominated "
            "(a dense model is as accurate for no more cost).")


def one_line_answer(section: Section, sections: list[Section]) -> str:
    """The section's answer in one line, which the leaderboard's header and the site's index both show: for a
    model under study, whether pruning was worth it against the dense models on its dataset."""
    if section.pruned:
        return worth_line(section, sections)
    return (f"{section.model} is a reference model on {section.dataset}: dense only, never pruned; its rows are "
            "what the pruned models are judged against.")


def _busy_note(section: Section) -> str:
    loads = [c.load_average for r in section.rows if r.ok and r.noisy for c in r.cells if c.load_average is not None]
    cores = {c.record.get("environment", {}).get("cpu_count") for r in section.rows for c in r.cells}
    cores.discard(None)
    load = f" (1-minute load average up to {max(loads):.1f}" + (f" on {max(cores)} cores)" if cores else ")") \
        if loads else ""
    return (f"{BUSY_MARK} timed while the machine was busy{load}: its latency and speed-up are noisy; read them as "
            "rough and re-run the cell on a quiet machine to rely on them.")


def section_notes(section: Section) -> list[str]:
    notes = [f"[{n}] {text}" for n, text in enumerate(section.footnotes, 1)]
    if any(row.unstructured for row in section.rows):
        notes.append(f"{UNSTRUCTURED_MARK} Unstructured pruning zeros weights inside tensors of unchanged shape: "
                     "dense kernels still multiply the zeros, so its speed-up is whatever was measured (about "
                     "1.0x), not the fraction removed. Its gains show in Non-zero params and in Size.")
    if any(row.ok and not row.reference_matches for row in section.rows):
        notes.append(NO_CONTROL_NOTE)
    if any(row.ok and row.noisy for row in section.rows):
        notes.append(_busy_note(section))
    if section.pruned and not any(row.is_dense and row.ok for row in section.rows):
        notes.append("No dense baseline finished for this model and dataset: Δ and speed-up cannot be computed "
                     "(run the suite again: its dense cells are part of every plan).")
    if len(section.devices) > 1:
        notes.append("Rows are per device: deltas and speed-up compare with the dense rows measured on the same "
                     "device.")
    return notes


def section_header(section: Section, sections: list[Section], suite: str, generated: str) -> list[str]:
    dataset = section.dataset + (" (SYNTHETIC stand-in data: its numbers say nothing about real images)"
                                 if section.synthetic else "")
    role = ("reference model: dense only, never pruned; here to show what a smaller or larger dense model "
            "achieves" if section.role == "reference" else "under study")
    several = len(section.devices) > 1
    lines = [f"Suite: {', '.join(section.suites) or suite}", f"Model: {section.model} ({role})",
             f"Dataset: {dataset}", split_line(section)]
    if section.pruned:
        lines += [reference_line(section), one_line_answer(section, sections)]
    elif section.controls:
        lines.append("Controls: " + "; ".join(f"{label} = dense + {recipe_text(recipe)}"
                                              for label, recipe in sorted(section.controls.items())))
    lines += [f"Device{'s' if several else ''}: {'; '.join(section.devices.values())}", f"Date: {generated}"]
    return lines


def document(records: Sequence[dict[str, Any]], *, suite: str | None, generated: str,
             plot_links: Sequence[str]) -> list[tuple]:
    """The leaderboard as format-neutral blocks: ("h1"|"h2"|"p", text), ("list", items), ("table", headers, rows),
    ("images", links)."""
    sections = build_sections(records)
    placed: set[str] = set()
    suite = suite or ", ".join(sorted({str(r["suite"]) for r in records if r.get("suite")})) or "unnamed suite"
    blocks: list[tuple] = [("h1", f"prunebench leaderboard: {suite}")]
    if not sections:
        blocks.append(("p", "No records yet: run the suite (`prunebench run SUITE`), then render again."))
    for section in sections:
        blocks += [("h2", f"{section.model} × {section.dataset}"),
                   ("list", section_header(section, sections, suite, generated)),
                   ("table", *display_table(section))]
        if notes := section_notes(section):
            blocks.append(("list", notes))
        figures = [link for link in plot_links if Path(link).name.startswith(figure_prefix(section.model,
                                                                                             section.dataset))]
        blocks += [("images", figures)] if figures else []
        placed.update(figures)
    if sections:
        blocks += [("h2", "Columns"), ("list", _column_notes(sections))]
    if rest := [link for link in plot_links if link not in placed]:
        blocks += [("h2", "Plots"), ("images", rest)]
    return blocks


# ---------------------------------------------------------------- document -> text
def _alt(link: str) -> str:
    """"yolov8n__buds__accuracy_vs_amount.png" -> "yolov8n × buds: accuracy vs amount"."""
    parts = Path(link).stem.split("__")
    what = parts[-1].replace("_", " ")
    return f"{parts[0]} × {parts[1]}: {what}" if len(parts) == 3 else what


def _markdown(blocks: list[tuple]) -> str:
    from tabulate import tabulate

    parts = []
    for kind, *content in blocks:
        if kind == "h1":
            parts.append(f"# {content[0]}")
        elif kind == "h2":
            parts.append(f"## {content[0]}")
        elif kind == "p":
            parts.append(content[0])
        elif kind == "list":
            parts.append("\n".join(f"- {item}" for item in content[0]))
        elif kind == "table":
            parts.append(tabulate(content[1], headers=content[0], tablefmt="github", disable_numparse=True))
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
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def check_format(fmt: str, allowed: Iterable[str] = EXTENSIONS) -> None:
    allowed = list(allowed)
    if fmt not in allowed:
        raise ValueError(f"unknown output format {fmt!r}: use one of {', '.join(allowed)} "
                         f"(e.g. `--format {allowed[0]}`).")


def render(records: list[dict], fmt: str = "github", *, suite: str | None = None, generated: str | None = None,
           plot_links: Sequence[str] = ()) -> str:
    """The leaderboard of `records` as text. `generated` is the date in each header (default: today);
    `plot_links` are image paths relative to where the output will be written (markdown and HTML only)."""
    check_format(fmt)
    if fmt in ("csv", "json"):
        runtimes = runtimes_in(records)
        rows = [item for section in build_sections(records) for item in machine_rows(section, runtimes)]
        return _csv(rows) if fmt == "csv" else json.dumps(rows, indent=1, ensure_ascii=False) + "\n"
    blocks = document(records, suite=suite, generated=generated or datetime.date.today().isoformat(),
                      plot_links=plot_links)
    return {"github": _markdown, "html": _html, "latex": _latex}[fmt](blocks)


def write(results_dirs: list[Path], out_path: Path | None = None, fmt: str = "github", plots: bool = True) -> Path:
    """Render the records of all `results_dirs` (merged) into `out_path` (default
    `<first dir>/LEADERBOARD.<ext>`), with the figures in `<first dir>/plots/` linked when `plots`."""
    from prunebench.results import atomic_write_text, iter_records

    check_format(fmt)
    dirs = [Path(d) for d in results_dirs]
    if not dirs:
        raise ValueError("no results folder given: pass at least one folder holding a cells/ folder of records.")
    records = [record for _, record in iter_records(dirs)]
    if not records:
        raise ValueError(f"no records found in {', '.join(str(d) for d in dirs)} (looked in each folder's cells/): "
                         "run the suite first (`prunebench run SUITE`) or point at the folder it wrote.")
    out_path = Path(out_path) if out_path else dirs[0] / f"LEADERBOARD{EXTENSIONS[fmt]}"
    links: list[str] = []
    if plots:
        from prunebench.report.plots import write_plots

        figures = write_plots(records, dirs[0] / "plots")
        links = [Path(os.path.relpath(p, out_path.parent)).as_posix() for p in figures if p.suffix == ".png"]
    atomic_write_text(out_path, render(records, fmt, plot_links=links))
    return out_path
