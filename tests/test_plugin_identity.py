"""A pruned cell's key and record name the code that pruned: the strategy's plugin, the distribution that declared
it and its version, and the class's `version`. A new plugin release or a bumped `Strategy.version` runs the
strategy's cells again (and only those), `run --dry-run` says which versions, and --keep-stale-plugin-results
keeps the earlier results instead. No models: a fake cell runner (tests/test_driver.py's) writes the records."""

from __future__ import annotations

import textwrap

from prunebench import __version__, hookimpl
from prunebench.config.suite import load_suite
from prunebench.plugin.loader import load_plugins
from prunebench.records.record import Record
from prunebench.records.store import iter_records, write_record
from prunebench.run.driver import CACHED, KEPT_OTHER_PLUGIN, PLUGIN_CHANGED, RUN, decide
from prunebench.run.plan import IDENTITY_FIELDS, build_plan, content_key
from tests.conftest import TINY_MODEL_AND_DATA, run_cli
from tests.plugins.fake_plugins import FakePlugin, FakeStrategy, OtherStrategy
from tests.test_driver import FakeRunner, run
from tests.test_plan import SUITE, plan_for


class FakeStrategyV2(FakeStrategy):
    version = "2"  # what an author bumps when the strategy's behaviour changes


class BumpedPlugin(FakePlugin):
    @hookimpl
    def register_strategies(self, register):
        register(FakeStrategyV2)
        register(OtherStrategy)


def registry_with(plugin=None, *, distribution=None, version=None):
    registry = load_plugins(extra=[("fake", plugin or FakePlugin())]).registry
    if distribution is not None:  # as if the fake plugin were installed from a distribution
        registry.describe_plugin("fake", distribution=distribution, version=version)
    return registry


def names_of(decisions, action):
    return sorted(d.cell.name for d in decisions if d.action == action)


def test_the_spec_names_the_strategy_plugin_its_distribution_and_version():
    registry = load_plugins().registry
    assert registry.plugin_identity("strategies", "l1-unstructured") == {
        "name": "unstructured", "distribution": "prunebench", "version": __version__}
    if "fpgm-channel" in registry.names("strategies"):  # the example plugin, installed as a third party's
        assert registry.plugin_identity("strategies", "fpgm-channel") == {
            "name": "fpgm", "distribution": "prunebench-fpgm", "version": "0.2.0"}


def test_the_built_ins_keys_are_the_same_in_every_load(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: stable\n" + TINY_MODEL_AND_DATA + "strategies:\n  - name: l1-unstructured\n"
                     "    amounts: [0.3]\n")
    first = build_plan(load_suite(suite, load_plugins().registry))
    second = build_plan(load_suite(suite, load_plugins().registry))
    assert [c.key for c in first] == [c.key for c in second]
    pruned = next(c for c in first if not c.is_dense)
    assert pruned.spec["strategy"]["plugin"] == {"name": "unstructured", "distribution": "prunebench",
                                                 "version": __version__}
    assert pruned.spec["strategy"]["version"] == "1"
    # Dense rows prune nothing: no plugin in their spec, so a plugin release leaves them cached.
    assert all(set(IDENTITY_FIELDS).isdisjoint(c.spec["strategy"]) for c in first if c.is_dense)


def test_a_strategy_version_bump_runs_its_cells_again_and_says_why(tmp_path):
    results = tmp_path / "results"
    before = plan_for(tmp_path, registry_with())
    run(before, results, FakeRunner())
    records = {r.name: r for _, r in iter_records([results])}
    assert records["m1.d1.fake-prune.a0.30.s0"].strategy_version == "1"
    assert records["m1.d1.fake-prune.a0.30.s0"].strategy_plugin == {"name": "fake", "distribution": None,
                                                                    "version": None}

    after = plan_for(tmp_path, registry_with(BumpedPlugin()))
    bumped = sorted(c.name for c in after if c.strategy == "fake-prune")
    assert {a.key != b.key for a, b in zip(before, after) if a.strategy == "fake-prune"} == {True}
    assert {a.key == b.key for a, b in zip(before, after) if a.strategy != "fake-prune"} == {True}
    runner = FakeRunner()
    decisions, summary = run(after, results, runner)
    assert names_of(decisions, PLUGIN_CHANGED) == bumped and sorted(runner.ran) == bumped  # those, and only those
    assert len(names_of(decisions, CACHED)) == len(after) - len(bumped)  # dense rows and fake-other: kept
    note = next(d.note for d in decisions if d.action == PLUGIN_CHANGED)
    assert note == ("its result came from plugin 'fake' of no version (strategy version 1); the plugin is now "
                    "plugin 'fake' of no version (strategy version 2)")
    assert {d.action for d in decide(after, results)} == {CACHED}  # re-run once, then cached again
    assert records_named(results, bumped[0]) == {"1", "2"}  # the earlier record stays; the leaderboard drops it


def records_named(results, name):
    return {r.strategy_version for _, r in iter_records([results]) if r.name == name}


def test_a_new_release_of_the_plugin_runs_its_cells_again_unless_told_to_keep_them(tmp_path):
    results = tmp_path / "results"
    old = plan_for(tmp_path, registry_with(distribution="prunebench-fake", version="0.1.0"))
    run(old, results, FakeRunner())
    new = plan_for(tmp_path, registry_with(distribution="prunebench-fake", version="0.1.1"))
    pruned = sorted(c.name for c in new if not c.is_dense)  # both fake strategies come from the one plugin

    kept = decide(new, results, keep_stale_plugin_results=True)
    assert names_of(kept, KEPT_OTHER_PLUGIN) == pruned and not any(d.will_run for d in kept)
    assert next(d.note for d in kept if d.action == KEPT_OTHER_PLUGIN) == (
        "its result came from prunebench-fake 0.1.0 (strategy version 1); the plugin is now prunebench-fake 0.1.1 "
        "(strategy version 1)")

    decisions = decide(new, results)
    assert names_of(decisions, PLUGIN_CHANGED) == pruned
    assert {d.action for d in decisions if d.cell.is_dense} == {CACHED}


def test_a_cell_whose_params_changed_too_runs_without_a_plugin_note(tmp_path):
    results = tmp_path / "results"
    run(plan_for(tmp_path, registry_with()), results, FakeRunner())
    other = SUITE.replace("  - name: fake-prune\n", "  - name: fake-prune\n    params: {power: 2}\n")
    decisions = decide(plan_for(tmp_path, registry_with(BumpedPlugin()), text=other), results)
    changed = [d for d in decisions if d.cell.strategy == "fake-prune"]
    assert {d.action for d in changed} == {RUN} and {d.note for d in changed} == {""}


def test_a_record_from_before_plugin_identities_is_recognised(tmp_path):
    """Records written before this change have no plugin in their spec; their key is the key without one."""
    results = tmp_path / "results"
    cells = plan_for(tmp_path, registry_with())
    cell = next(c for c in cells if c.strategy == "fake-prune")
    train = {k: v for k, v in cell.spec.items() if k != "evaluation"}
    old_spec = train | {"strategy": {k: v for k, v in train["strategy"].items() if k not in IDENTITY_FIELDS}}
    old = Record(key=content_key(old_spec, cell.inputs), name=cell.name, suite=cell.suite,
                 spec=old_spec | {"evaluation": cell.spec["evaluation"]}, measure_key=cell.measure_key)
    old.mark_ok()
    write_record(results, f"{cell.name}.{old.key}.json", old)
    decision = next(d for d in decide(cells, results) if d.cell.name == cell.name)
    assert decision.action == PLUGIN_CHANGED
    assert decision.note.startswith("its result came from no recorded plugin version (a record from before "
                                    "prunebench recorded them); the plugin is now plugin 'fake'")


PLUGIN_FILE = '''\
__version__ = "{version}"

from prunebench import Strategy, hookimpl


class Mine(Strategy):
    name = "my-strategy"
    structured = {structured}


@hookimpl
def register_strategies(register):
    register(Mine)
'''


def test_dry_run_says_which_cells_came_from_another_plugin_version(tmp_path):
    """Through the CLI, with a plugins-dir plugin whose __version__ changes between two runs."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "mine.py").write_text(PLUGIN_FILE.format(version="0.1.0", structured=False))
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: bump\nresults: {tmp_path / 'results'}\n" + TINY_MODEL_AND_DATA
                     + "strategies:\n  - name: my-strategy\n    amounts: [0.3]\n")
    for cell in build_plan(load_suite(suite, load_plugins(plugins).registry)):  # an earlier run's records
        record = Record.new(cell)
        record.mark_ok()
        write_record(tmp_path / "results", cell.filename, record)
    args = ("--plugins-dir", str(plugins), "run", str(suite), "--dry-run")
    same = run_cli(*args, cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    assert "0 will run" in same.stdout and "plugin changed" not in same.stdout

    (plugins / "mine.py").write_text(PLUGIN_FILE.format(version="0.1.1", structured=False))
    bumped = run_cli(*args, cwd=tmp_path)
    assert bumped.returncode == 0, bumped.stderr
    assert "1 will run" in bumped.stdout
    assert "| run (plugin changed) |" in bumped.stdout.replace("  ", " ").replace("  ", " ")
    assert textwrap.dedent("""\
        1 cell will run again because the strategy's plugin changed (--keep-stale-plugin-results keeps their results instead):
          yolo11n.coco128.my-strategy.a0.30.s0: its result came from plugin 'mine' 0.1.0 (strategy version 1); the plugin is now plugin 'mine' 0.1.1 (strategy version 1)
        """) in bumped.stdout

    kept = run_cli(*args, "--keep-stale-plugin-results", cwd=tmp_path)
    assert "0 will run" in kept.stdout and "1 cell kept from another plugin version" in kept.stdout
