"""Records -> figures (PNG and SVG), per model x dataset under study, drawn from the row model
(`prunebench.report.rows`), so every mark here is the table's:

- accuracy (mAP50-95, mAP50) vs the amount asked, a line per strategy, the dense row and the fine-tuned
  control(s) as reference lines, and mAP50-95 before fine-tuning as dotted lines;
- accuracy vs cost: latency per device (rows placed as for the table's ★; the frontier is the ★ rows, busy rows
  hollow, rows at about 0 mAP crossed), and the costs actually achieved, GFLOPs and non-zero params, with the
  dense models of every model on the dataset (reference models included) as a named frontier line;
- precision / recall / F1 vs confidence, one figure per strategy, a line per row, the legend outside the panels;
- fine-tuning loss per epoch, a panel per strategy, each line saying whether it is one seed or a mean;
- model size (fp16 gzip MB) and parameters (all and non-zero) vs the amount asked.

A figure whose data no record holds is skipped. Figures are `matplotlib.figure.Figure` objects saved directly
(Agg for PNG), so the user's pyplot backend and rcParams are left alone; matplotlib is imported only here, and
only when a figure is drawn.

Record details read (see prunebench/results.py):
- `details.curves`: {"confidence": [...], "precision": [...], "recall": [...], "f1": [...]}, each a list of
  numbers or a list per class (averaged); Ultralytics' own `curves_results` layout
  ({"Precision-Confidence(B)": [x, y, ...], ...}) is read too.
- `details.loss_curve`: one item per epoch, a number (the total loss) or a dict of named losses ("box_loss",
  "train/box_loss", ..., "val/box_loss", ...); train and val totals are the sums of the loss terms (keys with
  "loss" in them) of each.
- `details.metrics_before_finetune`: accuracy right after pruning.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

from prunebench.records.record import Record
from prunebench.report.rows import (Row, Section, build_sections, figure_prefix, pareto_front, size_label, slug,
                                    torch_deployment)

FRONTIER_LABEL = "Pareto frontier (★ in the table)"
DENSE_FAMILY_LABEL = "dense models on this dataset (frontier)"
BUSY_LABEL = "hollow: timed while the machine was busy"
INELIGIBLE_LABEL = "×: about 0 mAP, not eligible for the frontier"
SAME_X = 0.005  # points whose x differ by less than 0.5 % share one annotation


def write_plots(records: list[Record], out_dir: Path) -> list[Path]:
    """Draw every figure the records have data for into `out_dir`; return the files written (PNG, SVG)."""
    out_dir = Path(out_dir)
    sections = build_sections(records)
    written: list[Path] = []
    for section in sections:
        if not any(row.ok for row in section.pruned):
            continue  # reference models and sections whose pruned cells all failed: nothing of their own to draw
        colors = strategy_colors(section)
        figures: list[tuple[str, Any]] = [
            ("accuracy_vs_amount", accuracy_vs_amount(section, colors)),
            ("accuracy_vs_cost", accuracy_vs_cost(section, sections, colors)),
            ("model_size", model_size(section, colors)),
            ("loss_curves", loss_curves(section, colors)),
        ]
        for strategy in sorted({row.strategy for row in section.pruned if row.ok}):
            figures.append((f"pr_curves_{slug(strategy)}", confidence_curves(section, strategy)))
        for name, figure in figures:
            if figure is None:
                continue
            title = f"{section.model} × {section.dataset}" + (" (synthetic data)" if section.synthetic else "")
            figure.suptitle(f"{title}: {figure.get_label()}", fontsize=12)
            written += _save(figure, out_dir / f"{figure_prefix(section.model, section.dataset)}{name}")
    return written


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


def _with_amount(rows: Sequence[Row]) -> list[Row]:
    """Rows asked for an amount (speed-up targets have none), by amount."""
    return sorted((r for r in rows if r.amount is not None), key=lambda r: r.amount)


def seeds_text(row: Row) -> str:
    """"mean of 2 seeds" or "seed 0": what a line drawn from this row is."""
    return f"mean of {len(row.cells)} seeds" if len(row.cells) > 1 else f"seed {row.first.seed}"


# ---------------------------------------------------------------- figures
def accuracy_vs_amount(section: Section, colors: dict[str, Any]):
    """mAP50-95 and mAP50 vs the amount asked, a line per strategy (mean ± std over seeds); dotted: before
    fine-tuning; horizontal: the dense row and the controls."""
    rows = distinct_rows(section)
    lines = {s: _with_amount(members) for s, members in _by_strategy(rows).items()}
    lines = {s: members for s, members in lines.items() if members}
    if not lines:
        return None
    figure, axes = _figure("accuracy vs amount asked", 2)
    for ax, (metric, label) in zip(axes, (("map50_95", "mAP50-95 (%)"), ("map50", "mAP50 (%)"))):
        _dense_lines(ax, rows, metric, scale=100)
        for strategy, members in lines.items():
            _errorbar(ax, [(100 * r.amount, r.mean(metric), r.stats.get(metric, (None, None))[1]) for r in members],
                      colors[strategy], strategy, scale=100)
            before = [(100 * r.amount, r.before.get(metric), None) for r in members if r.before.get(metric) is not None]
            if before:
                _errorbar(ax, before, colors[strategy], f"{strategy}: before fine-tuning", scale=100, linestyle=":",
                          hollow=True)
        ax.set(xlabel="amount asked (% of weights or of channels: not comparable across kinds)", ylabel=label,
               title=label.split(" ")[0])
        _percent_axis(ax)
        ax.legend(fontsize=7)
    return figure


def accuracy_vs_cost(section: Section, sections: Sequence[Section], colors: dict[str, Any]):
    """A latency panel per device (times compare on one device only) with the table's Pareto frontier; panels for
    the achieved GFLOPs and non-zero params with every dense model on the dataset as a frontier line."""
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
    figure, axes = _figure("mAP50-95 vs cost", len(figure_panels))
    for ax, (kind, device, panel_rows) in zip(axes, figure_panels):
        if kind == "latency":
            # the other models' dense rows timed on this device: what a smaller or newer dense model runs at
            others = [p for p in dense_family(section, sections, "latency", device=device)
                      if not p[0].startswith(f"{section.model} ")]
            _latency_panel(ax, device, panel_rows, colors, others)
        else:
            _achieved_cost_panel(ax, kind, panel_rows, section, sections, colors)
    return figure


def _latency_panel(ax, device: str, rows: list[Row], colors: dict[str, Any],
                   others: list[tuple[str, float, float]]) -> None:
    """Rows at their placed latency (dense latency / paired speed-up: the table's rule); the frontier through the
    rows the table stars; the other models' dense rows as their own named frontier."""
    _dense_family(ax, others, 1.0)
    for row in rows:
        _point(ax, row.placed_latency, row, colors, hollow=row.noisy)
    home = torch_deployment(rows)
    _annotate_groups(ax, [(r.placed_latency, 100 * r.mean("map50_95"), _deployed_label(r, home), r.strategy)
                          for r in rows if not r.is_dense or r.deployment != home], "latency")
    frontier = frontier_points(rows)
    if frontier:
        ax.step([x for x, _ in frontier], [100 * y for _, y in frontier], where="post", color="0.3",
                linestyle="--", linewidth=1, label=FRONTIER_LABEL)
    ax.set(xlabel="latency, batch 1 (ms): dense latency / paired speed-up", ylabel="mAP50-95 (%)",
           title=f"vs latency on {_short(device)}")
    _legend(ax, colors, rows, busy=any(r.noisy for r in rows), ineligible=any(not r.eligible for r in rows))


def _deployed_label(row: Row, home) -> str:
    """"2x", "2x openvino-int8", "dense torch @320": a point's label on the latency panel."""
    if row.is_dense:  # the group's name (the strategy label) is shown with it already
        return row.deploy_label
    size = size_label(row.amount, row.target)
    return size if row.deployment == home else f"{size} {row.deploy_label}"


def frontier_points(rows: Sequence[Row]) -> list[tuple[float, float]]:
    """(placed latency, mAP50-95) of the rows the table stars, by latency: the frontier the latency panel draws."""
    return sorted((r.placed_latency, r.mean("map50_95")) for r in rows if r.pareto)


def _achieved_cost_panel(ax, metric: str, rows: list[Row], section: Section, sections: Sequence[Section],
                         colors: dict[str, Any]) -> None:
    scale, xlabel, title = {"gflops": (1.0, "GFLOPs achieved (batch 1)", "vs GFLOPs"),
                            "nonzero_params": (1e-6, "non-zero parameters achieved (millions)",
                                               "vs non-zero params")}[metric]
    pruned = [r for r in rows if not r.is_dense]
    for row in pruned:
        _point(ax, scale * row.mean(metric), row, colors, hollow=False)
    _annotate_groups(ax, [(scale * r.mean(metric), 100 * r.mean("map50_95"), size_label(r.amount, r.target),
                           r.strategy) for r in pruned], "GFLOPs" if metric == "gflops" else "non-zero params")
    _dense_family(ax, dense_family(section, sections, metric), scale)
    ax.set(xlabel=xlabel, ylabel="mAP50-95 (%)", title=title)
    _legend(ax, colors, pruned, busy=False, ineligible=any(not r.eligible for r in pruned))


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


def _dense_family(ax, family: list[tuple[str, float, float]], scale: float) -> None:
    if not family:
        return
    xs, ys = [scale * x for _, x, _ in family], [100 * y for _, _, y in family]
    ax.scatter(xs, ys, marker="s", s=60, color="0.55", edgecolors="black", linewidths=0.5, zorder=4)
    for (name, _, _), x, y in zip(family, xs, ys):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(-6, -11), ha="right", fontsize=7, color="0.25")
    on_front = [(x, y) for (x, y), on in zip(zip(xs, ys), pareto_front(list(zip(xs, ys)))) if on]
    ax.step([x for x, _ in on_front], [y for _, y in on_front], where="post", color="0.55", linewidth=1.2,
            label=DENSE_FAMILY_LABEL)


def model_size(section: Section, colors: dict[str, Any]):
    rows = distinct_rows(section)
    lines = {s: _with_amount(members) for s, members in _by_strategy(rows).items()}
    lines = {s: members for s, members in lines.items() if members}
    if not any(r.mean(m) is not None for members in lines.values() for r in members
               for m in ("size_fp16_gzip_bytes", "params", "nonzero_params")):
        return None
    figure, (size_ax, params_ax) = _figure("model size vs amount asked", 2)
    _dense_lines(size_ax, rows, "size_fp16_gzip_bytes", scale=1e-6, controls=False)
    _dense_lines(params_ax, rows, "params", scale=1e-6, controls=False)
    for strategy, members in lines.items():
        _errorbar(size_ax, _means(members, "size_fp16_gzip_bytes"), colors[strategy], strategy, scale=1e-6)
        _errorbar(params_ax, _means(members, "params"), colors[strategy], f"{strategy}: all", scale=1e-6)
        _errorbar(params_ax, _means(members, "nonzero_params"), colors[strategy], f"{strategy}: non-zero",
                  scale=1e-6, linestyle=":")
    size_ax.set(xlabel="amount asked (%)", ylabel="fp16 state dict, gzip -9 (MB)", title="size on disk")
    params_ax.set(xlabel="amount asked (%)", ylabel="parameters (millions)", title="parameters")
    for ax in (size_ax, params_ax):
        _percent_axis(ax)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
    return figure


def loss_curves(section: Section, colors: dict[str, Any]):
    """A panel per fine-tuned strategy (the controls included), a line per row: the mean over its seeds'
    per-epoch totals, and its label says so ("mean of 2 seeds") or names the one seed."""
    panels: dict[str, list[tuple[Row, list[float], list[float]]]] = defaultdict(list)
    for row in distinct_rows(section):
        runs = [_loss_totals(c.record) for c in row.cells]
        train = _mean_series([[t for t, _ in run] for run in runs])
        val = _mean_series([[v for _, v in run] for run in runs])
        if train or val:
            panels[row.strategy].append((row, train, val))
    if not any(not rows[0][0].is_dense for rows in panels.values()):
        return None
    figure, axes = _figure("fine-tuning loss per epoch", len(panels))
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
        ax.legend(fontsize=7)
    return figure


def confidence_curves(section: Section, strategy: str):
    """Precision, recall and F1 vs confidence for one strategy's rows, the dense rows dashed; one legend, outside
    the panels, so no curve is hidden under it."""
    names = ("precision", "recall", "f1")
    rows = [r for r in distinct_rows(section) if r.strategy == strategy or r.is_dense]
    curves = {id(row): {name: _row_curve(row, name) for name in names} for row in rows}
    if not any(any(curves[id(r)].values()) for r in rows if not r.is_dense):
        return None
    figure, axes = _figure(f"{strategy}: precision, recall and F1 vs confidence", 3)
    shades = _amount_colors([_size_key(r) for r in rows if not r.is_dense])
    for ax, name in zip(axes, names):
        for row in rows:
            curve = curves[id(row)][name]
            if curve is None:
                continue
            if row.is_dense:
                style = dict(color="black" if row.is_plain_dense else "0.5",
                             linestyle="--" if row.is_plain_dense else "-.", label=row.strategy)
            else:
                style = dict(color=shades[_size_key(row)],
                             label=f"{size_label(row.amount, row.target)} asked ({seeds_text(row)})")
            ax.plot(curve[0], [100 * v for v in curve[1]], linewidth=1.4, **style)
        ax.set(xlabel="confidence threshold", ylabel=f"{'F1' if name == 'f1' else name} (%)",
               title="F1" if name == "f1" else name, xlim=(0, 1), ylim=(0, 101))
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right upper", fontsize=7)
    return figure


# ---------------------------------------------------------------- data helpers
def _means(rows: Sequence[Row], metric: str) -> list[tuple[float, float | None, None]]:
    """(amount %, mean) of the rows that have the metric."""
    return [(100 * r.amount, r.mean(metric), None) for r in rows if r.mean(metric) is not None]


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
def _figure(label: str, panels: int):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.4 * panels + 1.2, 4.4), layout="constrained", label=label)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return figure, list(axes)


def _errorbar(ax, points: list[tuple[float, float | None, float | None]], color, label: str, *, scale: float,
              linestyle: str = "-", hollow: bool = False) -> None:
    points = [p for p in points if p[1] is not None]
    if not points:
        return
    errors = [scale * p[2] if p[2] is not None else 0.0 for p in points]
    ax.errorbar([p[0] for p in points], [scale * p[1] for p in points], yerr=errors if any(errors) else None,
                color=color, marker="o", markersize=4, linestyle=linestyle, capsize=3, label=label,
                markerfacecolor="none" if hollow else color)


def _dense_lines(ax, rows: Sequence[Row], metric: str, *, scale: float, controls: bool = True) -> None:
    """Horizontal lines: the dense row (black dashed) and each fine-tuned control (grey dash-dot)."""
    for row in rows:
        if not row.is_dense or (row.is_control and not controls) or row.mean(metric) is None:
            continue
        plain = row.is_plain_dense
        ax.axhline(scale * row.mean(metric), color="black" if plain else "0.5", linestyle="--" if plain else "-.",
                   linewidth=1, label=f"{row.strategy} ({'as loaded' if plain else 'fine-tuned control'})")


def _point(ax, x: float, row: Row, colors: dict[str, Any], *, hollow: bool) -> None:
    color = colors.get(row.strategy, "black")
    y = 100 * row.mean("map50_95")
    if row.is_dense:
        ax.scatter(x, y, marker="*", s=170, color=color, edgecolors="black", linewidths=0.5, zorder=3,
                   facecolors="none" if hollow else color)
    elif not row.eligible:
        ax.scatter(x, y, marker="x", s=45, color=color, zorder=3)
    else:
        ax.scatter(x, y, marker="o", s=45, zorder=3, edgecolors=color if hollow else "black",
                   facecolors="none" if hollow else color, linewidths=1.2 if hollow else 0.4)


def _annotate_groups(ax, points: list[tuple[float, float, str, str]], what: str) -> None:
    """Label each point with what was asked; points at the same x (within 0.5 %) get ONE label at the topmost,
    one line per point from top to bottom, instead of labels drawn over each other."""
    groups: list[list[tuple[float, float, str, str]]] = []
    for point in sorted(points, key=lambda p: (p[0], -p[1])):
        if groups and abs(point[0] - groups[-1][0][0]) <= SAME_X * max(abs(groups[-1][0][0]), 1e-12):
            groups[-1].append(point)
        else:
            groups.append([point])
    right_edge = max((p[0] for p in points), default=0.0)
    for group in groups:
        group.sort(key=lambda p: -p[1])
        x, y = group[0][0], group[0][1]
        left = x >= 0.8 * right_edge and len(groups) > 1  # near the right edge: write towards the inside
        place = dict(textcoords="offset points", xytext=(-6 if left else 5, 4), ha="right" if left else "left")
        if len(group) == 1:
            ax.annotate(group[0][2], (x, y), fontsize=7, **place)
        else:
            text = f"same {what}, top to bottom:\n" + "\n".join(f"{s} {label}" for _, _, label, s in group)
            ax.annotate(text, (x, y), fontsize=6, va="bottom", **place)


def _percent_axis(ax) -> None:
    ax.set_xlim(left=0)
    ax.xaxis.set_major_formatter("{x:.0f}%")


def _legend(ax, colors: dict[str, Any], rows: Sequence[Row], *, busy: bool, ineligible: bool) -> None:
    from matplotlib.lines import Line2D

    kinds = {r.strategy: (not r.is_plain_dense, not r.is_dense) for r in rows}  # dense, controls, then pruned
    strategies = sorted(kinds, key=lambda s: (kinds[s], s))
    handles = [Line2D([], [], color=colors.get(s, "black"), marker="o" if kinds[s][1] else "*", linestyle="",
                      markersize=8, label=s) for s in strategies]
    if busy:
        handles.append(Line2D([], [], color="0.3", marker="o", markerfacecolor="none", linestyle="",
                              markersize=7, label=BUSY_LABEL))
    if ineligible:
        handles.append(Line2D([], [], color="0.3", marker="x", linestyle="", markersize=7, label=INELIGIBLE_LABEL))
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], fontsize=7)


def strategy_colors(section: Section) -> dict[str, Any]:
    """The plain dense row black, controls grey, each pruned strategy a tab10 colour."""
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors
    pruned = sorted({r.strategy for r in section.pruned})
    colors: dict[str, Any] = {r.strategy: ("black" if r.is_plain_dense else "0.5") for r in section.rows if r.is_dense}
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
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, extra in ((".png", {"dpi": 120}), (".svg", {"metadata": {"Date": None}})):
        path = stem.parent / (stem.name + suffix)  # names may hold dots
        figure.savefig(path, **extra)
        figure.set_layout_engine("none")  # the second format reuses the layout instead of solving it again
        paths.append(path)
    return paths
