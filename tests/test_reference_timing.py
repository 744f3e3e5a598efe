"""A reference model's dense cells are timed in alternating pairs against the dense model under study, in a run
and in `prunebench measure`, so the leaderboard compares them on the footing the pruned rows stand on. The real
COCO yolo11n (under study) and yolo26n (reference) on coco128 at 64 px, no fine-tuning: seconds on 2 cores."""

import json

import pytest

from prunebench.records.record import Record
from prunebench.run.remeasure import remeasure_record
from tests.conftest import REPO, load_records, run_cli

pytestmark = pytest.mark.slow

SUITE = f"""\
name: frontier-mini
models:
  - name: yolo11n
    params: {{weights: {REPO / "weights" / "yolo11n.pt"}}}
  - name: yolo26n
    role: reference
    params: {{weights: {REPO / "weights" / "yolo26n.pt"}}}
datasets:
  - name: coco128
    params: {{data: ../coco128/data.yaml}}   # relative to this suite file's folder
finetune: {{epochs: 0}}
evaluation:
  imgsz: 64
  batch: 16
  device: cpu
  measure: {{min_run_time: 0.05, speedup_pairs: 2, speedup_cap_s: 0.001, throughput_batch: 2}}
"""


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    work = tmp_path_factory.mktemp("frontier-mini")
    (work / "coco128").symlink_to(REPO / "data" / "coco128")
    (work / "suites").mkdir()
    (work / "suites" / "frontier-mini.yaml").write_text(SUITE)
    proc = run_cli("run", "suites/frontier-mini.yaml", "--results", "results", cwd=work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work / "results"


def test_a_reference_dense_cell_is_timed_against_the_studied_model(ran):
    records = load_records(ran)
    reference, study = records["yolo26n.coco128.dense.a0.00.s0"], records["yolo11n.coco128.dense.a0.00.s0"]
    ratio = reference["metrics"]["speedup_vs_study"]
    assert ratio is not None and ratio > 0 and reference["metrics"]["speedup_vs_study_iqr"] is not None
    assert reference["details"]["measure"]["timed_against"]["model"] == "yolo11n"
    assert reference["details"]["measure"]["paired_speedup"]["pairs"] == 2
    # not mistaken for a speed-up over its own dense model, and the studied model is timed alone
    assert reference["metrics"].get("speedup_vs_dense") is None
    assert "speedup_vs_study" not in study["metrics"] and "timed_against" not in study["details"]["measure"]
    board = (ran / "LEADERBOARD.md").read_text()
    assert "## yolo26n × coco128" in board


def test_prunebench_measure_pairs_the_reference_again(ran, tmp_path, monkeypatch):
    """From another folder: the suite's relative dataset path starts at the suite file the record names."""
    monkeypatch.chdir(tmp_path)
    records = load_records(ran)
    reference = records["yolo26n.coco128.dense.a0.00.s0"]
    assert reference["suite_file"] == "../suites/frontier-mini.yaml"
    updated = remeasure_record(Record.from_json(reference), ran, device="cpu", images=None, cache_dir=tmp_path)
    assert updated.details["measure"]["remeasured"]["reference"]["name"] == "yolo11n.coco128.dense.a0.00.s0"
    assert updated.metrics["speedup_vs_study"] > 0 and updated.metrics.get("speedup_vs_dense") is None
    assert updated.timed_against == "yolo11n"
    assert json.loads(json.dumps(updated.to_json()))  # still a plain JSON record
