"""Where a measurement was taken: the device, the timing thread count, the software versions, and the
git sha of prunebench's own source.

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


def timing_threads(device: str, requested: int | None = None) -> int:
    """The intra-op thread count latency is timed with on `device`: `requested` (evaluation.measure.threads)
    when set, else 1 on the CPU (one core per model, comparable across machines), else torch's current count.

    The runner passes this to measure(), and environment() records it: torch's count at the time environment()
    runs is not it (Ultralytics resets it to its own NUM_THREADS when it selects a CPU device)."""
    if requested is not None:
        if requested < 1:
            raise ValueError(f"timing threads {requested} must be at least 1, or unset for the default "
                             "(`evaluation.measure.threads`).")
        return int(requested)
    return 1 if device == "cpu" else torch.get_num_threads()


def environment(device: str, timing_threads: int | None = None) -> dict[str, Any]:
    """The facts a record needs to say where and with what its numbers were measured.

    `timing_threads`: the thread count latency is timed with (`timing_threads(device, requested)`), recorded as
    "threads"; when not given, the default for `device` with no thread count requested."""
    __version__ = _version("prunebench")

    cpu = cpu_model_name()
    on_cuda = device.startswith("cuda") and torch.cuda.is_available()
    sha, dirty = source_git()
    return {
        "device": device,
        "device_name": torch.cuda.get_device_name(torch.device(device)) if on_cuda else cpu,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "threads": timing_threads if timing_threads is not None else _timing_threads(device),
        "torch_threads_default": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "ultralytics": _version("ultralytics"),
        "torch_pruning": _version("torch-pruning"),
        "prunebench": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "git_sha": sha,
        "git_dirty": dirty,
    }


_timing_threads = timing_threads  # environment()'s argument of the same name hides the function there


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
    out = _git(folder, ["rev-parse", "HEAD"], timeout)
    return out if out is not None and re.fullmatch(r"[0-9a-f]{40,64}", out) else None


def source_git(package_dir: Path | None = None, timeout: float = 2.0) -> tuple[str | None, bool | None]:
    """(HEAD sha, whether tracked files differ from it) of prunebench's own source checkout; (None, None) when
    prunebench is not run from one (installed from a wheel into site-packages, even inside someone else's repo).

    `package_dir`: the imported prunebench package folder (a parameter for tests). It counts as a checkout only
    when its parent is the top level of a git work tree, as in this repository's layout."""
    if package_dir is None:
        package_dir = Path(__file__).resolve().parents[1]  # prunebench/util/ -> prunebench/
    root = Path(package_dir).resolve().parent
    top = _git(root, ["rev-parse", "--show-toplevel"], timeout)
    if top is None or Path(top).resolve() != root:
        return None, None
    sha = git_sha(root, timeout)
    if sha is None:  # a repository without commits yet
        return None, None
    # --no-optional-locks: status must not take index.lock (it would fail a concurrent `git add` or commit).
    # results/ is the records' own folder, not code: a suite published from a clean commit changes it, and the
    # next suite run from that commit is no less clean for it.
    status = _git(root, ["--no-optional-locks", "status", "--porcelain", "--untracked-files=no", "--", ".",
                         ":(exclude)results"], timeout)
    return sha, None if status is None else bool(status)


def _git(folder: Path, args: list[str], timeout: float) -> str | None:
    """git's stripped stdout, run in `folder`; None when git fails, is missing or is too slow."""
    try:
        proc = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":  # pragma: no cover - a quick look: python -m prunebench.util.environment
    import json

    json.dump(environment(resolve_device(sys.argv[1] if len(sys.argv) > 1 else "auto")), sys.stdout, indent=1)
    print()
