"""Where and with what a record's numbers were made, as one frozen value: the device and processor, the thread
count timing used, the software versions, and prunebench's own commit and whether its tree was clean
(util.environment.environment() gathers them; run/ turns that into this value).

`to_json` gives exactly the record's `environment` object: every core field (None when unknown), then the
optional ones only where set (cpu_flags: deployment variants; anything an executor adds, e.g. Ray's node, in
`extra`). No torch here: every command that reads records imports this module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

# Each field and the JSON types it may have (None is always allowed: not known on the machine that wrote it).
_TYPES: dict[str, tuple[type, ...]] = {
    "device": (str,), "device_name": (str,), "cpu": (str,), "cpu_count": (int,), "threads": (int,),
    "torch_threads_default": (int,), "torch": (str,), "cuda": (str,), "cudnn": (int,), "ultralytics": (str,),
    "torch_pruning": (str,), "prunebench": (str,), "python": (str,), "platform": (str,), "hostname": (str,),
    "git_sha": (str,), "git_dirty": (bool,),
}


@dataclass(frozen=True)
class Environment:
    device: str | None = None  # "cpu", "cuda:0"
    device_name: str | None = None  # the GPU's name on CUDA, else the CPU's
    cpu: str | None = None
    cpu_count: int | None = None
    threads: int | None = None  # the intra-op thread count latency was timed with
    torch_threads_default: int | None = None
    torch: str | None = None
    cuda: str | None = None
    cudnn: int | None = None
    ultralytics: str | None = None
    torch_pruning: str | None = None
    prunebench: str | None = None
    python: str | None = None
    platform: str | None = None
    hostname: str | None = None
    git_sha: str | None = None  # prunebench's own commit (None: not run from a checkout)
    git_dirty: bool | None = None  # whether tracked files differed from it
    cpu_flags: tuple[str, ...] | None = None  # the instruction sets INT8 speed depends on (deployment variants)
    extra: Mapping[str, Any] = field(default_factory=dict)  # what else a writer added (executor, ray_node, ...)

    @property
    def commit(self) -> str:
        """"<sha>" or "<sha> (dirty)", "unknown" when the record has none."""
        return f"{self.git_sha or 'unknown'}{' (dirty)' if self.git_dirty else ''}"

    def with_values(self, **values: Any) -> Environment:
        """This environment with some fields set (unknown names go to `extra`)."""
        return Environment.from_json(dict(self.to_json(), **values))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in _TYPES}
        if self.cpu_flags is not None:
            out["cpu_flags"] = list(self.cpu_flags)
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Environment:
        """The environment in a record's `environment` object; ValueError naming a field of the wrong type."""
        values: dict[str, Any] = {}
        for name, types in _TYPES.items():
            value = data.get(name)
            if value is not None and (not isinstance(value, types) or (bool not in types and isinstance(value, bool))):
                raise ValueError(f"environment.{name} is {value!r}, not {' or '.join(t.__name__ for t in types)}")
            values[name] = value
        flags = data.get("cpu_flags")
        if flags is not None and not (isinstance(flags, list) and all(isinstance(f, str) for f in flags)):
            raise ValueError(f"environment.cpu_flags is {flags!r}, not a list of CPU flag names")
        return cls(**values, cpu_flags=tuple(flags) if flags is not None else None,
                   extra={k: v for k, v in data.items() if k not in _TYPES and k != "cpu_flags"})


__all__ = ["Environment"]
