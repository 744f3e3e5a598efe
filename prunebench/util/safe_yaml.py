"""YAML from files a user hands over, read safely and within bounds.

`yaml.safe_load` never runs code, but a few hundred bytes of nested aliases (a "billion laughs" bomb)
expand to billions of values and exhaust memory (a 720-byte suite took 47 s and 3.4 GB before this). So
every document is first composed into its node graph, where an alias is a shared node, not a copy; the size
it would expand to is counted on that graph (each shared node once, times its uses), and a document past
`MAX_VALUES` values or `MAX_EXPANDED_BYTES` of text (a small alias graph can hold a large string used many
times) is refused with its line before anything is constructed. Nesting is bounded (`MAX_DEPTH`) from the
parser's events first, since composing recurses once per level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 4 * 1024 * 1024  # far above any suite, data or architecture YAML
MAX_VALUES = 200_000  # expanded scalars, sequences and mappings
MAX_EXPANDED_BYTES = 16 * 1024 * 1024  # scalar text once every alias is expanded (a 1 MB string aliased 2,000 times)
MAX_DEPTH = 32  # nested sequences and mappings; a suite is about 6 deep (PyYAML's composer recurses per level)
EXCERPT_CHARS = 60  # what an error quotes of the input


class UnsafeYamlError(ValueError):
    """A YAML document refused before it is constructed (too large, too deep, or aliases that expand too far)."""


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short, single-line quote of `text` for an error message."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def check_depth(text: str, where: str, loader=yaml.SafeLoader, limit: int = MAX_DEPTH) -> None:
    """UnsafeYamlError when the document nests deeper than `limit`: read from the parser's events (the parser is a
    loop; composing and constructing recurse once per level and would end in a RecursionError)."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > limit:
                raise UnsafeYamlError(f"{where}:{event.start_mark.line + 1}: YAML nested more than {limit} levels "
                                      "deep, deeper than any prunebench file needs: refused before reading it")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def check_node(node: yaml.Node | None, where: str, limit: int = MAX_VALUES,
               byte_limit: int = MAX_EXPANDED_BYTES) -> None:
    """UnsafeYamlError when `node` would expand to more than `limit` values or `byte_limit` bytes of scalar text
    (aliases counted per use)."""
    if node is None:
        return
    sizes: dict[int, tuple[int, int]] = {}

    def size(n: yaml.Node) -> tuple[int, int]:
        key = id(n)
        if key in sizes:
            return sizes[key]
        sizes[key] = (1, 0)  # a recursive alias counts once: PyYAML's constructor refuses real recursion later
        if isinstance(n, yaml.MappingNode):
            parts = [size(k) for k, _ in n.value] + [size(v) for _, v in n.value]
        elif isinstance(n, yaml.SequenceNode):
            parts = [size(v) for v in n.value]
        else:
            parts = [(0, len(str(n.value)))]
        values = 1 + sum(p[0] for p in parts)
        text = sum(p[1] for p in parts)
        sizes[key] = (min(values, limit + 1), min(text, byte_limit + 1))  # enough to decide; keeps numbers small
        return sizes[key]

    values, text = size(node)
    if values > limit or text > byte_limit:
        what = f"{limit:,} values" if values > limit else f"{byte_limit / 2 ** 20:.0f} MB of text"
        raise UnsafeYamlError(f"{where}:{node.start_mark.line + 1}: YAML aliases (or sheer size) expand this document "
                              f"to more than {what}, more than any prunebench file needs: refused before "
                              "reading it (a document of aliases can exhaust memory); write the values out "
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
    check_depth(text, where, loader)
    node = yaml.compose(text, Loader=loader)
    check_node(node, where)
    return node


def load_text(text: str, where: str = "<yaml>", loader=yaml.SafeLoader) -> Any:
    compose(text, where, loader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - loader is a SafeLoader subclass


def load(path: Path) -> Any:
    """The document in `path`, read safely and within bounds (UnsafeYamlError, yaml.YAMLError otherwise)."""
    return load_text(read_text(path), str(path))
