"""The conformance kit's public face, without training anything: `prunebench.testing` imports without pytest (its
fixtures live in the pytest plugin module the `pytest11` entry point names), `tiny_context` documents how to build a
context for a quick script, and `prune_structured`'s measured figures win over what a `cut` claims."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_prunebench_testing_imports_without_pytest():
    # pytest made unimportable, as in a plain script where it is not installed
    code = ("import sys; sys.modules['pytest'] = None\n"
            "from prunebench.testing import check_strategy, tiny_context, synthetic_buds, cached_baseline\n"
            "import prunebench.testing.known_bad\n"
            "print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_the_pytest11_entry_point_names_the_plugin_module_with_the_fixtures():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["pytest11"]
    assert declared == {"prunebench": "prunebench.testing.pytest_plugin"}
    installed = {ep.name: ep.value for ep in entry_points(group="pytest11") if ep.dist.name == "prunebench"}
    assert installed == declared, "reinstall prunebench (pip install -e .): its entry points changed"
    from prunebench.testing import pytest_plugin

    for fixture in ("prunebench_plugins", "prunebench_registry", "prunebench_tiny_data", "prunebench_tiny_model",
                    "prunebench_ctx", "prunebench_trained_baseline", "prunebench_known_bad"):
        assert hasattr(pytest_plugin, fixture), fixture


def test_tiny_context_says_how_to_build_a_context_for_a_quick_script(tmp_path):
    from prunebench.testing import tiny_context

    doc = tiny_context.__doc__ or ""
    assert "quick script" in doc and "synthetic_buds(" in doc and "tiny_context(data, work)" in doc
    ctx = tiny_context(None, tmp_path, seed=3)
    assert (ctx.device, ctx.seed, ctx.imgsz, ctx.work_dir) == ("cpu", 3, 64, tmp_path)


def test_what_prune_structured_measures_wins_over_what_cut_reports():
    pytest.importorskip("torch_pruning")
    import torch_pruning as tp

    from prunebench import pruning
    from prunebench.testing import tiny_model

    def cut(model, ignored_layers, example_input):
        tp.pruner.BasePruner(model, example_input, importance=tp.importance.MagnitudeImportance(p=1),
                             pruning_ratio=0.2, ignored_layers=ignored_layers).step()
        return {"channel_reduction": 0.9, "param_reduction": 0.9, "importance": "L1"}

    report = pruning.prune_structured(tiny_model(nc=1).eval(), 0.2, 64, False, cut)
    assert report["importance"] == "L1"  # cut's own keys are kept
    assert abs(report["channel_reduction"] - 0.2) < 0.05 and report["param_reduction"] < 0.9  # measured
    assert report["cut_report"] == {"channel_reduction": 0.9, "param_reduction": 0.9}  # the claims, set aside
