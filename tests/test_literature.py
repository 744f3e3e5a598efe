"""Published figures a suite declares (`literature:`): kept in the results folder, shown in their own table after
the measured rows, never ranked with them; bad ones refused with one clear line, unreadable files skipped."""

import json
import shutil
from pathlib import Path

import pytest

from prunebench.records import literature
from prunebench.report import leaderboard
from tests.conftest import REPO, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "records" / "cpu"
FIGURE = {"source": "A tutorial", "model": "YOLOv5x", "dataset": "COCO val2017", "setting": "per-layer L1 30 %",
          "metric": "mAP50-95 (pycocotools)", "value": 0.489, "note": "no fine-tuning"}


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    shutil.copytree(FIXTURES / "cells", folder / "cells")
    return folder


def test_a_results_folder_with_figures_gets_their_table_after_the_measured_ones(results):
    literature.write(results, [literature.Figure(**FIGURE)])
    text = leaderboard.write([results], plots=False).read_text()
    table_at = text.index(leaderboard.LITERATURE_TITLE)
    assert table_at > text.rindex("## yolov8n")  # after every measured section
    published = text[table_at:]
    assert "| A tutorial | YOLOv5x | COCO val2017 | per-layer L1 30 % | mAP50-95 (pycocotools) | 0.489 |" \
           in published.replace("  ", " ").replace("  ", " ")
    # never a row of a measured table: no section's table names it
    assert "YOLOv5x" not in text[:table_at]
    full = (results / "LEADERBOARD-full.md").read_text()
    assert leaderboard.LITERATURE_TITLE in full


def test_without_figures_there_is_no_such_table(results):
    assert leaderboard.LITERATURE_TITLE not in leaderboard.write([results], plots=False).read_text()


@pytest.mark.parametrize("content, reason", [
    ("{not json", "Expecting property name"),
    (json.dumps([dict(FIGURE, value="high")]), "value 'high' is not a finite number"),
    (json.dumps([dict(FIGURE, model=3)]), "are text"),
    ("[" + " " * (literature.MAX_BYTES + 1) + "]", "larger than 1024 KB"),
])
def test_an_unreadable_file_is_skipped_with_a_warning(tmp_path, content, reason):
    (tmp_path / literature.FILENAME).write_text(content)
    warned = []
    assert literature.read([tmp_path], warn=lambda message, path: warned.append(message)) == []
    assert len(warned) == 1 and reason in warned[0], warned


def test_the_suite_declares_them_and_leaderboard_suite_writes_them(tmp_path, results):
    suite = tmp_path / "suite.yaml"
    entry = "\n".join(f"    {k}: {json.dumps(v)}" for k, v in FIGURE.items()).replace("    source", "  - source", 1)
    suite.write_text(f"name: lit\nresults: {results}\nmodels: [{{name: m}}]\n"
                     f"datasets: [{{name: d, params: {{data: x.yaml}}}}]\nliterature:\n{entry}\n")
    proc = run_cli("leaderboard", str(suite), "--no-plots", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((results / literature.FILENAME).read_text()) == [FIGURE]
    assert "| A tutorial" in (results / "LEADERBOARD.md").read_text()
    # the suite drops them: so does the folder
    suite.write_text(suite.read_text().split("literature:")[0])
    assert run_cli("leaderboard", str(suite), "--no-plots", cwd=tmp_path).returncode == 0
    assert not (results / literature.FILENAME).exists()


def test_a_bad_figure_in_a_suite_is_one_clear_line(tmp_path, results):
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: lit\nresults: {results}\nliterature:\n  - {{source: s, model: m, dataset: d, "
                     "setting: x, metric: mAP, value: .nan}\n")
    proc = run_cli("leaderboard", str(suite), "--no-plots", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"prunebench: error: {suite}: literature.0.value: Input should be a finite number "
        f"(`prunebench validate {suite}` lists every problem)"]
    assert not (results / "LEADERBOARD.md").exists()  # nothing written


def test_the_shipped_suites_declare_published_figures():
    from prunebench.config.suite import LiteratureFigure
    from prunebench.util import safe_yaml

    for name in ("tutorial", "slimming", "tea_bud"):
        data = safe_yaml.load(REPO / "suites" / f"{name}.yaml")
        assert [LiteratureFigure(**f) for f in data["literature"]], name


def test_the_site_page_shows_them_in_their_own_table(tmp_path, results):
    from prunebench.report import site

    literature.write(results, [literature.Figure(**FIGURE)])
    pages = site.build([results], tmp_path / "site")
    page = next(p for p in pages if p.parent.name == "results" and p.name == "index.html").read_text()
    assert page.index(leaderboard.LITERATURE_TITLE) > page.rindex('id="board-')
    assert '<table class="sortable" id="literature">' in page and "<td>YOLOv5x</td>" in page
