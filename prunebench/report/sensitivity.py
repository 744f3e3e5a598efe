"""The per-layer sensitivity heatmap (groups × ratios) and where leaderboards and the site show it.

Drawn from a `SensitivityMap` (prunebench.records.sensitivity) on its own Agg canvas, as the other plots are. Every
cell is written in its square (the drop in points), so the colour bar only helps the eye; rows are the groups in
layer order with their channel counts, columns the ratios.

The leaderboard and site hooks add one "Per-layer sensitivity" part with each heatmap and its caption, and nothing
at all when the results folder has no `sensitivity/` maps: every existing page renders byte for byte as before.
"""

from __future__ import annotations

import html
import math
import os
import shutil
from pathlib import Path

from prunebench.records import sensitivity as sensitivity_file
from prunebench.records.sensitivity import UNIT, SensitivityError, SensitivityMap

DPI = 120
TITLE = "Per-layer sensitivity"


def caption(value: SensitivityMap) -> str:
    return (f"{value.model} × {value.dataset}: drop in {value.split} mAP50-95 (points, 0-100) when one channel group "
            f"alone is pruned by {value.criterion.upper()} magnitude at each ratio, no fine-tuning; baseline "
            f"{100 * value.baseline_map50_95:.1f} at {value.imgsz} px. Higher = more sensitive; — = could not be "
            "pruned at that ratio.")


def draw_heatmap(value: SensitivityMap):
    """A matplotlib Figure (own Agg canvas) of the drops: one row per group, one column per ratio."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    import numpy as np

    rows, cols = len(value.groups), len(value.ratios)
    data = np.array([[math.nan if d is None else d for d in row] for row in value.drops], dtype=float)
    height = 2.4 + 0.28 * rows
    figure = Figure(figsize=(max(6.4, 3.6 + 0.9 * cols), height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    finite = data[np.isfinite(data)]
    top = max(float(finite.max()) if finite.size else 0.0, 1.0)
    # Drops below zero (pruning helped, or noise) share the scale's lower end with zero: the map is about harm.
    image = ax.imshow(np.clip(data, 0, None), aspect="auto", cmap="viridis", vmin=0, vmax=top)
    ax.set_xticks(range(cols), [f"{r:g}" for r in value.ratios])
    ax.set_yticks(range(rows), [f"{g.label} ({g.channels})" for g in value.groups], fontsize=8)
    ax.set_xlabel("fraction of the group's channels removed")
    ax.set_ylabel("group: layer type conv (channels)")
    for i in range(rows):
        for j in range(cols):
            shown = "—" if math.isnan(data[i, j]) else f"{data[i, j]:.1f}".replace("-0.0", "0.0")
            light = math.isnan(data[i, j]) or data[i, j] < 0.6 * top
            ax.text(j, i, shown, ha="center", va="center", fontsize=8, color="white" if light else "black")
    bar = figure.colorbar(image, ax=ax)
    bar.set_label(UNIT)
    ax.set_title(f"{value.model} × {value.dataset}: {value.split} mAP50-95 drop, one group pruned alone\n"
                 f"(baseline {100 * value.baseline_map50_95:.1f}, {value.imgsz} px, no fine-tuning)", fontsize=9)
    return figure


def write_heatmap(value: SensitivityMap, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_heatmap(value).savefig(path, dpi=DPI)
    return path


def _maps(results_dir: Path) -> list[tuple[Path, SensitivityMap]]:
    """(heatmap png, map) of each readable map with its heatmap in the folder; an unreadable one is skipped."""
    found = []
    for json_path, png in sensitivity_file.in_folder(results_dir):
        try:
            found.append((png, sensitivity_file.read(json_path)))
        except SensitivityError:
            continue
    return found


def leaderboard_text(results_dir: Path, out_path: Path, fmt: str) -> str:
    """The leaderboard's sensitivity part in `fmt` (github or html), images linked relative to `out_path`; "" when
    the folder has no heatmap (or the format shows no images)."""
    maps = _maps(results_dir) if fmt in ("github", "html") else []
    if not maps:
        return ""
    parts = []
    for png, value in maps:
        link = Path(os.path.relpath(png, Path(out_path).parent)).as_posix()
        if fmt == "github":
            parts.append(f"![{value.model} × {value.dataset}: per-layer sensitivity]({link})\n\n{caption(value)}")
        else:
            parts.append(f'<figure><img src="{html.escape(link)}" alt="{html.escape(caption(value))}">'
                         f"<figcaption>{html.escape(caption(value))}</figcaption></figure>")
    if fmt == "github":
        return f"\n## {TITLE}\n\n" + "\n\n".join(parts) + "\n"
    return f"<h2>{TITLE}</h2>\n" + "\n".join(parts) + "\n"


def site_html(results_dir: Path, site_suite_dir: Path) -> str:
    """Copy the folder's heatmaps into `<site suite dir>/sensitivity/` and return the page's part ("" when none)."""
    maps = _maps(results_dir)
    if not maps:
        return ""
    out = Path(site_suite_dir) / sensitivity_file.DIRNAME
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for png, value in maps:
        shutil.copyfile(png, out / png.name)
        text = html.escape(caption(value))
        figures.append(f'<figure><img src="{sensitivity_file.DIRNAME}/{html.escape(png.name)}" alt="{text}">'
                       f"<figcaption>{text}</figcaption></figure>")
    return f"<h2>{TITLE}</h2>\n" + '<div class="figures">' + "".join(figures) + "</div>"
