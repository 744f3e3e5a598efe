"""Plugin discovery: entry points, --plugins-dir, env toggles, misspelled hooks, broken plugins."""

import textwrap

import pytest

from prunebench import DatasetSource, Executor, ModelSource, Strategy, hookimpl
from prunebench.plugin.loader import load_plugins
from prunebench.plugin.registry import RegistryError
from tests.plugins.fake_plugins import FakePlugin, FakeStrategy

BUILTIN_ENTRY_POINTS = {"ultralytics-models", "ultralytics-datasets", "synthetic-buds", "unstructured", "channel",
                        "local-executor"}


def test_builtins_are_found_through_entry_points():
    plugins = load_plugins()
    infos = {i.name: i for i in plugins.infos}
    assert BUILTIN_ENTRY_POINTS <= set(infos)
    assert all(infos[n].source == "built-in" and infos[n].version for n in BUILTIN_ENTRY_POINTS)
    assert plugins.registry.owner("executors", "local") == "local-executor"


def test_disable_autoload(monkeypatch):
    monkeypatch.setenv("PRUNEBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = load_plugins(extra=[("fake", FakePlugin())])
    assert [i.name for i in plugins.infos] == ["fake"]
    assert plugins.registry.names("strategies") == ["fake-other", "fake-prune"]


def test_load_only_some_plugins(monkeypatch):
    monkeypatch.setenv("PRUNEBENCH_LOAD_PLUGINS", "local-executor")
    assert [i.name for i in load_plugins().infos] == ["local-executor"]


def test_plugins_dir(tmp_path):
    (tmp_path / "mine.py").write_text(textwrap.dedent("""
        from prunebench import Strategy, hookimpl
        __version__ = "9.9"

        class Mine(Strategy):
            name = "mine"

        @hookimpl
        def register_strategies(register):
            register(Mine)
    """))
    plugins = load_plugins(tmp_path)
    info = next(i for i in plugins.infos if i.name == "mine")
    assert (info.source, info.version, info.error) == ("plugins dir", "9.9", None)
    assert plugins.registry.get("strategies", "mine").name == "mine"


def test_plugins_dir_must_exist(tmp_path):
    with pytest.raises(ValueError, match="no such directory"):
        load_plugins(tmp_path / "nope")


def test_misspelled_hook_fails_at_load_time_with_a_hint():
    class Typo:
        @hookimpl
        def register_strategy(self, register):
            register(FakeStrategy)

    plugins = load_plugins(extra=[("typo", Typo())])
    info = next(i for i in plugins.infos if i.name == "typo")
    assert "unknown hook 'register_strategy'" in info.error
    assert "did you mean 'register_strategies'?" in info.error
    assert "fake-prune" not in plugins.registry.names("strategies")


def test_broken_plugin_does_not_take_down_the_rest(tmp_path):
    (tmp_path / "broken.py").write_text("import not_a_module_anyone_has\n")
    plugins = load_plugins(tmp_path, extra=[("fake", FakePlugin())])
    broken = {i.name: i.error for i in plugins.broken}
    assert broken == {"broken": "ModuleNotFoundError: No module named 'not_a_module_anyone_has'"}
    assert "fake-prune" in plugins.registry.names("strategies")


def test_duplicate_names_are_errors():
    class Again:
        @hookimpl
        def register_strategies(self, register):
            register(FakeStrategy)

    with pytest.raises(RegistryError, match="strategy 'fake-prune' is registered twice: by plugin 'fake' and by plugin 'again'"):
        load_plugins(extra=[("fake", FakePlugin()), ("again", Again())])


class _OneOfEach:
    """A plugin implementing every hook once, each with its own class."""

    class S(Strategy):
        name = "one-strategy"

    class M(ModelSource):
        name = "one-model"

    class D(DatasetSource):
        name = "one-dataset"

    class E(Executor):
        name = "one-executor"

    @hookimpl
    def register_strategies(self, register):
        register(self.S)

    @hookimpl
    def register_models(self, register):
        register(self.M)

    @hookimpl
    def register_datasets(self, register):
        register(self.D)

    @hookimpl
    def register_executors(self, register):
        register(self.E)


def _registered(kind, name):
    registry = load_plugins(extra=[("one", _OneOfEach())]).registry
    return registry.owner(kind, name), registry.get(kind, name)


def test_register_strategies_hook():
    assert _registered("strategies", "one-strategy") == ("one", _OneOfEach.S)


def test_register_models_hook():
    assert _registered("models", "one-model") == ("one", _OneOfEach.M)


def test_register_datasets_hook():
    assert _registered("datasets", "one-dataset") == ("one", _OneOfEach.D)


def test_register_executors_hook():
    assert _registered("executors", "one-executor") == ("one", _OneOfEach.E)


def test_registering_a_class_without_a_name_is_an_error():
    class Nameless:
        @hookimpl
        def register_strategies(self, register):
            register(Strategy)

    with pytest.raises(RegistryError, match="plugin 'nameless' registered <class 'prunebench.plugin.base.Strategy'> "
                                            "as a strategy without a `name`"):
        load_plugins(extra=[("nameless", Nameless())])


def test_registering_a_class_that_is_not_the_kinds_subclass_is_an_error():
    class Wrong:
        @hookimpl
        def register_strategies(self, register):
            register(type("NotAStrategy", (), {"name": "x"}))

    with pytest.raises(RegistryError, match="as a strategy, but it is not a subclass of prunebench.Strategy"):
        load_plugins(extra=[("wrong", Wrong())])


def test_the_docs_strategy_snippet_calls_the_worked_example_as_it_is_defined():
    """docs/writing-a-strategy-plugin.md shows a strategy class and the prune.py it calls (tests/test_plugin_docs.py
    runs that): the class's params and its call must fit the function (the doc once passed `False` where the
    plugin passed its `prune_head` param)."""
    import ast
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    doc = (repo / "docs" / "writing-a-strategy-plugin.md").read_text(encoding="utf-8")
    python = re.findall(r"```python\n(.*?)```", doc, re.S)
    snippet = next(block for block in python if "class HrankChannel(Strategy)" in block)
    example = next(block for block in python if "def remove_low_rank_channels" in block)
    tree = ast.parse(snippet)
    params = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "HrankChannelParams")
    fields = [statement.target.id for statement in params.body if isinstance(statement, ast.AnnAssign)]
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
                and getattr(n.func, "id", "") == "remove_low_rank_channels")
    function = next(n for n in ast.parse(example).body if isinstance(n, ast.FunctionDef)
                    and n.name == "remove_low_rank_channels")
    assert [a.arg for a in function.args.args] == [ast.unparse(a) for a in call.args] == ["model", "amount", "ctx"]
    assert [k.arg for k in call.keywords] == [a.arg for a in function.args.kwonlyargs] == fields == ["images"]
    assert ast.unparse(call) == "remove_low_rank_channels(model, amount, ctx, images=self.params.images)"
