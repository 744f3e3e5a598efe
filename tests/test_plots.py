"""Figures from fixed v2 records: every expected file is written and is a real PNG / SVG; the marks drawn are the
table's (one Pareto rule, busy rows hollow, a collapsed row never on the frontier); the fixes a new user asked for
(legend off the curves, loss lines that say what they average, one label for points at the same cost); figures
whose data is absent are skipped; the user's matplotlib settings are left alone."""

from pathlib import Path

import matplotlib
import pytest

from prunebench.report import plots
from prunebench.report.plots import (BUSY_LABEL, DENSE_FAMILY_LABEL, ERRORBAR_LABEL, accuracy_vs_amount,
                                     accuracy_vs_cost, confidence_curves, frontier_label, loss_curves, model_size,
                                     per_class_ap, strategy_colors, write_plots)
from prunebench.report.rows import build_sections
from prunebench.records.store import iter_records

FIXTURES = Path(__file__).parent / "fixtures" / "records"
TEA_FIGURES = ["accuracy_vs_amount", "accuracy_vs_cost", "per_class_ap", "model_size", "loss_curves",
               "pr_curves_l1-channel",
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
    for text in ("fp16 state dict, gzip -9 (MB)", "parameters (millions)", "dense (as loaded)",
                 "parameters: non-zero (dotted)"):
        assert text in svg, text
    svg = (out / "yolo11n__tea_bud__accuracy_vs_amount.svg").read_text()
    for text in ("dense-ft (fine-tuned control)", "l1-channel: before fine-tuning", "GFLOPs removed, achieved",
                 "accuracy on the test split", ERRORBAR_LABEL):
        assert text in svg, text


def test_the_latency_frontier_is_the_tables_stars(sections, tea):
    figure = accuracy_vs_cost(tea, sections, strategy_colors(tea))
    line = line_labelled(axis_titled(figure, "vs latency"), frontier_label("yolo11n"))
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
    [legend] = figure.legends  # one legend for all panels, below them
    assert BUSY_LABEL in [t.get_text() for t in legend.get_texts()]


def test_the_dense_models_on_the_dataset_are_a_named_frontier(sections, tea):
    figure = accuracy_vs_cost(tea, sections, strategy_colors(tea))
    ax = axis_titled(figure, "vs GFLOPs")
    line = line_labelled(ax, DENSE_FAMILY_LABEL)
    # yolo26n's control (5.24 GFLOPs, 43.9) and yolo11n's (6.44, 44.9): both on the dense frontier, a staircase run
    # on to the panel's right edge at the last one's accuracy
    assert (list(line.get_xdata()[:-1]), list(line.get_ydata())) == (pytest.approx([5.24, 6.44]),
                                                                     pytest.approx([43.9, 44.9, 44.9]))
    assert line.get_xdata()[-1] == pytest.approx(ax.get_xlim()[1]) and line.get_drawstyle() == "steps-post"
    names = {t.get_text() for t in ax.texts}
    assert {"yolo26n dense-ft", "yolo11n dense-ft"} <= names


def test_each_point_has_one_label_of_its_own(sections, tea):
    """One label per point, even where points share a cost (the two unstructured rows keep dense GFLOPs, the 2x
    target and the 50 % row remove the same): what was asked, in the point's colour; the dense squares by name."""
    figure = accuracy_vs_cost(tea, sections, strategy_colors(tea))
    ax = axis_titled(figure, "vs GFLOPs")
    labels = [t for t in ax.texts if not t.get_text().startswith(("yolo26n", "yolo11n"))]
    pruned = [r for r in plots.distinct_rows(tea) if not r.is_dense and r.mean("gflops") is not None]
    assert sorted(tuple(t.xy) for t in labels) == sorted((r.mean("gflops"), 100 * r.mean("map50_95")) for r in pruned)
    assert sorted(t.get_text() for t in labels) == sorted(plots.size_label(r.amount, r.target) for r in pruned)
    colors = strategy_colors(tea)
    by_point = {tuple(t.xy): t.get_color() for t in labels}
    assert all(by_point[(r.mean("gflops"), 100 * r.mean("map50_95"))] == colors[r.strategy] for r in pruned)
    assert {"yolo26n dense-ft", "yolo11n dense-ft"} <= {t.get_text() for t in ax.texts}


def test_stars_only_where_the_table_has_a_star(sections, tea):
    figure = accuracy_vs_cost(tea, sections, strategy_colors(tea))
    for ax in figure.axes:
        stars = sorted(tuple(round(v, 6) for v in c.get_offsets()[0]) for c in ax.collections
                       if c.get_gid() == "star")
        if ax.get_title().startswith("vs latency"):
            device = next(r.device for r in tea.rows if ax.get_title() == f"vs latency on {plots._short(r.device)}")
            starred = sorted((round(r.placed_latency, 6), round(100 * r.mean("map50_95"), 6)) for r in tea.rows
                             if r.pareto and r.device == device)
            assert stars == starred and stars
            dense_unstarred = [r for r in tea.rows if r.ok and r.is_dense and not r.pareto and r.device == device]
            diamonds = [c for c in ax.collections if c.get_gid() == "dense"]
            assert dense_unstarred and len(diamonds) == len(dense_unstarred)
        else:
            assert stars == []  # the ★ is a latency frontier: cost panels have none


def test_speed_up_targets_are_drawn_at_the_gflops_they_removed(tea):
    """The 2x target has no amount: the accuracy and size figures put every row at its achieved GFLOPs removed."""
    colors = strategy_colors(tea)
    target = next(r for r in tea.rows if r.target == 2.0)
    for figure in (accuracy_vs_amount(tea, colors), model_size(tea, colors)):
        ax = figure.axes[0]
        assert "GFLOPs removed" in ax.get_xlabel()
        [line] = [c.lines[0] for c in ax.containers if c.get_label() == "l1-channel"]  # errorbar's data line
        assert any(x == pytest.approx(100 * target.reductions["gflops"]) for x in line.get_xdata())
    amounts_only = build_sections([r for r in load("cpu") if r["spec"].get("target") is None])
    section = next(s for s in amounts_only if s.model == "yolo11n")
    assert "amount asked" in accuracy_vs_amount(section, strategy_colors(section)).axes[0].get_xlabel()


def test_a_panel_whose_points_share_one_cost_says_so():
    """Unstructured rows keep the dense shape: every point at dense latency and GFLOPs. The panel says why, below
    its axis, instead of drawing a scale that means nothing."""
    records = [r for r in load("cpu") if r["spec"]["model"]["name"] == "yolo11n"
               and r["spec"]["strategy"]["name"] in ("dense", "l1-unstructured")]
    section = next(s for s in build_sections(records) if s.model == "yolo11n")
    figure = accuracy_vs_cost(section, [section], strategy_colors(section))
    ax = axis_titled(figure, "vs GFLOPs")
    note = ax.get_xlabel().replace("\n", " ")
    assert "every point at 6.44 GFLOPs: unstructured pruning keeps the dense shape" in note
    assert "every point at" not in axis_titled(figure, "vs non-zero").get_xlabel()


def test_per_class_ap_is_each_rows_mean_over_seeds(tea):
    figure = per_class_ap(tea)
    ax = axis_titled(figure, "AP50-95")
    image = ax.get_images()[0].get_array()
    rows = [r for r in plots.distinct_rows(tea) if r.first.detail("per_class_ap")]
    names = [t.get_text() for t in ax.get_yticklabels()]
    row = next(r for r in rows if r.strategy == "l1-channel" and r.amount == 0.3)
    i = names.index("l1-channel 30% (n=2)")
    classes = list(row.first.detail("per_class_ap"))
    expected = [100 * sum(c.detail("per_class_ap")[k]["ap50_95"] for c in row.cells) / len(row.cells) for k in classes]
    assert list(image[i]) == pytest.approx(expected)
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == classes


def test_per_class_box_counts_are_named_when_recorded():
    records = load("cpu")
    for record in records:
        for name, ap in (record["details"].get("per_class_ap") or {}).items():
            ap["instances"] = {"good": 80, "bad": 28, "more_than_two": 16}[name]
    tea = next(s for s in build_sections(records) if s.model == "yolo11n")
    labels = [t.get_text() for t in axis_titled(per_class_ap(tea), "AP50 ").get_xticklabels()]
    assert "more_than_two\n(16 boxes)" in labels


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


def test_rendering_the_same_records_twice_writes_the_same_svg(tmp_path):
    # matplotlib salts its SVG ids at random unless told otherwise: every re-render rewrote every published file
    records = [r for r in load("cpu") if r["spec"]["model"]["name"] == "yolov8n"]
    first, second = write_plots(records, tmp_path / "a"), write_plots(records, tmp_path / "b")
    svgs = [(a, b) for a, b in zip(first, second) if a.suffix == ".svg"]
    assert svgs and all(a.read_bytes() == b.read_bytes() for a, b in svgs)
    assert "svg.hashsalt" not in matplotlib.rcParams or matplotlib.rcParams["svg.hashsalt"] is None


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


def shipped_section(suite):
    results = Path(__file__).resolve().parents[1] / "results" / suite
    # As one machine's: the published tea_bud_targets records came from two devices, which a table keeps apart.
    records = [r.to_json() for _, r in iter_records([results])]
    for record in records:
        record["environment"] = dict(record["environment"], device_name="one machine", hostname="one")
    sections = build_sections(records)
    return next(s for s in sections if s.pruned)


def test_pr_curves_name_their_split_and_each_control_has_its_own_style():
    section = shipped_section("tea_bud_targets")  # two fine-tuned controls (two recipes)
    figure = confidence_curves(section, "lamp")
    assert "accuracy on the test split" in figure._suptitle.get_text()
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    controls = sorted(label for label in lines if label.startswith("dense-ft"))
    assert len(controls) == 2
    styles = {(lines[c].get_color(), str(lines[c].get_linestyle())) for c in controls}
    assert len(styles) == 2 and len({lines[c].get_color() for c in controls}) == 2


def test_loss_curves_are_a_grid_that_fits_a_page():
    figure = loss_curves(shipped_section("tea_bud_targets"), strategy_colors(shipped_section("tea_bud_targets")))
    assert len(figure.axes) == 9
    columns = {round(ax.get_position().x0, 3) for ax in figure.axes}
    assert len(columns) == 3
    width, height = figure.get_size_inches()
    assert width <= 16 and height <= 13  # about 1,900 x 1,500 px at 120 dpi: a page, not a 6,000 px strip
    assert all(ax.get_legend() is not None for ax in figure.axes)
