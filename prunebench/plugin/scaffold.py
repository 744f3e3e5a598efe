"""`prunebench new-strategy NAME`: write a strategy plugin package that installs, passes its own tests and runs.

The package (from the templates beside this module, filled with string.Template):

    prunebench-NAME/
      pyproject.toml              the entry point in the group `prunebench`, its dependencies (prunebench; and
                                  torch-pruning with --structured), a `test` extra (pytest), the version read from
                                  the package's __version__, a pytest `slow` marker
      README.md
      suite.yaml                  yolo11n on coco128 (prunebench's shipped ones), NAME at 0.3, 160 px, one
                                  fine-tuning epoch (SGD, lr0 0.001, no warm-up: the control keeps
                                  its accuracy)
      prunebench_NAME/__init__.py the strategy class with its Params (no torch)
      prunebench_NAME/prune.py    the torch work: magnitude scores (unstructured) or filter norms (--structured)
      tests/test_conformance.py   the conformance kit passes
      tests/test_known_bad.py     the kit fails the known-bad strategies it ships, of the package's kind
      tests/test_suite.py         the suite validates, and (slow) runs
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template

NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")

# template -> path in the package ({package} is the import name); per kind where the two differ
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "suite.yaml.tmpl": "suite.yaml",
    "strategy_{kind}.py.tmpl": "{package}/__init__.py",
    "prune_{kind}.py.tmpl": "{package}/prune.py",
    "test_conformance.py.tmpl": "tests/test_conformance.py",
    "test_known_bad.py.tmpl": "tests/test_known_bad.py",
    "test_suite.py.tmpl": "tests/test_suite.py",
}
# What each kind's package imports besides the standard library: prunebench, and Torch-Pruning for channel pruning
# (its prune.py imports torch_pruning; prunebench pins the version it is tested with).
DEPENDENCIES = {"unstructured": ["prunebench"], "structured": ["prunebench", "torch-pruning>=1.6"]}
WHAT = {
    "unstructured": "unstructured pruning that zeroes the lowest-scored conv weights (magnitude, as a start)",
    "structured": "channel pruning that removes the filters of lowest norm through Torch-Pruning (as a start)",
}


class ScaffoldError(ValueError):
    """A name or folder the scaffold cannot use: the message says why and what to do."""


@dataclass(frozen=True)
class Names:
    strategy: str  # what suites write, and the entry point's name: "taylor-unstructured"
    distribution: str  # "prunebench-taylor-unstructured"
    package: str  # "prunebench_taylor_unstructured"
    cls: str  # "TaylorUnstructured"

    @classmethod
    def of(cls, name: str) -> "Names":
        if not NAME_PATTERN.fullmatch(name):
            raise ScaffoldError(f"{name!r} is not a strategy name new-strategy can use: lowercase letters and digits "
                                "in words joined by single hyphens, starting with a letter (e.g. taylor-unstructured)")
        words = name.split("-")
        return cls(name, f"prunebench-{name}", "prunebench_" + "_".join(words), "".join(w.title() for w in words))


def check_folder(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ScaffoldError(f"{folder} already exists and is not an empty folder: new-strategy writes a new package; "
                            "give another --dir, or remove it first")


def write_package(name: str, folder: Path, *, structured: bool, data_yaml: str, weights: str) -> list[Path]:
    """Write the package for strategy `name` into `folder` (new or empty); the files written, in order."""
    names = Names.of(name)
    folder = Path(folder)
    check_folder(folder)
    kind = "structured" if structured else "unstructured"
    values = {"name": names.strategy, "distribution": names.distribution, "package": names.package,
              "cls": names.cls, "what": WHAT[kind], "what_sentence": WHAT[kind][0].upper() + WHAT[kind][1:] + ".",
              "description": f"A prunebench strategy plugin: {names.strategy}, {WHAT[kind]}.",
              "flags": f" {names.strategy}" + (" --structured" if structured else ""),
              "suite": names.package.removeprefix("prunebench_"), "data": data_yaml, "weights": weights,
              "kind": kind, "structured": str(structured), "dependencies": json.dumps(DEPENDENCIES[kind])}
    templates = files("prunebench.plugin") / "templates"
    written = []
    for template, target in FILES.items():
        text = Template((templates / template.format(kind=kind)).read_text(encoding="utf-8")).substitute(values)
        path = folder / target.format(package=names.package)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
