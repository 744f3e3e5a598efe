"""Suites and data YAMLs are bounded by bytes and depth, not only by the number of values: a small alias graph
holding one large string, or a few KB nested a thousand levels, is refused in one short paragraph."""

import pytest

from tests.conftest import run_cli

BIG = "x" * 1_000_000


def aliased_string(times: int, where: str = "description") -> str:
    """A ~1 MB document whose one 1 MB string is used `times` times (1 MB × times once expanded)."""
    return f"anchor: &big {BIG}\n{where}:\n" + "".join("  - *big\n" for _ in range(times))


def nested(levels: int, where: str = "models") -> str:
    return f"{where}: " + "[" * levels + "]" * levels + "\n"


def test_a_large_string_aliased_many_times_is_refused_by_its_bytes(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: x\n" + aliased_string(2000))  # 2 GB once expanded; 200 values only
    proc = run_cli("validate", str(suite), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"{suite}:1: YAML aliases (or sheer size) expand this document to more than 16 MB")
    assert len(proc.stderr) < 600  # the 1 MB string is not quoted


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_suite_nested_a_thousand_levels_is_refused_without_a_recursion_error(tmp_path, command):
    suite = tmp_path / "deep.yaml"
    suite.write_text("name: x\n" + nested(1000))  # 2 KB
    proc = run_cli(command, str(suite), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    assert proc.stderr.startswith(f"{suite}:2: YAML nested more than 32 levels deep"), proc.stderr


@pytest.mark.parametrize("document", [aliased_string(2000, "names"), "names: {0: a}\n" + nested(1000, "train"),
                                      "names:\n" + "".join("  " * i + f"  k{i}:\n" for i in range(200))],
                         ids=["aliased-string", "nested-flow", "nested-block"])
def test_data_yamls_are_bounded_by_bytes_and_depth(tmp_path, document):
    from prunebench.yolo import labels

    data = tmp_path / "data.yaml"
    data.write_text(document)
    with pytest.raises(ValueError, match=r"^data YAML .*data.yaml:\d+: YAML (aliases|nested)") as error:
        labels.read_data_yaml(data)
    assert len(str(error.value)) < 400


def test_the_bounds_leave_every_shipped_yaml_readable():
    from tests.conftest import REPO
    from prunebench.util import safe_yaml

    shipped = sorted((REPO / "suites").glob("*.yaml")) + sorted((REPO / "data").glob("*/data.yaml"))
    assert shipped
    for path in shipped:
        safe_yaml.load(path)
