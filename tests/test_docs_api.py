"""docs/api.md's examples run as written, in order, in one namespace, in a folder holding the tiny study the page
describes (tests/tiny_study.py): the library's documentation cannot drift from what the library does.

Slow: the examples run a two-cell suite on CPU (about a minute on 2 cores)."""

import os
import re
from pathlib import Path

import pytest

from tests.tiny_study import make_suite

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_page_has_examples_of_every_function_it_lists():
    code = "\n".join(python_blocks(DOC.read_text()))
    for function in ("plan", "run_suite", "load_results", "to_pandas", "leaderboard", "site"):
        assert f".{function}(" in code, function


@pytest.mark.slow
def test_the_examples_run_and_say_what_they_print(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pandas")
    make_suite(tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for index, block in enumerate(python_blocks(DOC.read_text())):
        exec(compile(block, f"{DOC}:block{index + 1}", "exec"), namespace)
    printed = capsys.readouterr().out
    # the outputs the page shows in its comments
    assert "['yolo11n.my-data.dense.a0.00.s0', 'yolo11n.my-data.l1-unstructured.a0.30.s0']" in printed
    assert "['yolo11n.my-data.dense.a0.00.s0', 'yolo11n.my-data.random-unstructured.a0.30.s0']" in printed
    assert "unknown strategy 'l1-unstructred'; did you mean" in printed
    assert "# prunebench leaderboard: my-study" in printed
    assert (tmp_path / "site" / "index.html").is_file() and (tmp_path / "my-study.csv").is_file()
    frame = namespace["frame"]
    assert len(frame) == 2 and frame.set_index("strategy").loc["l1-unstructured", "sparsity"] > 0.25
    assert os.path.isdir(tmp_path / "results" / "my-study" / "cells")
