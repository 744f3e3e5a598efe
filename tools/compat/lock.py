"""Write constraints.txt: the exact version of every package prunebench (with the extras named) pulls in, as
installed in the running environment, i.e. the environment that made the published results.

    python tools/compat/lock.py [--extras test,ray] [--out constraints.txt] [--check]

The closure is walked through the installed distributions' own requirements (markers evaluated, extras
followed), so the file holds what this environment resolved, not what an index would offer today. `--check` exits
1 when the file differs from what would be written (tests/test_constraints.py runs the same comparison on the
packages' names). prunebench itself and the example plugin are not pinned: they are installed from the checkout.
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
HEADER = """\
# The exact set of packages that made the published results (results/*/): prunebench's dependencies and its
# test and ray extras, as resolved on the machine that ran them (Python {python}, Linux x86_64), and the OpenVINO
# that results/deploy's records name (its openvino extra; NNCF's version was not recorded).
# pyproject.toml declares ranges; this file pins one point inside them. CI and the README's test command install
# with it:   pip install -e ".[test,ray]" -c constraints.txt
# torch's wheel there was the CUDA 13.0 build (torch {torch}); `torch=={torch_public}` accepts it or PyPI's.
# Regenerate after changing the environment: python tools/compat/lock.py  (tests/test_constraints.py checks it)
"""


# Not pinned: prunebench itself (installed from the checkout), and the packaging tools, as pip-compile leaves them
# out by default: a venv's own setuptools shadows the one torch's metadata asks for, and pinning it makes the set
# unresolvable (torch 2.14.1 requires setuptools>=77.0.3).
UNPINNED = {"prunebench", "setuptools", "pip", "wheel"}


def closure(extras: list[str]) -> dict[str, str]:
    """{canonical name: installed version} of prunebench's requirements with `extras`, followed transitively."""
    pinned: dict[str, str] = {}
    todo = [(Requirement(f"prunebench[{','.join(extras)}]"), set())]
    seen: set[tuple[str, frozenset]] = set()
    while todo:
        requirement, _ = todo.pop()
        name = canonicalize_name(requirement.name)
        marker_key = (name, frozenset(requirement.extras))
        if marker_key in seen:
            continue
        seen.add(marker_key)
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency this environment does not have (a platform-only one)
        if name not in UNPINNED:
            pinned[name] = dist.version
        for text in dist.requires or []:
            child = Requirement(text)
            if child.marker is None:
                todo.append((child, set()))
                continue
            for extra in [""] + sorted(requirement.extras):
                if child.marker.evaluate({"extra": extra}):
                    todo.append((child, set()))
                    break
    return dict(sorted(pinned.items()))


# Packages of an extra the locking environment does not hold, at the version the published records name.
RECORDED = {"openvino": "2026.4.1"}  # results/deploy/cells/*.json: details ... "openvino": "2026.4.1-22982-..."


def render(extras: list[str]) -> str:
    pins = {**RECORDED, **closure(extras)}
    pins = dict(sorted(pins.items()))
    torch = pins.get("torch", "?")
    lines = [HEADER.format(python=".".join(map(str, sys.version_info[:3])), torch=torch,
                           torch_public=torch.split("+")[0])]
    lines += [f"{name}=={version.split('+')[0]}" for name, version in pins.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extras", default="test,ray")
    parser.add_argument("--out", default=str(REPO / "constraints.txt"))
    parser.add_argument("--check", action="store_true", help="compare with the file instead of writing it")
    args = parser.parse_args()
    text = render([e for e in args.extras.split(",") if e])
    out = Path(args.out)
    if args.check:
        same = out.is_file() and out.read_text() == text
        print(f"{out}: {'up to date' if same else 'differs from this environment'}")
        return 0 if same else 1
    out.write_text(text)
    print(f"wrote {out} ({text.count('==')} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
