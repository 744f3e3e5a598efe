"""Safe YAML loading that remembers where each value came from (for file:line errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from prunebench.util.safe_yaml import UnsafeYamlError, compose, read_text


class YamlError(ValueError):
    pass


class _UniqueKeySafeLoader(yaml.SafeLoader):
    """SafeLoader (never constructs Python objects) that also rejects duplicate keys."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeySafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_with_lines(path: Path) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML safely; return the data and a map from field path to 1-based line number."""
    try:
        text = read_text(Path(path))
    except FileNotFoundError:
        raise YamlError(f"{path}: no such file") from None
    except UnsafeYamlError as exc:
        raise YamlError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlError(f"{path}: cannot read: {exc}") from None
    try:
        node = compose(text, str(path), _UniqueKeySafeLoader)  # bounded in depth, values and bytes
        data = yaml.load(text, Loader=_UniqueKeySafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise YamlError(f"{path}{line}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"{path}: YAML error: {exc}") from None
    except UnsafeYamlError as exc:
        raise YamlError(str(exc)) from None
    lines: dict[tuple, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def _walk(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = path + (key_node.value,)
            _walk(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1  # point at the key, where people look
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), lines)


def line_for(lines: dict[tuple, int], path: tuple) -> int | None:
    """The line of the deepest known prefix of path."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
