"""The typed values inside a record read back exactly what every published record holds."""

import json

import pytest

from prunebench.records.evaluation import FIELDS, Evaluation
from prunebench.records.record import Record
from tests.conftest import REPO

PUBLISHED = sorted(REPO.glob("results/**/cells/*.json"))


@pytest.mark.parametrize("folder", sorted({p.parent for p in PUBLISHED}), ids=lambda p: p.parent.name)
def test_every_published_evaluation_round_trips_exactly(folder):
    checked = 0
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        details = data["details"]
        evaluation = Evaluation.from_details(details)
        if evaluation is None:
            assert data["status"] == "failed", path.name
            continue
        assert evaluation.to_details() == {k: details[k] for k in FIELDS if k in details}, path.name
        assert dict(evaluation.metrics) == {k: data["metrics"][k] for k in evaluation.metrics}, path.name
        checked += 1
    assert checked


def test_put_evaluation_writes_the_headline_metrics_and_the_fields():
    record = Record(key="k", name="n", suite="s", spec={}, measure_key="m")
    value = Evaluation(split="test", metrics_by_split={"val": {"map50": 0.5}, "test": {"map50": 0.4}},
                       evaluator="ultralytics", per_class_ap={}, curves=None, ultralytics_speed=None)
    record.put_evaluation(value)
    assert record.metrics == {"map50": 0.4} and "bootstrap" not in record.details
    assert record.evaluated == value


@pytest.mark.parametrize("folder", sorted({p.parent for p in PUBLISHED}), ids=lambda p: p.parent.name)
def test_every_published_fine_tuning_round_trips_exactly(folder):
    from prunebench.records.finetuning import FineTuning

    for path in sorted(folder.glob("*.json")):
        details = json.loads(path.read_text())["details"]
        finetuning = FineTuning.from_details(details)
        if finetuning is None:
            assert "loss_curve" not in details, path.name
            continue
        fields = ("finetune", "loss_curve", "distillation")
        assert finetuning.to_details() == {k: details[k] for k in fields if k in details}, path.name


def test_a_fine_tuning_in_steps_numbers_its_epochs_on_and_keeps_the_first_teacher():
    from prunebench.records.finetuning import FineTuning

    first = {"epochs": 2, "loss_curve": [{"epoch": 1, "loss": 3.0}, {"epoch": 2, "loss": 2.0}], "distill": {"sha": "a"}}
    second = {"epochs": 1, "loss_curve": [{"epoch": 1, "loss": 1.5}], "distill": {"sha": "b"}}
    record = Record(key="k", name="n", suite="s", spec={}, measure_key="m")
    for info in (first, second):
        record.put_finetuning((record.finetuned or FineTuning({"lr0": 0.01}, 3, 6)).after(info))
    assert [row["epoch"] for row in record.details["loss_curve"]] == [1, 2, 3]
    assert record.details["distillation"] == {"sha": "a"}
    assert record.details["finetune"] == {"recipe": {"lr0": 0.01}, "epochs": 3, "steps": 6,
                                          "runs": [{"epochs": 2, "distill": {"sha": "a"}},
                                                   {"epochs": 1, "distill": {"sha": "b"}}]}


# ---------------------------------------------------------------- the whole record, and its other typed values
def _published(folder):
    for path in sorted(folder.glob("*.json")):
        yield path, json.loads(path.read_text())


@pytest.mark.parametrize("folder", sorted({p.parent for p in PUBLISHED}), ids=lambda p: p.parent.name)
def test_every_published_record_round_trips_exactly(folder):
    for path, data in _published(folder):
        record = Record.from_json(data)
        assert record.to_json() == data, path.name  # read, written: the file's own object
        assert Record.from_json(record.to_json()).to_json() == record.to_json(), path.name


@pytest.mark.parametrize("folder", sorted({p.parent for p in PUBLISHED}), ids=lambda p: p.parent.name)
def test_every_published_record_is_rebuilt_exactly_from_its_typed_values(folder):
    """Strip the measurement, the prune report and the environment out of each record, put them back through the
    typed values read from it, and get the same JSON: the values carry everything those fields hold."""
    from prunebench.util.measurement import owned

    rebuilt = 0
    for path, data in _published(folder):
        record = Record.from_json(data)
        measurement, pruning, environment = record.measurement, record.prune_report, record.environment_info
        bare = Record.from_json(json.loads(json.dumps(data)))
        bare.metrics = {k: v for k, v in bare.metrics.items() if not owned(k)}
        for name in ("measure", "prune_report", "delivered", "schedule_steps"):
            bare.details.pop(name, None)
        bare.environment = {}
        bare.put_environment(environment)
        if pruning is not None:
            bare.put_prune_report(pruning)
        if measurement is not None:
            bare.put_measurement(measurement)
        assert bare.to_json() == data, path.name
        rebuilt += measurement is not None
    assert rebuilt


# The typed view of each record metric, written out here independently of util/measurement.py's naming.
VIEWS = {
    "latency_ms": lambda t: t.latency_ms, "latency_iqr_ms": lambda t: t.latency_iqr_ms,
    "e2e_latency_ms": lambda t: t.e2e_latency_ms, "throughput_ips": lambda t: t.throughput_ips,
    "speedup_vs_dense": lambda t: t.speedup("dense").value, "speedup_iqr": lambda t: t.speedup("dense").iqr,
    **{f"speedup_{part}": (lambda part: lambda t: getattr(t.speedup("dense"), part))(part)
       for part in ("low", "high", "pairs", "capped")},
    **{f"speedup_vs_{who}": (lambda who: lambda t: t.speedup(who).value)(who) for who in ("study", "torch", "fp32")},
    **{f"speedup_vs_{who}_iqr": (lambda who: lambda t: t.speedup(who).iqr)(who) for who in ("study", "torch", "fp32")},
    **{f"speedup_vs_{who}_{part}": (lambda who, part: lambda t: getattr(t.speedup(who), part))(who, part)
       for who in ("study", "torch", "fp32") for part in ("low", "high", "pairs", "capped")},
}


def test_every_published_timing_figure_is_read_by_its_typed_view():
    from prunebench.util.measurement import metric_named

    seen = set()
    for path in PUBLISHED:
        record = Record.from_json(json.loads(path.read_text()))
        measurement = record.measurement
        if measurement is None:
            continue
        for name, value in measurement.metrics.items():
            metric, runtime = metric_named(name)
            if metric.source in ("count", "export"):
                assert getattr(measurement.costs, metric.name) == value, (path.name, name)
                continue
            assert runtime in measurement.runtimes, (path.name, name)
            assert VIEWS[metric.name](measurement.timing(runtime)) == value, (path.name, name)
            seen.add((metric.name, runtime))
    # the published records exercise the per-runtime names and every kind of pairing
    assert {("latency_ms", "onnxruntime"), ("speedup_vs_dense", "onnxruntime"), ("speedup_vs_study", "torch"),
            ("speedup_vs_torch", "torch"), ("speedup_vs_fp32", "torch")} <= seen


def test_a_speedups_interval_is_read_in_every_runtime():
    from prunebench.util.measurement import Measurement

    measured = Measurement({"speedup_vs_dense_onnxruntime": 1.3, "speedup_low_onnxruntime": 1.1,
                            "speedup_high_onnxruntime": 1.5, "speedup_pairs_onnxruntime": 15,
                            "speedup_capped_onnxruntime": True, "speedup_vs_torch_low": 0.9}, {})
    found = measured.timing("onnxruntime").speedup("dense")
    assert (found.value, found.low, found.high, found.pairs, found.capped) == (1.3, 1.1, 1.5, 15, True)
    assert measured.speedup("torch").low == 0.9 and measured.speedup("dense") is None
    assert measured.runtimes == ("torch", "onnxruntime")


def test_a_reference_models_pairs_are_renamed_as_against_the_study_model():
    from prunebench.util.measurement import Measurement

    measured = Measurement({"latency_ms": 30.0, "speedup_vs_dense": 1.2, "speedup_iqr": 0.1, "speedup_low": 1.1,
                            "speedup_capped": False, "speedup_vs_dense_onnxruntime": 1.3,
                            "speedup_high_onnxruntime": 1.4, "gflops": 2.0}, {"latency": {}}, threads=1)
    study = measured.against_study("yolo11n")
    assert study.metrics == {"latency_ms": 30.0, "speedup_vs_study": 1.2, "speedup_vs_study_iqr": 0.1,
                             "speedup_vs_study_low": 1.1, "speedup_vs_study_capped": False,
                             "speedup_vs_study_onnxruntime": 1.3, "speedup_vs_study_high_onnxruntime": 1.4,
                             "gflops": 2.0}
    assert study.details["timed_against"]["model"] == "yolo11n" and "timed_against" not in measured.details
    assert study.speedup("dense") is None and study.timing("onnxruntime").speedup("study").value == 1.3
    assert study.speedup("study").low == 1.1 and study.speedup("study").has_interval is False


def test_a_measurement_refuses_accuracy_and_undeclared_metrics():
    from prunebench.util.measurement import Measurement

    with pytest.raises(ValueError, match=r"not map50, my_new_metric: declare a new metric"):
        Measurement({"latency_ms": 1.0, "map50": 0.5, "my_new_metric": 2}, {})
    with pytest.raises(ValueError, match="pairs against one of dense, study, torch, fp32"):
        Measurement({}, {}).speedup("teacher")


def test_put_measurement_replaces_what_it_owns_and_notes_threads_and_flags():
    from prunebench.util.measurement import Measurement

    record = Record(key="k", name="n", suite="s", spec={}, measure_key="m",
                    metrics={"map50": 0.5, "latency_ms_openvino": 9.0}, environment={"threads": 4, "device": "cpu"})
    record.put_measurement(Measurement({"latency_ms": 3.0}, {"latency": {"threads": 1}}, threads=1,
                                       cpu_flags=("avx2",)), replacing=lambda name: name.startswith("latency"))
    assert record.metrics == {"map50": 0.5, "latency_ms": 3.0}
    assert record.environment == {"threads": 1, "device": "cpu", "cpu_flags": ["avx2"]}
    assert record.measurement == Measurement({"latency_ms": 3.0}, {"latency": {"threads": 1}}, 1, ("avx2",))


def test_a_prune_report_keeps_its_steps_when_judged():
    from prunebench.records.prune_report import Delivered, PruneReport

    record = Record(key="k", name="n", suite="s", spec={}, measure_key="m")
    assert record.prune_report is None
    record.put_prune_report(PruneReport({"achieved_speedup": 2.1}, schedule_steps=({"step": 1},)))
    delivered = Delivered(asked="2x", measure="speedup", expected=2.0, measured=1.5, tolerance=0.05,
                          removed_nothing=False, flagged=True, why="asked 2x, delivered another amount",
                          params_before=10, params_after=8, nonzero_params_before=10, nonzero_params_after=8,
                          gflops_before=2.0, gflops_after=1.33)
    record.put_prune_report(record.prune_report.judged({"achieved_speedup": 1.5,
                                                        "reported_by_strategy": {"achieved_speedup": 2.1}}, delivered))
    found = record.prune_report
    assert found.achieved_speedup == 1.5 and found.claimed == {"achieved_speedup": 2.1}
    assert found.undelivered == "asked 2x, delivered another amount" and found.schedule_steps == ({"step": 1},)
    assert record.details["delivered"]["measured"] == 1.5 and record.details["schedule_steps"] == [{"step": 1}]


def test_an_environment_names_a_field_of_the_wrong_type():
    from prunebench.records.environment import Environment

    with pytest.raises(ValueError, match=r"environment.threads is '2', not int"):
        Environment.from_json({"threads": "2"})
    with pytest.raises(ValueError, match=r"environment.git_dirty is 1, not bool"):
        Environment.from_json({"git_dirty": 1})
    env = Environment.from_json({"device": "cpu", "git_sha": "abc", "git_dirty": True, "ray_node": "n1"})
    assert env.commit == "abc (dirty)" and env.extra == {"ray_node": "n1"}
    assert env.with_values(threads=2, executor="ray").to_json()["executor"] == "ray"
