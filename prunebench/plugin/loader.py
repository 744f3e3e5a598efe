"""Build the plugin manager and the registry.

Plugins come from the entry point group "prunebench" (the built-ins too, declared in
pyproject.toml) and from one-off `*.py` files in `--plugins-dir`. Like pytest and llm:
  PRUNEBENCH_DISABLE_PLUGIN_AUTOLOAD=1   load no entry points at all
  PRUNEBENCH_LOAD_PLUGINS=a,b            load only the entry points named a and b
A plugin that fails to import is reported, not fatal: it only matters when a suite uses it.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import entry_points
from pathlib import Path

import pluggy

from prunebench.plugin import hookspecs
from prunebench.plugin.registry import KINDS, Registry, RegistryError

GROUP = "prunebench"
HOOK_FOR_KIND = {kind: f"register_{kind}" for kind in KINDS}


@dataclass
class PluginInfo:
    name: str
    source: str  # "built-in" | "entry point" | "plugins dir"
    version: str | None
    location: str
    error: str | None = None
    distribution: str | None = None  # the installed distribution that declared the entry point


@dataclass
class Plugins:
    manager: pluggy.PluginManager
    registry: Registry
    infos: list[PluginInfo] = field(default_factory=list)

    @property
    def broken(self) -> list[PluginInfo]:
        return [info for info in self.infos if info.error]


def _env_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def _load_entry_points(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
    if os.environ.get("PRUNEBENCH_DISABLE_PLUGIN_AUTOLOAD", "").lower() in {"1", "true", "yes"}:
        return
    only = _env_list("PRUNEBENCH_LOAD_PLUGINS")
    seen: set[str] = set()
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        if ep.name in seen or (only is not None and ep.name not in only):
            continue
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else None
        source = "built-in" if dist_name == "prunebench" else "entry point"
        version = dist.version if dist is not None else None
        info = PluginInfo(ep.name, source, version, ep.value, distribution=dist_name)
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken plugin must not take down the others
            info.error = f"{type(exc).__name__}: {exc}"
        infos.append(info)


def _load_plugins_dir(pm: pluggy.PluginManager, plugins_dir: Path, infos: list[PluginInfo]) -> None:
    plugins_dir = Path(plugins_dir)
    if not plugins_dir.is_dir():
        raise ValueError(f"--plugins-dir {plugins_dir}: no such directory")
    for path in sorted(plugins_dir.glob("*.py")):
        module_name = f"prunebench_plugins_dir.{path.stem}"
        info = PluginInfo(path.stem, "plugins dir", None, str(path))
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
            info.version = getattr(module, "__version__", None)
            pm.register(module, name=path.stem)
        except Exception as exc:
            info.error = f"{type(exc).__name__}: {exc}"
        infos.append(info)


def build_registry(pm: pluggy.PluginManager, refused: dict[str, str] | None = None,
                   strict: frozenset[str] = frozenset()) -> Registry:
    """Call each plugin's register_* hooks one by one, so we know who registered what. A registration the registry
    refuses (a name another plugin took, a reserved name) is left out and noted in `refused` (plugin -> why), so
    one installed plugin's mistake marks it broken instead of taking down every command; plugins in `strict`
    (passed in-process by the caller) raise RegistryError instead."""
    registry = Registry()

    def register(kind: str, cls: type, *, plugin: str) -> None:
        try:
            registry.register(kind, cls, plugin)
        except RegistryError as exc:
            if refused is None or plugin in strict:
                raise
            refused[plugin] = "; ".join(filter(None, (refused.get(plugin), str(exc))))

    for kind, hook_name in HOOK_FOR_KIND.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            impl.function(register=partial(register, kind, plugin=impl.plugin_name))
    return registry


def load_plugins(plugins_dir: Path | None = None, extra: list[tuple[str, object]] = ()) -> Plugins:
    """Load every plugin and return the manager, the registry and what was loaded from where.

    `extra` registers in-process plugin objects (tests use it for fake plugins).
    """
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    _load_entry_points(pm, infos)
    if plugins_dir is not None:
        _load_plugins_dir(pm, plugins_dir, infos)
    for name, plugin in extra:
        pm.register(plugin, name=name)
        infos.append(PluginInfo(name, "in-process", None, repr(plugin)))
    _reject_unknown_hooks(pm, infos)
    refused: dict[str, str] = {}
    registry = build_registry(pm, refused, strict=frozenset(name for name, _ in extra))
    for info in infos:
        if info.name in refused and not info.error:
            info.error = refused[info.name]
        registry.describe_plugin(info.name, distribution=info.distribution, version=info.version)
    return Plugins(pm, registry, infos)


def _reject_unknown_hooks(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
    """A misspelled hook implementation fails at load time: the plugin is unloaded and marked broken."""
    by_name = {info.name: info for info in infos}
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin)
            pm.unregister(exc.plugin)
            hooks = sorted(HOOK_FOR_KIND.values())
            hint = ""
            for word in str(exc).replace("'", " ").split():
                close = difflib.get_close_matches(word, hooks, n=1, cutoff=0.75)
                if word.startswith("register") and close and word not in hooks:
                    hint = f"; did you mean {close[0]!r}? Hooks: {', '.join(hooks)}"
                    break
            message = f"{exc}{hint}"
            if name in by_name:
                by_name[name].error = message
            else:
                infos.append(PluginInfo(name or "?", "unknown", None, repr(exc.plugin), message))
