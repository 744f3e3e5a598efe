"""Deployment variants (issue 24): the suite syntax and its errors, variant cells in the plan (torch keys
unchanged, one record per cell x variant), INT8 calibration that never reads the reported split, and the
report: rows per deployment, the conversion's own Δ, one latency axis, and "Dominated by" naming INT8 and
smaller-input rows."""

from __future__ import annotations

import pytest

from tests.test_plan import SUITE, keys, plan_for
from tests.test_verdicts import CPU_ENV, rec, row, section

DEPLOY = SUITE.replace("evaluation: {imgsz: 320, device: cpu}",
                       "evaluation: {imgsz: 320, device: cpu, deploy: [torch, onnx, onnx-int8], "
                       "smaller_inputs: [256, 224]}")


# ---------------------------------------------------------------- suite and plan
def test_variant_cells_leave_the_torch_cells_and_their_keys_as_they_were(tmp_path, registry):
    plain = plan_for(tmp_path, registry)
    deploying = plan_for(tmp_path, registry, DEPLOY)
    torch_cells = [c for c in deploying if not c.deploy]
    assert keys(torch_cells) == keys(plain)
    variants = [c for c in deploying if c.deploy]
    # every cell x 2 exports, and every plain dense cell x 2 smaller inputs
    assert len(variants) == 2 * len(plain) + 2 * sum(c.strategy == "dense" for c in plain)
    by_name = {c.name: c for c in deploying}
    int8 = by_name["m1.d1.fake-prune.a0.30.s1.onnx-int8"]
    parent = by_name["m1.d1.fake-prune.a0.30.s1"]
    assert int8.deploy == {"variant": "onnx-int8", "format": "onnx", "precision": "int8", "runtime": "onnxruntime",
                           "imgsz": 320, "parent": {"name": parent.name, "key": parent.key}}
    assert int8.measure_key == parent.measure_key and int8.key != parent.key
    small = by_name["m1.d1.dense.a0.00.s0.i224"]
    assert small.deploy["variant"] == "torch" and small.deploy["imgsz"] == 224 and small.is_dense
    assert not any(c.name.endswith((".i224", ".i256")) and c.strategy != "dense" for c in deploying)
    assert len({c.key for c in deploying}) == len({c.filename for c in deploying}) == len(deploying)


def test_a_retrained_parent_gives_its_variants_new_keys(tmp_path, registry):
    before = keys(plan_for(tmp_path, registry, DEPLOY))
    after = keys(plan_for(tmp_path, registry, DEPLOY.replace("finetune: {epochs: 2}", "finetune: {epochs: 3}")))
    assert before["m1.d1.fake-prune.a0.30.s0.onnx-int8"] != after["m1.d1.fake-prune.a0.30.s0.onnx-int8"]
    # the dense cell is not fine-tuned: neither it nor its variants change
    assert before["m1.d1.dense.a0.00.s0.onnx"] == after["m1.d1.dense.a0.00.s0.onnx"]


def test_the_evaluation_settings_of_a_deploying_suite_validate_torch_rows_as_exports_are(tmp_path, registry):
    [plain] = [c for c in plan_for(tmp_path, registry) if c.name == "m1.d1.dense.a0.00.s0"]
    [deployed] = [c for c in plan_for(tmp_path, registry, DEPLOY) if c.name == "m1.d1.dense.a0.00.s0"]
    assert "deploy" not in plain.spec["evaluation"] and "rect" not in plain.spec["evaluation"]
    assert deployed.spec["evaluation"]["rect"] is False and deployed.measure_key != plain.measure_key
    assert deployed.spec["evaluation"]["calibration"] == {"max_images": 300}


@pytest.mark.parametrize("evaluation, message", [
    ("deploy: [onnx, torch]", "deploy must start with torch"),
    ("deploy: [torch, tensorrt]", "deploy.1: Input should be 'torch', 'onnx', 'onnx-int8', 'openvino' or 'openvino-int8'"),
    ("deploy: [torch, onnx, onnx]", "deploy variants repeat"),
    ("smaller_inputs: [320]", "smaller_inputs [320] must be distinct sizes below imgsz 320"),
    ("smaller_inputs: [250]", "smaller_inputs [250] are not multiples of 32"),
])
def test_bad_deploy_settings_are_refused_with_one_clear_line(tmp_path, registry, evaluation, message):
    from prunebench.config.suite import SuiteError

    text = SUITE.replace("evaluation: {imgsz: 320, device: cpu}", f"evaluation: {{imgsz: 320, device: cpu, {evaluation}}}")
    with pytest.raises(SuiteError) as err:
        plan_for(tmp_path, registry, text)
    assert message in str(err.value) and str(err.value).startswith(str(tmp_path / "suite.yaml"))


def test_openvino_variants_name_the_extra_when_its_packages_are_missing(tmp_path, registry, monkeypatch):
    import importlib.util

    from prunebench.config.suite import SuiteError

    # openvino found, nncf not, whatever this environment has (CI installs neither; a deployer has both).
    real, fake = importlib.util.find_spec, {"nncf": None, "openvino": importlib.util.find_spec("json")}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: fake[name] if name in fake else real(name, *a))
    text = SUITE.replace("evaluation: {imgsz: 320, device: cpu}",
                         "evaluation: {imgsz: 320, device: cpu, deploy: [torch, openvino, openvino-int8]}")
    with pytest.raises(SuiteError) as err:
        plan_for(tmp_path, registry, text)
    [line] = str(err.value).splitlines()
    assert "evaluation.deploy.2: openvino-int8 needs the Python package nncf" in line
    assert 'pip install "prunebench[openvino]"' in line


def test_the_config_names_exactly_the_variants_the_runner_knows():
    from typing import get_args

    from prunebench.config.suite import DEPLOY_VARIANTS, DeployVariant
    from prunebench.run.variants import VARIANTS

    assert set(get_args(DeployVariant)) == set(DEPLOY_VARIANTS) == set(VARIANTS)


def test_distillation_recipes_get_their_own_control_and_plain_recipes_keep_their_keys(tmp_path, registry):
    kd = SUITE.replace("  - name: fake-other\n    amounts: [0.5]\n",
                       "  - name: fake-other\n    amounts: [0.5]\n    finetune: {distill: dense, dis: 3.0}\n")
    plain, distilled = plan_for(tmp_path, registry), plan_for(tmp_path, registry, kd)
    assert keys(plain)["m1.d1.fake-prune.a0.30.s0"] == keys(distilled)["m1.d1.fake-prune.a0.30.s0"]
    recipes = {c.strategy: c.spec["finetune"] for c in distilled if c.is_control and c.seed == 0 and c.model == "m1"}
    assert len(recipes) == 2 and sorted(str(r.get("distill")) for r in recipes.values()) == ["None", "dense"]
    [kd_recipe] = [r for r in recipes.values() if r.get("distill")]
    assert kd_recipe["dis"] == 3.0
    assert next(c for c in distilled if c.strategy == "fake-other").spec["finetune"] == kd_recipe


# ---------------------------------------------------------------- calibration
def test_calibration_lists_train_images_only_never_the_reported_split():
    from pathlib import Path

    from prunebench.yolo import calibration
    from prunebench.yolo.labels import list_split_images, read_data_yaml

    data_yaml = Path(__file__).resolve().parents[1] / "data" / "tea_bud" / "data.yaml"
    data = read_data_yaml(data_yaml)
    chosen = calibration.calibration_images(data_yaml)
    assert set(chosen) == set(list_split_images(data, "train"))
    for split in ("val", "test"):
        assert not set(chosen) & set(list_split_images(data, split))
    assert len(calibration.calibration_images(data_yaml, max_images=5)) == 5


@pytest.mark.slow
def test_an_int8_export_calibrates_on_the_train_split_alone(tmp_path, monkeypatch):
    """The exporter itself: which images its calibration dataloader reads, during a real INT8 ONNX export."""
    from pathlib import Path

    from ultralytics.engine.exporter import Exporter

    from prunebench.yolo import calibration, export
    from prunebench.yolo.labels import list_split_images, read_data_yaml

    root = Path(__file__).resolve().parents[1]
    data_yaml = root / "data" / "tea_bud" / "data.yaml"
    seen: list[str] = []
    original = Exporter.get_int8_calibration_dataloader

    def spy(self, prefix=""):
        loader = original(self, prefix)
        seen.extend(str(Path(f).resolve()) for f in loader.dataset.im_files)
        return loader

    monkeypatch.setattr(Exporter, "get_int8_calibration_dataloader", spy)
    cal = calibration.calibration_data(data_yaml, tmp_path / "cal")
    written = export.export_checkpoint(root / "weights" / "yolo11n.pt", "onnx", imgsz=64, out_dir=tmp_path / "x",
                                       calibration=cal)
    assert written.name == "yolo11n_int8.onnx" and written.is_file()
    data = read_data_yaml(data_yaml)
    assert sorted(seen) == sorted(str(p.resolve()) for p in list_split_images(data, "train"))
    reported = {str(p.resolve()) for split in ("val", "test") for p in list_split_images(data, split)}
    assert not set(seen) & reported


# ---------------------------------------------------------------- the report
def deployed(record, variant, *, imgsz=640, vs_torch=None, within=None, parent_key="p"):
    """A record of `record`'s cell deployed as `variant` (at `imgsz`), timed vs_torch faster than dense torch and
    `within` faster than the dense model deployed the same way (when given), each with a ±2 % 95 % interval."""
    import copy

    out = copy.deepcopy(record)
    runtime = {"torch": "torch", "onnx-int8": "onnxruntime", "openvino-int8": "openvino"}[variant]
    suffix = f"i{imgsz}" if variant == "torch" else variant
    out["spec"]["deploy"] = {"variant": variant, "format": None if variant == "torch" else variant.split("-")[0],
                             "precision": "int8" if variant.endswith("int8") else "fp32", "runtime": runtime,
                             "imgsz": imgsz, "parent": {"name": record["name"], "key": record["key"]}}
    out["name"] += f".{suffix}"
    out["key"] += f"-{suffix}"
    out["metrics"]["speedup_vs_torch"] = vs_torch
    if vs_torch is not None:  # timed to the pair rule: a 95 % interval of ±2 %
        out["metrics"] |= {"speedup_vs_torch_low": vs_torch * 0.98, "speedup_vs_torch_high": vs_torch * 1.02,
                           "speedup_vs_torch_pairs": 31, "speedup_vs_torch_capped": False}
    if within is not None:
        out["metrics"] |= {"speedup_vs_dense": within, "speedup_low": within * 0.98, "speedup_high": within * 1.02,
                           "speedup_pairs": 31, "speedup_capped": False}
    return out


def test_dominated_by_names_an_int8_row_and_a_smaller_input_across_runtimes():
    dense = rec("dense", 0.40, latency=80.0, gflops=8.0)
    control = rec("dense-ft", 0.40, latency=80.0, gflops=8.0)
    pruned = rec("l1-channel", 0.30, speedup=2.0, gflops=4.0)  # placed at 40 ms
    int8 = deployed(dense, "openvino-int8", vs_torch=2.5)  # 32 ms, the dense GFLOPs, more accurate beyond the CI
    int8["metrics"]["map50_95"] = 0.395
    int8["details"]["bootstrap"]["map50_95"] = [v - 0.005 for v in int8["details"]["bootstrap"]["map50_95"]]
    sec = section([dense, control, pruned, int8])
    domination = row(sec, "l1-channel").domination
    assert domination.kind == "dominated" and [a.text for a in domination.by] == ["m dense openvino-int8"]
    [int8_row] = [r for r in sec.rows if r.variant == "openvino-int8"]
    assert int8_row.placed_latency == pytest.approx(80.0 / 2.5) and int8_row.speedup_vs_torch == pytest.approx(2.5)
    assert int8_row.conversion["map50_95"].value == pytest.approx(-0.005) and int8_row.conversion["map50_95"].low < 0

    small = deployed(dense, "torch", imgsz=320, vs_torch=2.2)  # 36 ms, fewer GFLOPs, as accurate as the pruned row
    small["metrics"].update(gflops=2.0, map50_95=0.36)
    small["details"]["bootstrap"]["map50_95"] = [v - 0.04 for v in small["details"]["bootstrap"]["map50_95"]]
    sec = section([dense, control, pruned, small])
    domination = row(sec, "l1-channel").domination
    assert domination.kind == "dominated" and [a.text for a in domination.by] == ["m dense torch @320"]
    [small_row] = [r for r in sec.rows if r.is_smaller_input]
    assert small_row.reference.strategy == "dense" and small_row.reference.variant == "torch"
    assert small_row.delta["map50_95"].value == pytest.approx(-0.04)


def test_int8_is_no_alternative_when_slower_and_gflops_do_not_decide_across_runtimes():
    dense = rec("dense", 0.40, latency=80.0, gflops=8.0)
    pruned = rec("l1-channel", 0.30, speedup=2.0, gflops=4.0)  # 40 ms
    slow_int8 = deployed(dense, "onnx-int8", vs_torch=1.5)  # 53 ms: slower than the pruned row
    sec = section([dense, pruned, slow_int8])
    assert row(sec, "l1-channel").domination.kind == "none as cheap"
    untimed = deployed(dense, "onnx-int8", vs_torch=None)
    untimed["metrics"]["gflops"] = 1.0  # fewer GFLOPs, but another runtime: only latency compares, and it has none
    sec = section([dense, pruned, untimed])
    assert row(sec, "l1-channel").domination.kind == "none as cheap"


def test_a_pruned_int8_row_is_compared_with_the_dense_int8_row_and_never_with_itself():
    dense = rec("dense", 0.40, latency=80.0, gflops=8.0)
    pruned = rec("l1-channel", 0.35, speedup=2.0, gflops=4.0)
    dense_int8 = deployed(dense, "onnx-int8", vs_torch=1.2)
    pruned_int8 = deployed(pruned, "onnx-int8", vs_torch=2.6, within=2.0)
    sec = section([dense, pruned, dense_int8, pruned_int8])
    [int8_row] = [r for r in sec.rows if r.variant == "onnx-int8" and not r.is_dense]
    assert int8_row.reference.variant == "onnx-int8" and int8_row.reference.is_plain_dense
    # placed by its own pairs against dense torch (2.6x), not by the chain dense INT8 (1.2x) x within INT8 (2.0x)
    assert int8_row.speedup == pytest.approx(2.0) and int8_row.placed_latency == pytest.approx(80.0 / 2.6)
    [torch_row] = [r for r in sec.rows if r.variant == "torch" and not r.is_dense]
    assert int8_row.cost_class is not None and torch_row.cost_class is not None
    alternatives = [a.text for a in (int8_row.domination.by if int8_row.domination else [])]
    assert "m dense onnx-int8" not in alternatives  # its own reference is Δ's job
    from prunebench.report.leaderboard import render

    text = render([dense, pruned, dense_int8, pruned_int8], generated="2026-12-02")
    assert "| Deploy" in text and "| onnx-int8 " in text and "vs dense torch" in text
    assert "Validation: torch rows on the kept .pt at rect=False" in text


def test_vs_dense_torch_shows_the_cells_own_pairs_never_the_chained_product():
    """The dense INT8 export runs 1.5x dense torch and the pruned INT8 export 2.0x the dense INT8 export: chained,
    3.00x. The pruned INT8 cell's own pairs against dense torch measured 3.60x. The table, the machine rows, the
    placement and the answer's speed all show 3.60x; a record without those pairs reads "not measured"."""
    from prunebench.report import leaderboard
    from prunebench.report.answer import over_dense_torch

    dense = rec("dense", 0.40, latency=90.0, gflops=8.0)
    pruned = rec("l1-channel", 0.39, speedup=1.8, gflops=4.0)
    dense_int8 = deployed(dense, "openvino-int8", vs_torch=1.5)
    pruned_int8 = deployed(pruned, "openvino-int8", vs_torch=3.6, within=2.0)
    records = [dense, pruned, dense_int8, pruned_int8]
    sec = section(records)
    [int8_row] = [r for r in sec.rows if r.variant == "openvino-int8" and not r.is_dense]
    headers, table = leaderboard.compact_table(sec)
    column = headers.index("vs dense torch")
    [cells] = [t for t, r in zip(table, sec.rows) if r is int8_row]
    assert cells[column] == "3.60x [3.53, 3.67] ·31p" and "3.00x" not in " ".join(cells)
    assert int8_row.placed_latency == pytest.approx(90.0 / 3.6)
    assert over_dense_torch(int8_row, sec).value == pytest.approx(3.6)
    [machine] = [m for m in leaderboard.machine_rows(sec, deploys=True)
                 if m["deploy"] == "openvino-int8" and m["strategy"] == "l1-channel"]
    assert machine["speedup_vs_dense_torch"] == pytest.approx(3.6)
    assert machine["speedup_vs_dense_torch_low"] == pytest.approx(3.528)

    unmeasured = deployed(pruned, "openvino-int8", vs_torch=None, within=2.0)
    sec = section([dense, pruned, dense_int8, unmeasured])
    [int8_row] = [r for r in sec.rows if r.variant == "openvino-int8" and not r.is_dense]
    headers, table = leaderboard.compact_table(sec)
    [cells] = [t for t, r in zip(table, sec.rows) if r is int8_row]
    assert cells[headers.index("vs dense torch")] == "not measured" and int8_row.placed_latency is None


# ---------------------------------------------------------------- end to end, real exports
INT8_SUITE = """\
name: int8
models:
  - name: yolo11n
    params: {weights: REPO/weights/yolo11n.pt}
datasets:
  - name: coco128
    params: {data: REPO/data/coco128/data.yaml}
finetune: {epochs: 0}
evaluation:
  imgsz: 96
  batch: 16
  device: cpu
  deploy: [torch, onnx-int8]
  calibration: {max_images: 16}
  measure: {min_run_time: 0.05, speedup_pairs: 1, speedup_cap_s: 0.001, throughput_batch: 1}
  intervals: {resamples: 50}
"""


@pytest.mark.slow
def test_an_int8_onnx_variant_records_the_validator_on_the_exported_file(tmp_path):
    from pathlib import Path

    from prunebench.yolo.env import import_ultralytics
    from tests.conftest import load_records, run_cli

    repo = Path(__file__).resolve().parents[1]
    suite = tmp_path / "int8.yaml"
    suite.write_text(INT8_SUITE.replace("REPO", str(repo)))
    results, cache = tmp_path / "results", tmp_path / "cache"
    proc = run_cli("run", str(suite), "--results", str(results), "--cache-dir", str(cache), "--no-leaderboard",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = load_records(results)
    dense, int8 = records["yolo11n.coco128.dense.a0.00.s0"], records["yolo11n.coco128.dense.a0.00.s0.onnx-int8"]
    assert int8["status"] == "ok", int8["error"]
    assert int8["spec"]["deploy"]["parent"] == {"name": dense["name"], "key": dense["key"]}
    export = int8["details"]["export"]
    assert export["int8"] and export["file"].endswith("_int8.onnx")
    assert export["calibration"]["split"] == "train" and export["calibration"]["images"] == 16
    [exported] = list((cache / "exports").glob(f"*/{export['file']}"))

    # The record's accuracy is Ultralytics' validator on that very file (batch 1, rect=False).
    import_ultralytics()
    from ultralytics import YOLO

    from prunebench.util.filehash import hash_file

    assert hash_file(exported) == export["sha256"]
    metrics = YOLO(str(exported), task="detect").val(data=str(repo / "data" / "coco128" / "data.yaml"), split="val",
                                                      imgsz=96, device="cpu", plots=False, verbose=False,
                                                      project=str(tmp_path / "val"), workers=0)
    assert int8["metrics"]["map50_95"] == pytest.approx(float(metrics.box.map), abs=1e-9)
    assert int8["metrics"]["map50_95"] != dense["metrics"]["map50_95"]
    assert int8["details"]["validation"]["batch"] == 1 and int8["details"]["validation"]["rect"] is False
    # Per-image matches and replicates on the same images as the torch cell: intervals and paired Δ work.
    assert int8["details"]["bootstrap"]["images_sha"] == dense["details"]["bootstrap"]["images_sha"]
    assert len(int8["details"]["per_image"]["names"]) == 32
    # Timed in ONNX Runtime against dense torch and against its own FP32 export; the CPU's flags with it.
    assert int8["metrics"]["speedup_vs_torch"] > 0 and int8["metrics"]["speedup_vs_fp32"] > 0
    assert int8["details"]["measure"]["latency"]["deployment"]["runtime"] == "onnxruntime"
    assert isinstance(int8["environment"]["cpu_flags"], list)
    assert int8["metrics"]["gflops"] == pytest.approx(dense["metrics"]["gflops"])


def test_the_deploy_suite_plans_every_cell_in_every_deployment(tmp_path, monkeypatch):
    """suites/deploy.yaml as shipped. Planning needs no OpenVINO (running its variants does, and the suite check
    says so: test_openvino_variants_name_the_extra_when_its_packages_are_missing), so the package check is off."""
    from pathlib import Path

    from prunebench.config import suite as suite_module
    from prunebench.config.suite import load_suite

    monkeypatch.setattr(suite_module, "missing_deploy_packages", lambda deploy: [])
    from prunebench.plugin.loader import load_plugins
    from prunebench.run.plan import build_plan

    repo = Path(__file__).resolve().parents[1]
    text = (repo / "suites" / "deploy.yaml").read_text()
    suite = tmp_path / "deploy.yaml"
    suite.write_text(text.replace("../", f"{repo}/"))
    cells = build_plan(load_suite(suite, load_plugins().registry))
    trained = [c for c in cells if not c.deploy]
    # per dataset: dense, 2 controls (plain and distilled), 4 strategy entries x 2 targets
    assert len(trained) == 2 * (1 + 2 + 8)
    assert {c.spec["model"]["name"] for c in trained if c.dataset == "bccd"} == {"yolo11n-bccd"}
    exports = [c for c in cells if c.deploy and c.deploy["variant"] != "torch"]
    smaller = [c for c in cells if c.deploy and c.deploy["variant"] == "torch"]
    assert len(exports) == 4 * len(trained) and len(smaller) == 2 * 2
    assert {c.deploy["imgsz"] for c in smaller} == {352, 288}
    distilled = [c for c in trained if (c.spec["finetune"] or {}).get("distill") == "dense"]
    assert {c.strategy for c in distilled if not c.is_dense} == {"l1-channel-kd", "lamp-kd"}
    assert sum(c.is_control for c in distilled) == 2  # the distilled control, per dataset
    assert all(c.spec["evaluation"]["rect"] is False for c in cells)


def test_export_and_measure_select_no_variant_records_and_the_dense_reference_is_never_a_variant(tmp_path):
    from prunebench.records.index import Found, RecordIndex
    from prunebench.records.record import Record

    dense = rec("dense", 0.40, latency=80.0)
    dense["details"]["model_file"] = {"path": "models/dense.pt", "sha256": "0" * 64, "bytes": 1}
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "dense.pt").write_bytes(b"x")
    int8 = deployed(dense, "onnx-int8", vs_torch=1.5)  # carries the parent's model_file in this fixture
    int8["finished_at"] = "2026-12-02T10:00:00+00:00"  # newer than the dense record
    records = [Record.from_json(r) for r in (dense, int8)]
    index = RecordIndex(tmp_path, [Found(tmp_path / f"{r.name}.json", r) for r in records])
    assert [f.name for f in index.select()] == [dense["name"], int8["name"]]
    assert [f.name for f in index.select(kept_only=True)] == [dense["name"]]
    assert index.reference_of(records[1]).record.name == dense["name"]


def test_the_answer_names_the_fastest_deployment_that_keeps_the_dense_accuracy():
    from prunebench.report.answers import answer

    dense = rec("dense", 0.40, latency=80.0, gflops=8.0)
    pruned = rec("l1-channel", 0.30, speedup=2.0, gflops=4.0)
    int8 = deployed(dense, "openvino-int8", vs_torch=2.5)  # the same replicates: a tie with dense torch
    int8_pruned = deployed(pruned, "openvino-int8", vs_torch=4.0, within=1.6)  # 4x dense torch, 10 points down
    line = answer(section([dense, pruned, int8, int8_pruned]))
    assert ("Fastest without losing accuracy against dense torch beyond the interval: dense openvino-int8 (2.50x "
            "dense torch, Δ mAP50-95 +0.0 [+0.0, +0.0])") in line
    assert "fastest of all: l1-channel 30% openvino-int8 (4.00x dense torch, Δ mAP50-95 -10.0" in line


def test_the_answer_judges_against_the_control_when_fine_tuning_lifts_dense_beyond_the_interval():
    """Dense torch 40, its fine-tuned control 50: a pruned INT8 row at 42 is faster and "better than dense", but
    the control's own INT8 export keeps 50 at 2.5x; the answer is that export, and the pruned row's Δ is taken
    against the control."""
    from prunebench.report.answers import answer

    dense = rec("dense", 0.40, latency=80.0, gflops=8.0)
    control = rec("dense-ft", 0.50, latency=80.0, gflops=8.0)
    pruned = rec("l1-channel", 0.42, speedup=2.0, gflops=4.0)
    control_int8 = deployed(control, "openvino-int8", vs_torch=2.5)
    pruned_int8 = deployed(pruned, "openvino-int8", vs_torch=4.0, within=1.6)
    line = answer(section([dense, control, pruned, control_int8, pruned_int8]))
    assert ("Fastest without losing accuracy against dense-ft torch (fine-tuned, better than dense beyond the "
            "interval) beyond the interval: dense-ft openvino-int8 (2.50x dense torch, Δ mAP50-95 +0.0") in line
    assert "fastest of all: l1-channel 30% openvino-int8 (4.00x dense torch, Δ mAP50-95 -8.0" in line
