"""Records are bounded on read (size, depth, strings) and a record whose fields a report cannot read is named and
skipped by every command (leaderboard, site, compare, show) while the others still render: never a traceback."""

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "records" / "cpu"
TARGET = "yolov8n.buds.l1-channel.a0.30.s0"


def mutated(tmp_path: Path, change, name: str = "r") -> tuple[Path, Path]:
    """A copy of the fixture folder with one record changed by `change(data)`; (folder, the record's path)."""
    folder = tmp_path / name
    shutil.copytree(FIXTURES / "cells", folder / "cells")
    path = next((folder / "cells").glob(f"{TARGET}.*.json"))
    data = json.loads(path.read_text())
    change(data)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return folder, path


def run_main(*argv) -> tuple[int, str, str]:
    """prunebench's main() in this process: (exit code, stdout, stderr); an exception escaping it fails the test."""
    from prunebench.cli import main
    from prunebench.records import store

    store._skipped.clear()
    store._warned.clear()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def set_path(data, path, value):
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


@pytest.mark.parametrize("path,value", [
    (("environment", "device_name"), 7),
    (("details", "bootstrap", "seed"), []),
    (("spec", "evaluation", "imgsz"), {}),
    (("details", "metrics_before_finetune"), True),
    (("spec", "strategy", "structured"), {"k": None}),
], ids=lambda v: str(v))
def test_a_record_with_a_field_of_the_wrong_type_is_named_and_skipped_by_every_command(tmp_path, path, value):
    folder, record = mutated(tmp_path, lambda data: set_path(data, path, value))
    (folder / "plots").mkdir()
    (folder / "plots" / "figure.png").write_bytes(b"\x89PNG")
    for argv in (["leaderboard", folder, "--no-plots"], ["site", folder, "-o", tmp_path / "site"],
                 ["compare", FIXTURES, folder]):
        code, out, err = run_main(*argv)
        assert code == 0, (argv, err)
        if f"skipped {record}" in err:  # blamed: the others rendered without it
            assert err.count(f"skipped {record}") == 1
    board = (folder / "LEADERBOARD.md").read_text()
    assert "yolov8n" in board  # the other records rendered
    code, out, err = run_main("show", TARGET, "--results", folder)
    assert code in (0, 1) and "Traceback" not in err


def test_the_command_that_used_to_crash_now_names_the_record(tmp_path):
    folder, record = mutated(tmp_path, lambda data: set_path(data, ("environment", "device_name"), 7))
    code, out, err = run_main("leaderboard", folder, "--no-plots")
    assert code == 0
    assert f"skipped {record}: a field holds a value prunebench does not write (TypeError" in err


@pytest.mark.parametrize("how", ["deep", "huge-string", "nan", "oversized"])
def test_records_past_a_bound_are_skipped_with_the_reason(tmp_path, how):
    from prunebench.records import bounds

    if how == "deep":
        change = None
        reason = "nested more than 24 levels deep"
    elif how == "huge-string":
        change = lambda data: set_path(data, ("details", "note"), "x" * 300_000)  # noqa: E731
        reason = "a string of 300,000 characters"
    elif how == "nan":
        change = None
        reason = "NaN is not a JSON number"
    else:
        change = lambda data: set_path(data, ("details", "pad"), [0] * (bounds.MAX_RECORD_BYTES // 2))  # noqa: E731
        reason = "MB, more than any record"
    folder, record = mutated(tmp_path, change or (lambda data: None))
    if how == "nan":
        record.write_text(record.read_text().replace('"map50": 0.', '"map50": NaN, "x": 0.', 1))
    if how == "deep":
        record.write_text(record.read_text().rstrip()[:-1] + ', "z": ' + "[" * 5000 + "]" * 5000 + "}")
    code, out, err = run_main("leaderboard", folder, "--no-plots")
    assert code == 0 and f"skipped {record}" in err and reason in err, err
