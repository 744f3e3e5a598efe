"""The row model every report reads: records -> entries -> sections of aggregated rows.

One record is an `Entry`; a `Section` is one model x dataset, its `Row`s grouping the cells of
one strategy x amount (x device) with mean ± std over seeds, the deltas against the dense
reference and the Pareto marks. The leaderboard, the plots and compare all read this, and
nothing here draws or renders.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

DENSE = "dense"
ACCURACY = ("map50", "map50_95", "precision", "recall")
# Metrics averaged over seeds; the first ones also get a std in the table.
AVERAGED = (*ACCURACY, "latency_ms", "e2e_latency_ms", "params", "nonzero_params", "gflops",
            "size_fp16_gzip_bytes")
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


