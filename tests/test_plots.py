"""Figures from fixed v2 records: every expected file is written and is a real PNG / SVG; the marks drawn are the
table's (one Pareto rule, busy rows hollow, a collapsed row never on the frontier); the fixes a new user asked for
(legend off the curves, loss lines that say what they average, one label for points at the same cost); figures
whose data is absent are skipped; the user's matplotlib settings are left alone."""

from pathlib import Path

import matplotlib
import pytest

from prunebench.report import plots
from prunebench.report.plots import (BUSY_LABEL, DENSE_FAMILY_LABEL, FRONTIER_LABEL, accuracy_vs_cost,
                                     confidence_curves, loss_curves, strategy_colors, write_plots)
from prunebench.report.rows import build_sections
from prunebench.records.store import iter_records

FIXTURES = Path(__file__).parent / "fixtures" / "records"
TEA_FIGURES = ["accuracy_vs_amount", "accuracy_vs_cost", "model_size", "loss_curves", "pr_curves_l1-channel",
               "pr_curves_l1-channel-iter", "pr_curves_l1-unstructured", "pr_curves_l1-unstructured-noft",
               "pr_curves_network-slimming"]
BUDS_FIGURES = ["accuracy_vs_amount", "accuracy_vs_cost", "model_size", "loss_curves", "pr_curves_l1-channel",
                "pr_curves_l1-unstructured"]


def load(*folders):
    return [record.to_json() for _, record in iter_records([FIXTURES / f for f in folders])]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots")
    backend = matplotlib.rcParams["backend"]
    paths = write_plots(load("cpu", "gpu"), out)
    return out, paths, backend


@pytest.fixture(scope="module")
def sections():
    return build_sections(load("cpu", "gpu"))


@pytest.fixture(scope="module")
def tea(sections):
    return next(s for s in sections if s.model == "yolo11n")


def axis_titled(figure, start):
    [ax] = [ax for ax in figure.axes if ax.get_title().startswith(start)]
    return ax


def line_labelled(ax, label):
    [line] = [line for line in ax.get_lines() if line.get_label() == label]
    return line


def test_every_figure_is_written_as_png_and_svg(drawn):
    out, paths, _ = drawn
    # yolo26n x tea_bud is a reference model (dense only): drawn in yolo11n's figures, none of its own
    expected = {f"yolo11n__tea_bud__{name}{ext}" for name in TEA_FIGURES for ext in (".png", ".svg")} | \
               {f"yolov8n__buds__{name}{ext}" for name in BUDS_FIGURES for ext in (".png", ".svg")}
    assert {p.name for p in paths} == expected
    assert {p.name for p in out.iterdir()} == expected
    for path in paths:
        data = path.read_bytes()
        assert len(data) > 10_000, path
        if path.suffix == ".png":
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
        else:
            assert b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")


def test_figures_carry_titles_axes_and_legends(drawn):
    out, _, _ = drawn
    svg = (out / "yolo11n__tea_bud__accuracy_vs_cost.svg").read_text()
    for text in ("vs latency on Intel Xeon (cpu)", "vs GFLOPs", "vs non-zero params", "GFLOPs achieved (batch 1)",
                 "non-zero parameters achieved (millions)", "dense latency / paired speed-up", "mAP50-95 (%)",
                 "Pareto frontier (★ in the table)", "dense models on this dataset (frontier)", "yolo26n dense-ft",
                 "yolo11n dense-ft", BUSY_LABEL, "about 0 mAP, not eligible for the frontier"):
        assert text in svg, text
    buds = (out / "yolov8n__buds__accuracy_vs_cost.svg").read_text()
    assert "vs latency on NVIDIA H100 80GB HBM3 (cuda:0)" in buds and "synthetic data" in buds
    svg = (out / "yolo11n__tea_bud__model_size.svg").read_text()
    for text in ("fp16 state dict, gzip -9 (MB)", "parameters (millions)", "dense (as loaded)", "l1-channel: non-zero"):
        assert text in svg, text
    svg = (out / "yolo11n__tea_bud__accuracy_vs_amount.svg").read_text()
    for text in ("dense-ft (fine-tuned control)", "l1-channel: before fine-tuning", "not comparable across kinds"):
        assert text in svg, text


def test_the_latency_frontier_is_the_tables_stars(sections, tea):
    figure = accuracy_vs_cost(tea, sections, strategy_colors(tea))
    line = line_labelled(axis_titled(figure, "vs latency"), FRONTIER_LABEL)
    starred = sorted((r.placed_latency, 100 * r.mean("map50_95")) for r in tea.rows if r.pareto)
    assert len(starred) == 4  # two rows tie at 65.4 ms: both starred
    assert list(line.get_xdata()) == pytest.approx([x for x, _ in starred])
    assert list(line.get_ydata()) == pytest.approx([y for _, y in starred])
    collapsed = next(r for r in tea.rows if r.amount == 0.7)
    assert collapsed.placed_latency < min(line.get_xdata())  # the fastest point, and not on the frontier


def test_points_sit_where_the_table_places_them(sections, tea):
    figure = accuracy_vs_cost(tea, sections, strategy_colors(tea))
    ax = axis_titled(figure, "vs latency")
    drawn = {tuple(round(v, 6) for v in c.get_offsets()[0]) for c in ax.collections}
    for r in tea.rows:
        if r.ok:
            assert (round(r.placed_latency, 6), round(100 * r.mean("map50_95"), 6)) in drawn, r.strategy


def test_busy_rows_are_hollow(sections, tea):
    figure = accuracy_vs_cost(tea, sections, strategy_colors(tea))
    ax = axis_titled(figure, "vs latency")
    busy = next(r for r in tea.rows if r.noisy)
    quiet = next(r for r in tea.rows if r.ok and not r.noisy and not r.is_dense and r.eligible)

    def faces(row):
        [collection] = [c for c in ax.collections
                        if tuple(c.get_offsets()[0]) == pytest.approx((row.placed_latency, 100 * row.mean("map50_95")))]
        return collection.get_facecolors()

    assert len(faces(busy)) == 0 or faces(busy)[0][3] == 0  # no fill
    assert faces(quiet)[0][3] == 1
    assert BUSY_LABEL in [t.get_text() for t in ax.get_legend().get_texts()]


def test_the_dense_models_on_the_dataset_are_a_named_frontier(sections, tea):
    figure = accuracy_vs_cost(tea, sections, strategy_colors(tea))
    ax = axis_titled(figure, "vs GFLOPs")
    line = line_labelled(ax, DENSE_FAMILY_LABEL)
    # yolo26n's control (5.24 GFLOPs, 43.9) and yolo11n's (6.44, 44.9): both on the dense frontier
    assert (list(line.get_xdata()), list(line.get_ydata())) == (pytest.approx([5.24, 6.44]), pytest.approx([43.9, 44.9]))
    names = {t.get_text() for t in ax.texts}
    assert {"yolo26n dense-ft", "yolo11n dense-ft"} <= names


def test_points_at_the_same_gflops_share_one_label(sections, tea):
    figure = accuracy_vs_cost(tea, sections, strategy_colors(tea))
    ax = axis_titled(figure, "vs GFLOPs")
    labels = [t for t in ax.texts if not t.get_text().startswith(("yolo26n", "yolo11n"))]
    anchors = [tuple(t.xy) for t in labels]
    assert len(anchors) == len(set(anchors))  # no two labels on one point
    shared = {t.get_text() for t in labels if t.get_text().startswith("same GFLOPs")}
    # the two unstructured rows keep dense GFLOPs (6.44), the 2x target and 50 % rows have 3.29 and 3.28 (within
    # 0.5 %): one label per group, top to bottom by accuracy
    assert shared == {"same GFLOPs, top to bottom:\nl1-unstructured 30%\nl1-unstructured-noft 30%",
                      "same GFLOPs, top to bottom:\nl1-channel 2x\nl1-channel 50%"}
    assert len(labels) == 9 - 2  # nine pruned rows, two pairs sharing a label


def test_the_pr_legend_is_outside_the_panels(tea):
    figure = confidence_curves(tea, "l1-channel")
    assert all(ax.get_legend() is None for ax in figure.axes)
    [legend] = figure.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[:2] == ["dense", "dense-ft"] and "30% asked (mean of 2 seeds)" in texts and "2x asked (seed 0)" in texts


def test_loss_curves_say_whether_a_line_is_one_seed_or_a_mean(tea):
    figure = loss_curves(tea, strategy_colors(tea))
    labels = {line.get_label() for ax in figure.axes for line in ax.get_lines()}
    assert "30%, mean of 2 seeds (train)" in labels and "15%, seed 0 (train)" in labels
    assert "dense-ft, mean of 2 seeds (train)" in labels
    assert [ax.get_title() for ax in figure.axes][0] == "dense-ft"  # the control first, to compare with


def test_the_users_backend_is_left_alone(drawn):
    assert matplotlib.rcParams["backend"] == drawn[2]


def test_figures_without_data_are_skipped(tmp_path):
    records = [r for r in load("cpu") if r["spec"]["model"]["name"] == "yolov8n"]
    for record in records:  # no curves, no loss curves, no latency: only accuracy and costs remain
        record["details"] = {"eval_split": "val"}
        for key in ("latency_ms", "e2e_latency_ms", "speedup_vs_dense", "speedup_iqr"):
            record["metrics"].pop(key, None)
    names = {p.name for p in write_plots(records, tmp_path)}
    assert names == {f"yolov8n__buds__{n}{ext}" for n in ("accuracy_vs_amount", "accuracy_vs_cost", "model_size")
                     for ext in (".png", ".svg")}
    svg = (tmp_path / "yolov8n__buds__accuracy_vs_cost.svg").read_text()
    assert "vs GFLOPs" in svg and "vs latency" not in svg


def test_only_failed_or_dense_records_draw_nothing(tmp_path):
    only_failed_and_dense = [r for r in load("cpu") if r["spec"]["strategy"]["name"] == "dense"
                             or r["status"] == "failed"]
    assert write_plots(only_failed_and_dense, tmp_path / "plots") == []
    assert not (tmp_path / "plots").exists()


def test_ultralytics_curve_layout_and_plain_loss_numbers_are_read(tmp_path):
    records = [r for r in load("cpu") if r["spec"]["model"]["name"] == "yolov8n" and r["status"] == "ok"
               and r["spec"]["strategy"]["name"] in ("dense", "l1-channel")]
    for record in records:
        mine = record["details"]["curves"]
        conf = mine["confidence"]
        # Ultralytics' curves_results layout: [x, y per class, x label, y label]; two classes here
        record["details"]["curves"] = {
            "Precision-Recall(B)": [conf, [mine["recall"]] * 2, "Recall", "Precision"],
            "F1-Confidence(B)": [conf, [mine["f1"], mine["f1"]], "Confidence", "F1"],
            "Precision-Confidence(B)": [conf, [mine["precision"]] * 2, "Confidence", "Precision"],
            "Recall-Confidence(B)": [conf, [mine["recall"]] * 2, "Confidence", "Recall"]}
        if "loss_curve" in record["details"]:
            record["details"]["loss_curve"] = [sum(v for k, v in e.items() if "loss" in k)
                                               for e in record["details"]["loss_curve"]]
    section = next(s for s in build_sections(records) if s.model == "yolov8n")
    assert confidence_curves(section, "l1-channel") is not None
    assert loss_curves(section, strategy_colors(section)) is not None
    dense = next(r for r in records if r["spec"]["strategy"]["label"] == "dense")
    assert section.rows[0].strategy == "dense"
    assert plots._row_curve(section.rows[0], "f1")[1] == pytest.approx(dense["details"]["curves"][
        "F1-Confidence(B)"][1][0])


def test_the_latency_panel_draws_the_other_dense_models_timed_on_its_device(sections, tea):
    """The frontier a pruned row must beat, in the panel a deployment cares about: another model's dense rows at
    their latency on the same device, named (the table's "Dominated by" judges on the same placement)."""
    figure = accuracy_vs_cost(tea, sections, strategy_colors(tea))
    ax = axis_titled(figure, "vs latency")
    line = line_labelled(ax, DENSE_FAMILY_LABEL)
    others = [(s.model, r) for s in sections if s.dataset == tea.dataset and s.model != tea.model for r in s.rows
              if r.ok and r.is_dense and r.device in {row.device for row in tea.rows}]
    assert others, "the fixture has another model's dense rows on this device"
    model, best = max(others, key=lambda mr: (mr[1].mean("map50_95"), mr[1].strategy))
    assert (best.placed_latency, 100 * best.mean("map50_95")) in list(zip(line.get_xdata(), line.get_ydata()))
    assert f"{model} {best.strategy}" in {t.get_text() for t in ax.texts}
    assert not any(t.get_text().startswith(f"{tea.model} ") for t in ax.texts)  # its own dense rows are the stars
