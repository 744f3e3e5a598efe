"""`prunebench site RESULTS_DIR... -o SITE_DIR`: the results as a static site of plain HTML and CSS.

Layout (every link relative, so the folder can be published anywhere: a static host, an artifact store, a zip):

    SITE_DIR/index.html                 the suites, each section's one-line answer (`leaderboard.one_line_answer`)
    SITE_DIR/style.css
    SITE_DIR/<suite>/index.html         per section: the header lines, the leaderboard's table and every column of
                                        `machine_rows` as a second table (both sortable), the notes and the plots
    SITE_DIR/<suite>/plots/*.png        the results folder's figures, copied (drawn when it has none)
    SITE_DIR/<suite>/cells/<cell>.html  one cell: key figures, its kept model and exports, `prunebench show`'s
                                        text and the record as pretty JSON

Tables are rendered from what the leaderboard gives (`display_table`'s headers and cells, `machine_rows`'
keys), whatever its columns. Each page carries one small inline script that sorts a table when a header is
clicked; nothing is loaded from the network. Reads records and figures only.
"""

from __future__ import annotations

import datetime
import html
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from prunebench.records.literature import Figure
from prunebench.records.record import Record
from prunebench.report import first_screen, leaderboard
from prunebench.report.rows import Entry, Section, build_sections, figure_prefix, runtimes_in, size_label, slug
from prunebench.report.speed import against, speed_text
from prunebench.util.atomic import replace_folder
from prunebench.util.leftovers import scratch_dir
from prunebench.util.safe_paths import check_site_folder

PNG = ".png"

CSS = """\
:root { --fg: #1d2329; --muted: #5b6670; --line: #d5dbe0; --head: #eef2f5; --accent: #1f5f9e; --star: #8a6d00; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1500px; padding: 1.2rem 1.6rem 3rem; }
a { color: var(--accent); }
h1 { font-size: 1.6rem; margin: 0.2rem 0 0.8rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid var(--line); padding-bottom: 0.2rem; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
nav { font-size: 0.9rem; color: var(--muted); margin-bottom: 0.4rem; }
.answer { background: #f4f8fb; border-left: 4px solid var(--accent); padding: 0.5rem 0.8rem; margin: 0.6rem 0; }
ul.header { padding-left: 1.1rem; color: var(--muted); font-size: 0.92rem; }
.scroll { overflow-x: auto; border: 1px solid var(--line); margin: 0.6rem 0; }
table { border-collapse: collapse; font-size: 0.85rem; white-space: nowrap; }
th, td { border-bottom: 1px solid var(--line); padding: 0.25rem 0.55rem; text-align: left; }
thead th { background: var(--head); position: sticky; top: 0; }
th.sortable { cursor: pointer; user-select: none; }
th.sortable button { all: unset; cursor: pointer; }
th[aria-sort="ascending"] button::after { content: " ▲"; }
th[aria-sort="descending"] button::after { content: " ▼"; }
tbody tr:nth-child(even) { background: #fafbfc; }
td.star { color: var(--star); font-weight: 600; }
.notes { font-size: 0.85rem; color: var(--muted); }
.figures { display: grid; grid-template-columns: 1fr; gap: 1rem; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: 0.85rem; color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem; }
dl.facts dt { color: var(--muted); }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: 0.7rem; overflow-x: auto; font-size: 0.8rem; }
.failed { color: #a31515; }
"""

# Click a header to sort its table (numbers by the first number in the cell, else text; empty cells last);
# click again to reverse. aria-sort on the header says the order.
SORT_SCRIPT = """\
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.querySelectorAll("thead th");
  heads.forEach(function (th, column) {
    th.classList.add("sortable");
    th.innerHTML = "<button type=\\"button\\">" + th.innerHTML + "</button>";
    th.addEventListener("click", function () {
      var order = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
      heads.forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", order);
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var text = (row.cells[column] ? row.cells[column].textContent : "").trim();
        var number = text.replace(/\\u2212/g, "-").match(/^[^0-9+-]{0,3}([+-]?\\d+(?:\\.\\d+)?)/);
        return {empty: text === "" || text === "\\u2014", number: number ? parseFloat(number[1]) : null, text: text};
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x.empty || y.empty) { return x.empty - y.empty; }
        var sign = order === "ascending" ? 1 : -1;
        if (x.number !== null && y.number !== null && x.number !== y.number) { return sign * (x.number - y.number); }
        return sign * x.text.localeCompare(y.text, undefined, {numeric: true});
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


@dataclass
class SuitePage:
    """One results folder: where its page goes and what it holds."""

    folder: Path
    name: str  # the page's folder in the site
    title: str
    records: list[tuple[Path, Record]]
    sections: list[Section]
    literature: list[Figure] = field(default_factory=list)  # the suite's published figures

    def __post_init__(self) -> None:
        self._files = {id(record): path for path, record in self.records}

    def record_file(self, record: Record) -> Path:
        """The file a record was read from (the rows hold the very dicts read)."""
        return self._files[id(record)]


def build(results_dirs: Sequence[Path], site_dir: Path, *, redraw: bool = False,
          generated: str | None = None) -> list[Path]:
    """Write the site for `results_dirs` (one leaderboard page each) into `site_dir`; return the pages written."""
    from prunebench.records import literature
    from prunebench.records.store import iter_records, warn_once
    from prunebench.util.atomic import atomic_write_text

    dirs = [Path(d) for d in results_dirs]
    if not dirs:
        raise ValueError("no results folder given: pass at least one folder holding a cells/ folder of records.")
    site_dir = Path(site_dir)
    check_site_folder(site_dir, dirs)  # never into (or above) a folder of records: the site replaces its subfolders
    generated = generated or datetime.date.today().isoformat()
    suites, used = [], set()
    for folder in dirs:
        records = list(iter_records([folder]))
        if not records:
            raise ValueError(f"no records in {folder} (looked in {folder / 'cells'}): run the suite first "
                             "(`prunebench run SUITE`) or point at the folder it wrote.")
        name = _unique(slug(folder.resolve().name), used)
        title = ", ".join(sorted({r.suite for _, r in records if r.suite})) or folder.name
        suites.append(SuitePage(folder, name, title, records, build_sections([r for _, r in records]),
                                literature.read([folder], warn=warn_once)))
    site_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(site_dir / "style.css", CSS + first_screen.CSS)
    pages = [site_dir / "index.html"]
    atomic_write_text(pages[0], index_page(suites, generated))
    for suite in suites:
        out = site_dir / suite.name
        figures = _figures(suite, out / "plots", redraw=redraw)
        pages.append(out / "index.html")
        from prunebench.report.sensitivity import site_html as sensitivity_html  # "" without sensitivity maps

        atomic_write_text(pages[-1], suite_page(suite, figures, generated, sensitivity_html(suite.folder, out)))
        for path, record in suite.records:
            pages.append(out / "cells" / cell_page_name(path))
            atomic_write_text(pages[-1], cell_page(suite, path, record))
    return pages


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used or candidate in ("index.html", "style.css"):
        n += 1
        candidate = f"{name}-{n}"
    used.add(candidate)
    return candidate


def cell_page_name(record_path: Path) -> str:
    """"<cell name>.<key>.html": the record file's own name, so two runs of one cell get two pages."""
    return f"{slug(Path(record_path).stem)}.html"


def _figures(suite: SuitePage, out: Path, *, redraw: bool) -> list[str]:
    """The PNG figures of the suite, in `out` (copied from the results folder's plots/, or drawn when it has
    none or `redraw`); their names."""
    source = suite.folder / "plots"
    pngs = sorted(source.glob(f"*{PNG}")) if source.is_dir() and not redraw else []
    # Drawn into a scratch folder and swapped in: an interrupt leaves the previous figures, and figures of an
    # earlier build that no longer exist do not linger.
    with scratch_dir(out.parent, ".plots") as scratch:
        staged = Path(scratch) / "plots"
        staged.mkdir()
        if pngs:
            for png in pngs:
                shutil.copyfile(png, staged / png.name)
            names = [p.name for p in pngs]
        else:
            from prunebench.report.plots import DPI, draw_figures

            names = []
            for stem, figure in draw_figures([r for _, r in suite.records]):  # PNG only: the site shows no SVG
                figure.savefig(staged / f"{stem}{PNG}", dpi=DPI)
                names.append(f"{stem}{PNG}")
        replace_folder(staged, out)
    return sorted(names)


# ---------------------------------------------------------------- pages
def _page(title: str, body: str, depth: int) -> str:
    up = "../" * depth
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)}</title>\n"
            '<link rel="icon" href="data:,">\n'  # no favicon request: nothing but the site's own files is fetched
            f'<link rel="stylesheet" href="{up}style.css">\n</head>\n<body>\n{body}\n'
            f"<script>\n{SORT_SCRIPT}</script>\n</body>\n</html>\n")


def _first_screen(suite: SuitePage, prefix: str = "", heading: str | None = None) -> list[str]:
    """The answer sentence and the chart of the suite's study section (prunebench.report.first_screen)."""
    section = first_screen.study_section(suite.sections)
    if section is None:
        return []

    def href(row) -> str:
        return f"{prefix}cells/{cell_page_name(suite.record_file(row.cells[0].record))}"

    return [first_screen.first_screen_html(section, href, heading, suite.sections)]


def index_page(suites: Sequence[SuitePage], generated: str) -> str:
    parts = ["<h1>prunebench results</h1>"]
    if suites:  # the first suite's answer and chart open the page
        parts += _first_screen(suites[0], f"{suites[0].name}/", f'<p class="study-name">Study <a href="'
                                                                  f'{_e(suites[0].name)}/index.html">'
                                                                  f"{_e(suites[0].title)}</a>:</p>")
    parts.append(f'<p class="notes">{len(suites)} suite{"s" if len(suites) != 1 else ""}, built {_e(generated)}. '
                 "Each leaderboard page holds the tables (click a column header to sort), the plots, and a page "
                 "per cell with its record.</p>")
    for suite in suites:
        ok = sum(r.ok for _, r in suite.records)
        parts.append(f'<h2><a href="{_e(suite.name)}/index.html">{_e(suite.title)}</a></h2>')
        if (study := first_screen.study_section(suite.sections)) is not None:
            parts.append(f"<p><strong>{_e(first_screen.plain_answer(study, suite.sections))}</strong></p>")
        parts.append(f'<p class="notes">{len(suite.records)} cells ({ok} ok, {len(suite.records) - ok} failed), '
                     f"{len(suite.sections)} model × dataset section{'s' if len(suite.sections) != 1 else ''}</p>")
        items = [f'<li><a href="{_e(suite.name)}/index.html#{_anchor(s)}">{_e(s.model)} × {_e(s.dataset)}</a>: '
                 f"{_e(leaderboard.one_line_answer(s, suite.sections))}</li>" for s in _study_first(suite.sections)]
        parts.append("<ul>\n" + "\n".join(items) + "\n</ul>")
    return _page("prunebench results", "\n".join(parts), 0)


def _study_first(sections: Iterable[Section]) -> list[Section]:
    return sorted(sections, key=lambda s: (not s.pruned, s.model, s.dataset))


def _anchor(section: Section) -> str:
    """Unique per section: a model x dataset can have a section per device and per older baseline."""
    return slug(f"{section.model}--{section.dataset}--{section.device}--g{section.generation}")


def suite_page(suite: SuitePage, figures: Sequence[str], generated: str, extra: str = "") -> str:
    runtimes = runtimes_in([r for _, r in suite.records])
    parts = ['<nav><a href="../index.html">all suites</a></nav>',
             f"<h1>prunebench leaderboard: {_e(suite.title)}</h1>",
             *_first_screen(suite),
             '<p class="notes">Sections: ' + ", ".join(
                 f'<a href="#{_anchor(s)}">{_e(s.title)} ({_e(s.device)})</a>' for s in suite.sections) + "</p>"]
    shown: set[str] = set()
    for section in suite.sections:
        parts.append(f'<h2 id="{_anchor(section)}">{_e(section.title)} <span class="notes">on {_e(section.device)}'
                     '</span></h2>')
        answer = leaderboard.one_line_answer(section, suite.sections)
        parts.append(f'<p class="answer">{_e(answer)}</p>')
        header = [line for line in leaderboard.section_header(section, suite.sections, suite.title, generated)
                  if line != answer]
        parts.append('<ul class="header">' + "".join(f"<li>{_e(line)}</li>" for line in header) + "</ul>")
        links = [_cell_links(suite, row.cells) for row in section.rows]
        headers, cells = leaderboard.display_table(section)
        parts.append("<h3>Leaderboard</h3>")
        parts += _split_table(section, headers + ["Cells"], [row + [link] for row, link in _rows_with(cells, links)],
                              f"board-{_anchor(section)}")
        notes = leaderboard.section_notes(section)
        if notes:
            parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
        full = leaderboard.machine_rows(section, runtimes)
        if full:
            keys = list(full[0])
            parts.append("<h3>Every column</h3>")
            parts.append(_table(keys + ["cells"], [[_raw(item.get(k)) for k in keys] + [link]
                                                   for item, link in _rows_with(full, links)],
                                f"full-{_anchor(section)}", raw_last=True))
        own = [f for f in figures if f.startswith(figure_prefix(section.model, section.dataset)) and f not in shown]
        shown.update(own)  # a model x dataset's figures once, under its first section
        if own:
            parts.append("<h3>Plots</h3>")
            parts.append('<div class="figures">' + "".join(
                f'<figure><img src="plots/{_e(f)}" alt="{_e(_caption(f))}">'
                f"<figcaption>{_e(_caption(f))}</figcaption></figure>" for f in own) + "</div>")
    if extra:  # e.g. the per-layer sensitivity heatmaps (prunebench.report.sensitivity)
        parts.append(extra)
    if suite.literature:
        headers, rows = leaderboard.literature_table(suite.literature)
        parts.append(f"<h2>{_e(leaderboard.LITERATURE_TITLE)}</h2>")
        parts.append(_table(headers, rows, "literature"))
    if suite.sections:
        parts.append("<h2>Columns</h2>")
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>"
                                                    for n in leaderboard.column_notes(suite.sections)) + "</ul>")
    return _page(f"prunebench: {suite.title}", "\n".join(parts), 1)


def _split_table(section: Section, headers: list[str], rows: list[list[str]], table_id: str) -> list[str]:
    """The Pareto rows and the dense references first; the other rows one click away (a <details> block)."""
    shown = first_screen.first_rows(section)
    if len(shown) != len(rows) or all(shown) or not any(shown):
        return [_table(headers, rows, table_id, raw_last=True)]
    rest = [row for row, first in zip(rows, shown) if not first]
    return [_table(headers, [row for row, first in zip(rows, shown) if first], table_id, raw_last=True),
            f'<details class="more-rows"><summary>the other {len(rest)} rows (neither Pareto nor a reference)'
            f"</summary>\n{_table(headers, rest, f'{table_id}-rest', raw_last=True)}\n</details>"]


def _rows_with(rows: list, links: list[str]):
    """Each table row with its row's cell links; without links when the table's rows are not the section's."""
    if len(rows) != len(links):
        return [(row, "") for row in rows]
    return list(zip(rows, links))


def _cell_links(suite: SuitePage, cells) -> str:
    return ", ".join(f'<a href="cells/{_e(cell_page_name(suite.record_file(cell.record)))}">'
                     f"{_e('seed ' + str(cell.seed) if cell.seed is not None else 'cell')}</a>" for cell in cells)


def _caption(name: str) -> str:
    parts = Path(name).stem.split("__")
    return f"{parts[0]} × {parts[1]}: {parts[-1].replace('_', ' ')}" if len(parts) == 3 else Path(name).stem


def cell_page(suite: SuitePage, path: Path, record: Record) -> str:
    from prunebench.report.show import render as show_text

    metrics = record.metrics
    entry = Entry(record, "")  # the tables' reading of the record's speed-ups
    name = record.name or path.stem
    asked = size_label(record.amount, record.target)
    facts = [("status", record.status), ("suite", record.suite), ("model", record.model_name),
             ("dataset", record.dataset_name), ("strategy", record.strategy_label), ("asked", asked),
             ("seed", record.seed), ("headline split", record.eval_split), ("key", record.key),
             ("device", record.env("device_name"))]
    figures = [("mAP50", _pct(metrics.get("map50"))), ("mAP50-95", _pct(metrics.get("map50_95"))),
               ("precision", _pct(metrics.get("precision"))), ("recall", _pct(metrics.get("recall"))),
               ("GFLOPs", _fmt(metrics.get("gflops"), ".3f")), ("params", _fmt(metrics.get("params"), ",.0f")),
               ("non-zero params", _fmt(metrics.get("nonzero_params"), ",.0f")),
               ("size, fp16 gzip (MB)", _fmt(_scale(metrics.get("size_fp16_gzip_bytes"), 1e-6), ".2f")),
               ("latency (ms)", _fmt(metrics.get("latency_ms"), ".2f")),
               # as the tables print them: with the 95 % interval and the pairs timed ("no CI" before intervals)
               ("speed-up vs dense", speed_text(against([entry], "dense"), leaderboard.MISSING)),
               ("speed-up vs dense torch", speed_text(against([entry], "torch"), leaderboard.MISSING)),
               ("time, total (s)", _fmt(record.timing("total"), ".1f"))]
    error = record.error or {}
    parts = [f'<nav><a href="../../index.html">all suites</a> / <a href="../index.html">{_e(suite.title)}</a></nav>',
             f"<h1>{_e(name)}</h1>"]
    if error:
        parts.append(f'<p class="failed">failed in {_e(error.get("phase") or "an unknown phase")}: '
                     f"{_e(error.get('type'))}: {_e(error.get('message'))}</p>")
    parts.append('<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(_raw(v))}</dd>" for k, v in facts) + "</dl>")
    parts.append("<h2>Key figures</h2>")
    parts.append(_table([k for k, _ in figures], [[v for _, v in figures]], "figures"))
    parts.append("<h2>Kept model and exports</h2>")
    parts.append(_files(record))
    parts.append("<h2>The record, readably</h2>")
    parts.append(f"<pre>{_e(show_text(record, path, suite.folder))}</pre>")
    parts.append(f"<h2>The record (JSON)</h2>\n<p class=\"notes\">{_e(path.name)}</p>")
    parts.append(f"<details><summary>show</summary><pre>{_e(json.dumps(record.to_json(), indent=1, sort_keys=True))}</pre>"
                 "</details>")
    return _page(name, "\n".join(parts), 2)


def _files(record: Record) -> str:
    """The kept model's and the exports' paths (relative to the results folder: the files are not published)."""
    model = record.model_file
    rows = []
    if model is not None:
        rows.append(["kept model", model.path, _fmt(model.bytes, ",.0f"), str(model.sha256 or "—")])
    for fmt, info in sorted(record.exports.items()):
        rows.append([f"export: {fmt}", str(info.get("path") or "—"), _fmt(info.get("bytes"), ",.0f"),
                     str(info.get("sha256") or "—")])
    if not rows:
        return '<p class="notes">No kept model (the suite did not keep one for this cell) and no exports.</p>'
    return ('<p class="notes">Paths are relative to the results folder; the files are not part of the site.</p>'
            + _table(["file", "path", "bytes", "sha256"], rows, "files"))


# ---------------------------------------------------------------- HTML pieces
def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], table_id: str, *, raw_last: bool = False) -> str:
    """A sortable table; cells are escaped text, except the last column when `raw_last` (links built here)."""
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            raw = raw_last and i == len(row) - 1
            text = str(cell) if raw else _e(str(cell))
            star = ' class="star"' if str(cell) == leaderboard.PARETO_MARK else ""
            cells.append(f"<td{star}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table class="sortable" id="{_e(table_id)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>\n" + "\n".join(body) + "\n</tbody></table></div>")


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _raw(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _scale(value: Any, factor: float) -> float | None:
    return value * factor if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _fmt(value: Any, spec: str, suffix: str = "") -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return leaderboard.MISSING
    return format(value, spec) + suffix


def _pct(value: Any) -> str:
    return _fmt(_scale(value, 100.0), ".1f")
