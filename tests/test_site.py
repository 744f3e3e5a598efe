"""`prunebench site`: the static site from fixed records (tests/fixtures/records). What each page holds, that the
tables are the leaderboard's (whatever its columns), that every link is relative and lands on a file of the site,
and the errors a user gets. The same site in a real browser: tests/test_site_browser.py."""

import html
import json
import re
import shutil
from pathlib import Path

import pytest

from prunebench.cli import main
from prunebench.report import first_screen, leaderboard, site
from prunebench.report.rows import build_sections
from prunebench.records.store import iter_records

FIXTURES = Path(__file__).parent / "fixtures" / "records"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    results = root / "results"
    for name in ("cpu", "gpu"):
        shutil.copytree(FIXTURES / name, results / name)
    (results / "cpu" / "plots").mkdir()
    (results / "cpu" / "plots" / "yolo11n__tea_bud__accuracy_vs_cost.png").write_bytes(b"\x89PNG fake, copied")
    pages = site.build([results / "cpu", results / "gpu"], root / "site", generated="2026-12-01")
    return root / "site", results, pages


def with_a_plot(results: Path) -> Path:
    """Give a results folder a plots/ (so the site copies it instead of drawing every figure: faster tests)."""
    (results / "plots").mkdir(exist_ok=True)
    (results / "plots" / "yolov8n__buds__accuracy_vs_cost.png").write_bytes(b"\x89PNG")
    return results


def links(page: Path) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]*)"', page.read_text(encoding="utf-8"))


def test_the_layout(built):
    out, results, pages = built
    records = {name: list(iter_records([results / name])) for name in ("cpu", "gpu")}
    expected = {out / "index.html"} | {out / n / "index.html" for n in records} | {
        out / n / "cells" / f"{path.stem}.html" for n, found in records.items() for path, _ in found}
    assert set(pages) == expected and all(p.is_file() for p in pages)
    assert (out / "style.css").is_file()


def test_every_link_is_relative_and_lands_in_the_site(built):
    out, _, pages = built
    for page in pages:
        for link in links(page):
            if link == "data:,":  # the empty favicon: no request at all
                continue
            assert not re.match(r"^[a-z][a-z0-9+.-]*:|^/", link, re.I), (page, link)
            file, _, fragment = link.partition("#")
            target = (page.parent / file).resolve() if file else page.resolve()
            assert target.is_file() and out.resolve() in target.parents, (page, link)
            if fragment:
                assert f'id="{fragment}"' in target.read_text(encoding="utf-8"), (page, link)
    assert "http" not in (out / "style.css").read_text() and "@import" not in (out / "style.css").read_text()


def test_the_index_gives_each_sections_one_line_answer(built):
    out, results, _ = built
    text = html.unescape(re.sub(r"<[^>]+>", "", (out / "index.html").read_text(encoding="utf-8")))
    sections = build_sections([r for _, r in iter_records([results / "cpu"])])
    for section in sections:
        assert f"{section.model} × {section.dataset}: {leaderboard.one_line_answer(section, sections)}" in text
    assert "Answer: C1 (30%, 6.44 GFLOPs): best l1-unstructured, a tie with dense-ft" in text


def tables(page: Path) -> dict[str, tuple[list[str], list[list[str]]]]:
    """table id -> (header texts, rows of cell texts), read back from the HTML."""
    out = {}
    text = page.read_text(encoding="utf-8")
    for table_id, body in re.findall(r'<table class="sortable" id="([^"]+)">(.*?)</table>', text, re.S):
        heads = [html.unescape(h) for h in re.findall(r'<th scope="col">(.*?)</th>', body)]
        rows = [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
                for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S)]
        out[table_id] = (heads, rows)
    return out


def test_the_tables_are_the_leaderboards(built):
    out, results, _ = built
    records = [r for _, r in iter_records([results / "cpu"])]
    sections = build_sections(records)
    found = tables(out / "cpu" / "index.html")
    for section in sections:
        anchor = site._anchor(section)
        headers, cells = leaderboard.display_table(section)
        heads, first = found[f"board-{anchor}"]
        rest = iter(found.get(f"board-{anchor}-rest", (heads, []))[1])
        first = iter(first)  # the Pareto rows and references first, the others behind a click: in table order
        rows = [next(first) if shown else next(rest) for shown in first_screen.first_rows(section)]
        assert heads == headers + ["Cells"]
        assert [row[:-1] for row in rows] == cells
        assert [row[-1] for row in rows] == [", ".join(f"seed {c.seed}" for c in r.cells) for r in section.rows]
        machine = leaderboard.machine_rows(section, leaderboard.runtimes_in(records))  # as the leaderboard
        heads, rows = found[f"full-{anchor}"]
        assert heads == list(machine[0]) + ["cells"] and len(rows) == len(machine)
        column = heads.index("map50_95")
        assert [row[column] for row in rows] == [site._raw(item["map50_95"]) for item in machine]


def test_the_plots_are_copied_from_the_results_folder_or_drawn(built):
    out, results, _ = built
    copied = out / "cpu" / "plots" / "yolo11n__tea_bud__accuracy_vs_cost.png"
    assert copied.read_bytes() == b"\x89PNG fake, copied" and len(list(copied.parent.iterdir())) == 1
    assert 'src="plots/yolo11n__tea_bud__accuracy_vs_cost.png"' in (out / "cpu" / "index.html").read_text()
    drawn = sorted(p.name for p in (out / "gpu" / "plots").iterdir())  # gpu/ has no plots/: drawn, PNG only
    assert drawn and all(name.endswith(".png") for name in drawn)
    assert all(f'src="plots/{name}"' in (out / "gpu" / "index.html").read_text() for name in drawn)


def test_a_cell_page_holds_the_record_and_its_kept_model(built):
    out, results, _ = built
    path, record = next((p, r.to_json()) for p, r in iter_records([results / "cpu"])
                        if r.name == "yolo11n.tea_bud.l1-channel.a0.30.s0")
    page = (out / "cpu" / "cells" / f"{path.stem}.html").read_text(encoding="utf-8")
    [dumped] = re.findall(r"<details><summary>show</summary><pre>(.*?)</pre>", page, re.S)
    assert json.loads(html.unescape(dumped)) == record
    assert record["details"]["model_file"]["path"] in page and record["details"]["model_file"]["sha256"] in page
    assert f"{100 * record['metrics']['map50_95']:.1f}" in page
    assert "The record, readably" in page and "accuracy (headline split: test)" in html.unescape(page)
    # the speed-up as the tables print it: with its 95 % interval, or marked as having none (never a bare figure)
    m = record["metrics"]
    shown = f"{m['speedup_vs_dense']:.2f}x " + (f"[{m['speedup_low']:.2f}, {m['speedup_high']:.2f}]"
                                                if m.get("speedup_low") is not None else "(no CI")
    assert shown in html.unescape(page), shown
    failed = next(p for p, r in iter_records([results / "cpu"]) if not r.ok)
    assert 'class="failed"' in (out / "cpu" / "cells" / f"{failed.stem}.html").read_text(encoding="utf-8")


def test_the_command_and_its_errors(tmp_path, capsys):
    results = tmp_path / "results"
    with_a_plot(shutil.copytree(FIXTURES / "gpu", results / "gpu"))
    assert main(["site", str(results / "gpu"), "-o", str(tmp_path / "out")]) == 0
    assert "site:" in capsys.readouterr().err and (tmp_path / "out" / "gpu" / "index.html").is_file()
    (tmp_path / "empty").mkdir()
    assert main(["site", str(tmp_path / "empty"), "-o", str(tmp_path / "out2")]) != 0
    assert "no records in" in capsys.readouterr().err
    assert main(["site", str(results / "gpu"), "-o", str(results / "gpu")]) != 0
    assert "is a results folder" in capsys.readouterr().err
    assert main(["site", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out3")]) != 0
    assert "no results folder at" in capsys.readouterr().err


def test_two_folders_with_one_name_get_two_pages(tmp_path):
    for parent in ("a", "b"):
        with_a_plot(shutil.copytree(FIXTURES / "gpu", tmp_path / parent / "results"))
    pages = site.build([tmp_path / "a" / "results", tmp_path / "b" / "results"], tmp_path / "site")
    assert {p.parent.name for p in pages if p.name == "index.html"} == {"site", "results", "results-2"}
