"""The shipped suites on the shipped real material: they validate, plan what they say, and a checkpoint whose
classes are not the dataset's is refused before any cell runs."""


import pytest

from prunebench.run.plan import build_plan
from prunebench.util.canonical import canonical_json
from prunebench.plugin.loader import load_plugins
from prunebench.config import suite as suite_module
from prunebench.config.suite import load_suite
from tests.conftest import REPO, run_cli

SUITES = sorted((REPO / "suites").glob("*.yaml"))
OPENVINO_MISSING = bool(suite_module.missing_deploy_packages(["openvino", "openvino-int8"]))


@pytest.fixture(autouse=True)
def _planning_needs_no_openvino(monkeypatch):
    """In-process loads plan suites/deploy.yaml without the openvino extra (running its variants needs it)."""
    monkeypatch.setattr(suite_module, "missing_deploy_packages", lambda deploy: [])


@pytest.fixture(scope="module")
def registry():
    return load_plugins().registry


@pytest.mark.parametrize("path", SUITES, ids=[p.stem for p in SUITES])
def test_every_shipped_suite_validates_from_another_folder(path, tmp_path):
    proc = run_cli("validate", str(path), cwd=tmp_path)  # paths in suites resolve against the suite file
    if path.stem == "deploy" and OPENVINO_MISSING:  # an extra (180 MB): without it, refused naming what to install
        assert proc.returncode != 0 and 'pip install "prunebench[openvino]"' in proc.stderr, proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    assert "valid suite" in proc.stdout


@pytest.mark.parametrize("path", SUITES, ids=[p.stem for p in SUITES])
def test_no_published_suite_rests_on_synthetic_data(path, registry):
    """Synthetic buds are for CI and the plugin kit only (smoke is real too)."""
    loaded = load_suite(path, registry)
    assert not any(getattr(d.cls, "synthetic", False) for d in loaded.datasets.values()), path.name


def test_every_pruned_cell_has_a_fine_tuned_control_with_its_recipe(registry):
    for path in SUITES:
        cells = build_plan(load_suite(path, registry))
        controls = {(c.model, c.dataset, c.seed, canonical_json(c.spec["finetune"])) for c in cells if c.is_control}
        for cell in cells:
            if not cell.is_dense and cell.spec["finetune"] is not None:
                wanted = (cell.model, cell.dataset, cell.seed, canonical_json(cell.spec["finetune"]))
                assert wanted in controls, (path, cell.name)


def test_weights_whose_classes_are_not_the_datasets_stop_the_run_before_any_cell(tmp_path):
    suite = tmp_path / "mismatch.yaml"
    suite.write_text(f"""\
name: mismatch
models:
  - name: coco
    params: {{weights: {REPO / "weights" / "yolo11n.pt"}}}
datasets:
  - name: tea
    params: {{data: {REPO / "data" / "tea_bud" / "data.yaml"}}}
strategies:
  - name: l1-unstructured
    amounts: [0.3]
finetune: {{epochs: 1}}
evaluation: {{imgsz: 64, device: cpu}}
""")
    proc = run_cli("run", str(suite), "--results", str(tmp_path / "results"), cwd=tmp_path, timeout=300)
    assert proc.returncode == 1
    assert f"{REPO / 'weights' / 'yolo11n.pt'} predicts 80 classes" in proc.stderr
    assert "but the dataset has 3 classes (good, bad, more_than_two)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "results").rglob("*.json"))  # nothing written


def test_the_gpu_quick_suite_is_a_slice_of_the_seed_study(registry):
    """The offline GPU kit's suite: its cells are the study's own (same keys), so its records resume the study;
    only its control is keyed apart (the study has two recipes, hence controls named dense-ft-<hex>)."""
    study = {c.key: c for c in build_plan(load_suite(REPO / "suites" / "tea_bud.yaml", registry))}
    quick = build_plan(load_suite(REPO / "suites" / "tea_bud_gpu_quick.yaml", registry))
    assert len(quick) == 5
    for cell in quick:
        assert (cell.key in study) == (not cell.is_control), cell.name
        if not cell.is_control:
            assert study[cell.key].name == cell.name


@pytest.mark.parametrize("folder", sorted(p.parent for p in (REPO / "results").glob("*/cells")),
                         ids=lambda p: p.name)
def test_every_published_record_keeps_its_name_and_key_when_its_suite_is_planned_again(folder, registry):
    """How amounts are parsed, named and hashed must not move a published cell: `run` would retrain it."""
    import json

    suite_path = REPO / "suites" / f"{folder.name}.yaml"
    planned = {(cell.name, cell.key) for cell in build_plan(load_suite(suite_path, registry))}
    published = [json.loads(path.read_text()) for path in sorted((folder / "cells").glob("*.json"))]
    moved = [record["name"] for record in published if (record["name"], record["key"]) not in planned]
    assert published and not moved, f"{len(moved)} of {len(published)} records planned anew under another name or key: {moved[:5]}"
