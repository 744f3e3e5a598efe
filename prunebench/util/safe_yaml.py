"""YAML from files a user hands over, read safely and within bounds.

`yaml.safe_load` never runs code, but a few hundred bytes of nested aliases (a "billion laughs" bomb)
expand to billions of values and exhaust memory (a 720-byte suite took 47 s and 3.4 GB before this). So
every document is first composed into its node graph, where an alias is a shared node, not a copy; the size
it would expand to is counted on that graph (each shared node once, times its uses), and a document past
`MAX_VALUES` or `MAX_BYTES` is refused with its line before anything is constructed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 4 * 1024 * 1024  # far above any suite, data or architecture YAML
MAX_VALUES = 200_000  # expanded scalars, sequences and mappings


class UnsafeYamlError(ValueError):
    """A YAML document refused before it is constructed (too large, or aliases that expand too far)."""


def check_node(node: yaml.Node | None, where: str, limit: int = MAX_VALUES) -> None:
    """UnsafeYamlError when `node` would expand to more than `limit` values (aliases counted per use)."""
    if node is None:
        return
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        sizes[key] = 1  # a recursive alias counts once: PyYAML's constructor refuses real recursion later
        if isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in n.value)
        else:
            total = 1
        sizes[key] = min(total, limit + 1)  # enough to decide; keeps the arithmetic small
        return sizes[key]

    if size(node) > limit:
        raise UnsafeYamlError(f"{where}:{node.start_mark.line + 1}: YAML aliases (or sheer size) expand this document "
                              f"to more than {limit:,} values, more than any prunebench file needs: refused before "
                              "reading it (a document of nested aliases can exhaust memory); write the values out "
                              "or use fewer aliases")


def read_text(path: Path, limit: int = MAX_BYTES) -> str:
    path = Path(path)
    size = path.stat().st_size
    if size > limit:
        raise UnsafeYamlError(f"{path}: {size / 1e6:.1f} MB, more than the {limit / 1e6:.0f} MB a YAML file "
                              "prunebench reads may have: refused")
    return path.read_text(encoding="utf-8")


def compose(text: str, where: str, loader=yaml.SafeLoader) -> yaml.Node | None:
    """The checked node graph of `text` (SafeLoader: nothing is constructed from tags)."""
    node = yaml.compose(text, Loader=loader)
    check_node(node, where)
    return node


def load_text(text: str, where: str = "<yaml>", loader=yaml.SafeLoader) -> Any:
    compose(text, where, loader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - loader is a SafeLoader subclass


def load(path: Path) -> Any:
    """The document in `path`, read safely and within bounds (UnsafeYamlError, yaml.YAMLError otherwise)."""
    return load_text(read_text(path), str(path))
