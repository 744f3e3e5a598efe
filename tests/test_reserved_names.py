"""Names that cannot mislead: `dense`, `dense-ft` (and the controls' `dense-ft-<hex>`) are prunebench's own rows;
a plugin registering a taken or reserved name is marked broken with a message naming both plugins while every
command still works; no name holds a path separator."""

import textwrap

import pytest

from tests.conftest import TINY_MODEL_AND_DATA, run_cli


def plugin_file(folder, name: str, strategy: str):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(f"""
        from prunebench import Strategy, hookimpl

        class Taken(Strategy):
            name = {strategy!r}

            def prune(self, model, amount, ctx):
                return {{}}

        @hookimpl
        def register_strategies(register):
            register(Taken)
    """))
    return folder


def test_a_plugin_reusing_a_built_in_name_is_marked_broken_naming_both_and_commands_still_work(tmp_path):
    plugins = plugin_file(tmp_path / "plugins", "copycat", "l1-unstructured")
    proc = run_cli("--plugins-dir", str(plugins), "plugins", cwd=tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "strategy 'l1-unstructured' is registered twice: by plugin" in proc.stdout
    assert "'copycat'" in proc.stdout
    proc = run_cli("--plugins-dir", str(plugins), "list", "strategies", cwd=tmp_path)
    assert proc.returncode == 0 and "## l1-unstructured" in proc.stdout
    assert "plugin 'copycat'" in proc.stderr  # warned as broken


@pytest.mark.parametrize("name", ["dense", "dense-ft", "dense-ft-1a2b3c", "a/b"])
def test_a_plugin_cannot_register_a_reserved_or_path_like_name(tmp_path, name):
    plugins = plugin_file(tmp_path / "plugins", "sneaky", name)
    proc = run_cli("--plugins-dir", str(plugins), "plugins", cwd=tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert f"plugin 'sneaky' registered a strategy named '{name}'" in proc.stdout


@pytest.mark.parametrize("label", ["dense", "dense-ft", "DENSE-FT-00ff"])
def test_a_strategy_entry_labelled_as_a_dense_row_fails_validation(tmp_path, label):
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: s\n" + TINY_MODEL_AND_DATA
                     + f"strategies:\n  - name: l1-unstructured\n    label: {label}\n    amounts: [0.9]\n")
    proc = run_cli("validate", str(suite), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "strategies.0.label" in proc.stderr and "is reserved" in proc.stderr, proc.stderr
