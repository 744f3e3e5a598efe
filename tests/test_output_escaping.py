"""Every output format escapes what it did not write: a record's strings reach Markdown, CSV, the terminal and
plots as text (no HTML, no script links, no table-splitting pipes, no escape sequences, no mathtext)."""

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from tests.test_record_bounds import FIXTURES, TARGET, run_main

HOSTILE = "<script>alert(1)</script>|[x](javascript:alert(1))\x1b[2J\x07"


@pytest.fixture
def hostile(tmp_path) -> Path:
    """The fixture folder with one record whose strategy label and device name are hostile strings."""
    folder = tmp_path / "r"
    shutil.copytree(FIXTURES / "cells", folder / "cells")
    path = next((folder / "cells").glob(f"{TARGET}.*.json"))
    data = json.loads(path.read_text())
    data["spec"]["strategy"]["label"] = "=HYPERLINK(\"http://x\")" + HOSTILE
    data["environment"]["device_name"] = HOSTILE
    path.write_text(json.dumps(data))
    return folder


def test_markdown_leaderboard_holds_no_raw_html_links_or_pipes_from_records(hostile):
    code, _, err = run_main("leaderboard", hostile, "--no-plots")
    assert code == 0, err
    text = (hostile / "LEADERBOARD.md").read_text() + (hostile / "LEADERBOARD-full.md").read_text()
    assert "<script>" not in text and "](javascript:" not in text and "\x1b" not in text and "\x07" not in text
    assert "&lt;script&gt;" in text or "&lt;script>" in text
    for line in text.splitlines():  # every table row keeps its column count: no pipe from a record splits it
        if line.startswith("|") and "script" in line:
            assert "\\|[x]" in line


def test_csv_cells_cannot_run_as_formulas_or_carry_escapes(hostile, tmp_path):
    code, _, err = run_main("leaderboard", hostile, "--no-plots", "--format", "csv", "-o", tmp_path / "t.csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO((tmp_path / "t.csv").read_text())))
    values = [v for row in rows for v in row.values() if v]
    assert not any(v.lstrip().startswith(("=", "@")) for v in values)
    assert not any("\x1b" in v or "\x07" in v for v in values)
    assert any(v.startswith("'=HYPERLINK") for v in values)


def test_terminal_output_carries_no_escape_sequences(hostile):
    for argv in (["show", TARGET, "--results", hostile], ["compare", FIXTURES, hostile]):
        code, out, err = run_main(*argv)
        assert code == 0, err
        assert "\x1b" not in out and "\x07" not in out
    code, out, _ = run_main("compare", FIXTURES, hostile)
    assert "<script>" not in out


def test_plot_text_is_text_not_mathtext():
    import matplotlib

    matplotlib.use("Agg")
    from prunebench.records.store import iter_records
    from prunebench.report.plots import draw_figures

    records = [r for _, r in iter_records([FIXTURES])]
    for record in records:
        if record.strategy_name == "l1-channel":
            record.spec["strategy"]["label"] = "$\\frac{a}{b}$ ^_^"  # invalid mathtext: would raise while drawing
    figures = draw_figures(records)
    assert figures
    texts = []
    for _, figure in figures:
        figure.canvas.draw()  # mathtext would fail to parse "^_^" here
        texts += [t for t in figure.findobj(matplotlib.text.Text) if "frac" in t.get_text()]
    assert texts and all(not t.get_parse_math() for t in texts)


def test_escapes_leave_prunebenchs_own_text_alone():
    from prunebench.report.escape import csv_cell, markdown_cell, markdown_text, terminal

    assert markdown_cell("l1-channel 0.30 [41.2, 45.0] -> dense-ft") == "l1-channel 0.30 [41.2, 45.0] -> dense-ft"
    assert markdown_text("buds (SYNTHETIC stand-in data: its numbers)") == "buds (SYNTHETIC stand-in data: its numbers)"
    assert csv_cell("-1.5") == "-1.5" and csv_cell(-2) == -2 and csv_cell("-x") == "'-x"
    assert terminal("a\tb\nc\x1b[31md\x1b[0m") == "a\tb\ncd"
