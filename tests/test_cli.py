"""The CLI: exit codes, messages, and the fast commands never importing torch."""

import json
import subprocess
import sys
import textwrap

import pytest

from prunebench.cli import main

FAST = [["plugins"], ["list", "strategies"], ["list", "models"], ["list", "datasets"], ["schema"]]


@pytest.mark.parametrize("argv", FAST, ids=lambda a: " ".join(a))
def test_fast_commands_do_not_import_torch(argv):
    code = ("import sys; from prunebench.cli import main; rc = main(%r); "
            "bad = [m for m in ('torch', 'ultralytics', 'torch_pruning', 'matplotlib') if m in sys.modules]; "
            "print('IMPORTED', bad); sys.exit(rc)") % (argv,)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("IMPORTED []")


def test_validate_does_not_import_torch(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nmodels: [{name: m, params: {arch: yolov8n.yaml}}]\n"
                     "datasets: [{name: d, plugin: synthetic-buds}]\n")
    code = ("import sys; from prunebench.cli import main; rc = main(['validate', %r]); "
            "print('IMPORTED', [m for m in ('torch', 'ultralytics') if m in sys.modules]); sys.exit(rc)") % str(suite)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "valid suite 's': 1 cells (1 dense baselines + 0 pruned)" in out.stdout
    assert out.stdout.strip().endswith("IMPORTED []")


def test_validate_bad_suite_exits_1_with_located_message(tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nmodels: [{name: m, plugin: nope}]\ndatasets: [{name: d, plugin: synthetic-buds}]\n")
    assert main(["validate", str(suite)]) == 1
    err = capsys.readouterr().err
    assert f"{suite}:2: models.0.plugin: unknown model 'nope'" in err


def test_schema_is_json_schema():
    out = subprocess.run([sys.executable, "-m", "prunebench", "schema"], capture_output=True, text=True, timeout=60)
    schema = json.loads(out.stdout)
    assert schema["title"] == "Suite" and {"models", "datasets", "strategies"} <= set(schema["properties"])


def test_run_dry_run_lists_plan(tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(textwrap.dedent(f"""\
        name: s
        models: [{{name: m, params: {{arch: yolov8n.yaml}}}}]
        datasets: [{{name: d, plugin: synthetic-buds}}]
        strategies: [{{name: l1-unstructured, amounts: [0.3, 0.6]}}]
        results: {tmp_path / 'results'}
    """))
    assert main(["run", str(suite), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "m.d.dense.a0.00.s0" in out and "m.d.l1-unstructured.a0.60.s0" in out
    assert "3 cells: 3 will run, 0 cached or kept" in out
    assert not (tmp_path / "results").exists()


def test_only_matching_nothing_is_an_error(tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nmodels: [{name: m, params: {arch: yolov8n.yaml}}]\n"
                     "datasets: [{name: d, plugin: synthetic-buds}]\n")
    assert main(["run", str(suite), "--only", "zzz", "--dry-run"]) == 1
    assert "--only zzz matches no cell" in capsys.readouterr().err


def test_suite_reference_doc_is_generated_from_the_schema():
    from pathlib import Path

    from prunebench.schema_doc import suite_reference_markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "suite-reference.md"
    assert doc.read_text() == suite_reference_markdown(), "regenerate: prunebench schema --markdown > docs/suite-reference.md"


def test_a_device_this_machine_lacks_is_refused_before_anything_is_written(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error is for machines without it")
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nmodels: [{name: m, params: {arch: yolov8n.yaml}}]\n"
                     "datasets: [{name: d, plugin: synthetic-buds}]\n"
                     f"evaluation: {{device: cuda}}\nresults: {tmp_path / 'results'}\n")
    assert main(["run", str(suite)]) == 1
    err = capsys.readouterr().err
    assert "was requested but torch sees no CUDA GPU" in err and "Use `device: auto` or `device: cpu`" in err
    assert "Traceback" not in err
    assert not (tmp_path / "results").exists(), "nothing is written for a run that cannot start"


def test_leaderboard_and_compare_of_empty_folders_are_clear_errors(tmp_path, capsys):
    empty = tmp_path / "empty"
    (empty / "cells").mkdir(parents=True)
    assert main(["leaderboard", str(empty)]) == 1
    assert "no records found in" in capsys.readouterr().err
    assert main(["compare", str(empty), str(empty)]) == 1
    err = capsys.readouterr().err
    assert "no records found in" in err and "Traceback" not in err
    assert not (empty / "LEADERBOARD.md").exists()
