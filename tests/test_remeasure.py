"""Re-timing kept models without retraining (prunebench.run.remeasure, `prunebench measure`), on a tiny
yolov8n at 64 px. No timing assertions: what is checked is which figures are replaced, with what."""

import copy
import json
from pathlib import Path

import pytest

from prunebench.cli import main
from prunebench.records.store import load_record
from tests.kept_models import build_results, fresh_copy

REPO = Path(__file__).resolve().parents[1]
TEA_VAL = sorted((REPO / "data" / "tea_bud" / "images" / "val").glob("*.jpg"))[:3]
FAST = {"runtimes": ["torch", "onnxruntime"], "min_run_time": 0.02, "speedup_pairs": 2, "throughput_batch": 2,
        "speedup_cap_s": 0.001}


def table_rows(table: str) -> dict[str, str]:
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:] if line.startswith("|")]
    return {row[0]: row[1] for row in cells}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("template") / "results"
    return folder, build_results(folder, tmp_path_factory.mktemp("work"), without_model=True)


@pytest.fixture
def results(template, tmp_path):
    return fresh_copy(template, tmp_path)


def test_remeasure_record_retimes_from_the_kept_models_and_keeps_accuracy(results, tmp_path):
    from prunebench.util.canonical import short_hash
    from prunebench.run.remeasure import remeasure_record

    folder, paths = results
    record = load_record(paths["l1-channel"])
    before = copy.deepcopy(record)
    updated = remeasure_record(record, folder, measure_settings=FAST, device="cpu", images=TEA_VAL, cache_dir=tmp_path)

    assert record == before, "the record given is not changed; nothing is written"
    assert load_record(paths["l1-channel"]) == before
    m = updated.metrics
    for key in ("map50", "map50_95", "precision", "recall"):
        assert m[key] == before.metrics[key], "accuracy is not re-measured"
    assert m["params"] < 0.6 * 3_011_043 and m["gflops"] != before.metrics["gflops"], "costs come from the file"
    for key in ("latency_ms", "speedup_vs_dense", "speedup_iqr", "latency_ms_onnxruntime",
                "speedup_vs_dense_onnxruntime", "speedup_iqr_onnxruntime"):
        assert m[key] is not None and m[key] >= 0, key
    measure = updated.details["measure"]
    note = measure["remeasured"]
    assert note["reference"]["name"] == "yolov8n.buds-mini.dense.a0.00.s0"
    assert note["previous_environment"] == before.environment and note["previous_measure_key"] == "m0"
    assert measure["runtimes"]["onnxruntime"]["export"]["from"].endswith(before.model_file.path)
    assert measure["paired_speedup"]["pairs"] == 2
    assert updated.evaluation["measure"]["runtimes"] == ["torch", "onnxruntime"]
    assert updated.measure_key == short_hash(updated.evaluation) != before.measure_key
    assert updated.environment["threads"] == 1 and updated.timings["measure"] > 0
    assert updated.model_file == before.model_file


def test_dense_record_is_remeasured_without_a_speedup_and_stale_runtime_figures_go(results, tmp_path):
    from prunebench.run.remeasure import remeasure_record

    folder, paths = results
    record = load_record(paths["dense"])
    record.metrics.update(latency_ms_onnxruntime=1.0, speedup_vs_dense_onnxruntime=2.0)  # from an earlier measure
    updated = remeasure_record(record, folder, measure_settings={"min_run_time": 0.02, "throughput_batch": 2},
                               device="cpu", images=TEA_VAL, cache_dir=tmp_path)
    assert updated.metrics["speedup_vs_dense"] is None and "paired_speedup" not in updated.details["measure"]
    assert "latency_ms_onnxruntime" not in updated.metrics, "runtimes not timed now leave no old figure behind"
    assert updated.evaluation["measure"]["runtimes"] == ["torch"]


def test_replaced_model_file_and_missing_model_are_clear_errors(results, tmp_path):
    from prunebench.records.kept import NoKeptModel
    from prunebench.run.remeasure import remeasure_record

    folder, paths = results
    record = load_record(paths["l1-unstructured"])
    kept = folder / record.model_file.path
    kept.write_bytes(kept.read_bytes() + b"x")
    with pytest.raises(ValueError, match=r"has sha256 .* but its record says .*the file was replaced"):
        remeasure_record(record, folder, measure_settings=FAST, device="cpu", images=TEA_VAL, cache_dir=tmp_path)
    with pytest.raises(NoKeptModel, match=r"has no kept model .*keep_models: all"):
        remeasure_record(load_record(paths["random-unstructured"]), folder, measure_settings=FAST, device="cpu",
                         images=TEA_VAL, cache_dir=tmp_path)


def test_cli_measure_retimes_the_folder_on_the_datasets_own_images(results, capsys):
    folder, paths = results
    code = main(["measure", str(folder), "--only", "l1-channel", "--only", "a0.00", "--runtimes", "torch,onnxruntime",
                 "--device", "cpu", "--min-run-time", "0.02", "--pairs", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    table = captured.out
    assert "| cell" in table and "ORT speed-up (IQR)" in table
    assert table_rows(table) == {"yolov8n.buds-mini.dense.a0.00.s0": "re-measured",
                                 "yolov8n.buds-mini.l1-channel.a0.50.s0": "re-measured"}
    record = json.loads(paths["l1-channel"].read_text())
    assert record["metrics"]["speedup_vs_dense_onnxruntime"] is not None
    assert record["details"]["measure"]["latency"]["images"] == 3, "the synthetic dataset's 3 val images"
    assert record["details"]["measure"]["remeasured"]["settings"]["min_run_time"] == 0.02
    assert "remeasured" not in json.loads(paths["l1-unstructured"].read_text())["details"].get("measure", {}), \
        "--only selects"


def test_cli_measure_skips_cells_without_a_model_and_fails_when_none_has_one(results, capsys):
    folder, _ = results
    assert main(["measure", str(folder), "--only", "random", "--device", "cpu"]) == 1
    captured = capsys.readouterr()
    assert table_rows(captured.out) == {"yolov8n.buds-mini.random-unstructured.a0.50.s0": "skipped: no kept model"}
    assert "none of the 1 selected cells kept a model" in captured.err and "keep_models: all" in captured.err
    assert main(["measure", str(folder), "--runtimes", "torch,tensorrt"]) == 1
    assert "bad measure settings on the command line (runtimes.1:" in capsys.readouterr().err


def test_the_remeasure_table_shows_each_speedups_interval_and_pairs_when_recorded():
    from prunebench.records.record import Record
    from prunebench.run.remeasure import Remeasured, table

    def measured(**metrics):
        return Record(key="k", name="n", spec={}, metrics=metrics, details={"measure": {}})

    new = measured(speedup_vs_dense=1.34, speedup_iqr=0.05, speedup_low=1.29, speedup_high=1.40, speedup_pairs=23,
                   speedup_capped=True, latency_ms=20.0, gflops=3.25)
    old = measured(speedup_vs_dense=1.34, speedup_iqr=0.05)  # a record from before intervals
    study = measured(speedup_vs_study_onnxruntime=1.2, speedup_vs_study_iqr_onnxruntime=0.1)  # a reference model
    text = table([Remeasured("new", "re-measured", new), Remeasured("old", "re-measured", old),
                  Remeasured("study", "re-measured", study)])
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines()[2:]]
    assert cells[0][2:] == ["20.00", "1.34x ± 0.05 [1.29, 1.40], 23 pairs (capped)", "-", "-", "3.250"]
    assert cells[1][2:] == ["-", "1.34x ± 0.05", "-", "-", "-"]
    assert cells[2][2:] == ["-", "-", "-", "1.20x vs study ± 0.10", "-"]
