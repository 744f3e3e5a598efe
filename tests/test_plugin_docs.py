"""docs/writing-a-strategy-plugin.md describes the package `prunebench new-strategy` writes (its layout, file names,
dependencies, test extra and version), and its worked data-driven example (HRank through a custom Torch-Pruning
importance) runs and removes the channels asked for."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest

from prunebench.plugin.scaffold import DEPENDENCIES, write_package

REPO = Path(__file__).resolve().parents[1]
GUIDE = (REPO / "docs" / "writing-a-strategy-plugin.md").read_text()
DATA, WEIGHTS = REPO / "data" / "coco128" / "data.yaml", REPO / "weights" / "yolo11n.pt"


def section(title: str) -> str:
    return GUIDE.split(title, 1)[1].split("\n## ", 1)[0]


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of `text` opened with ```<language> ("" for a bare fence)."""
    found, current, opened = [], None, None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current, opened = [], line[3:].strip()
            else:
                if opened == language:
                    found.append("\n".join(current) + "\n")
                current = None
        elif current is not None:
            current.append(line)
    return found


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs") / "prunebench-hrank-channel"
    write_package("hrank-channel", folder, structured=True, data_yaml=str(DATA), weights=str(WEIGHTS))
    return folder


def test_the_documented_layout_is_what_new_strategy_writes(scaffold):
    package = section("## 1. The package")
    [layout] = blocks(package, "")
    lines = [line.strip() for line in layout.strip().splitlines()]
    assert lines[0] == f"{scaffold.name}/"
    written = sorted(str(p.relative_to(scaffold)) for p in scaffold.rglob("*") if p.is_file())
    assert sorted(lines[1:]) == written
    for name in written:  # each file is explained in a bullet
        assert f"`{name}`" in package, name


def test_the_documented_pyproject_is_what_new_strategy_writes(scaffold):
    [documented] = [tomllib.loads(b) for b in blocks(section("## 1. The package"), "toml")]
    written = tomllib.loads((scaffold / "pyproject.toml").read_text())
    for table in ("project", "tool"):
        for key, value in documented.get(table, {}).items():
            if isinstance(value, dict) and table == "tool":
                for sub, inner in value.items():
                    assert written[table][key][sub] == inner, (table, key, sub)
            else:
                assert written[table][key] == value, (table, key)
    assert written["project"]["dependencies"] == DEPENDENCIES["structured"]
    assert written["project"]["optional-dependencies"]["test"] == ["pytest>=8"]
    assert f'depends on `{str(DEPENDENCIES["unstructured"]).replace(chr(39), chr(34))}` only' in GUIDE
    # one version string: the package's __version__, which pyproject reads (a module-level literal)
    init = (scaffold / "prunebench_hrank_channel" / "__init__.py").read_text()
    assert len(re.findall(r"^__version__ = \"0\.1\.0\"$", init, flags=re.M)) == 1
    assert "version" not in written["project"] and written["project"]["dynamic"] == ["version"]
    assert "pip install -e ." in GUIDE and "again" in section("## 1. The package").split("**The version.**")[1]


def test_the_guide_names_no_file_the_scaffold_does_not_write():
    for stale in ("cut.py", "test_fpgm_conformance.py", "prunebench.structured import", "mAP50 0.31"):
        assert stale not in section("## 1. The package") + section("## 2. The strategy"), stale


def load_example(tmp_path, replace: tuple[str, str] | None = None):
    [code] = [b for b in blocks(section("## 2. The strategy"), "python") if "class FeatureMapRank" in b]
    if replace:
        assert replace[0] in code
        code = code.replace(*replace)
    path = tmp_path / f"hrank_example_{abs(hash(replace))}.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from prunebench.testing import synthetic_buds

    return synthetic_buds(tmp_path_factory.mktemp("hrank-data"), train=16, val=4, imgsz=64, seed=0)


def prune_with(module, tiny_data, tmp_path, amount=0.3):
    from prunebench.testing import as_the_runner_gives_it, tiny_context, tiny_model
    from prunebench.testing.measured import Counts, structured

    import torch

    torch.manual_seed(0)
    model = as_the_runner_gives_it(tiny_model(nc=1))
    before = Counts.of(model)
    report = module.remove_low_rank_channels(model, amount, tiny_context(tiny_data, tmp_path), images=8)
    return model, report, structured(before, Counts.of(model), report)


def test_the_worked_hrank_example_removes_the_channels_asked_for(tiny_data, tmp_path):
    pytest.importorskip("torch_pruning")
    from prunebench.testing.conformance import weight_differences

    example = load_example(tmp_path)
    model, report, measured = prune_with(example, tiny_data, tmp_path)
    assert report["importance"] == "HRank: mean feature-map rank" and report["images"] == 8
    assert abs(measured["channel_reduction"] - 0.3) <= 0.05 and measured["params_after"] < measured["params_before"]
    assert abs(report["channel_reduction"] - measured["channel_reduction"]) <= 0.005
    again, _, _ = prune_with(example, tiny_data, tmp_path)  # the images are drawn by the seed: the same cut
    assert weight_differences(model, again) == []


def test_with_is_instead_of_equals_the_example_removes_nothing(tiny_data, tmp_path):
    """The trap the guide warns of, measured: every group skipped, channel_reduction 0.0."""
    pytest.importorskip("torch_pruning")
    trap = load_example(tmp_path, ("dep.pruning_fn == tp.prune_conv_out_channels",
                                   "dep.pruning_fn is tp.prune_conv_out_channels"))
    _, report, measured = prune_with(trap, tiny_data, tmp_path)
    assert report["channel_reduction"] == 0.0 and measured["channels_removed"] == 0
