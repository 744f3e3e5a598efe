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
