"""Older records are migrated on read (records.migrations), one step per schema version, not rejected: two real
schema-1 records (tests/fixtures/schema1, published in results/tea_bud_laptop before schema 2) read back as
current ones, and render."""

import copy
import json
import shutil
from pathlib import Path

import pytest

from prunebench.records.migrations import SCHEMA_VERSION, STEPS, migrate
from prunebench.records.record import Record, RecordError

SCHEMA1 = Path(__file__).parent / "fixtures" / "schema1"
PRUNED = SCHEMA1 / "yolov5n.buds.l1-unstructured.a0.30.s0.37555f4d685d0e3b.json"


def test_every_older_version_has_one_step_up():
    assert set(STEPS) == set(range(1, SCHEMA_VERSION))


def test_a_real_schema_1_record_reads_as_a_current_one():
    data = json.loads(PRUNED.read_text())
    original = copy.deepcopy(data)
    assert data["schema_version"] == 1 and "eval_split" not in data["details"] and "measure_key" not in data
    record = Record.from_json(data)
    assert data == original  # the caller's object is left as it was
    assert record.schema_version == SCHEMA_VERSION and record.to_json()["schema_version"] == SCHEMA_VERSION
    # schema 1 validated on val only: that split's accuracy is the headline
    evaluation = record.evaluated
    assert evaluation.split == "val" and evaluation.evaluator == "ultralytics.DetectionValidator"
    assert dict(evaluation.metrics) == {k: data["metrics"][k] for k in ("precision", "recall", "map50", "map50_95")}
    assert record.details["metrics_before_finetune_split"] == "val"
    # what it measured and how it pruned, through the typed values, as the file says
    measurement = record.measurement
    assert measurement.costs.params == data["metrics"]["params"] and measurement.threads == 2
    assert measurement.speedup("dense").value == data["metrics"]["speedup_vs_dense"]
    assert measurement.speedup("dense").low is None  # no interval before intervals existed
    assert record.prune_report.reported == data["details"]["prune_report"] and record.prune_report.delivered is None
    # what schema 1 never recorded stays unknown, not guessed
    environment = record.environment_info
    assert environment.git_dirty is None and environment.torch_threads_default is None
    assert environment.git_sha == data["environment"]["git_sha"] and record.measure_key == ""
    assert record.metrics == data["metrics"] and record.spec == data["spec"]
    # migrated once: written and read again it is a current record, unchanged
    assert migrate(record.to_json()) == record.to_json()
    assert Record.from_json(record.to_json()).to_json() == record.to_json()


def test_migrated_records_render_in_a_leaderboard(tmp_path):
    from prunebench.report import leaderboard

    cells = tmp_path / "cells"
    cells.mkdir()
    for path in SCHEMA1.glob("*.json"):
        shutil.copy(path, cells / path.name)
    leaderboard.write([tmp_path])
    text = (tmp_path / "LEADERBOARD.md").read_text()
    assert "## yolov5n × buds" in text and "Accuracy: on the val split" in text
    assert "| dense " in text and "| l1-unstructured " in text


@pytest.mark.parametrize("version, message", [
    (0, "schema version 0: this prunebench reads versions 1 to"),
    ("2", "schema version '2': this prunebench reads versions 1 to"),
    (True, "schema version True: this prunebench reads versions 1 to"),
    (SCHEMA_VERSION + 1, f"schema version {SCHEMA_VERSION + 1} is newer than this prunebench reads"),
])
def test_a_version_no_step_can_lift_is_still_named(version, message):
    data = dict(json.loads(PRUNED.read_text()), schema_version=version)
    with pytest.raises(RecordError, match=message):
        Record.from_json(data)


def test_a_malformed_older_record_is_named_not_crashed_on():
    data = dict(json.loads(PRUNED.read_text()), details=["not", "an", "object"])
    with pytest.raises(RecordError, match="details is a list, not an object"):
        Record.from_json(data)
