"""Typed name -> class registry, filled by plugins through the register_* hooks."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from prunebench.util.names import name_problem

KINDS = ("strategies", "models", "datasets", "executors")
SINGULAR = {"strategies": "strategy", "models": "model", "datasets": "dataset", "executors": "executor"}


class RegistryError(Exception):
    """A plugin registered something invalid (a duplicate name, a class without a name)."""


class UnknownNameError(LookupError):
    def __init__(self, kind: str, name: str, available: list[str]):
        self.kind, self.name, self.available = kind, name, available
        super().__init__(unknown_name_message(kind, name, available))


def unknown_name_message(kind: str, name: str, available: list[str]) -> str:
    message = f"unknown {SINGULAR.get(kind, kind)} {name!r}"
    close = difflib.get_close_matches(str(name), available, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean {close[0]!r}?"
    listed = ", ".join(available) if available else "none (no plugin registered any)"
    return f"{message} Available: {listed}"


def _bases() -> dict[str, type]:
    from prunebench.plugin.base import DatasetSource, Executor, ModelSource, Strategy

    return {"strategies": Strategy, "models": ModelSource, "datasets": DatasetSource, "executors": Executor}


@dataclass
class Registry:
    _items: dict[str, dict[str, type]] = field(default_factory=lambda: {k: {} for k in KINDS})
    _owner: dict[tuple[str, str], str] = field(default_factory=dict)
    _plugins: dict[str, dict[str, str | None]] = field(default_factory=dict)  # plugin -> distribution, version

    def register(self, kind: str, cls: type, plugin: str) -> None:
        base = _bases()[kind]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise RegistryError(f"plugin {plugin!r} registered {cls!r} as a {SINGULAR[kind]}, but it is not a subclass "
                                f"of prunebench.{base.__name__}: subclass it (see docs/writing-a-strategy-plugin.md)")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise RegistryError(f"plugin {plugin!r} registered {cls!r} as a {SINGULAR[kind]} without a `name`")
        if kind == "strategies" and (problem := name_problem(name)):
            raise RegistryError(f"plugin {plugin!r} registered a strategy named {problem}")
        if name in self._items[kind]:
            raise RegistryError(
                f"{SINGULAR[kind]} {name!r} is registered twice: by plugin {self._owner[(kind, name)]!r} "
                f"and by plugin {plugin!r}; uninstall or disable one of them"
            )
        self._items[kind][name] = cls
        self._owner[(kind, name)] = plugin

    def get(self, kind: str, name: str) -> type:
        try:
            return self._items[kind][name]
        except KeyError:
            raise UnknownNameError(kind, name, self.names(kind)) from None

    def names(self, kind: str) -> list[str]:
        return sorted(self._items[kind])

    def owner(self, kind: str, name: str) -> str:
        return self._owner[(kind, name)]

    def describe_plugin(self, plugin: str, *, distribution: str | None, version: str | None) -> None:
        """Where a plugin came from: the distribution that declared its entry point and that distribution's
        version (a plugins-dir file: no distribution, its module's __version__)."""
        self._plugins[plugin] = {"distribution": distribution, "version": version}

    def plugin_identity(self, kind: str, name: str) -> dict[str, str | None]:
        """{"name", "distribution", "version"} of the plugin that registered `name`: what a cell's key and record
        hold of it, so that a new release of the plugin runs its cells again. None where unknown (in-process)."""
        plugin = self.owner(kind, name)
        return {"name": plugin, **self._plugins.get(plugin, {"distribution": None, "version": None})}

    def by_plugin(self) -> dict[str, dict[str, list[str]]]:
        """plugin name -> kind -> names it registered."""
        out: dict[str, dict[str, list[str]]] = {}
        for (kind, name), plugin in sorted(self._owner.items()):
            out.setdefault(plugin, {}).setdefault(kind, []).append(name)
        return out
