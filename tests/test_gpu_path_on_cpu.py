"""The parts of the GPU path that a CPU can check: the recipe's `amp` (key, validation, what Ultralytics is given),
the AMP check that never downloads, results.csv read without polars, GPU memory bookkeeping that leaves CPU records
alone, the partial-leaderboard mark, and the links of the offline kit's rehearsal venv. The CUDA side is in
test_cuda.py (`pytest -m cuda`)."""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import pytest

from prunebench.config.suite import SuiteError
from tests.test_plan import SUITE, keys, plan_for

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- amp in the recipe
def test_amp_off_leaves_every_key_as_it_was_and_amp_on_retrains_only_fine_tuned_cells(tmp_path, registry):
    base = keys(plan_for(tmp_path, registry))
    assert keys(plan_for(tmp_path, registry, SUITE.replace("epochs: 2}", "epochs: 2, amp: false}"))) == base
    for amp in ("true", "bf16"):
        cells = plan_for(tmp_path, registry, SUITE.replace("epochs: 2}", f"epochs: 2, amp: {amp}}}"))
        for cell in cells:
            assert (cell.key == base[cell.name]) == (cell.spec["finetune"] is None), cell.name
            if cell.spec["finetune"] is not None:
                assert cell.spec["finetune"]["amp"] == (True if amp == "true" else "bf16")


def test_an_unknown_amp_value_is_refused_with_its_line(tmp_path, registry):
    with pytest.raises(SuiteError, match=r"suite\.yaml:\d+: finetune\.amp"):
        plan_for(tmp_path, registry, SUITE.replace("epochs: 2}", "epochs: 2, amp: fp8}"))


def test_ultralytics_gets_amp_only_on_cuda():
    from prunebench.yolo.amp import ultralytics_amp

    assert [ultralytics_amp(a, "cpu") for a in (False, True, "bf16")] == [False, False, False]
    assert [ultralytics_amp(a, "cuda:0") for a in (False, True, "bf16", None)] == [False, True, "bf16", False]
    with pytest.raises(ValueError, match="finetune.amp 'fp8'"):
        ultralytics_amp("fp8", "cuda:0")


def test_the_trainer_uses_the_amp_check_that_never_downloads(monkeypatch):
    import torch

    from prunebench.yolo import amp
    from prunebench.yolo.training import _trainer_class

    _trainer_class()
    import ultralytics.engine.trainer as trainer_module
    import ultralytics.utils.checks as checks

    assert trainer_module.check_amp is amp.offline_check_amp
    monkeypatch.setattr(checks, "check_amp", lambda model: pytest.fail("Ultralytics' check (and its download) ran"))
    assert amp.offline_check_amp(torch.nn.Conv2d(3, 8, 3)) is False  # a CPU model: fp32, as Ultralytics answers


def test_amp_used_reads_what_the_trainer_decided():
    from prunebench.yolo.amp import amp_used

    def trainer(given, on):
        return SimpleNamespace(args=SimpleNamespace(amp=given), amp=on)

    assert amp_used(trainer(False, False), False) == {"amp": False, "amp_used": False, "autocast_dtype": "float32"}
    assert amp_used(trainer(True, True), True) == {"amp": True, "amp_used": True, "autocast_dtype": "float16"}
    assert amp_used(trainer(True, False), True)["autocast_dtype"] == "float32", "the AMP check turned it off"
    assert amp_used(trainer(False, False), "bf16") == {"amp": "bf16", "amp_used": False, "autocast_dtype": "float32"}
    assert amp_used(trainer("bf16", True), "bf16")["autocast_dtype"] == "bfloat16"


@pytest.mark.slow
def test_amp_asked_for_on_the_cpu_trains_in_fp32_and_says_so(tmp_path):
    from tests.test_training import fit, tiny_model, write_tiny_dataset

    data = write_tiny_dataset(tmp_path / "data")
    _, info = fit(tiny_model(), data, tmp_path / "train", amp=True)
    assert (info["amp"], info["amp_used"], info["autocast_dtype"]) == (True, False, "float32")


# ---------------------------------------------------------------- results.csv without polars
def test_results_csv_reads_as_ultralytics_reads_it_with_polars(tmp_path):
    polars = pytest.importorskip("polars", reason="polars (Ultralytics' reader) is needed to compare with")
    from prunebench.yolo.training import read_results_csv

    # As BaseTrainer.save_metrics writes it: a header, then "%.6g" values per epoch.
    path = tmp_path / "results.csv"
    path.write_text("epoch,time,train/box_loss,train/cls_loss,lr/pg0\n1,2.5,1.23456,3.5e-05,0.01\n"
                    "2,5.01,1.1,2.9e-05,0.00999\n")
    ours = read_results_csv(path)
    theirs = polars.read_csv(path.read_bytes(), infer_schema_length=None).to_dict(as_series=False)
    assert list(ours) == list(theirs)
    for column in theirs:
        assert ours[column] == pytest.approx([float(v) for v in theirs[column]]), column
    assert read_results_csv(tmp_path / "missing.csv") == {}


# ---------------------------------------------------------------- GPU memory bookkeeping
def test_cell_memory_on_the_cpu_measures_nothing_and_leaves_the_record_alone():
    from prunebench.measure.gpu_memory import CellMemory

    from prunebench.records.record import Record

    record = Record(key="k", name="n", spec={}, details={"a": 1}, metrics={"b": 2})
    assert CellMemory("cpu").finish(record) is None
    assert (record.details, record.metrics) == ({"a": 1}, {"b": 2})


# ---------------------------------------------------------------- the rehearsal venv's links
def test_rehearsal_links_whole_folders_unless_an_excluded_package_shares_them():
    sys.path.insert(0, str(REPO / "tools" / "offline_gpu"))
    try:
        from machine_site import links_for
    finally:
        sys.path.pop(0)
    P = PurePosixPath
    kept = [P("torch/__init__.py"), P("torch/nn/functional.py"), P("google/protobuf/__init__.py"),
            P("google/_upb/x.so"), P("nvidia/cublas/lib/a.so"), P("nvidia/cudnn/lib/b.so"), P("six.py")]
    excluded = [P("google/api_core/__init__.py"), P("ray/__init__.py")]
    assert links_for(kept, excluded) == {P("torch"), P("google/protobuf"), P("google/_upb"), P("nvidia"),
                                         P("six.py")}


def test_the_kit_lists_every_wheel_once_with_an_exact_version():
    lines = [line.split("#")[0].strip() for line in (REPO / "tools" / "offline_gpu" / "wheels.txt").read_text()
             .splitlines()]
    pins = [line for line in lines if line]
    names = [pin.split("==")[0] for pin in pins]
    assert all("==" in pin for pin in pins) and len(names) == len(set(names))
    locked = (REPO / "constraints.txt").read_text().splitlines()  # the exact set that made the published results
    for name in ("ultralytics", "torch-pruning"):  # the pins the kit must match exactly
        [pin] = [p for p in pins if p.startswith(name + "==")]
        assert pin in locked, pin
    assert not {"polars", "ray", "torch", "torchvision"} & set(names), "left out on purpose (see wheels.txt)"
