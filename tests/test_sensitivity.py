"""Per-layer sensitivity: the typed map, the groups and one-group pruning, the cached measurement on the val split,
the heatmap, the report hooks and the `prunebench sensitivity` command's errors."""

import json
import shutil
from pathlib import Path

import pytest

from prunebench.records import sensitivity as sensitivity_file
from prunebench.records.sensitivity import ChannelGroup, SensitivityError, SensitivityMap
from tests.conftest import REPO, TINY_MODEL_AND_DATA

COCO = REPO / "data" / "coco128"
YOLO11N = REPO / "weights" / "yolo11n.pt"


def _map(drops=((0.5, 2.0), (8.0, None)), **changes) -> SensitivityMap:
    fields = dict(model="yolo11n", dataset="coco128", imgsz=128, criterion="l1",
                  groups=(ChannelGroup("model.0.conv", "0 Conv conv", 16),
                          ChannelGroup("model.1.conv", "1 Conv conv", 32)),
                  ratios=(0.3, 0.5), baseline_map50_95=0.41, drops=drops, key="k" * 24,
                  provenance={"device": "cpu"})
    return SensitivityMap(**{**fields, **changes})


# ----------------------------------------------------------------------------- the typed value


def test_map_round_trips_through_json_and_ranks_groups():
    value = _map()
    again = SensitivityMap.from_json(json.loads(json.dumps(value.to_json())))
    assert again == value
    assert value.least_sensitive().name == "model.0.conv"  # mean 1.25 against 8.0 (None is left out)


def test_map_refuses_a_wrong_shape_the_test_split_and_a_newer_file(tmp_path):
    with pytest.raises(SensitivityError, match="2 groups x 2 ratios"):
        _map(drops=((1.0,), (2.0,)))
    with pytest.raises(SensitivityError, match="val split"):
        _map(split="test")
    data = _map().to_json()
    data["schema_version"] = 99
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SensitivityError, match=str(path)):
        sensitivity_file.read(path)


# ----------------------------------------------------------------------------- the heatmap and the report hooks


def test_heatmap_is_written_with_its_unit_on_the_colour_bar(tmp_path):
    from matplotlib.image import imread

    from prunebench.report.sensitivity import draw_heatmap, write_heatmap

    value = _map()
    figure = draw_heatmap(value)
    labels = [ax.get_ylabel() for ax in figure.axes]
    assert sensitivity_file.UNIT in labels  # the colour bar says what the colours mean
    heatmap = figure.axes[0]
    assert [t.get_text() for t in heatmap.get_yticklabels()] == ["0 Conv conv (16)", "1 Conv conv (32)"]
    assert sorted(t.get_text() for t in heatmap.texts) == ["0.5", "2.0", "8.0", "—"]  # every cell written in it
    path = write_heatmap(value, tmp_path / "sensitivity" / "yolo11n.coco128.png")
    assert imread(path).shape[0] > 100


def test_leaderboard_and_site_show_the_heatmap_only_when_the_folder_holds_one(tmp_path):
    from prunebench.report.sensitivity import leaderboard_text, site_html, write_heatmap

    results = tmp_path / "results"
    (results / "cells").mkdir(parents=True)
    assert leaderboard_text(results, results / "LEADERBOARD.md", "github") == ""
    assert site_html(results, tmp_path / "site" / "suite") == ""
    assert not (tmp_path / "site").exists()  # nothing written for a folder without maps

    value = _map()
    written = sensitivity_file.write(results / "sensitivity" / f"{value.stem}.json", value)
    write_heatmap(value, written.with_suffix(".png"))
    text = leaderboard_text(results, results / "LEADERBOARD.md", "github")
    assert "## Per-layer sensitivity" in text
    assert "](sensitivity/yolo11n.coco128.png)" in text and "val mAP50-95" in text
    assert leaderboard_text(results, results / "LEADERBOARD.md", "csv") == ""
    page = site_html(results, tmp_path / "site" / "suite")
    assert 'src="sensitivity/yolo11n.coco128.png"' in page
    assert (tmp_path / "site" / "suite" / "sensitivity" / "yolo11n.coco128.png").is_file()


def test_a_published_leaderboard_renders_unchanged_without_maps_and_gains_the_part_with_one(tmp_path):
    from prunebench.report import leaderboard
    from prunebench.report.sensitivity import write_heatmap

    published = REPO / "results" / "tutorial"
    if not (published / "cells").is_dir():
        pytest.skip("results/tutorial is not in this checkout")
    folder = tmp_path / "tutorial"
    shutil.copytree(published / "cells", folder / "cells")
    before = leaderboard.write([folder], plots=False).read_text()
    assert "sensitivity" not in before.lower()
    value = _map()
    written = sensitivity_file.write(folder / "sensitivity" / f"{value.stem}.json", value)
    write_heatmap(value, written.with_suffix(".png"))
    after = leaderboard.write([folder], plots=False).read_text()
    assert after.startswith(before) and "![yolo11n × coco128: per-layer sensitivity]" in after[len(before):]


# ----------------------------------------------------------------------------- groups and one-group pruning


def test_channel_groups_leave_the_head_whole_and_pruning_one_changes_only_a_copy():
    import torch

    from prunebench.testing import tiny_model
    from prunebench.yolo import sensitivity as groups_of

    model = tiny_model("yolov8n.yaml", nc=1)
    prepared = groups_of.prepare(model)
    groups = groups_of.channel_groups(prepared)
    head = len(prepared.model) - 1
    assert groups and not any(g.name.startswith(f"model.{head}.") for g in groups)
    assert groups[0].label == "0 Conv conv" and groups[0].channels == 16
    name = groups[0].name
    before = {n: m.out_channels for n, m in prepared.named_modules() if isinstance(m, torch.nn.Conv2d)}
    assert groups[0].scores.shape == (16,)
    pruned = groups_of.prune_group(prepared, groups[0], 0.5)
    after = {n: m.out_channels for n, m in pruned.model.named_modules() if isinstance(m, torch.nn.Conv2d)}
    assert pruned.removed == 8 and after[name] == 8
    assert {n for n in before if before[n] != after[n]} == {name}  # no other conv's outputs shrank
    assert {n: m.out_channels for n, m in prepared.named_modules() if isinstance(m, torch.nn.Conv2d)} == before
    pruned.model(torch.zeros(1, 3, 64, 64))  # still runs


# ----------------------------------------------------------------------------- the measurement (real evaluation)


def _small_coco(folder: Path, images: int = 16) -> Path:
    """coco128's first val images, with a `test:` split that must never be evaluated."""
    for kind, suffix in (("images", ".jpg"), ("labels", ".txt")):
        (folder / kind / "val").mkdir(parents=True)
    for image in sorted((COCO / "images" / "val").glob("*.jpg"))[:images]:
        shutil.copy(image, folder / "images" / "val" / image.name)
        label = COCO / "labels" / "val" / f"{image.stem}.txt"
        if label.is_file():
            shutil.copy(label, folder / "labels" / "val" / label.name)
    shutil.copytree(folder / "images" / "val", folder / "images" / "test")
    shutil.copytree(folder / "labels" / "val", folder / "labels" / "test")
    names = (COCO / "data.yaml").read_text().split("names:", 1)[1]
    data = folder / "data.yaml"
    data.write_text(f"path: {folder}\ntrain: images/val\nval: images/val\ntest: images/test\nnc: 80\nnames:{names}")
    return data


HARMLESS = "model.4.m.0.cv1.conv"  # a bottleneck's first conv in yolo11n's layer 4 (a C3k2), 16 channels
FEEDS = "model.4.m.0.cv2.conv"  # the only conv it feeds


def _with_dead_channels(path: Path) -> Path:
    """yolo11n with HARMLESS widened from 16 to 32 channels, the 16 new ones dead and disconnected: zero filters,
    zero BatchNorm scale and shift (so SiLU(0) = 0 comes out) and zero weights in the one conv that reads them. The
    model computes exactly what yolo11n computes; pruning that group at 0.5 removes the dead channels (their L1
    score is 0) and changes nothing, while every other group loses real channels."""
    import torch
    from torch import nn

    from prunebench.yolo import checkpoints

    model = checkpoints.load_model(YOLO11N)
    modules = dict(model.named_modules())
    owner, reader = modules[HARMLESS.rsplit(".", 1)[0]], modules[FEEDS]
    conv, bn, extra = owner.conv, owner.bn, owner.conv.out_channels
    wide = nn.Conv2d(conv.in_channels, 2 * extra, conv.kernel_size, conv.stride, conv.padding, bias=False)
    wide_bn = nn.BatchNorm2d(2 * extra, eps=bn.eps, momentum=bn.momentum)
    wide_reader = nn.Conv2d(2 * extra, reader.out_channels, reader.kernel_size, reader.stride, reader.padding,
                            bias=False)
    with torch.no_grad():
        wide.weight.copy_(torch.cat([conv.weight, torch.zeros_like(conv.weight)]))
        for name, fill in (("weight", 0.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
            old = getattr(bn, name)
            getattr(wide_bn, name).copy_(torch.cat([old, torch.full_like(old, fill)]))
        wide_reader.weight.copy_(torch.cat([reader.weight, torch.zeros_like(reader.weight)], dim=1))
    owner.conv, owner.bn = wide, wide_bn.eval()
    modules[FEEDS.rsplit(".", 1)[0]].conv = wide_reader
    return checkpoints.save_model(model.eval(), path)


@pytest.mark.slow
def test_a_harmless_group_is_least_sensitive_on_val_only_and_the_second_call_is_cached(tmp_path, monkeypatch):
    from prunebench.run import sensitivity
    from prunebench.yolo import evaluate

    data = _small_coco(tmp_path / "coco16")
    checkpoint = _with_dead_channels(tmp_path / "dead.pt")
    real = evaluate.evaluate
    splits = []

    def counted(*args, **kwargs):
        splits.append(kwargs.get("split"))
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate, "evaluate", counted)
    settings = sensitivity.SensitivitySettings(imgsz=128, batch=8, ratios=(0.5,),
                                               groups=("model.0.conv", HARMLESS, FEEDS))
    lines = []
    value = sensitivity.measure(checkpoint, data, settings, model="dead", dataset="coco16",
                                cache_dir=tmp_path / "cache", log=lines.append)
    assert splits == ["val"] * 4  # the baseline and three groups, never the test split
    assert value.split == "val" and value.baseline_map50_95 > 0.1  # yolo11n's own: the dead channels change nothing
    drops = {g.name: row[0] for g, row in zip(value.groups, value.drops)}
    assert value.least_sensitive().name == HARMLESS
    assert abs(drops[HARMLESS]) < 0.5 and min(d for n, d in drops.items() if n != HARMLESS) > 1.0, drops
    assert any("[3/3]" in line for line in lines)  # progress, one line per group

    again = sensitivity.measure(checkpoint, data, settings, model="dead", dataset="coco16",
                                cache_dir=tmp_path / "cache", log=lines.append)
    assert len(splits) == 4 and again == value  # from the cache: nothing evaluated again
    other = sensitivity.SensitivitySettings(imgsz=128, batch=8, ratios=(0.5,), groups=(HARMLESS,))
    assert sensitivity.cache_key(checkpoint, data, other) != value.key  # other settings, another key


# ----------------------------------------------------------------------------- the command's errors


def _suite(tmp_path: Path) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text("name: sens\n" + TINY_MODEL_AND_DATA + "evaluation: {imgsz: 64, batch: 8, device: cpu}\n")
    return path


@pytest.mark.parametrize("args, message", [
    (["--model", "yolo8"], "no model named 'yolo8' in suite 'sens'; its models: yolo11n"),
    (["--dataset", "coco"], "no dataset named 'coco' in suite 'sens'; its datasets: coco128"),
    (["--ratios", "0.3", "1.0"], "ratios must be fractions of a group's channels in (0, 1)"),
    (["--ratios", "0.3", "0.3"], "ratios repeat"),
    (["--imgsz", "16"], "below 32 px"),
])
def test_bad_input_is_one_paragraph_and_writes_nothing(tmp_path, capsys, args, message):
    from prunebench.cli import main

    assert main(["sensitivity", str(_suite(tmp_path)), "--results", str(tmp_path / "out"), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_group_filter_that_matches_nothing_names_the_groups(tmp_path, capsys):
    from prunebench.cli import main

    rc = main(["sensitivity", str(_suite(tmp_path)), "--results", str(tmp_path / "out"), "--groups", "nothing.here",
               "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 1 and "--groups nothing.here matches none of the model's 53 prunable channel groups" in err
    assert "'0 Conv conv'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_command_writes_the_map_and_its_heatmap_and_reuses_the_cache(tmp_path, capsys):
    from prunebench.cli import main

    args = ["sensitivity", str(_suite(tmp_path)), "--results", str(tmp_path / "out"), "--groups", "model.0.conv",
            "--ratios", "0.5", "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "[1/1] 0 Conv conv (16 ch): drop" in err
    value = sensitivity_file.read(tmp_path / "out" / "sensitivity" / "yolo11n.coco128.json")
    assert value.split == "val" and value.imgsz == 64 and [g.name for g in value.groups] == ["model.0.conv"]
    assert (tmp_path / "out" / "sensitivity" / "yolo11n.coco128.png").stat().st_size > 1000
    assert main(args) == 0
    assert "cached" in capsys.readouterr().err
