"""What a reader sees first on the site's index and on each study page: the answer in one plain sentence
(prunebench.report.answer) and the chart that shows it, accuracy against measured speed.

The chart is inline SVG (no script, nothing fetched): one panel per runtime the rows ran in (PyTorch, ONNX Runtime,
OpenVINO; an export's INT8 rows share its runtime's panel), x the speed-up over the dense model in PyTorch FP32
(`answer.over_dense_torch`: the row's own pairs against it, never a product of two ratios), y mAP50-95 (%). Each
point carries its two intervals as error bars: vertically the 95 % bootstrap interval of its accuracy;
horizontally the 95 % interval of its speed-up (solid); a record timed before intervals has none, and its bar is
its IQR band (median ± the per-pair ratios' IQR, dashed); no bar where neither was recorded or the row
sits at dense latency by definition. Dense alternatives (the dense model, its fine-tuned controls, their exports and smaller
inputs) are squares, pruned rows circles; the rows the table stars (Pareto) have a dark ring. Hovering a point
shows its name and figures (an SVG <title>), clicking it opens its cell's page.

`table_split` orders a section's table for the first screen: the Pareto rows and the references (dense rows) first,
the rest behind a click.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Callable, Sequence

from prunebench.report.answer import RUNTIME_NAMES, describe, over_dense_torch, plain_answer
from prunebench.report.rows import Row, Section
from prunebench.report.speed import CI, IQR
from prunebench.report.verdicts import METRIC

PANEL_W, PANEL_H = 400, 300
MARGIN = dict(left=52, right=14, top=28, bottom=44)
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f")
DENSE_COLOR = "#222222"

CSS = """\
.first-screen { margin: .2rem 0 1rem; }
.first-screen .answer-sentence { font-size: 1.12rem; line-height: 1.4; margin: .3rem 0 .5rem; max-width: 1300px; }
.first-screen .chart { display: block; max-width: 100%; height: auto; }
.first-screen .chart-note { color: var(--muted); font-size: .82rem; margin: .1rem 0 0; max-width: 1300px; }
.chart .point:hover circle, .chart .point:hover rect { stroke-width: 3; }
.chart text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; fill: #1d2329; }
.chart .panel-title { font-weight: 600; font-size: 12px; }
.first-screen .study-name { margin: 0; color: var(--muted); }
details.more-rows > summary { cursor: pointer; color: var(--accent); margin: .4rem 0; }
"""


def runtime_of(row: Row) -> str:
    """The panel a row is drawn in: the runtime its deployment runs in (INT8 with its FP32 runtime)."""
    return {"onnx-int8": "onnx", "openvino-int8": "openvino"}.get(row.variant, row.variant)


@dataclass(frozen=True)
class Point:
    row: Row
    x: float
    y: float
    x_low: float | None
    x_high: float | None
    y_low: float | None
    y_high: float | None
    href: str | None
    x_kind: str | None = None  # CI (a 95 % interval) or IQR (median ± the per-pair IQR): the x bar's


def _speed_bar(row: Row, section: Section) -> tuple[float | None, float | None, str | None]:
    """(low, high, CI or IQR) of the row's speed-up over dense PyTorch, or Nones without a spread to draw."""
    found = over_dense_torch(row, section)
    bounds = found.bounds() if found is not None else None
    if bounds is None or found.kind not in (CI, IQR):
        return None, None, None
    return bounds[0], bounds[1], found.kind


def points(section: Section, href: Callable[[Row], str | None] = lambda row: None) -> dict[str, list[Point]]:
    """runtime -> the section's drawable rows (ok, with an accuracy and a speed), PyTorch first."""
    panels: dict[str, list[Point]] = {}
    for row in section.rows:
        estimate = row.accuracy.get(METRIC)
        speed = over_dense_torch(row, section) if row.ok else None
        if not row.ok or estimate is None or speed is None:
            continue
        x_low, x_high, x_kind = _speed_bar(row, section)
        panels.setdefault(runtime_of(row), []).append(Point(
            row, speed.value, 100 * estimate.value, x_low, x_high,
            None if estimate.low is None else 100 * estimate.low,
            None if estimate.high is None else 100 * estimate.high, href(row), x_kind))
    order = ["torch", "onnx", "openvino"]
    return {k: panels[k] for k in sorted(panels, key=lambda k: (order.index(k) if k in order else 9, k))}


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low or 1.0
    step = 10 ** math.floor(math.log10(span / count))
    for factor in (1, 2, 2.5, 5, 10):
        if span / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1)]


def _range(values: Sequence[float], pad: float) -> tuple[float, float]:
    low, high = min(values), max(values)
    margin = (high - low) * pad or abs(high) * 0.05 or 1.0
    return low - margin, high + margin


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _label(point: Point) -> str:
    row = point.row
    accuracy = f"mAP50-95 {point.y:.1f}" + (f" [{point.y_low:.1f}, {point.y_high:.1f}]" if point.y_low is not None
                                            else "")
    spread = ("" if point.x_low is None else f" (95 % CI {point.x_low:.2f} to {point.x_high:.2f})"
              if point.x_kind == CI else f" (no 95 % interval; IQR band {point.x_low:.2f} to {point.x_high:.2f})")
    speed = f"{point.x:.2f}x faster than dense PyTorch{spread}"
    marks = [m for m, on in (("Pareto ★", row.pareto), ("dense alternative", row.is_dense)) if on]
    return f"{describe(row)}: {accuracy}; {speed}" + (f" [{', '.join(marks)}]" if marks else "")


def chart_svg(section: Section, href: Callable[[Row], str | None] = lambda row: None) -> str:
    """The chart as one <svg> element, or "" when no row has both an accuracy and a speed."""
    panels = points(section, href)
    if not panels:
        return ""
    everything = [p for ps in panels.values() for p in ps]
    ys = [v for p in everything for v in (p.y, p.y_low, p.y_high) if v is not None]
    xs = [v for p in everything for v in (p.x, p.x_low, p.x_high) if v is not None]
    y0, y1 = _range(ys, 0.06)
    x0, x1 = _range(xs + [1.0], 0.06)  # 1x (dense PyTorch) always on the axis
    colors: dict[str, str] = {}
    for p in everything:
        if not p.row.is_dense:
            colors.setdefault(p.row.strategy, PALETTE[len(colors) % len(PALETTE)])
    width = PANEL_W * len(panels)
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {PANEL_H + 22}" width="{width}" '
             f'height="{PANEL_H + 22}" aria-label="mAP50-95 against speed-up over dense PyTorch, one panel per '
             f'runtime">']
    for index, (runtime, panel) in enumerate(panels.items()):
        parts.append(_panel(index * PANEL_W, runtime, panel, (x0, x1), (y0, y1), colors))
    parts.append(_legend(colors, PANEL_H + 14))
    parts.append("</svg>")
    return "".join(parts)


def _panel(left: float, runtime: str, panel: list[Point], xr: tuple[float, float], yr: tuple[float, float],
           colors: dict[str, str]) -> str:
    x_left, x_right = left + MARGIN["left"], left + PANEL_W - MARGIN["right"]
    y_top, y_bottom = MARGIN["top"], PANEL_H - MARGIN["bottom"]

    def sx(v: float) -> float:
        return x_left + (v - xr[0]) / (xr[1] - xr[0]) * (x_right - x_left)

    def sy(v: float) -> float:
        return y_bottom - (v - yr[0]) / (yr[1] - yr[0]) * (y_bottom - y_top)

    out = [f'<g class="panel" data-runtime="{_e(runtime)}">',
           f'<rect x="{x_left:.1f}" y="{y_top}" width="{x_right - x_left:.1f}" height="{y_bottom - y_top}" '
           'fill="#fbfcfd" stroke="#d5dbe0"/>',
           f'<text class="panel-title" x="{(x_left + x_right) / 2:.1f}" y="{y_top - 9}" text-anchor="middle">'
           f'{_e(RUNTIME_NAMES.get(runtime, runtime))}</text>']
    for tick in _ticks(*yr):
        out.append(f'<line x1="{x_left:.1f}" x2="{x_right:.1f}" y1="{sy(tick):.1f}" y2="{sy(tick):.1f}" '
                   'stroke="#e6eaee"/>'
                   f'<text x="{x_left - 5:.1f}" y="{sy(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for tick in _ticks(*xr):
        out.append(f'<line x1="{sx(tick):.1f}" x2="{sx(tick):.1f}" y1="{y_top}" y2="{y_bottom}" stroke="#e6eaee"/>'
                   f'<text x="{sx(tick):.1f}" y="{y_bottom + 14}" text-anchor="middle">{tick:g}x</text>')
    out.append(f'<line x1="{sx(1.0):.1f}" x2="{sx(1.0):.1f}" y1="{y_top}" y2="{y_bottom}" stroke="#888" '
               'stroke-dasharray="3 3"/>')
    out.append(f'<text x="{(x_left + x_right) / 2:.1f}" y="{y_bottom + 30}" text-anchor="middle">speed-up over '
               'dense PyTorch FP32 (x)</text>')
    if left == 0:
        out.append(f'<text x="12" y="{(y_top + y_bottom) / 2:.1f}" text-anchor="middle" '
                   f'transform="rotate(-90 12 {(y_top + y_bottom) / 2:.1f})">mAP50-95 (%)</text>')
    for point in sorted(panel, key=lambda p: (p.row.pareto, p.row.is_dense)):  # stars and dense drawn on top
        out.append(_point(point, sx, sy, colors))
    out.append("</g>")
    return "".join(out)


def _point(point: Point, sx, sy, colors: dict[str, str]) -> str:
    row = point.row
    color = DENSE_COLOR if row.is_dense else colors[row.strategy]
    x, y = sx(point.x), sy(point.y)
    bars = []
    if point.y_low is not None:
        bars.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{sy(point.y_low):.1f}" y2="{sy(point.y_high):.1f}" '
                    f'stroke="{color}" stroke-width="1.2"/>')
    if point.x_low is not None:
        dashed = ' stroke-dasharray="2 2"' if point.x_kind == IQR else ""  # no 95 % interval: the IQR band
        bars.append(f'<line x1="{sx(point.x_low):.1f}" x2="{sx(point.x_high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="{color}" stroke-width="1.2"{dashed}/>')
    ring = ' stroke="#000" stroke-width="2"' if row.pareto else f' stroke="{color}" stroke-width="1"'
    fill = "#fff" if row.variant != "torch" and "int8" not in row.variant else color
    if row.is_dense:
        mark = f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="{fill}"{ring}/>'
    else:
        mark = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{fill}"{ring}/>'
    body = f'<title>{_e(_label(point))}</title>{"".join(bars)}{mark}'
    kind = "dense" if row.is_dense else "pruned"
    if point.href:
        return (f'<a class="point {kind}" href="{_e(point.href)}" data-name="{_e(describe(row))}">{body}</a>')
    return f'<g class="point {kind}" data-name="{_e(describe(row))}">{body}</g>'


def _legend(colors: dict[str, str], y: float) -> str:
    items = [("square", DENSE_COLOR, "dense alternatives")] + [("circle", c, s) for s, c in colors.items()]
    out, x = [], 52
    for shape, color, text in items:
        mark = (f'<rect x="{x}" y="{y - 9}" width="9" height="9" fill="{color}"/>' if shape == "square" else
                f'<circle cx="{x + 4.5}" cy="{y - 4.5}" r="4.5" fill="{color}"/>')
        out.append(f'{mark}<text x="{x + 13}" y="{y}">{_e(text)}</text>')
        x += 22 + 6.2 * len(text)
    out.append(f'<circle cx="{x + 4.5}" cy="{y - 4.5}" r="4.5" fill="#fff" stroke="#000" stroke-width="2"/>'
               f'<text x="{x + 13}" y="{y}">ringed: Pareto (★ in the table); hollow: FP32 export</text>')
    return "".join(out)


CHART_NOTE = ("Vertical bars: 95 % bootstrap interval of mAP50-95; horizontal bars: 95 % interval of the speed-up "
              "from its alternating pairs (solid); dashed: a record timed before intervals (5 pairs, too few for a "
              "95 % interval), drawn as its median ± the per-pair ratios' IQR, not a 95 % interval; no bar: no "
              "spread recorded, or a row of dense shape at dense latency. Hover a point for its figures, click it "
              "for its cell.")


def first_screen_html(section: Section, href: Callable[[Row], str | None] = lambda row: None,
                      heading: str | None = None, sections: Sequence[Section] = ()) -> str:
    """The sentence and the chart, as the block that opens a page."""
    chart = chart_svg(section, href)
    parts = ['<section class="first-screen">']
    if heading:
        parts.append(heading)
    parts.append(f'<p class="answer-sentence"><strong>{_e(plain_answer(section, sections))}</strong></p>')
    if chart:
        parts += [chart, f'<p class="chart-note">{_e(section.title)} on {_e(section.device)}. {_e(CHART_NOTE)}</p>']
    parts.append("</section>")
    return "\n".join(parts)


def study_section(sections: Sequence[Section]) -> Section | None:
    """The section a page's first screen answers for: the first one under study with pruned rows or controls."""
    for section in sections:
        if section.role == "study" and (section.pruned or section.controls):
            return section
    return sections[0] if sections else None


def first_rows(section: Section) -> list[bool]:
    """For each of the section's rows in display order: shown first (Pareto, or a dense reference) or not."""
    return [row.pareto or row.is_dense for row in section.rows]


def leaderboard_answers(sections: Sequence[Section]) -> list[str]:
    """The sentence that heads a LEADERBOARD.md: the study section's (prefixed with its title when a folder holds
    several studies)."""
    studies = [s for s in sections if s.role == "study" and (s.pruned or s.controls)]
    if len(studies) <= 1:
        section = study_section(sections)
        found = section is not None and (section.pruned or section.controls)
        return [plain_answer(section, sections)] if found else []
    titles = [s.title for s in studies]
    return [f"{s.title}{f' on {s.device}' if titles.count(s.title) > 1 else ''}: {plain_answer(s, sections)}"
            for s in studies]
