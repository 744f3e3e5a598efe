"""What a reader would see as clutter in a drawn figure, read from matplotlib's own renderer: text extents
(`Text.get_window_extent`), legend boxes and the data points' display positions. Written apart from
prunebench's label placement, so a test of the placement does not ask the placement's own code whether it worked.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox

SHRINK = 0.5  # px: boxes that only touch (a shared pixel edge) do not overlap


def _boxes_overlap(a: Bbox, b: Bbox) -> bool:
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > 2 * SHRINK) and (min(a.y1, b.y1) - max(a.y0, b.y0) > 2 * SHRINK)


def _text_box(text, renderer) -> Bbox | None:
    """The text's own box (an annotation's leader line left out)."""
    if not text.get_visible() or not text.get_text().strip():
        return None
    if isinstance(text, Annotation):
        text.update_positions(renderer)
    return Text.get_window_extent(text, renderer)


def data_marks(ax) -> list[Bbox]:
    """Display boxes of the scatter markers and of the line vertices (their markers, or a 2 px dot) drawn inside
    the axes."""
    px = ax.figure.dpi / 72
    marks = []
    for collection in ax.collections:
        if isinstance(collection, PathCollection) and len(collection.get_offsets()):
            sizes = collection.get_sizes() if len(collection.get_sizes()) else [36.0]
            centres = collection.get_offset_transform().transform(collection.get_offsets())
            for i, (x, y) in enumerate(centres):
                half = (sizes[i % len(sizes)] ** 0.5) / 2 * px
                marks.append(Bbox.from_extents(x - half, y - half, x + half, y + half))
    for line in ax.lines:
        xy = line.get_xydata()
        half = (line.get_markersize() / 2 * px) if line.get_marker() not in (None, "None", "", " ") else 1.0
        for x, y in line.get_transform().transform(xy) if len(xy) else []:
            marks.append(Bbox.from_extents(x - half, y - half, x + half, y + half))
    box = ax.get_window_extent()
    return [m for m in marks if box.x0 <= (m.x0 + m.x1) / 2 <= box.x1 and box.y0 <= (m.y0 + m.y1) / 2 <= box.y1]


def problems(figure, name: str = "figure") -> list[str]:
    """Every label (text drawn in an axes) that intersects a title, an axis label, a legend or another label,
    every axis label that intersects another or a title, every legend that covers a data point (its marker), and
    every label outside the figure; empty when the figure is clean."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    found: list[str] = []
    titles = [(f"title {ax.get_title()!r}", box) for ax in figure.axes if (box := _text_box(ax.title, renderer))]
    if figure._suptitle is not None and (box := _text_box(figure._suptitle, renderer)):
        titles.append(("the figure title", box))
    legends = [ax.get_legend() for ax in figure.axes if ax.get_legend()] + list(figure.legends)
    legend_boxes = [(f"legend {i}", legend.get_window_extent(renderer)) for i, legend in enumerate(legends)]
    labels = [(f"label {t.get_text()!r} ({ax.get_title()})", box) for ax in figure.axes for t in ax.texts
              if (box := _text_box(t, renderer))]
    axis_labels = [(f"axis label {t.get_text()!r}", box) for ax in figure.axes for t in (ax.xaxis.label, ax.yaxis.label)
                   if (box := _text_box(t, renderer))]
    for i, (label, box) in enumerate(axis_labels):
        for other, obstacle in axis_labels[i + 1:] + titles:
            if _boxes_overlap(box, obstacle):
                found.append(f"{name}: {label} overlaps {other}")
    page = figure.bbox
    for i, (label, box) in enumerate(labels):
        for other, obstacle in titles + legend_boxes + axis_labels:
            if _boxes_overlap(box, obstacle):
                found.append(f"{name}: {label} overlaps {other}")
        for other, obstacle in labels[i + 1:]:
            if _boxes_overlap(box, obstacle):
                found.append(f"{name}: {label} overlaps {other}")
        if box.x0 < page.x0 - 1 or box.y0 < page.y0 - 1 or box.x1 > page.x1 + 1 or box.y1 > page.y1 + 1:
            found.append(f"{name}: {label} is outside the figure")
    for legend_name, box in legend_boxes:
        for ax in figure.axes:
            covered = [m for m in data_marks(ax) if _boxes_overlap(m, box)]
            if covered:
                found.append(f"{name}: {legend_name} covers {len(covered)} data point(s) of {ax.get_title()!r}")
    return found
