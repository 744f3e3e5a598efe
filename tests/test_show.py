"""`prunebench show CELL`: one record, readably, found by name, key prefix or path, with its files checked."""


import pytest

from prunebench.cli import main
from prunebench.records.store import load_record, write_record
from tests.kept_models import CELLS, build_results, fresh_copy, record


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("template") / "results"
    paths = build_results(folder, tmp_path_factory.mktemp("work"))
    failed = record("network-slimming", "k9fail000000000", amount=0.3, structured=True, model_file=None,
                    status="failed")
    paths["failed"] = write_record(folder, f"{failed['name']}.{failed['key']}.json", failed)
    return folder, paths


@pytest.fixture
def results(template, tmp_path):
    return fresh_copy(template, tmp_path)


def show(capsys, *args) -> tuple[int, str, str]:
    code = main(["show", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_show_prints_spec_metrics_split_timings_and_the_checked_model_file(results, capsys):
    folder, paths = results
    code, out, err = show(capsys, "yolov8n.buds-mini.l1-channel.a0.50.s0", "--results", str(folder))
    assert code == 0, err
    key = CELLS["l1-channel"][0]
    assert out.startswith("yolov8n.buds-mini.l1-channel.a0.50.s0   [ok]\n")
    assert f"key {key}, measure_key m0, suite mini, schema" in out
    assert "strategy  l1-channel (name l1-channel, structured)" in out
    assert "amount 0.5, seed 0" in out and '"epochs": 3' in out and '"min_run_time": 0.02' in out
    assert "accuracy (headline split: test)\n  map50 0.55, map50_95 0.3, precision 0.6, recall 0.4" in out
    assert "  val   map50 0.61, map50_95 0.41" in out
    assert "before fine-tuning: map50 0.01, map50_95 0.002" in out
    assert "timings (s): evaluate 1.5, finetune 12, load 0.4, measure 3, prune 0.5, total 17.4" in out
    model = folder / "models" / f"yolov8n.buds-mini.l1-channel.a0.50.s0.{key}.pt"
    assert f"model: {model}  ({model.stat().st_size} bytes; sha256 matches the record)" in out
    assert "exports: none recorded (`prunebench export" in out


def test_show_flags_a_replaced_model_file_and_lists_exports(results, capsys):
    folder, paths = results
    assert main(["export", str(folder), "--only", "l1-channel", "--format", "onnx"]) == 0
    capsys.readouterr()
    code, out, _ = show(capsys, str(paths["l1-channel"]))  # a record path works too
    assert code == 0
    onnx = folder / "models" / f"yolov8n.buds-mini.l1-channel.a0.50.s0.{CELLS['l1-channel'][0]}.onnx"
    assert f"onnx: {onnx}  ({onnx.stat().st_size} bytes, imgsz 64; sha256 matches the record)" in out

    model = folder / load_record(paths["l1-channel"]).model_file.path
    model.write_bytes(model.read_bytes()[:-10])
    onnx.write_bytes(b"not the export")
    _, out, _ = show(capsys, str(paths["l1-channel"]))
    assert "sha256 MISMATCH: file" in out and "(replaced after the run)" in out
    assert "sha256 MISMATCH (changed since export)" in out
    model.unlink()
    _, out, _ = show(capsys, str(paths["l1-channel"]))
    assert f"model: {model}  MISSING" in out


def test_show_a_failed_cell_by_key_prefix_prints_its_error(results, capsys):
    folder, _ = results
    code, out, _ = show(capsys, "k9fail", "--results", str(folder))
    assert code == 0
    assert "yolov8n.buds-mini.network-slimming.a0.30.s0   [failed]" in out
    assert "error (finetune): RuntimeError: boom in fine-tuning\n  hint: lower finetune.lr0" in out
    assert "model: none kept" in out and "accuracy" not in out


def test_show_unknown_or_ambiguous_cell_exits_1_with_one_paragraph(results, capsys):
    folder, _ = results
    code, _, err = show(capsys, "nothing-like-this", "--results", str(folder))
    assert code == 1 and "no record named 'nothing-like-this'" in err and len(err.strip().splitlines()) == 1
    code, _, err = show(capsys, "k0de", "--results", str(folder), "--results", str(folder))
    assert code == 1 and "'k0de' matches 2 records" in err
