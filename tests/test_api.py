"""The Python API (prunebench.api, re-exported at the top): records loaded as typed values and rows, the errors a
caller can fix, and the CLI as a shell over it. Fast: reads the committed fixture records, runs nothing."""

import shutil
import sys
from pathlib import Path

import pytest

import prunebench
from prunebench.records.record import Record

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "records" / "cpu"


@pytest.fixture
def folder(tmp_path):
    target = tmp_path / "results"
    shutil.copytree(FIXTURE, target)
    return target


def test_the_package_top_exports_the_library_functions_without_importing_torch():
    code = ("import sys, prunebench; "
            "assert all(callable(getattr(prunebench, n)) for n in ('run_suite', 'load_results', 'leaderboard', 'site', "
            "'plan', 'load_suite')); assert 'torch' not in sys.modules and 'ultralytics' not in sys.modules")
    import subprocess

    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_load_results_gives_records_with_their_files(folder):
    results = prunebench.load_results(folder)
    files = sorted((folder / "cells").glob("*.json"))
    assert len(results) == len(files) > 0
    assert all(isinstance(r, Record) for r in results)
    assert sorted(results.paths) == files
    assert set(results.by_name()) == {r.name for r in results}
    assert all(r.ok for r in results.ok())


def test_rows_are_flat_and_carry_every_scalar_metric(folder):
    results = prunebench.load_results(folder)
    rows = results.rows()
    first, record = rows[0], results[0]
    assert first["name"] == record.name and first["strategy"] == record.strategy_label
    assert first["map50_95"] == record.metric("map50_95") and first["env.torch"] == record.environment.get("torch")
    assert first["variant"] == "torch"
    assert all(not isinstance(v, (dict, list)) for row in rows for v in row.values())


def test_to_pandas_is_one_row_per_record(folder):
    pandas = pytest.importorskip("pandas")
    frame = prunebench.load_results(folder).to_pandas()
    assert isinstance(frame, pandas.DataFrame) and len(frame) == len(list((folder / "cells").glob("*.json")))
    assert {"name", "strategy", "amount", "map50_95", "status"} <= set(frame.columns)


def test_to_pandas_without_pandas_says_how_to_get_it(folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with pytest.raises(prunebench.UsageError, match="pip install pandas"):
        prunebench.load_results(folder).to_pandas()


def test_a_missing_folder_is_a_usage_error(tmp_path):
    for call in (lambda: prunebench.load_results(tmp_path / "nope"),
                 lambda: prunebench.leaderboard(tmp_path / "nope"),
                 lambda: prunebench.site([tmp_path / "nope"], tmp_path / "site")):
        with pytest.raises(prunebench.UsageError, match="no results folder at .*nope"):
            call()


def test_leaderboard_and_site_render_from_the_records(folder, tmp_path):
    path = prunebench.leaderboard(folder, plots=False, log=lambda message: None)
    assert path == folder / "LEADERBOARD.md" and path.read_text().startswith("# prunebench leaderboard")
    csv = prunebench.leaderboard(folder, fmt="csv", output=tmp_path / "x.csv", plots=False, log=lambda m: None)
    assert csv.read_text().splitlines()[0].startswith("suite,") or "," in csv.read_text().splitlines()[0]
    pages = prunebench.site(folder, tmp_path / "site")
    assert pages[0] == tmp_path / "site" / "index.html" and all(p.is_file() for p in pages)


def test_a_suite_object_and_a_dict_validate_like_the_file(tmp_path):
    import yaml

    from prunebench.config.suite import Suite

    data = yaml.safe_load((REPO / "suites" / "smoke.yaml").read_text())
    for key in ("models", "datasets"):  # the file's relative paths, made absolute for a suite with no file
        for entry in data[key]:
            for name, value in entry["params"].items():
                entry["params"][name] = str((REPO / "suites" / value).resolve())
    from_file = [c.name for c in prunebench.plan(REPO / "suites" / "smoke.yaml")]
    assert [c.name for c in prunebench.plan(Suite.model_validate(data))] == from_file
    assert [c.name for c in prunebench.plan(data)] == from_file
    data["strategies"][0]["name"] = "l1-unstructred"
    with pytest.raises(prunebench.SuiteError) as caught:
        prunebench.plan(data)
    assert "strategies.0.name: unknown strategy 'l1-unstructred'" in caught.value.problems[0]


def test_run_with_an_only_that_matches_nothing_is_a_usage_error_and_writes_nothing(tmp_path):
    with pytest.raises(prunebench.UsageError, match="matches no cell"):
        prunebench.run_suite(REPO / "suites" / "smoke.yaml", results=tmp_path / "r", only=["no-such-cell"])
    assert not (tmp_path / "r").exists()


def test_the_cli_commands_are_shells_over_the_api(monkeypatch, tmp_path, folder):
    """`prunebench leaderboard` and `site` call the API's functions with their options (nothing of their own)."""
    from prunebench import api
    from prunebench.cli import main

    calls = []
    monkeypatch.setattr(api, "leaderboard", lambda *dirs, **kw: calls.append(("leaderboard", dirs, kw)) or
                        folder / "LEADERBOARD.md")
    monkeypatch.setattr(api, "site", lambda dirs, out, **kw: calls.append(("site", dirs, out, kw)) or [Path(out)])
    assert main(["leaderboard", str(folder), "--format", "csv", "--no-plots"]) == 0
    assert main(["site", str(folder), "-o", str(tmp_path / "s")]) == 0
    assert calls[0] == ("leaderboard", (folder,), {"fmt": "csv", "output": None, "plots": False})
    assert calls[1] == ("site", [folder], str(tmp_path / "s"), {"redraw": False})
