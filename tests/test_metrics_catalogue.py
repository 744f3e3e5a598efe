"""Every metric is declared once (prunebench.util.metrics) and the lists writers and readers keep derive from it."""

import json

from prunebench.report import compare, rows
from prunebench.run import remeasure
from prunebench.util import metrics
from tests.conftest import REPO

RUNTIMES = ("onnxruntime", "openvino", "onnxruntime-int8")


def catalogued(name: str) -> bool:
    if name in metrics.BY_NAME:
        return True
    base = [m for m in metrics.CATALOGUE if m.per_runtime and name.startswith(f"{m.name}_")]
    return bool(base)


def test_every_metric_of_every_published_record_is_in_the_catalogue():
    """A metric a writer adds without declaring it would be compared, averaged and re-measured by nobody."""
    names = {name for path in REPO.glob("results/**/cells/*.json") for name in json.loads(path.read_text())["metrics"]}
    assert names and not {n for n in names if not catalogued(n)}


def test_the_readers_lists_are_the_catalogues():
    assert rows.AVERAGED == ("map50", "map50_95", "precision", "recall", "latency_ms", "e2e_latency_ms", "params",
                             "nonzero_params", "gflops", "size_fp16_gzip_bytes")  # the machine tables' column order
    assert rows.ACCURACY == ("map50", "map50_95", "precision", "recall")
    assert set(compare.METRICS) == set(metrics.BY_NAME)
    assert compare.METRICS["map50"] == ("mAP50 (%)", 100, ".1f", True, True)
    assert compare.METRICS["params"] == ("params (M)", 1e-6, ".3f", False, False)


def test_a_re_measure_replaces_what_a_measurement_owns_and_keeps_accuracy():
    owned = [name for name in ("latency_ms", "latency_ms_onnxruntime", "speedup_iqr_openvino", "gflops",
                               "speedup_vs_study_iqr_onnxruntime", "size_fp16_gzip_bytes")]
    assert all(metrics.is_measured(name) for name in owned)
    assert not any(metrics.is_measured(name) for name in (*metrics.ACCURACY, "export_bytes"))
    assert remeasure.is_measured is metrics.is_measured


def test_a_runtime_name_is_built_one_way():
    assert metrics.BY_NAME["latency_ms"].for_runtime("onnxruntime") == "latency_ms_onnxruntime"
    assert metrics.BY_NAME["latency_ms"].for_runtime("torch") == "latency_ms"
    assert metrics.TIMED_PER_RUNTIME == ("latency_ms", "latency_iqr_ms", "speedup_vs_dense", "speedup_iqr",
                                         "speedup_low", "speedup_high", "speedup_pairs", "speedup_capped")
