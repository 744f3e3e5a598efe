"""The distribution installs what the repository holds, under names that cannot collide."""

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_installed():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"prunebench": REPO / "prunebench", **{name: REPO / path for name, path in config["package-dir"].items()}}
    found = set()
    for top, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            if "__pycache__" not in parts:
                found.add(".".join((top, *parts)))
    assert found == set(config["packages"]), "pyproject.toml [tool.setuptools] packages must list every package"


def test_builtin_plugins_load_from_the_installed_package():
    from importlib.metadata import entry_points

    builtins = [ep for ep in entry_points(group="prunebench") if ep.dist and ep.dist.metadata["Name"] == "prunebench"]
    assert builtins and all(ep.value.startswith(("prunebench.", "prunebench_builtins.")) for ep in builtins)
    for ep in builtins:
        assert ep.load().__name__ == ep.value
