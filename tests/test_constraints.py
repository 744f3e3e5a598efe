"""Ranges in pyproject.toml, one exact point in constraints.txt: the point is inside every range, it is the set the
published records were made with, and CI and the README install with it."""

import json
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "ultralytics", "torch-pruning")


def pins() -> dict[str, str]:
    found = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            found[canonicalize_name(name)] = version
    return found


def requirements(*extras: str) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(t) for t in texts]


def test_the_heavy_packages_are_ranges_with_an_upper_bound_not_pins():
    for requirement in requirements():
        if requirement.name in HEAVY:
            operators = {s.operator for s in requirement.specifier}
            assert "==" not in operators and ">=" in operators and "<" in operators, requirement


def test_every_declared_requirement_is_pinned_inside_its_range():
    pinned = pins()
    for requirement in requirements("test", "ray", "openvino"):
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name == "nncf":
            continue  # not recorded by the published results (constraints.txt's header)
        assert name in pinned, f"constraints.txt does not pin {name}"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (requirement, pinned[name])


def test_the_lock_is_what_the_published_records_were_made_with():
    pinned = pins()
    assert {name: pinned[name] for name in HEAVY} == {"torch": "2.14.1", "torchvision": "0.29.1",
                                                     "ultralytics": "8.4.190", "torch-pruning": "1.6.1"}
    seen = set()
    for path in sorted(REPO.glob("results/*/cells/*.json")):
        environment = json.loads(path.read_text()).get("environment") or {}
        seen.add((environment.get("torch", "").split("+")[0], environment.get("ultralytics"),
                  environment.get("torch_pruning")))
    assert seen == {(pinned["torch"], pinned["ultralytics"], pinned["torch-pruning"])}


def test_ci_installs_with_the_lock():
    ci = (REPO / ".ci" / "run").read_text()
    assert any(line.startswith("pip install") and "-c constraints.txt" in line for line in ci.splitlines())


def test_the_published_folders_name_the_lock():
    text = (REPO / "results" / "README.md").read_text()
    assert "constraints.txt" in text
