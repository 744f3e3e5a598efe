"""Every metric a record holds, declared once: its name, label, unit and display scale, its direction, where it
comes from, whether it is kept per runtime, and how a row combines its seeds (lm-evaluation-harness's metric
registry habit). Writers (measure.cell, run.remeasure) and readers (report.rows, report.compare, report.show)
derive their lists from this one; adding a metric is one entry here and the code that computes it.

In util/ because every layer reads it: measure/ (which may not import records/) as much as report/.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Where a metric comes from: the validator ("evaluation"), counting the model ("count"), timing it ("timing"),
# timing a reference model's dense cell against the study model ("study"), or a deployment variant: its export
# ("export") and its pairs against its own references ("deployment": run.deployed, measure.deployed).
Source = Literal["evaluation", "count", "timing", "study", "export", "deployment"]


@dataclass(frozen=True)
class Metric:
    name: str
    label: str  # as a table names it, without its unit
    source: Source
    unit: str = ""  # of the displayed value: "%", "ms", "M", "MB", "images/s"
    scale: float = 1.0  # displayed value = stored value x scale
    fmt: str = ".2f"
    higher_is_better: bool = False
    points: bool = False  # a fraction compared in absolute percentage points (else relative change)
    per_runtime: bool = False  # also stored as <name>_<runtime> for each runtime but torch
    seeds: Literal["mean", "none"] = "none"  # "mean": a row shows the mean and sample std over its seeds

    @property
    def heading(self) -> str:
        """"latency (ms)", "mAP50 (%)", "GFLOPs"."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def for_runtime(self, runtime: str) -> str:
        """The record's name of this metric timed in `runtime` ("latency_ms_onnxruntime"); torch's has none."""
        return self.name if runtime == "torch" else f"{self.name}_{runtime}"


def _points(name: str, label: str, source: Source, seeds: Literal["mean", "none"]) -> Metric:
    return Metric(name, label, source, unit="%", scale=100, fmt=".1f", higher_is_better=True, points=True, seeds=seeds)


def _interval(stem: str, label: str, source: Source, per_runtime: bool = False) -> tuple[Metric, ...]:
    return (Metric(f"{stem}_low", f"{label}, 95 % low", source, higher_is_better=True, per_runtime=per_runtime),
            Metric(f"{stem}_high", f"{label}, 95 % high", source, higher_is_better=True, per_runtime=per_runtime),
            Metric(f"{stem}_pairs", f"{label}, pairs timed", source, fmt="d", per_runtime=per_runtime),
            Metric(f"{stem}_capped", f"{label}, time cap hit", source, fmt="", per_runtime=per_runtime))


# The order is the order compare sorts and lists them in, and of the seed-averaged columns of the machine tables.
CATALOGUE: tuple[Metric, ...] = (
    _points("map50", "mAP50", "evaluation", "mean"),
    _points("map50_95", "mAP50-95", "evaluation", "mean"),
    _points("precision", "precision", "evaluation", "mean"),
    _points("recall", "recall", "evaluation", "mean"),
    _points("sparsity", "sparsity", "count", "none"),
    Metric("latency_ms", "latency", "timing", unit="ms", per_runtime=True, seeds="mean"),
    Metric("latency_iqr_ms", "latency IQR", "timing", unit="ms", per_runtime=True),
    Metric("e2e_latency_ms", "end-to-end latency", "timing", unit="ms", seeds="mean"),
    Metric("throughput_ips", "throughput", "timing", unit="images/s", fmt=".1f", higher_is_better=True),
    Metric("speedup_vs_dense", "speed-up vs dense", "timing", higher_is_better=True, per_runtime=True),
    Metric("speedup_iqr", "speed-up IQR", "timing", per_runtime=True),
    # A speed-up's 95 % interval from its pairs, how many pairs were timed, and whether the time cap stopped the
    # pairs before the interval was narrow enough (measure.pairs): one family per speed-up, named by its stem.
    *_interval("speedup", "speed-up vs dense", "timing", per_runtime=True),
    Metric("params", "params", "count", unit="M", scale=1e-6, fmt=".3f", seeds="mean"),
    Metric("nonzero_params", "non-zero params", "count", unit="M", scale=1e-6, fmt=".3f", seeds="mean"),
    Metric("gflops", "GFLOPs", "count", fmt=".3f", seeds="mean"),
    Metric("nonzero_gflops", "non-zero GFLOPs", "count", fmt=".3f"),
    Metric("size_fp32_bytes", "size fp32", "count", unit="MB", scale=1e-6),
    Metric("size_fp16_bytes", "size fp16", "count", unit="MB", scale=1e-6),
    Metric("size_fp16_gzip_bytes", "size fp16 gzip", "count", unit="MB", scale=1e-6, seeds="mean"),
    Metric("speedup_vs_study", "speed-up vs the study model", "study", higher_is_better=True, per_runtime=True),
    Metric("speedup_vs_study_iqr", "speed-up vs the study model IQR", "study", per_runtime=True),
    *_interval("speedup_vs_study", "speed-up vs the study model", "study", per_runtime=True),
    Metric("export_bytes", "export size", "export", unit="MB", scale=1e-6),
    Metric("speedup_vs_torch", "speed-up vs dense torch", "deployment", higher_is_better=True),
    Metric("speedup_vs_torch_iqr", "speed-up vs dense torch IQR", "deployment"),
    *_interval("speedup_vs_torch", "speed-up vs dense torch", "deployment"),
    Metric("speedup_vs_fp32", "speed-up vs its FP32 export", "deployment", higher_is_better=True),
    Metric("speedup_vs_fp32_iqr", "speed-up vs its FP32 export IQR", "deployment"),
    *_interval("speedup_vs_fp32", "speed-up vs its FP32 export", "deployment"),
)
BY_NAME: dict[str, Metric] = {metric.name: metric for metric in CATALOGUE}


def names(*, source: Source | tuple[Source, ...] | None = None, seeds: str | None = None,
          per_runtime: bool | None = None) -> tuple[str, ...]:
    """The names of the catalogue's metrics that match every filter given, in catalogue order."""
    sources = (source,) if isinstance(source, str) else source
    return tuple(m.name for m in CATALOGUE if (sources is None or m.source in sources)
                 and (seeds is None or m.seeds == seeds) and (per_runtime is None or m.per_runtime == per_runtime))


ACCURACY = names(source="evaluation")  # the validator's, on the headline split
AVERAGED = names(seeds="mean")  # a row's mean and sample std over its seeds
MEASURED = names(source=("count", "timing", "study"))  # what a measurement owns (a re-measure replaces them all)
TIMED = names(source="timing")  # None when latency is not measured
TIMED_PER_RUNTIME = names(source="timing", per_runtime=True)
PER_RUNTIME_PREFIXES = tuple(f"{name}_" for name in names(source=("timing", "study"), per_runtime=True))


def is_measured(name: str) -> bool:
    """Whether `name` (a runtime's too) is owned by a measurement: a re-measure removes it before it writes."""
    return name in MEASURED or name.startswith(PER_RUNTIME_PREFIXES)
