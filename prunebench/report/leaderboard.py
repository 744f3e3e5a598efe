"""Records -> leaderboards: one table per model x dataset, as GitHub markdown, CSV, JSON, LaTeX or HTML.

Rows: the dense baseline first, then one row per strategy x amount (x device when the records
come from several machines), mean ± sample std over seeds. Accuracy deltas are absolute
percentage points against the dense baseline; speed-up is the dense latency over the row's
latency measured on the same device, never estimated. Reads records only; imports neither
torch nor matplotlib (plots live in `prunebench.report.plots`).
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

from prunebench.report.rows import (AVERAGED, LATENCY_TIE, Row, Section, build_sections, figure_prefix)

MISSING = "—"
PARETO_MARK = "★"
UNSTRUCTURED_MARK = "†"
EXTENSIONS = {"github": ".md", "csv": ".csv", "json": ".json", "latex": ".tex", "html": ".html"}
SHOWN_WITH_STD = ("map50", "map50_95", "precision", "recall", "latency_ms")

# ---------------------------------------------------------------- rows -> cells
def _number(value: float | None, fmt: str, scale: float = 1.0) -> str:
    return MISSING if value is None else format(value * scale, fmt)


def _with_std(row: Row, metric: str, fmt: str, scale: float = 1.0) -> str:
    mean, std = row.stats.get(metric, (None, None))
    text = _number(mean, fmt, scale)
    if mean is not None and std is not None and metric in SHOWN_WITH_STD:
        text += f" ± {format(std * scale, fmt)}"
    return text


def _amount(amount: float) -> str:
    return f"{amount * 100:.4g}%"


def display_table(section: Section) -> tuple[list[str], list[list[str]]]:
    """Headers and text cells of a section's table (the Device column only with several devices)."""
    several = len(section.devices) > 1
    headers = ["#", "Strategy", "Amount", *(["Device"] if several else []), "n", "mAP50", "mAP50-95", "P", "R",
               "Δ mAP50", "Δ mAP50-95", "Params (M)", "Non-zero (M)", "GFLOPs", "Size (MB)", "Latency (ms)",
               "Speed-up", PARETO_MARK]
    table = []
    for row in section.rows:
        lead = [str(row.rank) if row.rank else "", "dense (baseline)" if row.is_dense else row.strategy,
                _amount(row.amount), *([row.device] if several else []), str(len(row.cells))]
        if not row.ok:
            refs = ", ".join(f"[{n}]" for n in row.notes)
            table.append(lead + [f"failed {refs}"] + [MISSING] * (len(headers) - len(lead) - 2) + [""])
            continue
        speedup = _number(row.speedup, ".2f") + ("x" if row.speedup is not None else "")
        table.append(lead + [
            _with_std(row, "map50", ".1f", 100), _with_std(row, "map50_95", ".1f", 100),
            _with_std(row, "precision", ".1f", 100), _with_std(row, "recall", ".1f", 100),
            MISSING if row.is_dense else _number(row.delta.get("map50"), "+.1f", 100),
            MISSING if row.is_dense else _number(row.delta.get("map50_95"), "+.1f", 100),
            _number(row.mean("params"), ".3f", 1e-6), _number(row.mean("nonzero_params"), ".3f", 1e-6),
            _number(row.mean("gflops"), ".2f"), _number(row.mean("size_fp16_gzip_bytes"), ".2f", 1e-6),
            _with_std(row, "latency_ms", ".2f"),
            speedup + (f" {UNSTRUCTURED_MARK}" if row.unstructured else ""),
            PARETO_MARK if row.pareto else "",
        ])
    return headers, table


def machine_rows(section: Section) -> list[dict[str, Any]]:
    """Flat rows with raw numbers (for CSV and JSON): fractions, counts, bytes, ms; None when missing."""
    out = []
    for row in section.rows:
        item: dict[str, Any] = {
            "suite": ", ".join(section.suites), "model": section.model, "dataset": section.dataset,
            "synthetic": section.synthetic, "device": row.device, "strategy": row.strategy, "amount": row.amount,
            "status": "ok" if row.ok else "failed", "n": len(row.cells), "seeds": " ".join(map(str, row.seeds)),
            "rank": row.rank, "pareto": row.pareto, "unstructured": row.unstructured}
        for metric in AVERAGED:
            mean, std = row.stats.get(metric, (None, None))
            item[metric], item[f"{metric}_std"] = _round(mean), _round(std)
        item.update(delta_map50=_round(row.delta.get("map50")), delta_map50_95=_round(row.delta.get("map50_95")),
                    speedup=_round(row.speedup),
                    error=" | ".join(section.failures[n - 1] for n in row.notes) or None)
        out.append(item)
    return out


def _round(value: float | None) -> float | None:
    """Six decimals: exact for counts and bytes, no float noise (0.6250000000000001) in goldens."""
    return None if value is None else round(value, 6)


# ---------------------------------------------------------------- sections -> document
def _column_notes(sections: list[Section]) -> list[str]:
    imgsz = "/".join(map(str, sorted({i for s in sections for i in s.imgsz}))) or "the suite's size"
    versions = ", ".join(sorted({v for s in sections for v in s.ultralytics})) or "version unknown"
    evaluator = f"Ultralytics' detection validator (ultralytics {versions})"
    return [
        "#: rank by mAP50-95 among the pruned rows of one amount (and device).",
        "Amount: the fraction the strategy was asked to remove (weights for unstructured strategies, channels "
        "for structured ones).",
        "n: cells (seeds) in the row; with n > 1 accuracy and latency are mean ± sample std, the other columns means.",
        f"mAP50, mAP50-95, P (precision), R (recall): % on the validation split at imgsz {imgsz}, from {evaluator}.",
        "Δ mAP50, Δ mAP50-95: change from the dense baseline, in percentage points.",
        "Params (M), Non-zero (M): all parameters and the non-zero ones, in millions.",
        "GFLOPs: one forward pass, batch 1, a multiply-add = 2 FLOPs, fused model; dense kernels compute zeros too.",
        "Size (MB): the fp16 state dict compressed with gzip -9, in 10^6 bytes.",
        "Latency (ms): median model-only forward pass, batch 1 (torch.utils.benchmark).",
        "Speed-up: dense latency over this row's, on the same device: timed in the cell itself, pruned and dense "
        "model back to back in alternating pairs (median of the pairs' ratios, so the machine's drift cancels), "
        "or, for records without those pairs, the dense row's latency over this row's.",
        f"{PARETO_MARK}: on the Pareto frontier of mAP50-95 vs latency on that device (no other row is both at "
        f"least as fast and at least as accurate). A row's latency here is dense latency over its speed-up; "
        f"latencies within {LATENCY_TIE:.0%} count as equally fast (timing noise), and unstructured rows count as "
        "fast as dense.",
        f"{MISSING}: not measured (or not applicable).",
    ]


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
        dataset = section.dataset + (" (SYNTHETIC stand-in data: its numbers say nothing about real images)"
                                     if section.synthetic else "")
        several = len(section.devices) > 1
        blocks += [("h2", f"{section.model} × {section.dataset}"),
                   ("list", [f"Suite: {', '.join(section.suites) or suite}", f"Dataset: {dataset}",
                             f"Device{'s' if several else ''}: {'; '.join(section.devices.values())}",
                             f"Date: {generated}"]),
                   ("table", *display_table(section))]
        notes = [f"[{n}] {text}" for n, text in enumerate(section.failures, 1)]
        if any(row.unstructured for row in section.rows):
            notes.append(f"{UNSTRUCTURED_MARK} Unstructured pruning zeros weights inside tensors of unchanged shape: "
                         "dense kernels still multiply the zeros, so its speed-up is whatever was measured (about "
                         "1.0x), not the fraction removed. Its gains show in Non-zero params and in Size.")
        if not any(row.is_dense and row.ok for row in section.rows):
            notes.append("No dense baseline finished for this model and dataset: Δ and speed-up cannot be computed "
                         "(run the suite again: its dense cells are part of every plan).")
        if several:
            notes.append("Rows are per device: deltas and speed-up compare with the dense baseline measured on the "
                         "same device.")
        blocks += [("list", notes)] if notes else []
        prefix = figure_prefix(section.model, section.dataset)
        figures = [link for link in plot_links if Path(link).name.startswith(prefix)]
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
        rows = [item for section in build_sections(records) for item in machine_rows(section)]
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
