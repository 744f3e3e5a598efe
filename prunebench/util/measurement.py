"""What measuring a cell produces, as one frozen value: the record's flat cost and timing numbers, the statistics and
conventions behind them (details.measure), the thread count timing used and the CPU's instruction sets, with typed
views per runtime (latency, throughput, each speed-up with its IQR, 95 % interval, pairs and time cap).

Built by measure.cell.measure (and run.deployed for a deployment variant), written only through
`Record.put_measurement`, read back with `Record.measurement`. `metrics` and `details` are kept exactly as the record
stores them (None for a figure not timed, absent for one never asked), so a record's JSON is unchanged.

In util/ because measure/ produces it and may not import records/ (the same reason as util/metrics.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from prunebench.util.metrics import BY_NAME, CATALOGUE, Metric

# Who a speed-up is paired against: the cell's own dense model, the dense model under study (a reference model's
# dense cell), the dense model in PyTorch FP32 or the same model's FP32 export (deployment variants).
AGAINST = ("dense", "study", "torch", "fp32")
# The unsuffixed figures: PyTorch for a trained cell, a deployment variant's own runtime for a variant.
OWN = "torch"


def metric_named(name: str) -> tuple[Metric, str] | None:
    """(the catalogue's metric, the runtime) a record's metric name stands for ("latency_ms_onnxruntime" ->
    (latency_ms, "onnxruntime")); None for a name the catalogue does not declare."""
    if name in BY_NAME:
        return BY_NAME[name], OWN
    bases = [m for m in CATALOGUE if m.per_runtime and name.startswith(f"{m.name}_")]
    if not bases:
        return None
    base = max(bases, key=lambda m: len(m.name))  # speedup_vs_study_iqr_x is speedup_vs_study_iqr's, not ..._study's
    return base, name[len(base.name) + 1:]


def owned(name: str) -> bool:
    """Whether a record's metric is a measurement's (costs, timings, exports), not the validator's accuracy."""
    found = metric_named(name)
    return found is not None and found[0].source != "evaluation"


def speedup_names(against: str, runtime: str) -> dict[str, str]:
    """The record's metric names of a speed-up over `against` in `runtime`, by field (value, iqr, low, high, pairs,
    capped): the speed-up over dense in the same deployment keeps its older names for the rest (speedup_iqr, ...)."""
    value = f"speedup_vs_{against}"
    spread = "speedup_iqr" if against == "dense" else f"{value}_iqr"
    stem = "speedup" if against == "dense" else value
    names = {"value": value, "iqr": spread, "low": f"{stem}_low", "high": f"{stem}_high", "pairs": f"{stem}_pairs",
             "capped": f"{stem}_capped"}
    return {field: BY_NAME[name].for_runtime(runtime) if BY_NAME[name].per_runtime or runtime == OWN else
            f"{name}_{runtime}" for field, name in names.items()}


@dataclass(frozen=True)
class Speedup:
    """One paired speed-up (the reference's latency over the model's, per pair): its median, the IQR of the
    per-pair ratios, the 95 % interval of the median, the pairs timed and whether the time cap stopped them."""

    against: str
    value: float | None
    iqr: float | None
    low: float | None
    high: float | None
    pairs: int | None
    capped: bool | None

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None


@dataclass(frozen=True)
class RuntimeTiming:
    """What timing in one runtime found (None: not timed there)."""

    runtime: str
    latency_ms: float | None
    latency_iqr_ms: float | None
    e2e_latency_ms: float | None  # PyTorch only: preprocessing + forward + NMS
    throughput_ips: float | None  # PyTorch only
    speedups: tuple[Speedup, ...]  # one per reference it was paired against

    def speedup(self, against: str = "dense") -> Speedup | None:
        return next((s for s in self.speedups if s.against == against), None)


@dataclass(frozen=True)
class Costs:
    """What counting the model found (measure.costs): parameters, FLOPs and bytes."""

    params: int | None
    nonzero_params: int | None
    sparsity: float | None
    gflops: float | None
    nonzero_gflops: float | None
    size_fp32_bytes: int | None
    size_fp16_bytes: int | None
    size_fp16_gzip_bytes: int | None
    export_bytes: int | None  # a deployment variant's exported file


@dataclass(frozen=True)
class Measurement:
    metrics: Mapping[str, Any]  # the record's flat numbers this measurement owns (see `owned`)
    details: Mapping[str, Any]  # details.measure: full statistics and the conventions used
    threads: int | None = None  # the intra-op thread count timing used (environment.threads)
    cpu_flags: tuple[str, ...] | None = None  # the instruction sets INT8 speed depends on (environment.cpu_flags)

    def __post_init__(self) -> None:
        stray = sorted(name for name in self.metrics if not owned(name))
        if stray:
            raise ValueError(f"a measurement holds costs and timings only, not {', '.join(stray)}: declare a new "
                             "metric in prunebench/util/metrics.py (accuracy belongs to the evaluation)")

    # ---------------------------------------------------------------- typed views
    def _number(self, name: str) -> Any:
        value = self.metrics.get(name)
        return None if isinstance(value, bool) or not isinstance(value, (int, float)) else value

    @property
    def costs(self) -> Costs:
        return Costs(**{f.name: self._number(f.name) for f in dataclasses.fields(Costs)})

    @property
    def runtimes(self) -> tuple[str, ...]:
        """The runtimes with any timing figure (timed or asked for), the unsuffixed one ("torch") first."""
        found = [m[1] for name in self.metrics if (m := metric_named(name)) and m[0].source not in ("count", "export")]
        return tuple(dict.fromkeys(sorted(found, key=lambda r: (r != OWN, r))))

    def speedup(self, against: str = "dense", runtime: str = OWN) -> Speedup | None:
        """The speed-up paired against `against` (AGAINST) in `runtime`; None when the record has none."""
        if against not in AGAINST:
            raise ValueError(f"speed-up against {against!r}: a measurement pairs against one of {', '.join(AGAINST)}")
        names = speedup_names(against, runtime)
        if not any(name in self.metrics for name in names.values()):
            return None
        capped = self.metrics.get(names["capped"])
        pairs = self._number(names["pairs"])
        return Speedup(against, self._number(names["value"]), self._number(names["iqr"]), self._number(names["low"]),
                       self._number(names["high"]), int(pairs) if pairs is not None else None,
                       capped if isinstance(capped, bool) else None)

    def timing(self, runtime: str = OWN) -> RuntimeTiming:
        def figure(name: str) -> Any:
            metric = BY_NAME[name]
            return self._number(metric.for_runtime(runtime) if metric.per_runtime else
                                name if runtime == OWN else f"{name}_{runtime}")

        speedups = tuple(s for against in AGAINST if (s := self.speedup(against, runtime)) is not None)
        return RuntimeTiming(runtime, figure("latency_ms"), figure("latency_iqr_ms"), figure("e2e_latency_ms"),
                             figure("throughput_ips"), speedups)

    # ---------------------------------------------------------------- changing (a new value each time)
    def against_study(self, study_model: str) -> Measurement:
        """A reference model's dense cell was timed in pairs against the dense model under study (not against
        itself): its paired ratios are that model's latency over this one's, so they are renamed
        speedup_vs_study[_<runtime>], speedup_vs_study_iqr[...] and speedup_vs_study_low / _high / _pairs / _capped
        [...], and no reader takes them for a speed-up over its own dense model. The leaderboard places the reference
        at the study model's dense latency over this ratio, where the pruned rows stand at that same latency over
        theirs: drift between cells cancels from the comparison."""
        dense = {name: field for field, name in speedup_names("dense", OWN).items()}  # speedup_iqr -> "iqr", ...
        renames = {}
        for name in self.metrics:
            if (found := metric_named(name)) is not None and found[0].name in dense:
                renames[name] = speedup_names("study", found[1])[dense[found[0].name]]
        metrics = {renames.get(name, name): value for name, value in self.metrics.items()}
        details = dict(self.details, timed_against={
            "model": study_model, "what": "the dense model under study on this dataset and seed, in alternating "
                                          "pairs (speedup_vs_study = its latency / this model's)"})
        return dataclasses.replace(self, metrics=metrics, details=details)

    # ---------------------------------------------------------------- the record's fields
    def environment(self) -> dict[str, Any]:
        """What the measurement adds to the record's environment."""
        out: dict[str, Any] = {}
        if self.threads is not None:
            out["threads"] = self.threads
        if self.cpu_flags is not None:
            out["cpu_flags"] = list(self.cpu_flags)
        return out

    def to_details(self) -> dict[str, Any]:
        return {"measure": self.details}

    @classmethod
    def from_record(cls, metrics: Mapping[str, Any], details: Mapping[str, Any],
                    environment: Mapping[str, Any]) -> Measurement | None:
        """The measurement a record's fields hold; None when the cell was never measured."""
        measure = details.get("measure")
        if not isinstance(measure, dict):
            return None
        threads, flags = environment.get("threads"), environment.get("cpu_flags")
        return cls({name: value for name, value in metrics.items() if owned(name)}, measure,
                   threads if isinstance(threads, int) and not isinstance(threads, bool) else None,
                   tuple(str(f) for f in flags) if isinstance(flags, list) else None)


__all__ = ["AGAINST", "OWN", "Costs", "Measurement", "RuntimeTiming", "Speedup", "metric_named", "owned", "speedup_names"]
