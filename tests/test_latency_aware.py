"""The built-in `latency-aware` strategy: the greedy allocation on constructed groups (a cheap, harmless group is cut
deeper than a costly one), the strategy on a real model fed a constructed latency table and sensitivity map through
prunebench's public faces, and the conformance kit."""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from prunebench.testing import check_strategy, tiny_context, tiny_model  # noqa: E402
from prunebench.testing.conformance import SPEEDUP, as_the_runner_gives_it  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _module():
    """The plugin package. Until prunebench is reinstalled with its entry point (`pip install -e .`), an older
    installation maps `prunebench_builtins` to another checkout: then this checkout's plugins/ is searched too."""
    import prunebench_builtins

    try:
        return importlib.import_module("prunebench_builtins.latency_aware")
    except ModuleNotFoundError:
        prunebench_builtins.__path__.append(str(REPO / "plugins"))
        return importlib.import_module("prunebench_builtins.latency_aware")


@pytest.fixture(scope="module")
def plugin():
    return _module()


@pytest.fixture(scope="module")
def allocation(plugin):
    return importlib.import_module("prunebench_builtins.latency_aware.allocation")


@pytest.fixture
def strategy_cls(plugin):
    """The class as the registry holds it: through the entry point when installed, else registered in-process."""
    from prunebench.plugin.loader import load_plugins

    registry = load_plugins().registry
    if "latency-aware" not in registry.names("strategies"):
        registry = load_plugins(extra=[("latency-aware", plugin)]).registry
    return registry.get("strategies", "latency-aware")


# ------------------------------------------------------------------ the allocation, on constructed curves
def _linear(allocation, name, channels, saving_per_channel, cost_per_channel, convs=1):
    return allocation.GroupCurve(name, convs, tuple(k * saving_per_channel for k in range(channels + 1)),
                                 tuple(k * cost_per_channel for k in range(channels + 1)))


def test_a_cheap_harmless_group_is_cut_deeper_than_a_costly_one(allocation):
    cheap = _linear(allocation, "cheap", 32, saving_per_channel=2.0, cost_per_channel=0.0)  # saves much, costs none
    costly = _linear(allocation, "costly", 32, saving_per_channel=0.5, cost_per_channel=3.0)
    chosen = allocation.allocate([costly, cheap], 0.5, min_keep_ratio=0.1)
    kept = dict(zip(["costly", "cheap"], chosen.kept))
    assert kept["cheap"] == 4  # down to its floor (10 % of 32, rounded up) before the costly group loses any
    assert kept["costly"] == 32 - (32 - 28)  # the costly group gives only the 4 of the 32 asked that are left
    assert chosen.removed_channels == 32
    # Swap which group is harmless: the allocation follows the costs, not the order the groups came in.
    swapped = allocation.allocate([_linear(allocation, "a", 32, 0.5, 0.0), _linear(allocation, "b", 32, 2.0, 3.0)],
                                  0.5, min_keep_ratio=0.1)
    assert swapped.kept[0] < swapped.kept[1]


def test_saving_per_cost_decides_not_saving_alone(allocation):
    # "fast" saves 4x more per channel but costs 10x more: the slower, harmless group goes first.
    fast = _linear(allocation, "fast", 16, saving_per_channel=4.0, cost_per_channel=10.0)
    slow = _linear(allocation, "slow", 16, saving_per_channel=1.0, cost_per_channel=1.0)
    chosen = allocation.allocate([fast, slow], 0.25)
    assert chosen.kept == (16, 8)


def test_a_larger_amount_removes_a_superset(allocation):
    curves = [_linear(allocation, f"g{i}", 8 + 4 * i, 1.0 + i % 3, 0.5 + (i * 7) % 5, convs=1 + i % 2)
              for i in range(6)]
    previous = None
    for amount in (0.0, 0.1, 0.3, 0.5, 0.7):
        chosen = allocation.allocate(curves, amount, round_to=4)
        total = sum(c.channels * c.convs for c in curves)
        assert abs(chosen.removed_channels / total - amount) <= 4 * 2 / total + 1e-9  # one step of the widest group
        assert all(k % 4 == 0 or k == c.channels for k, c in zip(chosen.kept, curves))
        if previous is not None:
            assert all(now <= before for now, before in zip(chosen.kept, previous))
        previous = chosen.kept


def test_interpolated_curves_start_at_zero_never_fall_and_extend_past_the_last_point(allocation):
    values = allocation.interpolated([(2, 1.0), (4, 0.5), (6, 3.0)], 8)  # a noisy dip at 4
    assert values[:7] == (0.0, 0.5, 1.0, 1.0, 1.0, 2.0, 3.0)
    assert values[8] == pytest.approx(5.0)  # the last segment's slope, 1 per channel, carried on


def test_bad_curves_and_amounts_are_clear_errors(allocation):
    with pytest.raises(ValueError, match="never fall"):
        allocation.GroupCurve("g", 1, (0.0, 2.0, 1.0), (0.0, 1.0, 2.0))
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        allocation.allocate([_linear(allocation, "g", 4, 1, 1)], 1.0)


# ------------------------------------------------------------------ the strategy on a real (untrained) model
def _fresh():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return as_the_runner_gives_it(tiny_model(nc=1))


def _groups(plugin_module):
    """(name, channels) of the tiny model's prunable groups, as the sensitivity map and the latency table name them."""
    from prunebench.yolo import sensitivity as groups_of

    return [(g.name, g.channels) for g in groups_of.channel_groups(groups_of.prepare(_fresh()))]


def _write_map(path: Path, groups, harmless: str, ratios=(0.25, 0.5, 0.75)) -> Path:
    from prunebench.records.sensitivity import ChannelGroup, SensitivityMap, write

    drops = tuple(tuple(0.0 if name == harmless else 30.0 * r for r in ratios) for name, _ in groups)
    value = SensitivityMap(model="tiny", dataset="buds", imgsz=64, criterion="l1",
                           groups=tuple(ChannelGroup(n, n, c) for n, c in groups), ratios=ratios,
                           baseline_map50_95=0.5, drops=drops, key="constructed", provenance={})
    return write(path, value)


def _table(groups, fast: str, steps=(0.25, 0.5, 0.75)):
    from prunebench.measure.group_latency import GroupWidth, LatencyTable

    saved = tuple(tuple((20.0 if name == fast else 0.5) * s for s in steps) for name, _ in groups)
    return LatencyTable(runtime="torch", imgsz=64, threads=1, cpu="constructed", groups=tuple(
        GroupWidth(n, n, c) for n, c in groups), steps=steps, dense_ms=100.0, saved_ms=saved,
        speedup=saved, key="constructed-table", provenance={})


def test_the_strategy_cuts_the_group_a_table_and_map_call_cheap_deepest(plugin, monkeypatch, tmp_path):
    """A constructed latency table (one group saves 40x more per step) and sensitivity map (that group alone is
    harmless), read through prunebench.pruning's public faces: at a small amount that group alone is pruned; with the
    roles given to another group of the same width, the choice follows."""
    import prunebench.pruning

    groups = _groups(plugin)
    widest = max(channels for _, channels in groups)
    first, second = [name for name, channels in groups if channels == widest][:2]  # 256 channels each
    ratios = {}
    for favoured in (first, second):
        monkeypatch.setattr(prunebench.pruning, "group_latency_table", lambda model, **_: _table(groups, favoured))
        path = _write_map(tmp_path / f"{favoured}.json", groups, harmless=favoured)
        strategy = plugin.LatencyAware(plugin.LatencyAwareParams(saving="torch", cost="sensitivity",
                                                                 sensitivity_map=str(path)))
        # 4 % of the weighted channels: fewer than the favoured group alone can give (90 % of 256)
        report = strategy.prune(_fresh(), 0.04, tiny_context(None, tmp_path / favoured))
        assert report["cost_source"].startswith(f"sensitivity map {path}")
        assert report["latency_table"] == "constructed-table" and report["predicted_speedup"] > 1
        assert report["groups_pruned"] == 1 and list(report["group_ratios"]) == [favoured]
        ratios[favoured] = {name: 1 - report["channels"].get(name, [1, 1])[1] / report["channels"].get(name, [1, 1])[0]
                            for name in (first, second)}
    assert ratios[first][first] > ratios[second][first]  # each group is cut deeper when it is the cheap one
    assert ratios[second][second] > ratios[first][second]


def test_a_table_whose_savings_outgrow_the_dense_time_gives_no_prediction_and_says_why(plugin, monkeypatch, tmp_path):
    import prunebench.pruning

    groups = _groups(plugin)
    noisy = dataclasses.replace(_table(groups, groups[0][0]), dense_ms=0.5)  # every entry's saving is noise
    monkeypatch.setattr(prunebench.pruning, "group_latency_table", lambda model, **_: noisy)
    report = plugin.LatencyAware(plugin.LatencyAwareParams(saving="torch", cost="l1")).prune(
        _fresh(), 0.3, tiny_context(None, tmp_path))
    assert report["predicted_speedup"] is None and report["predicted_ms_saved"] > 0.5
    assert "its entries are noise" in report["prediction_note"]


def test_a_map_of_another_model_is_a_clear_error(plugin, tmp_path):
    groups = [("model.0.conv", 16), ("model.99.conv", 8)]
    path = _write_map(tmp_path / "other.json", groups, harmless="model.0.conv")
    strategy = plugin.LatencyAware(plugin.LatencyAwareParams(cost="sensitivity", sensitivity_map=str(path)))
    with pytest.raises(ValueError, match=r"does not cover \d+ of this model's \d+ prunable channel groups"):
        strategy.prune(_fresh(), 0.2, tiny_context(None, tmp_path))
    with pytest.raises(ValueError, match="does not exist; write it with `prunebench sensitivity SUITE`"):
        plugin.LatencyAware(plugin.LatencyAwareParams(cost="sensitivity", sensitivity_map=str(tmp_path / "none.json"))
                            ).prune(_fresh(), 0.2, tiny_context(None, tmp_path))


def test_params_and_missing_data_are_clear_errors(plugin, tmp_path):
    from pydantic import ValidationError

    for bad in ({"cost": "sensitivity"}, {"sensitivity_map": "map.json"}, {"cost": "l1", "sensitivity_map": "m.json"}):
        with pytest.raises(ValidationError, match="give both, or neither"):
            plugin.LatencyAwareParams(**bad)
    with pytest.raises(ValueError, match="cost taylor scores channels by the detection loss's gradients"):
        plugin.LatencyAware().prune(_fresh(), 0.2, tiny_context(None, tmp_path))


def test_auto_saving_follows_the_cells_measured_target(plugin):
    sources = importlib.import_module("prunebench_builtins.latency_aware.sources")
    assert sources.choose_savings("auto", None)[:2] == ("macs", None)
    assert sources.choose_savings("auto", "torch")[:2] == ("table", "torch")
    assert sources.choose_savings("auto", "onnx")[:2] == ("table", "onnxruntime")
    kind, runtime, why = sources.choose_savings("auto", "openvino-int8")
    assert (kind, runtime) == ("macs", None) and "no latency table" in why
    assert sources.choose_savings("macs", "torch")[:2] == ("macs", None)


def test_the_runner_hands_the_target_runtime_to_the_strategy(tmp_path, registry):
    """A `2x@onnx` cell's context names onnx (what `saving: auto` reads); GFLOPs targets and fractions name none."""
    from prunebench.config.suite import load_suite
    from prunebench.run.phases import RunSettings
    from prunebench.run.plan import build_plan
    from prunebench.run.runner import CellRunner

    path = tmp_path / "suite.yaml"
    path.write_text("name: demo\nmodels: [{name: m1, plugin: fake-model}]\ndatasets: [{name: d1, plugin: fake-data}]\n"
                    "strategies: [{name: l1-channel, amounts: [0.3, 2x, 2x@onnx]}]\nseeds: [0]\n"
                    "evaluation: {imgsz: 320, device: cpu, deploy: [torch, onnx]}\n")
    loaded = load_suite(path, registry)
    runner = CellRunner(loaded, RunSettings(device="cpu", cache_dir=tmp_path / "cache", log=lambda *_: None))
    runtimes = {c.name: runner.context(c, tmp_path / "work").target_runtime
                for c in build_plan(loaded) if not c.deploy and c.strategy == "l1-channel"}
    assert runtimes == {"m1.d1.l1-channel.a0.30.s0": None, "m1.d1.l1-channel.x2.00.s0": None,
                        "m1.d1.l1-channel.x2.00-onnx.s0": "onnx"}


def test_macs_allocation_removes_more_macs_than_uniform_l1_at_the_same_channels(plugin, tmp_path):
    """With counted MACs as the saving, the same share of channels buys more MACs than l1-channel's uniform cut:
    the allocation goes where the compute is."""
    from prunebench.plugin.loader import load_plugins

    report = plugin.LatencyAware(plugin.LatencyAwareParams(cost="l1")).prune(_fresh(), 0.3,
                                                                              tiny_context(None, tmp_path / "aware"))
    uniform = load_plugins().registry.get("strategies", "l1-channel")().prune(_fresh(), 0.3,
                                                                              tiny_context(None, tmp_path / "l1"))
    assert abs(report["channel_reduction"] - uniform["channel_reduction"]) < 0.01
    assert report["macs_reduction"] > uniform["macs_reduction"] + 0.05
    json.dumps(report)  # the record stores it


def test_round_to_keeps_multiples_on_a_real_model(plugin, tmp_path):
    report = plugin.LatencyAware(plugin.LatencyAwareParams(cost="l1", round_to=8)).prune(
        _fresh(), 0.3, tiny_context(None, tmp_path))
    changed = report["channels"]
    assert changed and all(after % 8 == 0 and after < before for before, after in changed.values()), changed
    assert abs(report["channel_reduction"] - 0.3) < 0.05


# ------------------------------------------------------------------ the conformance kit
@pytest.mark.slow
def test_latency_aware_passes_the_conformance_kit(strategy_cls, prunebench_tiny_data, prunebench_trained_baseline,
                                                  tmp_path):
    report = check_strategy(strategy_cls, prunebench_tiny_data, tmp_path, baseline=prunebench_trained_baseline)
    assert report.passed, str(report)
    assert SPEEDUP in report.checks  # a GFLOPs target reached by bisection on the amount, within the kit's 5 %
    best = min(report.details["speedup"]["trials"], key=lambda t: abs(t["speedup"] / 1.5 - 1))
    assert abs(best["speedup"] / 1.5 - 1) <= 0.05
