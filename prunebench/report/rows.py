"""The row model every report reads: records -> entries -> sections of aggregated rows.

One record is an `Entry`. A `Section` is one model x dataset x device x baseline: a table compares rows of one
baseline on one machine only (a record's details.baseline.sha256 names the dense checkpoint its cell started
from; records of an older baseline of the same seed, or from another device, form sections of their own, and
the header says why). Its `Row`s group the cells of one strategy entry x amount (or speed-up target) x
fine-tuning recipe: accuracy as estimates with 95 % intervals over images and seeds (prunebench.report.
intervals), costs as means. What a report may claim about a row (its reference, Δ, verdict, ★, rank,
domination) is decided in prunebench.report.verdicts; costs and speed here:
- Placed latency (`placed_latency`): dense latency over the paired speed-up; rows of dense shape (controls and
  unstructured rows) sit at dense latency. A reference model's dense rows timed in pairs against the model under
  study (`place_paired_references`) sit at that model's dense latency over their paired ratio, the footing the
  pruned rows stand on, so drift between the cells' timings cancels from the domination and the plots.
- Deployments (`place_variants`): rows exported (ONNX Runtime, OpenVINO, INT8) or at a smaller input stand on
  the same axis, by chained pairs: a deployment's dense row at dense torch latency over its ratio against dense
  torch (timed in its cell), its pruned rows at that over their speed-up within the deployment. Each deployment
  has its own dense reference, cost classes and ranks; `conversion_delta` is a row minus its torch row.
- Cost classes (`assign_cost_classes`): pruned rows from most to least GFLOPs; a row not yet in a class starts
  one and every later row whose GFLOPs and non-zero params are both within 10 % of that first row's joins it.
- Busy (`Row.noisy_runtimes`): a runtime whose timing in any cell was noisy (prunebench.measure.noise), with why.
- Drift (`dense_drift`): the dense model's latency measured in the section's cells (its own cells, and inside
  each pruned cell's pairs) varying by more than the pairs' spread.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from prunebench.records.record import Record, finite
from prunebench.report import speed as speeds
from prunebench.report import verdicts
from prunebench.report.intervals import Estimate, combine, verdict
from prunebench.report.speed import ONE, Speed
from prunebench.report.verdicts import METRIC
from prunebench.util.amount import size_label
from prunebench.util.canonical import canonical_json
from prunebench.util.metrics import ACCURACY, AVERAGED  # AVERAGED: mean and sample std over seeds

REDUCED = ("params", "nonzero_params", "gflops")  # achieved reductions against the dense row
NOTE_CHARS = 160
RUNTIME_METRIC = re.compile(r"^(?:latency_ms|speedup_vs_dense)_(?P<runtime>[A-Za-z0-9]+)$")

# Cost classes: rows whose GFLOPs and non-zero params are both within 10 % of the class's first row.
COST_CLASS_WIDTH = 0.10
# The drift line's bar when no cell kept its pairs' spread: a header note, never a verdict.
DRIFT_FLOOR = 0.05


# ---------------------------------------------------------------- records -> entries
_finite = finite


# Entry attributes that are the record's own, by the names reports use.
_FROM_RECORD = {"model": "model_name", "dataset": "dataset_name", "strategy": "strategy_label", "role": "model_role",
                "baseline": "baseline_sha", "amount": "amount", "target": "target", "seed": "seed", "ok": "ok",
                "strategy_name": "strategy_name", "is_dense": "is_dense", "structured": "structured",
                "eval_split": "eval_split", "imgsz": "imgsz", "detail": "detail", "metric": "metric",
                "variant": "variant", "is_smaller_input": "is_smaller_input"}


@dataclass(frozen=True)
class Entry:
    """One record in a report, with the device label it is grouped under. `model`, `dataset`, `strategy` (the
    suite's label: "dense", "dense-ft", "l1-channel", ...), `role`, `baseline` (sha256), `amount`, `target`,
    `seed`, `ok`, `strategy_name`, `is_dense`, `structured`, `eval_split`, `imgsz`, `variant` (how it deploys:
    "torch" or an export), `is_smaller_input`, `detail(...)` and `metric(...)` are the record's own (Record's
    accessors)."""

    record: Record
    device: str

    def __getattr__(self, name: str) -> Any:
        if name in _FROM_RECORD:
            return getattr(self.record, _FROM_RECORD[name])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def recipe(self) -> str | None:
        """The fine-tuning recipe as canonical JSON (None: no fine-tuning): recipes match by equality of this."""
        recipe = self.record.recipe
        return canonical_json(recipe) if recipe else None

    @property
    def steps(self) -> int | None:
        steps = (self.record.schedule or {}).get("steps")
        return steps if isinstance(steps, int) else None

    def before_finetune(self, name: str) -> float | None:
        """Accuracy right after pruning, when measured on the headline split (else None: not comparable)."""
        split = self.detail("metrics_before_finetune_split")
        if split is not None and split != self.eval_split:
            return None
        return _finite(self.record.detail_dict("metrics_before_finetune").get(name))

    def noisy_reasons(self, runtime: str = "torch") -> list[str]:
        """Why the timing on `runtime` was noisy (prunebench.measure.noise), or [] when it was steady. Records
        written before the reasons were kept give their flag as the reason "busy"."""
        measure = self.record.detail_dict("measure")
        if runtime == "torch":
            parts = [measure.get("latency")]
        else:
            runtimes = measure.get("runtimes") if isinstance(measure.get("runtimes"), dict) else {}
            parts = [runtimes.get(runtime)]
        reasons: list[str] = []
        for part in parts:
            if not isinstance(part, dict):
                continue
            found = part.get("noisy_reasons")
            if isinstance(found, list):
                reasons += [str(r) for r in found]
            elif part.get("noisy") is True:
                reasons.append("busy")
        return reasons

    def estimate_parts(self, metric: str) -> tuple[float | None, list[float] | None, tuple | None]:
        """(the validator's figure, its bootstrap replicates on the headline split or None, their pairing)."""
        boot = self.record.bootstrap
        if boot is None or boot.get("split") != self.eval_split or not isinstance(boot.get(metric), list):
            return self.metric(metric), None, None
        return self.metric(metric), boot[metric], (boot.get("images_sha"), boot.get("resamples"), boot.get("seed"))

    @property
    def load_average(self) -> float | None:
        """The highest 1-minute load average recorded around the timing."""
        load = self.detail("measure", "latency", "load_average_1m")
        values = [_finite(v) for v in (load.values() if isinstance(load, dict) else [load])]
        values = [v for v in values if v is not None]
        return max(values) if values else None

    @property
    def error_line(self) -> str:
        message = self.record.error_message.strip().splitlines()
        line = f"{self.record.error_type if self.record.error else 'Error'}: " \
               f"{message[0] if message else 'no message recorded'}"
        return line if len(line) <= NOTE_CHARS else line[:NOTE_CHARS - 1] + "…"


def as_records(records: Iterable[Record | dict[str, Any]]) -> list[Record]:
    """Records as `Record`s (a parsed JSON object is read as one; RecordError if it is not a record)."""
    return [r if isinstance(r, Record) else Record.from_json(r) for r in records]


def _device_name(record: Record) -> str:
    kind, name = record.env("device"), record.env("device_name")
    if name and kind and kind not in name:
        return f"{name} ({kind})"
    return str(name or kind or "unknown device")


def entries(records: Iterable[Record | dict[str, Any]]) -> list[Entry]:
    """Entries for records, exact duplicates (same cell, machine and run) dropped, and superseded ones too.
    Devices are named by their device name; two machines with the same device name also get their hostname."""
    unique, seen = [], set()
    for record in as_records(records):
        identity = (record.key, record.env("hostname"), record.env("device"), record.started_at, record.finished_at)
        if identity not in seen:
            seen.add(identity)
            unique.append(record)
    unique = without_superseded(unique)
    hosts = defaultdict(set)
    for record in unique:
        hosts[_device_name(record)].add(record.env("hostname"))
    result = []
    for record in unique:
        device = _device_name(record)
        if len(hosts[device]) > 1:
            device = f"{device} @ {record.env('hostname') or 'unknown host'}"
        result.append(Entry(record, device))
    return result


def without_superseded(records: list[Record]) -> list[Record]:
    """Drop records superseded on their own machine: same suite, cell name, device and host, another key.
    A cell's key changes when its suite entry or input files change, and the newer run (by finished_at)
    is the one that answers for the cell there. Records of one key from several machines are all kept, and so
    are those of another suite (several results folders rendered together keep every folder's rows)."""
    def place(record: Record):
        return record.suite, record.name, _device_name(record), record.env("hostname")

    latest: dict[tuple, tuple[str, Any]] = {}
    for record in records:
        stamp = str(record.finished_at or record.started_at or "")
        if place(record) not in latest or stamp > latest[place(record)][0]:
            latest[place(record)] = (stamp, record.key)
    return [r for r in records if r.key == latest[place(r)][1]]


# ---------------------------------------------------------------- small shared helpers
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


def pareto_front(points: Sequence[tuple[float, float]], cost_tie: float = 0.0) -> list[bool]:
    """For (cost, gain) points, whether each is on the Pareto frontier: no other point costs no more
    and gains at least as much, with one of the two strictly better. Equal points are all kept.
    `cost_tie`: costs within this fraction of each other count as no more costly."""
    return [not any(c <= cost * (1 + cost_tie) and g >= gain and (g > gain or c < cost) for c, g in points)
            for cost, gain in points]


def runtimes_in(records_or_entries: Iterable[Any]) -> list[str]:
    """Extra runtimes (e.g. "onnxruntime") that some record has latency_ms_<R> or speedup_vs_dense_<R> for."""
    found = set()
    for item in records_or_entries:
        record = item.record if isinstance(item, Entry) else item
        for name, value in record.metrics.items():
            if (match := RUNTIME_METRIC.match(name)) and _finite(value) is not None:
                found.add(match["runtime"])
    return sorted(found)


# ---------------------------------------------------------------- rows
@dataclass
class Row:
    strategy: str  # label
    amount: float | None
    target: float | None
    device: str
    cells: list[Entry]
    model: str = ""
    stats: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    accuracy: dict[str, Estimate] = field(default_factory=dict)  # map50, map50_95: over images and seeds
    before: dict[str, float | None] = field(default_factory=dict)  # accuracy before fine-tuning (means)
    delta: dict[str, Estimate | None] = field(default_factory=dict)  # against `reference`, paired
    verdict: str | None = None  # mAP50-95 against `reference`: better / worse / tie, None without intervals
    reference: Row | None = None
    reference_matches: bool = True  # False: fine-tuned, but no control with its recipe (Δ flatters it)
    reference_why: str = ""  # which of dense and the control, and why (verdicts.choose_reference)
    collapsed: bool = False
    reductions: dict[str, float | None] = field(default_factory=dict)  # fractions removed vs the dense row
    speed: Speed | None = None  # over the dense model deployed the same way, timed in the cell (Speed-up column)
    runtime_latency: dict[str, float | None] = field(default_factory=dict)
    runtime_speed: dict[str, Speed | None] = field(default_factory=dict)
    unstructured: bool = False
    placed_latency: float | None = None
    pareto: bool = False
    cost_class: int | None = None
    rank: int | None = None
    class_size: int = 0
    domination: verdicts.Domination | None = None  # None: not judged (no other model on the dataset)
    conversion: dict[str, Estimate | None] = field(default_factory=dict)  # variant minus its torch row, paired
    # The cell's own pairs against dense torch FP32 at the suite's input (never a product of two ratios), and an
    # INT8 export's against its FP32 export: None when the record does not hold them.
    vs_torch: Speed | None = None
    vs_fp32: Speed | None = None
    # Where the row stands on the section's latency axis: placed_latency = anchor's placed latency / axis.
    # A row placed at its own latency is its own anchor (axis ONE). Verdicts read these (verdicts.speed_ratio).
    axis: Speed | None = field(default=None, compare=False)
    anchor: Row | None = field(default=None, repr=False, compare=False)
    paired_with: list[tuple[Row, Speed]] = field(default_factory=list, repr=False, compare=False)  # (reference row, cell's pairs)
    notes: list[int] = field(default_factory=list)  # numbers of the section's footnotes

    @property
    def speedup(self) -> float | None:
        return self.speed.value if self.speed is not None else None

    @property
    def speedup_iqr(self) -> float | None:
        return self.speed.iqr if self.speed is not None else None

    @property
    def runtime_speedup(self) -> dict[str, tuple[float | None, float | None]]:
        """runtime -> (speed-up, IQR), the figures alone."""
        return {r: (s.value, s.iqr) if s is not None else (None, None) for r, s in self.runtime_speed.items()}

    @property
    def speedup_vs_torch(self) -> float | None:
        """The cell's own paired speed-up against dense torch (None: not measured)."""
        return self.vs_torch.value if self.vs_torch is not None else None

    @property
    def first(self) -> Entry:
        return self.cells[0]

    @property
    def ok(self) -> bool:
        return self.first.ok

    @property
    def is_dense(self) -> bool:
        return self.first.is_dense

    @property
    def is_control(self) -> bool:
        """The fine-tuned dense control: a dense row given a fine-tuning recipe."""
        return self.is_dense and self.recipe is not None

    @property
    def is_plain_dense(self) -> bool:
        return self.is_dense and self.recipe is None

    @property
    def recipe(self) -> str | None:
        return self.first.recipe

    @property
    def finetune(self) -> dict[str, Any] | None:
        return self.first.record.recipe

    @property
    def steps(self) -> int | None:
        return self.first.steps

    @property
    def evaluation(self) -> tuple[Any, Any]:
        """(headline split, imgsz): rows compare accuracy only when these match."""
        return self.first.eval_split, self.first.imgsz

    @property
    def variant(self) -> str:
        """"torch" (the kept model as trained) or the export it is deployed as (onnx, onnx-int8, ...)."""
        return self.first.variant

    @property
    def is_smaller_input(self) -> bool:
        """The dense model evaluated and timed at a smaller input than the suite's: a reference, never pruned."""
        return self.first.is_smaller_input

    @property
    def deployment(self) -> tuple[str, Any]:
        """(variant, imgsz): rows of one deployment are compared with their own dense row."""
        return self.variant, self.first.imgsz

    @property
    def deploy_label(self) -> str:
        """"torch", "onnx-int8", "torch @320" (a smaller input)."""
        return f"{self.variant} @{self.first.imgsz}" if self.is_smaller_input else self.variant

    @property
    def seeds(self) -> list[Any]:
        return sorted({c.seed for c in self.cells}, key=str)

    def accuracy_over(self, metric: str, seeds: set) -> Estimate | None:
        """The accuracy estimate over these of the row's seeds (a comparison with a row of other seeds)."""
        return self.accuracy.get(metric) if set(self.seeds) <= seeds else accuracy_estimate(self, metric, seeds)

    @property
    def noisy_runtimes(self) -> dict[str, list[str]]:
        """runtime -> why its timing was noisy, for the runtimes that were (in any cell)."""
        found: dict[str, list[str]] = {}
        for runtime in ("torch", *self.runtime_latency):
            reasons = [r for c in self.cells for r in c.noisy_reasons(runtime)]
            if reasons:
                found[runtime] = list(dict.fromkeys(reasons))
        return found

    def noisy_on(self, runtime: str = "torch") -> bool:
        return runtime in self.noisy_runtimes

    @property
    def noisy(self) -> bool:
        """Timed while the machine was busy, on any runtime."""
        return bool(self.noisy_runtimes)

    @property
    def eligible(self) -> bool:
        """May be starred at all: ok, not collapsed (about 0 mAP is fast, not useful) and delivered what was asked."""
        return self.ok and not self.collapsed and not self.undelivered

    @property
    def undelivered(self) -> str | None:
        """Why a cell's strategy did not deliver what was asked (details.delivered, prunebench.run.delivered): such a
        row is never starred or ranked. None when every cell delivered (or predates the check)."""
        return next((str(c.detail("delivered", "why")) for c in self.cells if c.detail("delivered", "flagged")), None)

    @property
    def achieved_speedup(self) -> float | None:
        """What a speed-up target reached (details.prune_report.achieved_speedup, mean over seeds)."""
        values = [v for c in self.cells if (v := _finite(c.detail("prune_report", "achieved_speedup"))) is not None]
        return statistics.fmean(values) if values else None

    @property
    def identity(self) -> tuple:
        """What was run, independent of device: rows of several devices with one identity are the same cells."""
        first = self.first
        return (self.strategy, self.amount, self.target, first.record.target_runtime, self.recipe,
                canonical_json(first.record.schedule), self.evaluation, self.variant)

    def mean(self, metric: str) -> float | None:
        return self.stats.get(metric, (None, None))[0]

    def std(self, metric: str) -> float | None:
        """Sample std over seeds; None with a single seed."""
        return self.stats.get(metric, (None, None))[1]

    def interval(self, metric: str = METRIC) -> tuple[float | None, float | None]:
        estimate = self.accuracy.get(metric)
        return (estimate.low, estimate.high) if estimate is not None else (None, None)


@dataclass
class Section:
    """One model x dataset: its rows in display order and what the header says."""

    model: str
    dataset: str
    device: str
    role: str  # "study" or "reference"
    synthetic: bool
    suites: list[str]
    devices: dict[str, str]  # label -> one line about the machine (one device per section)
    imgsz: list[Any]
    eval_splits: list[str]
    ultralytics: list[str]
    runtimes: list[str]
    rows: list[Row]
    footnotes: list[str]  # texts, numbered from 1
    baselines: dict[Any, list[str]] = field(default_factory=dict)  # seed -> baseline sha256s of the cells
    generation: int = 0  # 0: the newest baseline of each seed; 1, 2, ...: older ones (their own sections)
    commits: list[tuple[str, bool | None]] = field(default_factory=list)  # (git sha, dirty) the cells ran from
    drift: str | None = None  # the dense latency drift line, when there was drift

    @property
    def controls(self) -> dict[str, dict[str, Any]]:
        """label -> recipe of each fine-tuned dense control."""
        return {r.strategy: r.finetune for r in self.rows if r.is_control and r.finetune}

    @property
    def pruned(self) -> list[Row]:
        return [r for r in self.rows if not r.is_dense]

    @property
    def title(self) -> str:
        older = f", older baseline {self.generation}" if self.generation else ""
        return f"{self.model} × {self.dataset}{older}"

    @property
    def has_intervals(self) -> bool:
        return any(verdicts.has_interval(r) for r in self.rows)


# ---------------------------------------------------------------- entries -> sections
def build_sections(records: Iterable[Record | dict[str, Any]]) -> list[Section]:
    """Group records into sections (model x dataset x device x baseline generation, sorted) of aggregated,
    judged rows."""
    by_section = defaultdict(list)
    all_entries = entries(records)
    generations = baseline_generations(all_entries)
    for entry in all_entries:
        by_section[(entry.model, entry.dataset, entry.device, generations[id(entry)])].append(entry)
    runtimes = runtimes_in(all_entries)
    sections = [_section(model, dataset, device, generation, cells, runtimes)
                for (model, dataset, device, generation), cells in sorted(by_section.items())]
    place_paired_references(sections)
    verdicts.judge_domination(sections)
    return sections


def baseline_generations(cells: list[Entry]) -> dict[int, int]:
    """id(entry) -> 0 for cells that started from the newest baseline of their model, dataset, device and seed
    (by the latest record that names it), 1 for the one before, ...; cells that name none share generation 0."""
    stamps: dict[tuple, dict[str, str]] = defaultdict(dict)
    for cell in cells:
        if cell.baseline:
            slot = (cell.model, cell.dataset, cell.device, cell.seed)
            stamp = str(cell.record.finished_at or "")
            stamps[slot][cell.baseline] = max(stamp, stamps[slot].get(cell.baseline, ""))
    order = {slot: sorted(shas, key=lambda sha: shas[sha], reverse=True) for slot, shas in stamps.items()}
    return {id(c): order[(c.model, c.dataset, c.device, c.seed)].index(c.baseline) if c.baseline else 0
            for c in cells}


def place_paired_references(sections: list[Section]) -> None:
    """Dense rows whose every cell was timed in pairs against another model's dense one (speedup_vs_study, named
    in details.measure.timed_against): placed at that model's dense latency on the row's device over the mean
    ratio, when that model has one there. The plain dense row and its controls have one architecture, so they
    share one place, from all their pairs pooled: placed apart by their timings' noise, one could count as
    cheaper than a pruned row and the other not (frontier's yolo26n dense and dense-ft sat 0.4 % apart, either
    side of the latency rule)."""
    by_key = {(s.model, s.dataset, s.device): s for s in sections if s.generation == 0}
    for section in sections:
        same_shape: dict[tuple, list[Row]] = defaultdict(list)
        for row in section.rows:
            if row.ok and row.is_dense:
                same_shape[(row.device, row.deployment)].append(row)
        moved = False
        for (device, _), rows in same_shape.items():
            # the rows timed in pairs throughout give the place; a control without pairs (an older record) goes
            # there too, as it would sit at the plain dense row's latency
            paired = [r for r in rows if all(c.metric("speedup_vs_study") is not None for c in r.cells)]
            pooled = speeds.against([c for r in paired for c in r.cells], "study")
            studies = {c.record.timed_against for r in paired for c in r.cells}
            if pooled is None or len(studies) != 1:
                continue
            study = by_key.get((studies.pop(), section.dataset, section.device))
            anchor = _dense_anchor(study.rows, device) if study is not None else None
            if anchor is not None and anchor.placed_latency:
                for row in rows:
                    place(row, pooled, anchor)
                    row.paired_with = [(anchor, pooled)] if any(r is row for r in paired) else []
                moved = True
        if moved:
            place_variants(section.rows)
            verdicts.mark_pareto(section.rows)


def group_rows(cells: list[Entry]) -> list[Row]:
    """One row per strategy label x amount or target x recipe x schedule x evaluation x device x status."""
    groups = defaultdict(list)
    for cell in cells:
        groups[(cell.strategy, cell.amount, cell.target, cell.record.target_runtime, cell.recipe,
                canonical_json(cell.record.schedule), cell.eval_split, cell.imgsz, cell.variant, cell.device,
                cell.ok)].append(cell)
    return [Row(members[0].strategy, members[0].amount, members[0].target, members[0].device, members,
                model=members[0].model) for members in groups.values()]


def aggregate(row: Row, runtimes: Sequence[str]) -> None:
    """Means and stds over the row's seeds, accuracy before fine-tuning, extra runtimes' latency."""
    if not row.ok:
        return
    row.stats = {m: mean_std([v for c in row.cells if (v := c.metric(m)) is not None]) for m in AVERAGED}
    row.accuracy = {m: estimate for m in ("map50", METRIC) if (estimate := accuracy_estimate(row, m)) is not None}
    row.before = {m: mean_std([v for c in row.cells if (v := c.before_finetune(m)) is not None])[0]
                  for m in ACCURACY}
    row.runtime_latency = {r: mean_std([v for c in row.cells if (v := c.metric(f"latency_ms_{r}")) is not None])[0]
                           for r in runtimes}


def accuracy_estimate(row: Row, metric: str, seeds: set | None = None) -> Estimate | None:
    """The row's estimate over its cells, or over those of `seeds` only (None when it has none of them)."""
    cells = [c for c in row.cells if seeds is None or c.seed in seeds]
    parts = [c.estimate_parts(metric) for c in cells]
    if not parts or any(value is None for value, _, _ in parts):
        return None
    return combine([v for v, _, _ in parts], [r for _, r, _ in parts], [p for _, _, p in parts],
                   [c.seed for c in cells])


def _section(model: str, dataset: str, device: str, generation: int, cells: list[Entry],
             runtimes: list[str]) -> Section:
    rows = group_rows(cells)
    for row in rows:
        aggregate(row, runtimes)
    for row in rows:
        if row.ok:
            choice = verdicts.choose_reference(row, rows)
            row.reference, row.reference_matches, row.reference_why = choice.row, choice.matches, choice.why
            row.delta = verdicts.deltas(row)
            row.verdict = verdict(row.delta[METRIC]) if row.delta.get(METRIC) is not None else None
            row.collapsed = verdicts.collapsed(row)
            base = cost_base(row, rows)
            row.reductions = achieved_reductions(row, base)
            row.unstructured = is_unstructured(row, base)
            row.speed = measured_speedup(row, rows)
            row.runtime_speed = {r: measured_speedup(row, rows, r) for r in runtimes}
            row.vs_fp32 = speeds.against(row.cells, "fp32")
            row.vs_torch = own_pairs_vs_torch(row, rows)
            row.conversion = conversion_delta(row, rows)
    home = [r for r in rows if r.ok and r.deployment == torch_deployment(rows)]
    anchors = {r.device: _dense_anchor(rows, r.device) for r in home}
    for row in sorted(home, key=lambda r: r is not anchors[r.device]):  # each anchor first: the others stand on it
        place_home(row, anchors[row.device])
    place_variants(rows)
    verdicts.mark_pareto(rows)
    assign_cost_classes(rows)
    verdicts.rank_within_classes(rows)
    rows.sort(key=_display_order)
    footnotes = _footnotes(rows)
    baselines: dict[Any, list[str]] = defaultdict(list)
    for c in cells:
        if c.baseline and c.baseline not in baselines[c.seed]:
            baselines[c.seed].append(c.baseline)
    commits = sorted({(str(c.record.env("git_sha") or "unknown"), c.record.env("git_dirty")) for c in cells},
                     key=str)
    return Section(model, dataset, device, role=_role(cells),
                   synthetic=any(c.record.dataset_spec.get("synthetic") for c in cells),
                   suites=sorted({c.record.suite for c in cells if c.record.suite}),
                   devices={c.device: _machine_line(c) for c in sorted(cells, key=lambda c: c.device)},
                   imgsz=sorted({i for c in cells if (i := c.imgsz)}, key=str),
                   eval_splits=sorted({s for c in cells if c.ok and (s := c.eval_split)}),
                   ultralytics=sorted({str(v) for c in cells if (v := c.record.env("ultralytics"))}),
                   runtimes=[r for r in runtimes if any(c.metric(f"latency_ms_{r}") is not None for c in cells)],
                   rows=rows, footnotes=footnotes, baselines=dict(baselines), generation=generation,
                   commits=commits, drift=dense_drift(rows))


def _role(cells: list[Entry]) -> str:
    return "reference" if cells and all(c.role == "reference" for c in cells) else "study"


def _machine_line(entry: Entry) -> str:
    env = entry.record.environment
    facts = [f"{env['threads']} timing thread{'s' if env['threads'] != 1 else ''}" if env.get("threads") else None,
             f"{env['cpu_count']} cores" if env.get("cpu_count") else None,
             f"torch {env['torch']}" if env.get("torch") else None,
             f"CUDA {env['cuda']}" if env.get("cuda") and str(env.get("device", "")).startswith("cuda") else None]
    facts = [f for f in facts if f]
    return entry.device + (f": {', '.join(facts)}" if facts else "")


# ---------------------------------------------------------------- costs and speed
def cost_base(row: Row, rows: list[Row]) -> Row | None:
    """The dense row costs are reduced from: the plain dense row (same device first), else a control (same
    architecture, same costs). A row run at another input size than the section's (results folders of two suites
    rendered together) is only compared with a dense row of its own size: GFLOPs grow with the input."""
    home = torch_deployment(rows)
    if row.first.imgsz != home[1] and not row.is_smaller_input:
        home = ("torch", row.first.imgsz)
    dense = [r for r in rows if r.ok and r.is_dense and r.mean("params") is not None and r.deployment == home]
    dense.sort(key=lambda r: (r.device != row.device, not r.is_plain_dense, r.strategy))
    return dense[0] if dense else None


def achieved_reductions(row: Row, base: Row | None) -> dict[str, float | None]:
    """Fractions of params, non-zero params and GFLOPs removed against the dense row (None when unknown)."""
    out: dict[str, float | None] = {}
    for metric in REDUCED:
        value = row.mean(metric)
        reference = base.mean(metric) if base else None
        out[metric] = None if value is None or not reference else 1 - value / reference
    return out


def is_unstructured(row: Row, base: Row | None) -> bool:
    """Pruning that zeros weights inside tensors of unchanged shape: the record says so (strategy.structured
    false), or, for records that do not, all params kept with fewer of them non-zero."""
    if row.is_dense:
        return False
    declared = row.first.structured
    if declared is not None:
        return not declared
    params, nonzero = row.mean("params"), row.mean("nonzero_params")
    dense_params = base.mean("params") if base else None
    return None not in (params, nonzero, dense_params) and params == dense_params and nonzero < params


def torch_deployment(rows: list[Row]) -> tuple[str, Any]:
    """(torch, the suite's imgsz): the deployment every other row of a section is placed against."""
    sizes = [r.first.imgsz for r in rows if r.variant == "torch" and not r.is_smaller_input]
    return "torch", (sizes[0] if sizes else None)


def place(row: Row, axis: Speed | None, anchor: Row | None) -> None:
    """Put `row` on its section's latency axis: at `anchor`'s placed latency over `axis` (its speed over the
    anchor), or, without an anchor (or anchored on itself), at its own latency."""
    if anchor is None or anchor is row or axis is None:
        own = row.mean("latency_ms")
        row.axis, row.anchor, row.placed_latency = (ONE if own is not None else None), row, own
        return
    row.axis, row.anchor = axis, anchor
    row.placed_latency = anchor.placed_latency / axis.value if anchor.placed_latency and axis.value else None


def place_variants(rows: list[Row]) -> None:
    """Rows of another deployment (an export, a smaller input) on the one latency axis every row of the section
    stands on, each by its own cell's pairs against the dense model in PyTorch FP32 at the suite's input
    (speedup_vs_torch): never a product of two ratios, which disagreed with the cells' own pairs by up to 17 %
    (issue 35). Rows of dense shape (the deployment's controls, its unstructured rows) stand where its plain dense
    row does, as at home; a row whose record holds no pairs against dense torch is not placed."""
    home = torch_deployment(rows)
    others = [r for r in rows if r.ok and r.deployment != home]
    dense_place: dict[tuple, tuple[Speed, Row]] = {}
    for row in others:
        anchor = _plain_dense(rows, row.device)
        if row.is_plain_dense:
            place(row, row.vs_torch, anchor) if row.vs_torch is not None and anchor is not None else _unplaced(row)
            if row.axis is not None and row.anchor is anchor:
                dense_place.setdefault((row.device, row.deployment), (row.axis, anchor))
    for row in others:
        if row.is_plain_dense:
            continue
        anchor = _plain_dense(rows, row.device)
        shared = dense_place.get((row.device, row.deployment))
        if (row.is_dense or row.unstructured) and shared is not None:
            place(row, *shared)
        elif row.vs_torch is not None and anchor is not None:
            place(row, row.vs_torch, anchor)
        else:
            _unplaced(row)
    for row in others:  # the pairs each cell timed, for verdicts between two rows one cell timed together
        if row.anchor is not _plain_dense(rows, row.device) or row.axis is not row.vs_torch:
            continue  # a row of dense shape stands at its dense row's place: its own timing is noise there
        row.paired_with = [(ref, found) for ref, found in (
            (row.anchor, row.vs_torch), (_plain_dense(rows, row.device, row.deployment), row.speed),
            (_fp32_of(row, rows), row.vs_fp32)) if ref is not None and ref is not row and found is not None]


def _unplaced(row: Row) -> None:
    row.axis, row.anchor, row.placed_latency = None, None, None


def _fp32_of(row: Row, rows: list[Row]) -> Row | None:
    """An INT8 row's FP32 export: the same cells exported in the same runtime at full precision."""
    if not row.variant.endswith("-int8"):
        return None
    fp32 = row.variant.removesuffix("-int8")
    found = [r for r in rows if r.ok and r.variant == fp32 and r.device == row.device
             and r.identity[:6] == row.identity[:6] and r.first.imgsz == row.first.imgsz]
    return found[0] if found else None


def _plain_dense(rows: list[Row], device: str, deployment: tuple[str, Any] | None = None) -> Row | None:
    home = deployment or torch_deployment(rows)
    found = [r for r in rows if r.ok and r.is_plain_dense and r.device == device and r.deployment == home]
    return sorted(found, key=lambda r: r.strategy)[0] if found else None


def conversion_delta(row: Row, rows: list[Row]) -> dict[str, Estimate | None]:
    """A variant's accuracy minus the same cells deployed as trained (torch at the suite's imgsz), paired: what
    the conversion (or the smaller input) alone costs. Empty for torch rows."""
    home = torch_deployment(rows)
    if row.deployment == home:
        return {}
    same = [r for r in rows if r.ok and r.deployment == home and r.device == row.device
            and r.identity[:5] == row.identity[:5] and r.evaluation[0] == row.evaluation[0]]
    if not same:
        return {m: None for m in ("map50", METRIC)}
    return {m: verdicts.difference(row, same[0], m) for m in ("map50", METRIC)}


def _dense_anchor(rows: list[Row], device: str, runtime: str | None = None,
                  deployment: tuple[str, Any] | None = None) -> Row | None:
    """The dense row whose latency stands for the dense model's on a device: the plain dense row, else a control
    (same architecture); rows of one deployment only (default: torch at the suite's imgsz; an export's latency is
    another runtime's)."""
    deployment = deployment or torch_deployment(rows)
    dense = [r for r in rows if r.ok and r.is_dense and r.device == device and r.deployment == deployment]
    dense.sort(key=lambda r: (not r.is_plain_dense, r.strategy))
    for r in dense:
        if (r.mean("latency_ms") if runtime is None else r.runtime_latency.get(runtime)) is not None:
            return r
    return None


def _dense_latency(rows: list[Row], device: str, runtime: str | None = None,
                   deployment: tuple[str, Any] | None = None) -> float | None:
    anchor = _dense_anchor(rows, device, runtime, deployment)
    if anchor is None:
        return None
    return anchor.mean("latency_ms") if runtime is None else anchor.runtime_latency.get(runtime)


def latency_spread(row: Row, runtime: str | None = None) -> Speed | None:
    """The row's latency (mean over seeds) with the mean IQR of its timed runs: a separate timing's spread."""
    suffix = f"_{runtime}" if runtime else ""
    value = row.mean("latency_ms") if runtime is None else row.runtime_latency.get(runtime)
    iqrs = [c.metric(f"latency_iqr_ms{suffix}") for c in row.cells]
    return speeds.latency(value, statistics.fmean(iqrs) if iqrs and None not in iqrs else None)


def own_pairs_vs_torch(row: Row, rows: list[Row]) -> Speed | None:
    """The "vs dense torch" figure: an exported or smaller-input row's own pairs against dense torch FP32
    (speedup_vs_torch in its record); a row deployed as trained was timed against that model in its own pairs
    (its Speed-up). None (not measured) otherwise: never a product of two ratios."""
    if row.deployment != torch_deployment(rows):
        return speeds.against(row.cells, "torch")
    pairs = row.speed is not None and (row.speed.exact or row.speed.basis is None)  # not two separate latencies
    return row.speed if pairs else None


def measured_speedup(row: Row, rows: list[Row], runtime: str | None = None) -> Speed | None:
    """The row's speed-up over dense on its device: the paired speed-up timed in the cell, with its 95 % interval
    (prunebench.report.speed.against) when every cell has one; else the dense latency over the row's, whose
    spread is only the two timings' IQR bands (no pairs, no interval). Dense rows, the fine-tuned controls
    included, are 1.0 by definition: they have the dense architecture, so a timing difference between them is
    noise, not speed."""
    latency = row.mean("latency_ms") if runtime is None else row.runtime_latency.get(runtime)
    if row.is_dense:
        return ONE if latency is not None else None
    paired = speeds.against(row.cells, "dense", runtime or speeds.OWN)
    if paired is not None:
        return paired
    anchor = _dense_anchor(rows, row.device, runtime, row.deployment)
    dense, own = (latency_spread(anchor, runtime) if anchor else None), latency_spread(row, runtime)
    if dense is None or own is None or not own.value:
        return None
    found = speeds.ratio(dense, own)
    return Speed(found.value, found.low, found.high, basis=found.basis)  # the bands' ratio, no pairs


def place_home(row: Row, anchor: Row | None) -> None:
    """A row deployed as trained, on the latency axis wherever rows are compared on time (Pareto, domination, the
    plots): dense latency over its paired speed-up, so the drift the pairs cancel stays cancelled. Rows of dense
    shape (controls, unstructured rows) sit at dense latency: a timing difference there is noise and must not buy
    a place. Without a dense latency, the row's own."""
    if anchor is None or row.is_plain_dense:
        place(row, None, None)
    elif row.is_dense or row.unstructured:
        if row.mean("latency_ms") is not None or row.speed is not None:
            place(row, ONE, anchor)
        else:
            _unplaced(row)
    elif row.speed is not None and row.speed.value:
        place(row, row.speed, anchor)
        row.paired_with = [(anchor, row.speed)]
    else:
        place(row, None, None)


# ---------------------------------------------------------------- cost classes
def _within(value: float, anchor: float, width: float = COST_CLASS_WIDTH) -> bool:
    if anchor == 0:
        return value == 0
    return abs(value / anchor - 1) <= width


def assign_cost_classes(rows: list[Row]) -> None:
    """Per device, pruned rows with GFLOPs and non-zero params from most to least GFLOPs: a row not yet in a
    class starts class k (numbered 1, 2, ... in that order) and every later row whose GFLOPs and non-zero params
    are both within 10 % of that first row's joins it."""
    for device, deployment in sorted({(r.device, r.deployment) for r in rows}, key=str):
        pending = [r for r in rows if r.device == device and r.deployment == deployment and r.ok and not r.is_dense
                   and r.mean("gflops") is not None and r.mean("nonzero_params") is not None]
        pending.sort(key=lambda r: (-r.mean("gflops"), -r.mean("nonzero_params"), r.strategy))
        number = 0
        while pending:
            anchor = pending[0]
            number += 1
            members = [r for r in pending if _within(r.mean("gflops"), anchor.mean("gflops"))
                       and _within(r.mean("nonzero_params"), anchor.mean("nonzero_params"))]
            for member in members:
                member.cost_class = number
                member.class_size = len(members)
            pending = [r for r in pending if r.cost_class is None]


def dense_drift(rows: list[Row]) -> str | None:
    """A line for the header when the dense model's latency, as measured in the section's cells (its own dense
    cells, and in every pruned cell's pairs), varies between cells by more than the pairs' own spread: then only
    the paired speed-ups compare, never two cells' latencies."""
    seen: list[float] = []
    spreads: list[float] = []
    home = torch_deployment(rows)
    for row in rows:
        if row.deployment != home:
            continue  # another runtime's latencies: not the dense torch model's drift
        for cell in row.cells:
            if not cell.ok:
                continue
            if row.is_plain_dense and (value := cell.metric("latency_ms")) is not None:
                seen.append(value)
            paired = cell.record.detail_dict("measure").get("paired_speedup")
            if isinstance(paired, dict):
                dense = [v for v in paired.get("reference_ms") or [] if isinstance(v, (int, float)) and v > 0]
                if dense:
                    seen.append(statistics.median(dense))
                ratio, spread = finite(paired.get("speedup")), finite(paired.get("iqr"))
                if ratio and spread is not None:
                    spreads.append(spread / ratio)
    if len(seen) < 2:
        return None
    low, high = min(seen), max(seen)
    moved = (high - low) / low
    bar = max(spreads) if spreads else DRIFT_FLOOR
    if moved <= bar:
        return None
    return (f"Drift: the dense model's latency ranged {low:.1f} to {high:.1f} ms across this section's cells "
            f"({moved:.0%}), more than the pairs' own spread (IQR up to {bar:.0%} of the ratio): latencies of "
            "different cells do not compare here; the speed-ups, timed in pairs within a cell, do.")


# ---------------------------------------------------------------- order and footnotes
VARIANT_ORDER = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")


def _deployment_order(row: Row) -> tuple:
    """Rows deployed as trained first, then the smaller inputs (largest first), then each export."""
    variant = VARIANT_ORDER.index(row.variant) if row.variant in VARIANT_ORDER else len(VARIANT_ORDER)
    return (variant, row.is_smaller_input, -(row.first.imgsz or 0) if row.is_smaller_input else 0)


def _display_order(row: Row):
    if row.is_dense:
        return (_deployment_order(row), 0, row.device, not row.ok, not row.is_plain_dense, row.strategy)
    score = row.mean("map50_95")
    return (_deployment_order(row), 1, row.device, not row.ok,
            row.cost_class if row.cost_class is not None else math.inf,
            -score if score is not None else math.inf, row.strategy, row.amount or 0.0, row.target or 0.0)


def _footnotes(rows: list[Row]) -> list[str]:
    """Numbered notes: each failure's first line, and each sparsity training that did not slim."""
    notes: list[str] = []

    def add(row: Row, text: str) -> None:
        if text not in notes:
            notes.append(text)
        row.notes.append(notes.index(text) + 1)

    for row in rows:
        for line in dict.fromkeys(c.error_line for c in row.cells if not c.ok):
            add(row, line)
        if row.ok and (text := ineffective_slimming(row)):
            add(row, text)
        if row.ok and (why := row.undelivered):
            add(row, f"{row.strategy} {size_label(row.amount, row.target)}: not what was asked ({why}); never "
                     "starred or ranked.")
    return notes


def _gamma(histogram: Any, key: str) -> str:
    value = _finite(histogram.get(key)) if isinstance(histogram, dict) else None
    return "?" if value is None else f"{value:.4g}"


def ineffective_slimming(row: Row) -> str | None:
    """The footnote for a row whose sparsity training did not produce near-dead channels
    (details.sparsity_training.effective false), with the reason and the BatchNorm |γ| before and after."""
    trainings = [t for c in row.cells if isinstance(t := c.detail("sparsity_training"), dict)
                 and t.get("effective") is False]
    if not trainings:
        return None
    t = trainings[0]
    before, after = t.get("before"), t.get("after")
    settings = ", ".join(f"{name} {t[key]:g}" for key, name in (("s", "s"), ("lr0", "lr0"), ("epochs", "epochs"))
                         if _finite(t.get(key)) is not None)
    reason = f" ({t['reason']})" if t.get("reason") else ""
    seeds = f" in {len(trainings)} of {len(row.cells)} seeds" if len(row.cells) > 1 else ""
    return (f"{row.strategy} {size_label(row.amount, row.target)}: sparsity training did not produce near-dead "
            f"channels{seeds}{reason}: BatchNorm |γ| p10 {_gamma(before, 'p10')} → {_gamma(after, 'p10')}, median "
            f"{_gamma(before, 'median')} → {_gamma(after, 'median')}" + (f" ({settings})" if settings else "")
            + "; the channels it removed were ranked among live ones, so this is not network slimming as published.")
