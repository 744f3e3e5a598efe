"""Point labels that cover nothing: a greedy placement measured with matplotlib's renderer.

After the figure's layout is solved and frozen (so what is measured is what is saved), each label tries offsets
around its point, nearest first, and takes the first whose text box (`Text.get_window_extent`, display pixels)
stays inside its axes and touches no title, legend, earlier label, marker or drawn line. The most crowded points
choose first. A label placed away from its point gets a thin leader line; a label with no free place takes the
offset that overlaps least.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

# Directions tried at each distance, in order of preference: right, up-right, down-right, up, down, left, ...
DIRECTIONS = ((1, 0), (0.75, 0.75), (0.75, -0.75), (0, 1), (0, -1), (-1, 0), (-0.75, 0.75), (-0.75, -0.75))
DISTANCES = (6, 11, 18, 27, 38, 52, 68)  # points from the point to the nearest corner or edge of the text
LEADER_FROM = 11  # a label further than the nearest ring from its point gets a leader line
MARGIN = 1.0  # px kept free around each text box
LINE_SAMPLE = 3.0  # px between the samples a drawn line is checked at


@dataclass
class Label:
    """A text to write next to the point (x, y) of `ax`, in data coordinates."""

    ax: Any
    x: float
    y: float
    text: str
    color: Any = "0.15"
    fontsize: float = 7.0


def freeze_layout(figure) -> None:
    """Solve the figure's layout once and keep it: later draws (savefig included) reuse these positions."""
    figure.draw_without_rendering()
    figure.set_layout_engine("none")


def place_labels(figure, labels: Sequence[Label]) -> list[Any]:
    """Freeze the layout, then annotate each label where it overlaps nothing; return the annotations."""
    import numpy as np

    freeze_layout(figure)
    if not labels:
        return []
    renderer = figure.canvas.get_renderer()
    fixed = _fixed_boxes(figure, renderer)
    marks = {id(ax): _marks(ax, renderer) for ax in {id(label.ax): label.ax for label in labels}.values()}
    anchors = np.array([label.ax.transData.transform((label.x, label.y)) for label in labels])
    crowding = [int(np.sum(np.hypot(*(anchors - anchor).T) < 40)) for anchor in anchors]
    placed: list[tuple[float, float, float, float]] = []
    annotations: list[Any] = [None] * len(labels)
    for i in sorted(range(len(labels)), key=lambda i: (-crowding[i], -anchors[i][1], anchors[i][0])):
        label = labels[i]
        annotation = label.ax.annotate(label.text, (label.x, label.y), xytext=(0, 0), textcoords="offset points",
                                       fontsize=label.fontsize, color=label.color, annotation_clip=False, zorder=6)
        area = label.ax.get_window_extent(renderer)
        best = None
        for distance in DISTANCES:
            for dx, dy in DIRECTIONS:
                box = _try(annotation, renderer, dx, dy, distance)
                cost = _cost(box, area, fixed + placed, marks[id(label.ax)])
                if best is None or cost < best[0]:
                    best = (cost, dx, dy, distance, box)
                if cost == 0:
                    break
            if best[0] == 0:
                break
        cost, dx, dy, distance, box = best
        annotation.remove()  # the probe; the label is drawn again at its place, with a leader line if far
        annotation = label.ax.annotate(
            label.text, (label.x, label.y), xytext=(dx * distance, dy * distance), textcoords="offset points",
            fontsize=label.fontsize, color=label.color, annotation_clip=False, zorder=6, **_alignment(dx, dy),
            arrowprops=dict(arrowstyle="-", color="0.6", linewidth=0.6, shrinkA=0, shrinkB=2)
            if distance >= LEADER_FROM else None)
        placed.append(box)
        annotations[i] = annotation
    return annotations


def _try(annotation, renderer, dx: float, dy: float, distance: float) -> tuple[float, float, float, float]:
    """Move the text `distance` points from its point in direction (dx, dy), aligned so its nearest side faces
    the point; return its box (x0, y0, x1, y1) in display pixels."""
    from matplotlib.text import Text

    annotation.xyann = (dx * distance, dy * distance)
    alignment = _alignment(dx, dy)
    annotation.set_horizontalalignment(alignment["ha"])
    annotation.set_verticalalignment(alignment["va"])
    annotation.update_positions(renderer)  # place the text at its offset from the point
    extent = Text.get_window_extent(annotation, renderer)  # the text alone, not a leader line
    return (extent.x0 - MARGIN, extent.y0 - MARGIN, extent.x1 + MARGIN, extent.y1 + MARGIN)


def _alignment(dx: float, dy: float) -> dict[str, str]:
    return {"ha": "left" if dx > 0 else "right" if dx < 0 else "center",
            "va": "bottom" if dy > 0 else "top" if dy < 0 else "center_baseline"}


def _cost(box, area, boxes, marks) -> float:
    """0 when the box is inside its axes and clear of every box and mark; else how much it hits."""
    x0, y0, x1, y1 = box
    import numpy as np

    outside = 100.0 if (x0 < area.x0 or y0 < area.y0 or x1 > area.x1 or y1 > area.y1) else 0.0
    hits = sum(1 for (a0, b0, a1, b1) in boxes if min(x1, a1) > max(x0, a0) and min(y1, b1) > max(y0, b0))
    if len(marks):
        mx, my, r, owner = marks[:, 0], marks[:, 1], marks[:, 2], marks[:, 3]
        hit = (mx + r > x0) & (mx - r < x1) & (my + r > y0) & (my - r < y1)
        hits += len(np.unique(owner[hit]))  # a line crossed counts once, however many of its samples
    return outside + hits


def _fixed_boxes(figure, renderer) -> list[tuple[float, float, float, float]]:
    """Titles (of the axes and the figure), axis labels and legends: no label may cover them."""
    texts = [figure._suptitle] if figure._suptitle is not None else []
    for ax in figure.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label]
    boxes = [t.get_window_extent(renderer) for t in texts if t.get_visible() and t.get_text()]
    legends = [ax.get_legend() for ax in figure.axes if ax.get_legend()] + list(figure.legends)
    boxes += [legend.get_window_extent(renderer) for legend in legends]
    return [(b.x0, b.y0, b.x1, b.y1) for b in boxes]


def _marks(ax, renderer):
    """(x, y, radius, owner) in display pixels of every marker and of samples along every drawn line of `ax`;
    `owner` numbers the marker or line a sample belongs to."""
    import numpy as np
    from matplotlib.collections import LineCollection, PathCollection

    px = ax.figure.dpi / 72
    out: list[tuple[float, float, float]] = []
    for collection in ax.collections:
        if isinstance(collection, PathCollection) and len(collection.get_offsets()):
            sizes = collection.get_sizes() if len(collection.get_sizes()) else [36.0]
            centres = collection.get_offset_transform().transform(collection.get_offsets())
            out += [(x, y, math.sqrt(sizes[i % len(sizes)]) / 2 * px + 1, len(out) + i)
                    for i, (x, y) in enumerate(centres)]
        elif isinstance(collection, LineCollection):
            for segment in collection.get_segments():
                out += _samples(collection.get_transform().transform(segment), 1.5, len(out))
    for line in ax.lines:
        xy = line.get_xydata()
        if not len(xy):
            continue
        points = line.get_transform().transform(xy)
        if line.get_marker() not in (None, "None", "", " "):
            out += [(x, y, line.get_markersize() / 2 * px + 1, len(out) + i) for i, (x, y) in enumerate(points)]
        if line.get_linestyle() not in ("None", "", " "):
            out += _samples(_drawn_path(points, line.get_drawstyle()), 1.5, len(out))
    return np.array(out, dtype=float).reshape(-1, 4)


def _drawn_path(points, drawstyle: str):
    """The vertices a line is drawn through: steps add a corner between each pair of points."""
    if not drawstyle or drawstyle == "default" or len(points) < 2:
        return points
    corners = []
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        corners.append((x0, y0))
        corners.append((x1, y0) if drawstyle in ("steps-post",) else (x0, y1) if drawstyle in ("steps", "steps-pre")
                       else ((x0 + x1) / 2, y0))
        if drawstyle == "steps-mid":
            corners.append(((x0 + x1) / 2, y1))
    corners.append(tuple(points[-1]))
    return corners


def _samples(path, radius: float, owner: int) -> list[tuple[float, float, float, int]]:
    """Points every LINE_SAMPLE px along a polyline, all owned by `owner`."""
    out = []
    for (x0, y0), (x1, y1) in zip(path[:-1], path[1:]):
        steps = max(1, int(math.hypot(x1 - x0, y1 - y0) / LINE_SAMPLE))
        out += [(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps, radius, owner)
                for k in range(steps + 1)]
    return out
