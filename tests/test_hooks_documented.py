"""Every hook is documented with its exact signature, and has a test of its own."""

import inspect
import re
from pathlib import Path

from prunebench.plugin import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "hooks.md"
TESTS = Path(__file__).resolve().parent


def hook_names():
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")]


def test_every_hook_is_documented_with_its_signature():
    text = DOCS.read_text()
    for name in hook_names():
        signature = f"{name}{inspect.signature(getattr(hookspecs, name))}"
        assert f"## `{signature}`" in text, f"docs/hooks.md lacks a section '## `{signature}`'"
    documented = set(re.findall(r"^## `(register_\w+)\(", text, flags=re.M))
    assert documented == set(hook_names()), "docs/hooks.md documents a hook that does not exist"


def test_every_hook_has_a_test_of_its_own():
    sources = "\n".join(p.read_text() for p in TESTS.rglob("test_*.py") if p.name != Path(__file__).name)
    for name in hook_names():
        assert re.search(rf"def test_\w*{name}\w*\(", sources), f"no test named after hook {name}"
