"""Records -> figures (PNG and SVG), per model x dataset:

- accuracy (mAP50-95, mAP50) vs amount, a line per strategy, the dense baseline as a reference line;
- accuracy vs latency (per device) and vs GFLOPs, with the Pareto frontier;
- precision / recall / F1 vs confidence, a line per amount, one figure per strategy;
- fine-tuning loss per epoch, a line per amount, a panel per strategy;
- model size (fp16 gzip MB) and parameters (all and non-zero) vs amount.

A figure whose data no record holds is skipped. Figures are `matplotlib.figure.Figure` objects
saved directly (Agg for PNG), so the user's pyplot backend and rcParams are left alone.

Record details read (see prunebench/results.py):
- `details.curves`: {"confidence": [...], "precision": [...], "recall": [...], "f1": [...]}, each
  a list of numbers or a list per class (averaged); Ultralytics' own `curves_results` layout
  ({"Precision-Confidence(B)": [x, y, ...], ...}) is read too.
- `details.loss_curve`: one item per epoch, a number (the total loss) or a dict of named
  losses ("train/box_loss", ..., "val/box_loss", ...); train and val totals are the sums of the
  loss terms (keys with "loss" in them) of each.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Sequence

from prunebench.report.rows import (DENSE, LATENCY_TIE, Entry, entries, figure_prefix, mean_std, pareto_front,
                                    slug)

Point = tuple[float, float, float | None]  # x, mean y, std y


def write_plots(records: list[dict], out_dir: Path) -> list[Path]:
    """Draw every figure the records have data for into `out_dir`; return the files written (PNG, SVG)."""
    out_dir = Path(out_dir)
    sections: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in entries(records):
        if entry.ok:
            sections[(entry.model, entry.dataset)].append(entry)
    written: list[Path] = []
    for (model, dataset), cells in sorted(sections.items()):
        colors = _strategy_colors(cells)
        figures: list[tuple[str, Any]] = [
            ("accuracy_vs_amount", _accuracy_vs_amount(cells, colors)),
            ("accuracy_vs_cost", _accuracy_vs_cost(cells, colors)),
            ("model_size", _model_size(cells, colors)),
            ("loss_curves", _loss_curves(cells)),
        ]
        for strategy in sorted({c.strategy for c in cells if c.strategy != DENSE}):
            figures.append((f"pr_curves_{slug(strategy)}", _confidence_curves(cells, strategy)))
        for name, figure in figures:
            if figure is None:
                continue
            title = f"{model} × {dataset}" + (" (synthetic data)" if _synthetic(cells) else "")
            figure.suptitle(f"{title}: {figure.get_label()}", fontsize=12)
            written += _save(figure, out_dir / f"{figure_prefix(model, dataset)}{name}")
    return written


# ---------------------------------------------------------------- figures
def _accuracy_vs_amount(cells: list[Entry], colors: dict[str, Any]):
    metrics = [("map50_95", "mAP50-95 (%)"), ("map50", "mAP50 (%)")]
    lines = {metric: _pruned_points(cells, metric) for metric, _ in metrics}
    if not any(lines.values()):
        return None
    figure, axes = _figure("accuracy vs amount removed", len(metrics))
    for ax, (metric, label) in zip(axes, metrics):
        _dense_reference(ax, cells, metric, scale=100)
        for strategy, points in lines[metric].items():
            _line(ax, points, colors[strategy], strategy, scale=100)
        ax.set(xlabel="amount removed (%)", ylabel=label, title=label.split(" ")[0])
        _amount_axis(ax)
        ax.legend(fontsize=8)
    return figure


def _accuracy_vs_cost(cells: list[Entry], colors: dict[str, Any]):
    """A panel per device for latency (times are only comparable on one device), one for GFLOPs."""
    panels = [(f"latency on {_short(device)}", "latency, batch 1 (ms)", "latency_ms",
               [c for c in cells if c.device == device]) for device in sorted({c.device for c in cells})]
    panels.append(("GFLOPs", "GFLOPs (batch 1)", "gflops", cells))
    points_per_panel = []
    for title, label, cost, group in panels:
        points = _mean_by(group, lambda c: (c.strategy, c.amount), [cost, "map50_95"])
        points = {k: v for k, v in points.items() if None not in v}
        if any(strategy != DENSE for strategy, _ in points):
            points_per_panel.append((title, label, cost, points))
    if not points_per_panel:
        return None
    figure, axes = _figure("mAP50-95 vs cost, Pareto frontier", len(points_per_panel))
    for ax, (title, label, cost, points) in zip(axes, points_per_panel):
        for (strategy, amount), (x, y) in points.items():
            dense = strategy == DENSE
            ax.scatter(x, 100 * y, color=colors[strategy], marker="*" if dense else "o", s=160 if dense else 45,
                       zorder=3, edgecolors="black", linewidths=0.4)
            ax.annotate(f"{amount * 100:.0f}%", (x, 100 * y), textcoords="offset points", xytext=(5, 4), fontsize=7)
        tie = LATENCY_TIE if cost == "latency_ms" else 0.0  # FLOPs are counted, not timed: no noise
        frontier = sorted(p for p, on in zip(points.values(), pareto_front(list(points.values()), tie)) if on)
        # The best accuracy reachable at each cost: a staircase through the frontier points.
        ax.step([x for x, _ in frontier], [100 * y for _, y in frontier], where="post", color="0.3",
                linestyle="--", linewidth=1, label="Pareto frontier")
        ax.set(xlabel=label, ylabel="mAP50-95 (%)", title=f"vs {title}")
        _legend(ax, colors, sorted({strategy for strategy, _ in points}, key=lambda s: (s != DENSE, s)))
    return figure


def _model_size(cells: list[Entry], colors: dict[str, Any]):
    lines = {metric: _pruned_points(cells, metric) for metric in ("size_fp16_gzip_bytes", "params", "nonzero_params")}
    if not any(lines.values()):
        return None
    figure, (size_ax, params_ax) = _figure("model size vs amount removed", 2)
    _dense_reference(size_ax, cells, "size_fp16_gzip_bytes", scale=1e-6)
    for strategy, points in lines["size_fp16_gzip_bytes"].items():
        _line(size_ax, points, colors[strategy], strategy, scale=1e-6)
    size_ax.set(xlabel="amount removed (%)", ylabel="fp16 state dict, gzip -9 (MB)", title="size on disk")
    _dense_reference(params_ax, cells, "params", scale=1e-6)
    for strategy, points in lines["params"].items():
        _line(params_ax, points, colors[strategy], f"{strategy}: all", scale=1e-6)
    for strategy, points in lines["nonzero_params"].items():
        _line(params_ax, points, colors[strategy], f"{strategy}: non-zero", scale=1e-6, linestyle=":")
    params_ax.set(xlabel="amount removed (%)", ylabel="parameters (millions)", title="parameters")
    for ax in (size_ax, params_ax):
        _amount_axis(ax)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
    return figure


def _loss_curves(cells: list[Entry]):
    by_strategy: dict[str, dict[float, list[list[tuple[float | None, float | None]]]]] = defaultdict(
        lambda: defaultdict(list))
    for cell in cells:
        losses = _loss_totals(cell.record)
        if losses and cell.strategy != DENSE:
            by_strategy[cell.strategy][cell.amount].append(losses)
    if not by_strategy:
        return None
    figure, axes = _figure("fine-tuning loss per epoch", len(by_strategy))
    for ax, (strategy, by_amount) in zip(axes, sorted(by_strategy.items())):
        colors = _amount_colors(by_amount)
        for amount, runs in sorted(by_amount.items()):
            for index, label in ((0, "train"), (1, "val")):
                series = _mean_series([[epoch[index] for epoch in run] for run in runs])
                if series:
                    ax.plot(range(1, len(series) + 1), series, color=colors[amount], marker="o", markersize=3,
                            linestyle="-" if label == "train" else "--",
                            label=f"{amount * 100:.0f}% ({label})")
        ax.set(xlabel="epoch", ylabel="loss (box + cls + dfl)", title=strategy)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=7)
    return figure


def _confidence_curves(cells: list[Entry], strategy: str):
    names = ("precision", "recall", "f1")
    wanted = [c for c in cells if c.strategy in (strategy, DENSE)]
    curves: dict[float | None, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for cell in wanted:
        for name in names:
            if (curve := _curve(cell.record, name)) is not None:
                curves[None if cell.strategy == DENSE else cell.amount][name].append(curve)
    if not any(amount is not None for amount in curves):
        return None
    figure, axes = _figure(f"{strategy}: precision, recall and F1 vs confidence", 3)
    colors = _amount_colors([a for a in curves if a is not None])
    for ax, name in zip(axes, names):
        for amount in sorted(curves, key=lambda a: -1 if a is None else a):
            runs = curves[amount][name]
            if not runs:
                continue
            x = runs[0][0]
            y = _mean_series([r[1] for r in runs if len(r[1]) == len(x)])
            style = dict(color="black", linestyle="--", label="dense") if amount is None else \
                dict(color=colors[amount], label=f"{amount * 100:.0f}% removed")
            ax.plot(x, [100 * v for v in y], linewidth=1.4, **style)
        ax.set(xlabel="confidence threshold", ylabel=f"{'F1' if name == 'f1' else name} (%)",
               title="F1" if name == "f1" else name, xlim=(0, 1), ylim=(0, 101))
        ax.legend(fontsize=7)
    return figure


# ---------------------------------------------------------------- data helpers
def _mean_by(cells: list[Entry], key: Callable[[Entry], Any], metrics: Sequence[str]) -> dict[Any, tuple]:
    groups = defaultdict(list)
    for cell in cells:
        groups[key(cell)].append(cell)
    return {k: tuple(mean_std([v for c in members if (v := c.metric(m)) is not None])[0] for m in metrics)
            for k, members in groups.items()}


def _pruned_points(cells: list[Entry], metric: str) -> dict[str, list[Point]]:
    """strategy -> [(amount, mean, std)] over seeds and devices, pruned cells only."""
    groups = defaultdict(list)
    for cell in cells:
        if cell.strategy != DENSE and (value := cell.metric(metric)) is not None:
            groups[(cell.strategy, cell.amount)].append(value)
    points: dict[str, list[Point]] = defaultdict(list)
    for (strategy, amount), values in sorted(groups.items()):
        points[strategy].append((amount, *mean_std(values)))
    return dict(points)


def _loss_totals(record: dict[str, Any]) -> list[tuple[float | None, float | None]]:
    """Per epoch: (train total, val total), either None when not recorded."""
    totals = []
    for item in (record.get("details") or {}).get("loss_curve") or []:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            totals.append((float(item), None))
        elif isinstance(item, dict):
            terms = {k: v for k, v in item.items() if "loss" in k and isinstance(v, (int, float))}
            val = [v for k, v in terms.items() if k.startswith("val")]
            train = [v for k, v in terms.items() if not k.startswith("val")]
            totals.append((sum(train) if train else None, sum(val) if val else None))
    return totals


def _curve(record: dict[str, Any], name: str) -> tuple[list[float], list[float]] | None:
    """(confidence, values) of one of precision / recall / f1, averaged over classes when per class."""
    curves = (record.get("details") or {}).get("curves")
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


def _synthetic(cells: list[Entry]) -> bool:
    return any(((c.record.get("spec") or {}).get("dataset") or {}).get("synthetic") for c in cells)


# ---------------------------------------------------------------- drawing helpers
def _figure(label: str, panels: int):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.2 * panels, 4.2), layout="constrained", label=label)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return figure, list(axes)


def _line(ax, points: list[Point], color, label: str, *, scale: float, linestyle: str = "-") -> None:
    xs = [100 * p[0] for p in points]
    ys = [scale * p[1] for p in points]
    errors = [scale * p[2] if p[2] is not None else 0.0 for p in points]
    ax.errorbar(xs, ys, yerr=errors if any(errors) else None, color=color, marker="o", markersize=4,
                linestyle=linestyle, capsize=3, label=label)


def _dense_reference(ax, cells: list[Entry], metric: str, *, scale: float) -> None:
    values = [v for c in cells if c.strategy == DENSE and (v := c.metric(metric)) is not None]
    if values:
        ax.axhline(scale * statistics.fmean(values), color="black", linestyle="--", linewidth=1,
                   label="dense baseline")


def _amount_axis(ax) -> None:
    ax.set_xlim(left=0)
    ax.xaxis.set_major_formatter("{x:.0f}%")


def _legend(ax, colors: dict[str, Any], strategies: list[str]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colors[s], marker="*" if s == DENSE else "o", linestyle="", markersize=8,
                      label=s) for s in strategies]
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], fontsize=7)


def _strategy_colors(cells: list[Entry]) -> dict[str, Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors
    strategies = sorted({c.strategy for c in cells if c.strategy != DENSE})
    return {DENSE: "black", **{s: palette[i % len(palette)] for i, s in enumerate(strategies)}}


def _amount_colors(amounts) -> dict[float, Any]:
    from matplotlib import colormaps

    ordered = sorted(amounts)
    cmap = colormaps["viridis"]
    return {a: cmap(0.85 * i / max(1, len(ordered) - 1)) for i, a in enumerate(ordered)}


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
