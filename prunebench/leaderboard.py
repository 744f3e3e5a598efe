"""Records -> leaderboards: one table per model x dataset, as GitHub markdown, CSV, JSON, LaTeX or HTML.

Rows: the dense baseline first, then one row per strategy x amount (x device when the records
come from several machines), mean ± sample std over seeds. Accuracy deltas are absolute
percentage points against the dense baseline; speed-up is the dense latency over the row's
latency measured on the same device, never estimated. Reads records only; imports neither
torch nor matplotlib (plots live in `prunebench.plots`).
"""

from __future__ import annotations

import csv
import datetime
import html
import io
import json
import math
import os
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

DENSE = "dense"
MISSING = "—"
PARETO_MARK = "★"
UNSTRUCTURED_MARK = "†"
EXTENSIONS = {"github": ".md", "csv": ".csv", "json": ".json", "latex": ".tex", "html": ".html"}
ACCURACY = ("map50", "map50_95", "precision", "recall")
# Metrics averaged over seeds; the first ones also get a std in the table.
AVERAGED = (*ACCURACY, "latency_ms", "e2e_latency_ms", "params", "nonzero_params", "gflops",
            "size_fp16_gzip_bytes")
SHOWN_WITH_STD = (*ACCURACY, "latency_ms")
NOTE_CHARS = 160


# ---------------------------------------------------------------- records -> entries
@dataclass(frozen=True)
class Entry:
    """One record, with what tables group and sort by read once."""

    record: dict[str, Any]
    model: str
    dataset: str
    strategy: str
    amount: float
    seed: int | None
    device: str

    @property
    def ok(self) -> bool:
        return self.record.get("status") == "ok"

    @property
    def is_dense(self) -> bool:
        return self.strategy == DENSE

    def metric(self, name: str) -> float | None:
        """A finite number, or None when the record lacks it."""
        value = (self.record.get("metrics") or {}).get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        return float(value)

    @property
    def error_line(self) -> str:
        error = self.record.get("error") or {}
        message = str(error.get("message") or "").strip().splitlines()
        line = f"{error.get('type') or 'Error'}: {message[0] if message else 'no message recorded'}"
        return line if len(line) <= NOTE_CHARS else line[:NOTE_CHARS - 1] + "…"


def strategy_label(record: dict[str, Any]) -> str:
    """The suite's name for the strategy entry (its label when it has one); "dense" for baselines."""
    strategy = (record.get("spec") or {}).get("strategy") or {}
    return str(strategy.get("label") or strategy.get("name") or "unknown")


def _device_name(record: dict[str, Any]) -> str:
    env = record.get("environment") or {}
    kind, name = env.get("device"), env.get("device_name")
    if name and kind and kind not in name:
        return f"{name} ({kind})"
    return str(name or kind or "unknown device")


def entries(records: Iterable[dict[str, Any]]) -> list[Entry]:
    """Entries for records, exact duplicates (same cell, machine and run) dropped, and superseded ones too.
    Devices are named by their device name; two machines with the same device name also get their hostname."""
    unique, seen = [], set()
    for record in records:
        env = record.get("environment") or {}
        identity = (record.get("key"), env.get("hostname"), env.get("device"), record.get("started_at"),
                    record.get("finished_at"))
        if identity not in seen:
            seen.add(identity)
            unique.append(record)
    unique = without_superseded(unique)
    hosts = defaultdict(set)
    for record in unique:
        hosts[_device_name(record)].add((record.get("environment") or {}).get("hostname"))
    result = []
    for record in unique:
        spec = record.get("spec") or {}
        device = _device_name(record)
        if len(hosts[device]) > 1:
            device = f"{device} @ {(record.get('environment') or {}).get('hostname') or 'unknown host'}"
        result.append(Entry(record, str((spec.get("model") or {}).get("name", "unknown")),
                            str((spec.get("dataset") or {}).get("name", "unknown")), strategy_label(record),
                            float(spec.get("amount") or 0.0), spec.get("seed"), device))
    return result


def without_superseded(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop records superseded on their own machine: same cell name, same device and host, another key.
    A cell's key changes when its suite entry or input files change, and the newer run (by finished_at)
    is the one that answers for the cell there. Records of one key from several machines are all kept."""
    def place(record):
        env = record.get("environment") or {}
        return record.get("name"), _device_name(record), env.get("hostname")

    latest: dict[tuple, tuple[str, Any]] = {}
    for record in records:
        stamp = str(record.get("finished_at") or record.get("started_at") or "")
        if place(record) not in latest or stamp > latest[place(record)][0]:
            latest[place(record)] = (stamp, record.get("key"))
    return [r for r in records if r.get("key") == latest[place(r)][1]]


# ---------------------------------------------------------------- entries -> rows
def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (None for fewer than two values)."""
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def slug(text: str) -> str:
    """A file-name-safe form of a model, dataset or strategy name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "unnamed"


def figure_prefix(model: str, dataset: str) -> str:
    """How every figure file of one model x dataset starts (plots.py names them; the leaderboard places them)."""
    return f"{slug(model)}__{slug(dataset)}__"


# Latencies within 5 % count as equal for the Pareto frontier: CPU timings of one model drift about that much
# between measurements (see results/benchmarks/), so a collapsed model must not win on timing noise alone.
LATENCY_TIE = 0.05


def pareto_front(points: Sequence[tuple[float, float]], cost_tie: float = 0.0) -> list[bool]:
    """For (cost, gain) points, whether each is on the Pareto frontier: no other point costs no more
    and gains at least as much, with one of the two strictly better. Equal points are all kept.
    `cost_tie`: costs within this fraction of each other count as no more costly."""
    return [not any(c <= cost * (1 + cost_tie) and g >= gain and (g > gain or c < cost) for c, g in points)
            for cost, gain in points]


@dataclass
class Row:
    strategy: str
    amount: float
    device: str
    cells: list[Entry]
    stats: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    delta: dict[str, float | None] = field(default_factory=dict)
    speedup: float | None = None
    unstructured: bool = False
    pareto: bool = False
    rank: int | None = None
    notes: list[int] = field(default_factory=list)  # footnote numbers of failures

    @property
    def ok(self) -> bool:
        return self.cells[0].ok

    @property
    def is_dense(self) -> bool:
        return self.strategy == DENSE

    @property
    def seeds(self) -> list[Any]:
        return sorted({c.seed for c in self.cells}, key=str)

    def mean(self, metric: str) -> float | None:
        return self.stats.get(metric, (None, None))[0]


@dataclass
class Section:
    """One model x dataset: its rows in display order and what the header says."""

    model: str
    dataset: str
    synthetic: bool
    suites: list[str]
    devices: dict[str, str]  # label -> one line about the machine
    imgsz: list[Any]
    ultralytics: list[str]
    rows: list[Row]
    failures: list[str]  # footnote texts, numbered from 1


def build_sections(records: Iterable[dict[str, Any]]) -> list[Section]:
    """Group records into sections (model x dataset, sorted by name) of aggregated, ranked rows."""
    by_section = defaultdict(list)
    for entry in entries(records):
        by_section[(entry.model, entry.dataset)].append(entry)
    return [_section(model, dataset, cells) for (model, dataset), cells in sorted(by_section.items())]


def _section(model: str, dataset: str, cells: list[Entry]) -> Section:
    groups = defaultdict(list)
    for cell in cells:
        groups[(cell.strategy, cell.amount, cell.device, cell.ok)].append(cell)
    rows = [Row(strategy, amount, device, members) for (strategy, amount, device, _), members in groups.items()]
    for row in rows:
        if row.ok:
            row.stats = {m: mean_std([v for c in row.cells if (v := c.metric(m)) is not None]) for m in AVERAGED}
    _compare_with_dense(rows)
    for device in {row.device for row in rows}:
        timed = [r for r in rows if r.ok and r.device == device
                 and r.mean("latency_ms") is not None and r.mean("map50_95") is not None]
        dense_latency = next((r.mean("latency_ms") for r in timed if r.is_dense), None)
        for row, on_front in zip(timed, pareto_front([(_frontier_latency(r, dense_latency), r.mean("map50_95"))
                                                      for r in timed], cost_tie=LATENCY_TIE)):
            row.pareto = on_front
    rows.sort(key=_display_order)
    _rank(rows)
    failures = []
    for row in rows:
        for line in dict.fromkeys(c.error_line for c in row.cells if not c.ok):
            failures.append(line)
            row.notes.append(len(failures))
    return Section(model, dataset, synthetic=any(_spec(c, "dataset").get("synthetic") for c in cells),
                   suites=sorted({str(c.record.get("suite")) for c in cells if c.record.get("suite")}),
                   devices={c.device: _machine_line(c) for c in sorted(cells, key=lambda c: c.device)},
                   imgsz=sorted({i for c in cells if (i := _spec(c, "evaluation").get("imgsz"))}),
                   ultralytics=sorted({v for c in cells
                                       if (v := (c.record.get("environment") or {}).get("ultralytics"))}),
                   rows=rows, failures=failures)


def _spec(entry: Entry, part: str) -> dict[str, Any]:
    return (entry.record.get("spec") or {}).get(part) or {}


def _machine_line(entry: Entry) -> str:
    env = entry.record.get("environment") or {}
    facts = [f"{env['threads']} threads" if env.get("threads") else None,
             f"torch {env['torch']}" if env.get("torch") else None,
             f"CUDA {env['cuda']}" if env.get("cuda") and str(env.get("device", "")).startswith("cuda") else None]
    facts = [f for f in facts if f]
    return entry.device + (f": {', '.join(facts)}" if facts else "")


def _compare_with_dense(rows: list[Row]) -> None:
    """Deltas against the dense baseline of the same device (accuracy falls back to the dense rows of
    any device); speed-up only against the same device's dense latency."""
    dense = {r.device: r for r in rows if r.is_dense and r.ok}
    pooled = {m: mean_std([v for r in dense.values() for c in r.cells if (v := c.metric(m)) is not None])[0]
              for m in (*ACCURACY, "params")}
    for row in rows:
        if not row.ok:
            continue
        base = dense.get(row.device)
        for metric in ("map50", "map50_95"):
            reference = base.mean(metric) if base else pooled[metric]
            value = row.mean(metric)
            row.delta[metric] = None if value is None or reference is None else value - reference
        latency, base_latency = row.mean("latency_ms"), base.mean("latency_ms") if base else None
        paired = [c.metric("speedup_vs_dense") for c in row.cells]
        if not row.is_dense and paired and None not in paired:
            row.speedup = sum(paired) / len(paired)  # timed against dense in the same cell: drift cancels
        else:
            row.speedup = base_latency / latency if latency and base_latency else None
        # Unstructured pruning leaves every weight tensor its shape and zeros some of it.
        dense_params = base.mean("params") if base else pooled["params"]
        params, nonzero = row.mean("params"), row.mean("nonzero_params")
        row.unstructured = (not row.is_dense and None not in (params, nonzero, dense_params)
                            and params == dense_params and nonzero < params)


def _frontier_latency(row: Row, dense_latency: float | None) -> float:
    """The latency a row is placed at on the frontier, consistent with its Speed-up column: dense latency over
    the speed-up. Unstructured rows sit at dense latency: their tensors have dense shapes, so a timing
    difference is noise and must not buy them a place on the frontier."""
    if dense_latency is None or row.is_dense:
        return row.mean("latency_ms")
    if row.unstructured:
        return dense_latency
    return dense_latency / row.speedup if row.speedup else row.mean("latency_ms")


def _display_order(row: Row):
    score = row.mean("map50_95")
    return (not row.is_dense, row.amount, row.device, not row.ok, -score if score is not None else math.inf,
            row.strategy)


def _rank(rows: list[Row]) -> None:
    """1 = best mAP50-95 among the pruned rows of one amount on one device (rows are in display order)."""
    counters: dict[tuple[float, str], int] = defaultdict(int)
    for row in rows:
        if row.ok and not row.is_dense and row.mean("map50_95") is not None:
            counters[(row.amount, row.device)] += 1
            row.rank = counters[(row.amount, row.device)]


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
        from prunebench.plots import write_plots

        figures = write_plots(records, dirs[0] / "plots")
        links = [Path(os.path.relpath(p, out_path.parent)).as_posix() for p in figures if p.suffix == ".png"]
    atomic_write_text(out_path, render(records, fmt, plot_links=links))
    return out_path
