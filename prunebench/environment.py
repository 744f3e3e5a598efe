"""Where a measurement was taken: the device, the software versions, the code's git sha.

No Ultralytics import: package versions come from installed metadata, so this stays fast
and has no side effects.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

_CUDA = re.compile(r"^cuda(?::(\d+))?$")
_FIX = "Use `device: auto` or `device: cpu` in the suite's `evaluation` block, or `--device cpu` on the command line."


def resolve_device(requested: str) -> str:
    """"auto" -> "cuda:0" when torch sees a CUDA GPU, else "cpu"; "cpu" as is; "cuda" / "cuda:N" checked to exist."""
    wanted = str(requested).strip().lower()
    if wanted == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if wanted == "cpu":
        return "cpu"
    match = _CUDA.match(wanted)
    if not match:
        raise ValueError(f"device {requested!r} is not one prunebench can run on: use auto, cpu, cuda or cuda:N "
                         "(N the index of a CUDA GPU, as in `nvidia-smi`).")
    index = int(match.group(1) or 0)
    name = f"cuda:{index}"
    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was requested but torch sees no CUDA GPU on this machine "
                         f"(torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none: a CPU-only build'}). "
                         f"{_FIX}")
    count = torch.cuda.device_count()
    if index >= count:
        listed = ", ".join(f"cuda:{i}" for i in range(count))
        raise ValueError(f"device {name!r} was requested but this machine has {count} CUDA GPU(s): {listed}. "
                         f"Pick one of those, or: {_FIX}")
    return name


def environment(device: str) -> dict[str, Any]:
    """The facts a record needs to say where and with what its numbers were measured."""
    from prunebench import __version__

    cpu = cpu_model_name()
    on_cuda = device.startswith("cuda") and torch.cuda.is_available()
    return {
        "device": device,
        "device_name": torch.cuda.get_device_name(torch.device(device)) if on_cuda else cpu,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "ultralytics": _version("ultralytics"),
        "torch_pruning": _version("torch-pruning"),
        "prunebench": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "git_sha": git_sha(Path.cwd()),
    }


def cpu_model_name() -> str:
    """The CPU's marketing name: /proc/cpuinfo on Linux, py-cpuinfo elsewhere, else platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        import cpuinfo  # py-cpuinfo, installed with Ultralytics

        if name := cpuinfo.get_cpu_info().get("brand_raw"):
            return name
    except Exception:  # an optional nicety: never fail a run over a CPU name
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_sha(folder: Path, timeout: float = 2.0) -> str | None:
    """HEAD of the git repository holding `folder`, or None (not a repo, no git, or git too slow)."""
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = proc.stdout.strip()
    return sha if proc.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", sha) else None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":  # pragma: no cover - a quick look: python -m prunebench.environment
    import json

    json.dump(environment(resolve_device(sys.argv[1] if len(sys.argv) > 1 else "auto")), sys.stdout, indent=1)
    print()
