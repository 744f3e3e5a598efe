"""Records -> figures (PNG and SVG), per model x dataset under study, drawn from the row model
(`prunebench.report.rows`), so every mark here is the table's:

- accuracy (mAP50-95, mAP50) vs the amount asked, a line per strategy, the dense row and the fine-tuned
  control(s) as reference lines, and mAP50-95 before fine-tuning as dotted lines; when some rows were given a
  speed-up target instead of an amount, every row is drawn at the GFLOPs it removed (a target is a GFLOPs ratio);
- accuracy vs cost: latency per device (rows placed as for the table's ★; stars are the rows the table stars and
  the dashed frontier runs through them, busy rows hollow, rows at about 0 mAP crossed), and the costs actually
  achieved, GFLOPs and non-zero params; every model's best dense row on the dataset (reference models included)
  is a grey square, and their frontier a grey staircase: the best dense accuracy within each budget;
- per-class AP (AP50-95 and AP50) of every row, a heatmap with the values written in;
- precision / recall / F1 vs confidence, one figure per strategy, a line per row, the legend outside the panels;
- fine-tuning loss per epoch, a panel per strategy in a grid, each line saying whether it is one seed or a mean;
- model size (fp16 gzip MB) and parameters (all and non-zero) on the x of the accuracy figure.

Every figure names the split its accuracy is on, keeps its legend outside the data (below or beside the panels)
and labels each point once, where the label covers no title, legend, other label or mark
(`prunebench.report.plot_labels`). Error bars are ± 1 sample standard deviation over the seeds, and the legend
says so. A figure whose data no record holds is skipped. Figures are `matplotlib.figure.Figure` objects with
their own Agg canvas, saved directly, so the user's pyplot backend and rcParams are left alone; matplotlib is
imported only here, and only when a figure is drawn.

Record details read (see prunebench/records/record.py):
- `details.curves`: {"confidence": [...], "precision": [...], "recall": [...], "f1": [...]}, each a list of
  numbers or a list per class (averaged); Ultralytics' own `curves_results` layout
  ({"Precision-Confidence(B)": [x, y, ...], ...}) is read too.
- `details.loss_curve`: one item per epoch, a number (the total loss) or a dict of named losses ("box_loss",
  "train/box_loss", ..., "val/box_loss", ...); train and val totals are the sums of the loss terms (keys with
  "loss" in them) of each.
- `details.metrics_before_finetune`: accuracy right after pruning.
- `details.per_class_ap`: {class: {"ap50", "ap50_95", optionally "instances"}} on the headline split.
"""

from __future__ import annotations

import math
import re
import statistics
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from prunebench.records.record import Record
from prunebench.report.plot_labels import Label, place_labels
from prunebench.report.rows import (Row, Section, build_sections, figure_prefix, pareto_front, size_label, slug,
                                    torch_deployment)

FRONTIER_LABEL = "Pareto frontier (★ in the table)"
DENSE_FAMILY_LABEL = "dense models on this dataset (frontier)"
BUSY_LABEL = "hollow: timed while the machine was busy"
INELIGIBLE_LABEL = "×: about 0 mAP, not eligible for the frontier"
STAR_LABEL = "★: on the Pareto frontier (★ in the table)"
DENSE_ROW_LABEL = "◆: this model's dense row, not on the frontier"
PRUNED_LABEL = "●: pruned row"
SQUARE_LABEL = "■: a model's best dense row (plain or fine-tuned)"
ERRORBAR_LABEL = "error bars: ± 1 sd over the seeds (rows with n ≥ 2)"
DPI = 120
SAME_X = 0.005  # costs within 0.5 % of each other are one cost: a panel whose points all share one gets a note
# A latency panel with more points than this gets a row of its own, wider and taller: a deploy section (every
# pruned row in every runtime and precision, 57 points on the tea photos) has no free place for its labels in a
# third of the figure.
CROWDED = 24
CONTROL_STYLES = (("0.45", "-."), ("0.62", ":"), ("0.3", (0, (6, 2))), ("0.72", (0, (3, 1, 1, 1))))


def frontier_label(model: str) -> str:
    return f"{FRONTIER_LABEL}, {model}'s rows"


def write_plots(records: list[Record], out_dir: Path) -> list[Path]:
    """Draw every figure the records have data for into `out_dir`; return the files written (PNG, SVG)."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    for stem, figure in draw_figures(records):
        written += _save(figure, out_dir / stem)
    return written


def draw_figures(records: list[dict]) -> list[tuple[str, Any]]:
    """(file stem, figure) of every figure the records have data for, drawn but not saved. Text from records (class
    names, labels) is text, never mathtext: `$...$` in a name is shown as written."""
    from matplotlib import rc_context

    with rc_context({"text.parse_math": False}):
        return _draw_figures(records)


def _draw_figures(records: list[dict]) -> list[tuple[str, Any]]:
    sections = build_sections(records)
    out: list[tuple[str, Any]] = []
    for section in sections:
        if not any(row.ok for row in section.pruned):
            continue  # reference models and sections whose pruned cells all failed: nothing of their own to draw
        colors = strategy_colors(section)
        figures: list[tuple[str, Any]] = [
            ("accuracy_vs_amount", accuracy_vs_amount(section, colors)),
            ("accuracy_vs_cost", accuracy_vs_cost(section, sections, colors)),
            ("per_class_ap", per_class_ap(section)),
            ("model_size", model_size(section, colors)),
            ("loss_curves", loss_curves(section, colors)),
        ]
        for strategy in sorted({row.strategy for row in section.pruned if row.ok}):
            figures.append((f"pr_curves_{slug(strategy)}", confidence_curves(section, strategy)))
        out += [(f"{figure_prefix(section.model, section.dataset)}{name}", figure)
                for name, figure in figures if figure is not None]
    return out


# ---------------------------------------------------------------- which rows a figure shows
def distinct_rows(section: Section) -> list[Row]:
    """One ok row per identity (rows of several devices hold the same cells: accuracy and counted costs are
    the same), in display order; rows deployed as trained only (the exports and smaller inputs of a deploying
    suite are drawn where they differ: at their latency)."""
    seen, out = set(), []
    home = torch_deployment(section.rows)
    for row in section.rows:
        if row.ok and row.identity not in seen and row.deployment == home:
            seen.add(row.identity)
            out.append(row)
    return out


def _by_strategy(rows: Sequence[Row]) -> dict[str, list[Row]]:
    lines: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if not row.is_dense:
            lines[row.strategy].append(row)
    return dict(sorted(lines.items()))


@dataclass(frozen=True)
class SizeAxis:
    """Where the accuracy and size figures put a pruned row: the amount asked, or, when some rows were given a
    speed-up target (which has no amount), the GFLOPs every row removed."""

    name: str  # in the figure's title
    label: str  # the x axis label
    x: Callable[[Row], float | None]  # in %


def size_axis(rows: Sequence[Row]) -> SizeAxis:
    pruned = [r for r in rows if not r.is_dense]
    if all(r.amount is not None for r in pruned):
        return SizeAxis("amount asked", "amount asked (% of weights or of channels: not comparable across kinds)",
                        lambda r: None if r.amount is None else 100 * r.amount)

    def removed(r: Row) -> float | None:
        value = r.reductions.get("gflops")
        return None if value is None else 100 * value

    return SizeAxis("GFLOPs removed (amounts and speed-up targets on one scale)",
                    "GFLOPs removed, achieved (% of dense; a 2x target asks 50 %)", removed)


def _lines(rows: Sequence[Row], axis: SizeAxis) -> dict[str, list[Row]]:
    """Per strategy, its rows that have an x, by x."""
    lines = {s: sorted((r for r in members if axis.x(r) is not None), key=axis.x)
             for s, members in _by_strategy(rows).items()}
    return {s: members for s, members in lines.items() if members}


def seeds_text(row: Row) -> str:
    """"mean of 2 seeds" or "seed 0": what a line drawn from this row is."""
    return f"mean of {len(row.cells)} seeds" if len(row.cells) > 1 else f"seed {row.first.seed}"


def row_name(row: Row) -> str:
    """"dense", "dense-ft", or "l1-channel 30%" / "lamp 2x"."""
    return row.strategy if row.is_dense else f"{row.strategy} {size_label(row.amount, row.target)}"


def split_text(section: Section) -> str:
    splits = section.eval_splits
    if not splits:
        return "split not recorded"
    return f"{splits[0]} split" if len(splits) == 1 else f"{', '.join(splits)} splits"


# ---------------------------------------------------------------- figures
def accuracy_vs_amount(section: Section, colors: dict[str, Any]):
    """mAP50-95 and mAP50 vs the size axis, a line per strategy (mean ± sd over seeds); dotted: before
    fine-tuning; horizontal: the dense row and the controls."""
    rows = distinct_rows(section)
    axis = size_axis(rows)
    lines = _lines(rows, axis)
    if not lines:
        return None
    figure, axes = _figure(section, f"accuracy vs {axis.name}", 2)
    styles = dense_styles(section)
    bars = False
    for ax, (metric, label) in zip(axes, (("map50_95", "mAP50-95 (%)"), ("map50", "mAP50 (%)"))):
        _dense_lines(ax, rows, metric, styles, scale=100)
        for strategy, members in lines.items():
            bars |= _errorbar(ax, [(axis.x(r), r.mean(metric), r.stats.get(metric, (None, None))[1]) for r in members],
                              colors[strategy], strategy, scale=100)
            before = [(axis.x(r), r.before.get(metric), None) for r in members if r.before.get(metric) is not None]
            if before:
                _errorbar(ax, before, colors[strategy], f"{strategy}: before fine-tuning", scale=100, linestyle=":",
                          hollow=True)
        ax.set(xlabel=axis.label, ylabel=label, title=label.split(" ")[0])
        _percent_axis(ax)
    _figure_legend(figure, _handles(axes), errorbars=bars)
    place_labels(figure, [])
    return figure


def accuracy_vs_cost(section: Section, sections: Sequence[Section], colors: dict[str, Any]):
    """A latency panel per device (times compare on one device only) with the table's Pareto frontier; panels for
    the achieved GFLOPs and non-zero params; in each, every model's best dense row on the dataset as a square and
    their frontier as a grey staircase."""
    figure_panels = []
    for device in sorted({r.device for r in section.rows}):
        placed = [r for r in section.rows if r.ok and r.device == device and r.placed_latency is not None
                  and r.mean("map50_95") is not None]
        if any(not r.is_dense for r in placed):
            figure_panels.append(("latency", device, placed))
    rows = distinct_rows(section)
    for metric in ("gflops", "nonzero_params"):
        drawn = [r for r in rows if r.mean(metric) is not None and r.mean("map50_95") is not None]
        if any(not r.is_dense for r in drawn):
            figure_panels.append((metric, None, drawn))
    if not figure_panels:
        return None
    crowded = figure_panels[0][0] == "latency" and len(figure_panels[0][2]) > CROWDED
    figure, axes = _figure(section, "mAP50-95 vs cost", len(figure_panels), wide_first=crowded)
    labels: list[Label] = []
    shapes: set[str] = set()
    for ax, (kind, device, panel_rows) in zip(axes, figure_panels):
        if kind == "latency":
            labels += _latency_panel(ax, section, device, panel_rows, colors, sections, shapes)
        else:
            labels += _achieved_cost_panel(ax, kind, panel_rows, section, sections, colors, shapes)
    strategies = {r.strategy for _, _, panel_rows in figure_panels for r in panel_rows}
    _figure_legend(figure, _strategy_handles(colors, strategies) + _shape_handles(shapes) + _handles(axes))
    place_labels(figure, labels)
    return figure


def _latency_panel(ax, section: Section, device: str, rows: list[Row], colors: dict[str, Any],
                   sections: Sequence[Section], shapes: set[str]) -> list[Label]:
    """Rows at their placed latency (dense latency / paired speed-up: the table's rule), stars where the table
    has ★ and the dashed frontier through them; the other models' dense rows as squares."""
    family = dense_family(section, sections, "latency", device=device)
    others = [p for p in family if not p[0].startswith(f"{section.model} ")]  # its own dense rows are drawn as rows
    home = torch_deployment(rows)
    labels = [_point(ax, row.placed_latency, row, colors, star=row.pareto, shapes=shapes,
                     text=_deployed_label(row, home)) for row in rows]
    labels += _squares(ax, others, 1.0, shapes)
    frontier = frontier_points(rows)
    if len(frontier) > 1:
        ax.step([x for x, _ in frontier], [100 * y for _, y in frontier], where="post", color="0.3",
                linestyle="--", linewidth=1, label=frontier_label(section.model), zorder=2)
    note = _one_cost_note(ax, [r.placed_latency for r in rows] + [x for _, x, _ in others], "ms", rows)
    _family_line(ax, family, 1.0)
    ax.set(xlabel="latency, batch 1 (ms): dense latency / paired speed-up" + (f"\n{note}" if note else ""),
           ylabel="mAP50-95 (%)", title=f"vs latency on {_short(device)}")
    return labels


def _deployed_label(row: Row, home) -> str:
    """"2x", "2x openvino-int8", "dense torch @320": a point's label on the latency panel, naming the deployment
    where it is not the section's own (torch at the suite's imgsz)."""
    name = row.strategy if row.is_dense else size_label(row.amount, row.target)
    return name if row.deployment == home else f"{name} {row.deploy_label}"


def frontier_points(rows: Sequence[Row]) -> list[tuple[float, float]]:
    """(placed latency, mAP50-95) of the rows the table stars, by latency: the frontier the latency panel draws."""
    return sorted((r.placed_latency, r.mean("map50_95")) for r in rows if r.pareto)


def _achieved_cost_panel(ax, metric: str, rows: list[Row], section: Section, sections: Sequence[Section],
                         colors: dict[str, Any], shapes: set[str]) -> list[Label]:
    scale, xlabel, title, unit = {
        "gflops": (1.0, "GFLOPs achieved (batch 1)", "vs GFLOPs", "GFLOPs"),
        "nonzero_params": (1e-6, "non-zero parameters achieved (millions)", "vs non-zero params",
                           "M non-zero params")}[metric]
    pruned = [r for r in rows if not r.is_dense]
    labels = [_point(ax, scale * row.mean(metric), row, colors, star=False, shapes=shapes) for row in pruned]
    family = dense_family(section, sections, metric)
    labels += _squares(ax, family, scale, shapes)
    note = _one_cost_note(ax, [scale * r.mean(metric) for r in pruned] + [scale * x for _, x, _ in family], unit,
                          pruned)
    _family_line(ax, family, scale)
    ax.set(xlabel=xlabel + (f"\n{note}" if note else ""), ylabel="mAP50-95 (%)", title=title)
    return labels


def dense_family(section: Section, sections: Sequence[Section], metric: str,
                 device: str | None = None) -> list[tuple[str, float, float]]:
    """(name, cost, mAP50-95) of each model's best dense row (plain or control) on this dataset, with the split
    and imgsz of this section's pruned rows: the models pruning has to beat. metric "latency": the rows timed on
    `device`, at their placed latency (the table's rule)."""
    evaluations = {r.evaluation for r in section.pruned if r.ok}

    def cost(r: Row) -> float | None:
        if metric == "latency":
            return r.placed_latency if r.device == device else None
        return r.mean(metric)

    out = []
    for other in sections:
        if other.dataset != section.dataset:
            continue
        dense = [r for r in (distinct_rows(other) if metric != "latency" else other.rows)
                 if r.ok and r.is_dense and r.evaluation in evaluations
                 and cost(r) is not None and r.mean("map50_95") is not None]
        if dense:
            best = max(dense, key=lambda r: (r.mean("map50_95"), r.strategy))
            out.append((f"{other.model} {best.strategy}", cost(best), best.mean("map50_95")))
    return sorted(out, key=lambda p: p[1])


def _squares(ax, family: list[tuple[str, float, float]], scale: float, shapes: set[str]) -> list[Label]:
    """The dense models as grey squares, each labelled with its name."""
    if not family:
        return []
    shapes.add("square")
    xs, ys = [scale * x for _, x, _ in family], [100 * y for _, _, y in family]
    ax.scatter(xs, ys, marker="s", s=60, color="0.55", edgecolors="black", linewidths=0.5, zorder=4, gid="square")
    return [Label(ax, x, y, name, color="0.25") for (name, _, _), x, y in zip(family, xs, ys)]


def _family_line(ax, family: list[tuple[str, float, float]], scale: float) -> None:
    """The dense models' frontier as a staircase: the best dense accuracy within each cost, run on to the
    panel's right edge (a budget above the dearest frontier model still buys its accuracy)."""
    points = [(scale * x, 100 * y) for _, x, y in family]
    front = sorted(p for p, on in zip(points, pareto_front(points)) if on)
    if not front:
        return
    right = ax.get_xlim()[1]
    xs, ys = [x for x, _ in front], [y for _, y in front]
    ax.step(xs + [max(right, xs[-1])], ys + [ys[-1]], where="post", color="0.55", linewidth=1.2,
            label=DENSE_FAMILY_LABEL, scalex=False, zorder=2)


def _one_cost_note(ax, xs: list[float], unit: str, rows: Sequence[Row]) -> str | None:
    """When every point has one cost (within 0.5 %), centre them and say so: a panel of one x value would
    otherwise look like a scale with meaning."""
    xs = [x for x in xs if x is not None]
    if len(xs) < 2 or max(xs) > min(xs) * (1 + SAME_X):
        return None
    centre = statistics.fmean(xs)
    ax.set_xlim(centre * 0.95, centre * 1.07)
    pruned = [r for r in rows if not r.is_dense]
    why = (": unstructured pruning keeps the dense shape, and dense kernels multiply the zeros"
           if pruned and all(r.unstructured for r in pruned) else "")
    return textwrap.fill(f"every point at {centre:.3g} {unit}{why}", 62)


def per_class_ap(section: Section):
    """AP50-95 and AP50 per class (columns) of every row (lines), mean over seeds, values written in; the
    classes' box counts on the split when the records hold them."""
    rows, values = [], []
    classes: list[str] = []
    for row in distinct_rows(section):
        tables = [t for c in row.cells if isinstance(t := c.detail("per_class_ap"), dict) and t]
        if not tables:
            continue
        for name in tables[0]:
            if name not in classes:
                classes.append(name)
        rows.append(row)
        values.append(tables)
    if not rows or not any(not r.is_dense for r in rows):
        return None

    def mean_ap(tables, name, key):
        found = [v for t in tables if isinstance(v := (t.get(name) or {}).get(key), (int, float))]
        return 100 * statistics.fmean(found) if found else math.nan

    counts = {}
    for tables in values:
        for name in classes:
            n = (tables[0].get(name) or {}).get("instances")
            if isinstance(n, int) and name not in counts:
                counts[name] = n
    height = 1.6 + 0.26 * len(rows)
    figure, axes = _figure(section, "AP per class", 2, panel_size=(1.6 + 1.1 * len(classes), height))
    for ax, (key, title) in zip(axes, (("ap50_95", "AP50-95 (%)"), ("ap50", "AP50 (%)"))):
        grid = [[mean_ap(tables, name, key) for name in classes] for tables in values]
        image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
        for i, line in enumerate(grid):
            for j, value in enumerate(line):
                text = "—" if math.isnan(value) else f"{value:.1f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="black" if not math.isnan(value) and value > 55 else "white")
        ax.set_xticks(range(len(classes)),
                      [f"{name}\n({counts[name]} boxes)" if name in counts else name for name in classes],
                      fontsize=8)
        ax.set_yticks(range(len(rows)), [f"{row_name(r)} (n={len(r.cells)})" for r in rows], fontsize=7)
        ax.set(title=title, xlabel="class" + ("" if counts else " (box counts not in these records)"))
        ax.grid(False)
    figure.colorbar(image, ax=axes, shrink=0.8, label="AP (%)")
    place_labels(figure, [])
    return figure


def model_size(section: Section, colors: dict[str, Any]):
    rows = distinct_rows(section)
    axis = size_axis(rows)
    lines = _lines(rows, axis)
    if not any(r.mean(m) is not None for members in lines.values() for r in members
               for m in ("size_fp16_gzip_bytes", "params", "nonzero_params")):
        return None
    figure, (size_ax, params_ax) = _figure(section, f"model size vs {axis.name}", 2, accuracy=False)
    styles = dense_styles(section)
    _dense_lines(size_ax, rows, "size_fp16_gzip_bytes", styles, scale=1e-6, controls=False)
    _dense_lines(params_ax, rows, "params", styles, scale=1e-6, controls=False)
    for strategy, members in lines.items():
        _errorbar(size_ax, _means(members, "size_fp16_gzip_bytes", axis), colors[strategy], strategy, scale=1e-6)
        # "_"-labels stay out of the legend: the strategy's colour is named once, the line style below
        _errorbar(params_ax, _means(members, "params", axis), colors[strategy], f"_{strategy}: all", scale=1e-6)
        _errorbar(params_ax, _means(members, "nonzero_params", axis), colors[strategy], f"_{strategy}: non-zero",
                  scale=1e-6, linestyle=":")
    size_ax.set(xlabel=axis.label, ylabel="fp16 state dict, gzip -9 (MB)", title="size on disk")
    params_ax.set(xlabel=axis.label, ylabel="parameters (millions)", title="parameters")
    for ax in (size_ax, params_ax):
        _percent_axis(ax)
        ax.set_ylim(bottom=0)
    from matplotlib.lines import Line2D

    kinds = [Line2D([], [], color="0.3", marker="o", markersize=4, linestyle=style, label=label)
             for style, label in (("-", "parameters: all (solid)"), (":", "parameters: non-zero (dotted)"))]
    _figure_legend(figure, _handles([size_ax, params_ax]) + kinds)
    place_labels(figure, [])
    return figure


def loss_curves(section: Section, colors: dict[str, Any]):
    """A panel per fine-tuned strategy (the controls included) in a grid of at most three columns, a line per
    row: the mean over its seeds' per-epoch totals, and its label says so ("mean of 2 seeds") or names the one
    seed; each panel's legend below it."""
    panels: dict[str, list[tuple[Row, list[float], list[float]]]] = defaultdict(list)
    for row in distinct_rows(section):
        runs = [_loss_totals(c.record) for c in row.cells]
        train = _mean_series([[t for t, _ in run] for run in runs])
        val = _mean_series([[v for _, v in run] for run in runs])
        if train or val:
            panels[row.strategy].append((row, train, val))
    if not any(not rows[0][0].is_dense for rows in panels.values()):
        return None
    with_val = any(val for lines in panels.values() for _, _, val in lines)
    figure, axes = _figure(section, "fine-tuning loss per epoch" + (" (solid: train, dashed: val)" if with_val
                                                                     else ", train"), len(panels),
                           ncols=min(3, len(panels)), panel_size=(4.6, 3.9), accuracy=False)
    for ax, (strategy, lines) in zip(axes, sorted(panels.items(), key=lambda p: (not p[1][0][0].is_dense, p[0]))):
        shades = _amount_colors([_size_key(row) for row, _, _ in lines])
        for row, train, val in lines:
            name = (row.strategy if row.is_dense else size_label(row.amount, row.target)) + f", {seeds_text(row)}"
            for series, kind, style in ((train, "train", "-"), (val, "val", "--")):
                if series:
                    ax.plot(range(1, len(series) + 1), series, color=shades[_size_key(row)], marker="o",
                            markersize=3, linestyle=style, label=f"{name} ({kind})")
        ax.set(xlabel="epoch", ylabel="loss (box + cls + dfl)", title=strategy)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, frameon=False)
    place_labels(figure, [])
    return figure


def confidence_curves(section: Section, strategy: str):
    """Precision, recall and F1 vs confidence for one strategy's rows, the dense rows dashed (each control its
    own grey and dash); one legend, outside the panels, so no curve is hidden under it."""
    names = ("precision", "recall", "f1")
    rows = [r for r in distinct_rows(section) if r.strategy == strategy or r.is_dense]
    curves = {id(row): {name: _row_curve(row, name) for name in names} for row in rows}
    if not any(any(curves[id(r)].values()) for r in rows if not r.is_dense):
        return None
    figure, axes = _figure(section, f"{strategy}: precision, recall and F1 vs confidence", 3)
    shades = _amount_colors([_size_key(r) for r in rows if not r.is_dense])
    styles = dense_styles(section)
    for ax, name in zip(axes, names):
        for row in rows:
            curve = curves[id(row)][name]
            if curve is None:
                continue
            if row.is_dense:
                style = dict(styles.get(row.strategy, {"color": "0.5", "linestyle": "-."}), label=row.strategy)
            else:
                style = dict(color=shades[_size_key(row)],
                             label=f"{size_label(row.amount, row.target)} asked ({seeds_text(row)})")
            ax.plot(curve[0], [100 * v for v in curve[1]], linewidth=1.4, **style)
        ax.set(xlabel="confidence threshold", ylabel=f"{'F1' if name == 'f1' else name} (%)",
               title="F1" if name == "f1" else name, xlim=(0, 1), ylim=(0, 101))
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right upper", fontsize=7)
    place_labels(figure, [])
    return figure


# ---------------------------------------------------------------- data helpers
def _means(rows: Sequence[Row], metric: str, axis: SizeAxis) -> list[tuple[float, float | None, None]]:
    """(x %, mean) of the rows that have the metric."""
    return [(axis.x(r), r.mean(metric), None) for r in rows if r.mean(metric) is not None and axis.x(r) is not None]


def _size_key(row: Row) -> tuple:
    return (row.target is not None, row.amount or 0.0, row.target or 0.0, row.strategy)


def _row_curve(row: Row, name: str) -> tuple[list[float], list[float]] | None:
    """The mean curve over the row's seeds (those on the first seed's grid)."""
    runs = [c for cell in row.cells if (c := _curve(cell.record, name)) is not None]
    if not runs:
        return None
    x = runs[0][0]
    return x, _mean_series([r[1] for r in runs if len(r[1]) == len(x)])


def _loss_totals(record: Record) -> list[tuple[float | None, float | None]]:
    """Per epoch: (train total, val total), either None when not recorded."""
    totals = []
    for item in record.detail("loss_curve") or []:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            totals.append((float(item), None))
        elif isinstance(item, dict):
            terms = {k: v for k, v in item.items() if "loss" in k and isinstance(v, (int, float))}
            val = [v for k, v in terms.items() if k.startswith("val")]
            train = [v for k, v in terms.items() if not k.startswith("val")]
            totals.append((sum(train) if train else None, sum(val) if val else None))
    return totals


def _curve(record: Record, name: str) -> tuple[list[float], list[float]] | None:
    """(confidence, values) of one of precision / recall / f1, averaged over classes when per class."""
    curves = record.detail("curves")
    if not isinstance(curves, dict):
        return None
    x, y = curves.get("confidence") or curves.get("x"), curves.get(name)
    if y is None:  # Ultralytics' layout: {"Precision-Confidence(B)": [x, y, "Confidence", "Precision"], ...}
        prefix = {"precision": "precision-confidence", "recall": "recall-confidence", "f1": "f1-confidence"}[name]
        found = next((v for k, v in curves.items() if k.lower().startswith(prefix)), None)
        if not found or len(found) < 2:
            return None
        x, y = found[0], found[1]
    if not x or not y:
        return None
    if isinstance(y[0], (list, tuple)):  # one row per class
        y = [statistics.fmean(column) for column in zip(*y)]
    return (list(map(float, x)), list(map(float, y))) if len(x) == len(y) else None


def _mean_series(runs: list[list[float | None]]) -> list[float]:
    """Element-wise mean of equally long series, cut where any value is missing."""
    runs = [r for r in runs if r]
    if not runs:
        return []
    out = []
    for values in zip(*runs):
        if any(v is None for v in values):
            break
        out.append(statistics.fmean(values))
    return out


# ---------------------------------------------------------------- drawing helpers
def _figure(section: Section, label: str, panels: int, *, ncols: int | None = None,
            panel_size: tuple[float, float] = (5.4, 4.4), accuracy: bool = True, wide_first: bool = False):
    """A figure with its own Agg canvas (the renderer the labels are measured with), `panels` axes in a grid of
    `ncols` columns, and a title naming the model, the dataset and (for accuracy figures) the split.
    `wide_first`: the first panel alone in a top row as wide as the figure and 1.6 times as tall, the others in a
    row below it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = panel_size
    wide_first = wide_first and panels > 1
    ncols = panels - 1 if wide_first else ncols or panels
    nrows = math.ceil(panels / ncols)
    size = ((1.25 * width * max(ncols, 2), 2.6 * height) if wide_first else (width * ncols, height * nrows))
    # drawn at the dpi it is saved at: text extents do not scale exactly with dpi, and labels are measured once
    figure = Figure(figsize=(size[0] + 1.2, size[1] + 0.3), dpi=DPI, layout="constrained", label=label)
    FigureCanvasAgg(figure)
    if wide_first:
        grid = figure.add_gridspec(2, ncols, height_ratios=(1.6, 1))
        axes = [figure.add_subplot(grid[0, :])] + [figure.add_subplot(grid[1, i]) for i in range(ncols)]
    else:
        grid = figure.subplots(nrows, ncols, squeeze=False).ravel()
        for ax in grid[panels:]:
            figure.delaxes(ax)
        axes = list(grid[:panels])
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.margins(0.08)  # room for labels beside the outermost points
    title = f"{section.model} × {section.dataset}" + (" (synthetic data)" if section.synthetic else "")
    title += f", accuracy on the {split_text(section)}" if accuracy else ""
    figure.suptitle(f"{title}: {label}", fontsize=12)
    return figure, axes


def _errorbar(ax, points: list[tuple[float, float | None, float | None]], color, label: str, *, scale: float,
              linestyle: str = "-", hollow: bool = False) -> bool:
    """A line through the points, with ± sd bars where a point has one; whether any bar was drawn."""
    points = [p for p in points if p[1] is not None]
    if not points:
        return False
    errors = [scale * p[2] if p[2] is not None else 0.0 for p in points]
    ax.errorbar([p[0] for p in points], [scale * p[1] for p in points], yerr=errors if any(errors) else None,
                color=color, marker="o", markersize=4, linestyle=linestyle, capsize=3, label=label,
                markerfacecolor="none" if hollow else color)
    return any(errors)


def dense_styles(section: Section) -> dict[str, dict[str, Any]]:
    """Line style per dense label: the plain dense row black dashed, each control its own grey and dash."""
    styles = {r.strategy: {"color": "black", "linestyle": "--"} for r in section.rows if r.is_plain_dense}
    controls = sorted({r.strategy for r in section.rows if r.is_control})
    for i, label in enumerate(controls):
        color, dash = CONTROL_STYLES[i % len(CONTROL_STYLES)]
        styles[label] = {"color": color, "linestyle": dash}
    return styles


def _dense_lines(ax, rows: Sequence[Row], metric: str, styles: dict[str, dict[str, Any]], *, scale: float,
                 controls: bool = True) -> None:
    """Horizontal lines: the dense row (black dashed) and each fine-tuned control (its own grey)."""
    for row in rows:
        if not row.is_dense or (row.is_control and not controls) or row.mean(metric) is None:
            continue
        ax.axhline(scale * row.mean(metric), linewidth=1, **styles.get(row.strategy, {"color": "0.5"}),
                   label=f"{row.strategy} ({'as loaded' if row.is_plain_dense else 'fine-tuned control'})")


def _point(ax, x: float, row: Row, colors: dict[str, Any], *, star: bool, shapes: set[str],
           text: str | None = None) -> Label:
    """A row's mark: ★ where the table has ★ (`star`), ◆ another dense row, × not eligible, ● pruned; hollow
    when timed while busy; its gid names the shape ("star", "dense", "ineligible", "pruned"). Returns its label
    (what was asked, or the dense row's name) in its colour."""
    color = colors.get(row.strategy, "black")
    y = 100 * row.mean("map50_95")
    hollow = row.noisy
    if star:
        shapes.add("star")
        ax.scatter(x, y, marker="*", s=170, color=color, edgecolors="black", linewidths=0.5, zorder=3,
                   facecolors="none" if hollow else color, gid="star")
    elif row.is_dense:
        shapes.add("diamond")
        ax.scatter(x, y, marker="D", s=40, color=color, edgecolors="black", linewidths=0.5, zorder=3,
                   facecolors="none" if hollow else color, gid="dense")
    elif not row.eligible:
        shapes.add("ineligible")
        ax.scatter(x, y, marker="x", s=45, color=color, zorder=3, gid="ineligible")
    else:
        shapes.add("pruned")
        ax.scatter(x, y, marker="o", s=45, zorder=3, edgecolors=color if hollow else "black",
                   facecolors="none" if hollow else color, linewidths=1.2 if hollow else 0.4, gid="pruned")
    if hollow:
        shapes.add("busy")
    if text is None:
        text = row.strategy if row.is_dense else size_label(row.amount, row.target)
    return Label(ax, x, y, text, color=_text_color(color))


def _text_color(color) -> Any:
    """Light greys are too faint for text: write them darker."""
    if isinstance(color, str) and re.fullmatch(r"0?\.\d+", color):
        return str(min(float(color), 0.4))
    return color


def _percent_axis(ax) -> None:
    ax.set_xlim(left=0)
    ax.xaxis.set_major_formatter("{x:.0f}%")


def _handles(axes) -> list[Any]:
    """The labelled artists of all panels, one per label."""
    seen, out = set(), []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in seen:
                seen.add(label)
                out.append(handle)
    return out


def _strategy_handles(colors: dict[str, Any], strategies: set[str]) -> list[Any]:
    """A colour swatch per strategy: the dense row, the controls, then the pruned strategies."""
    from matplotlib.patches import Patch

    dense = sorted(s for s in strategies if colors.get(s) == "black")
    return [Patch(facecolor=colors.get(s, "black"), edgecolor="black", linewidth=0.4, label=s)
            for s in dense + sorted(strategies - set(dense))]


def _shape_handles(shapes: set[str]) -> list[Any]:
    from matplotlib.lines import Line2D

    table = (("star", "*", STAR_LABEL, 11, "0.5"), ("diamond", "D", DENSE_ROW_LABEL, 6, "0.5"),
             ("pruned", "o", PRUNED_LABEL, 7, "0.5"), ("busy", "o", BUSY_LABEL, 7, "none"),
             ("ineligible", "x", INELIGIBLE_LABEL, 7, "0.3"), ("square", "s", SQUARE_LABEL, 7, "0.55"))
    return [Line2D([], [], color="0.3", marker=marker, markerfacecolor=face, linestyle="", markersize=size,
                   label=label) for key, marker, label, size, face in table if key in shapes]


def _figure_legend(figure, handles: list[Any], *, errorbars: bool = False) -> None:
    """One legend for all panels, below them: outside every panel's data."""
    from matplotlib.lines import Line2D

    if errorbars:
        handles = handles + [Line2D([], [], color="0.3", marker="|", markersize=10, linestyle="",
                                    label=ERRORBAR_LABEL)]
    if handles:
        figure.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)), fontsize=7,
                      frameon=False)


def strategy_colors(section: Section) -> dict[str, Any]:
    """The plain dense row black, each control its own grey, each pruned strategy a tab10 colour."""
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors
    pruned = sorted({r.strategy for r in section.pruned})
    colors: dict[str, Any] = {label: style["color"] for label, style in dense_styles(section).items()}
    colors.update({s: palette[i % len(palette)] for i, s in enumerate(pruned)})
    return colors


def _amount_colors(keys) -> dict[Any, Any]:
    from matplotlib import colormaps

    ordered = sorted(set(keys))
    cmap = colormaps["viridis"]
    return {k: cmap(0.85 * i / max(1, len(ordered) - 1)) for i, k in enumerate(ordered)}


def _short(device: str | None) -> str:
    return re.sub(r"\s*\(R\)|\s*CPU @.*?(?=\s\(|$)", "", device or "")


def _save(figure, stem: Path) -> list[Path]:
    from prunebench.util.atomic import atomic_write_with

    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    from matplotlib import rc_context

    for suffix, extra in ((".png", {"dpi": DPI}), (".svg", {"metadata": {"Date": None}})):
        path = stem.parent / (stem.name + suffix)  # names may hold dots
        # A fixed salt makes the SVG's element ids (random by default) the same on every render, so
        # re-rendering unchanged records leaves the published files unchanged.
        with rc_context({"svg.hashsalt": stem.name}):
            atomic_write_with(path, lambda f: figure.savefig(f, format=suffix[1:], **extra))  # noqa: B023
        paths.append(path)
    return paths
