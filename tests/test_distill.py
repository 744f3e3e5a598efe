"""Distillation in fine-tuning (issue 24): Ultralytics' DistillationModel, run through prunebench's own trainer,
keeps a channel-pruned student narrow and an unstructured student's zeros, and hands back the student alone."""

from __future__ import annotations

import copy

import pytest

from tests.test_training import TINY_IMGSZ, fit, tiny_data, tiny_model, zero_smallest_half  # noqa: F401 (fixture)


def teacher_checkpoint(tmp_path):
    from prunebench.yolo.checkpoints import save_model

    return save_model(tiny_model(), tmp_path / "teacher.pt")


def channel_pruned():
    from prunebench_builtins.channel import L1Channel

    from prunebench.plugin.base import CellContext

    model = tiny_model()
    L1Channel().prune(model, 0.5, CellContext(device="cpu", seed=0, cache_dir=".", work_dir=".", imgsz=TINY_IMGSZ,
                                              batch=1))
    return model


@pytest.mark.slow
def test_a_distilled_fine_tune_keeps_the_pruned_architecture_and_hands_back_the_student(tiny_data, tmp_path):
    import torch

    from prunebench.util.filehash import file_sha256
    from prunebench.yolo.checkpoints import load_model, save_model
    from prunebench.yolo.training import count_parameters

    teacher = teacher_checkpoint(tmp_path)
    dense_params = count_parameters(load_model(teacher))
    student = channel_pruned()
    pruned_params = count_parameters(student)
    assert pruned_params < 0.6 * dense_params
    before = copy.deepcopy(student.state_dict())

    trained, info = fit(student, tiny_data, tmp_path / "kd", keep="structure", distill=teacher, dis=6.0)

    assert trained is student  # the student itself, not Ultralytics' wrapper
    assert count_parameters(trained) == pruned_params < dense_params
    assert count_parameters(load_model(save_model(trained, tmp_path / "student.pt"))) == pruned_params
    assert not any(k.startswith(("teacher_model", "projector", "student_model")) for k in trained.state_dict())
    assert any(not torch.equal(before[k], v) for k, v in trained.state_dict().items()), "nothing was trained"
    hooks = [h for m in trained.modules() for h in m._forward_hooks.values()
             if type(h).__name__ == "FeatureHook"]
    assert not hooks, "the distillation wrapper's feature hooks stayed on the student"
    distill = info["distill"]
    assert distill["teacher_sha256"] == file_sha256(teacher) and distill["dis"] == 6.0
    assert distill["student_params"] == pruned_params and distill["teacher_params"] == dense_params
    assert distill["projector_params"] > 0
    assert "dis_loss" in info["loss_curve"][0] and info["loss_curve"][0]["dis_loss"] > 0


@pytest.mark.slow
def test_a_distilled_fine_tune_keeps_the_masks_of_unstructured_pruning(tiny_data, tmp_path):
    from prunebench.yolo.training import ConvMasks

    teacher = teacher_checkpoint(tmp_path)
    student = tiny_model()
    zero_smallest_half(student)
    masks = ConvMasks.capture(student)

    trained, info = fit(student, tiny_data, tmp_path / "kd", keep="masks", distill=teacher, dis=6.0)

    assert masks.lost(trained) == 0 and info["kept_zeros"] == masks.count > 100_000
    assert info["distill"]["dis"] == 6.0


def test_a_missing_teacher_is_refused_before_training(tiny_data, tmp_path):
    with pytest.raises(ValueError, match="teacher checkpoint .* does not exist"):
        fit(tiny_model(), tiny_data, tmp_path / "kd", distill=tmp_path / "nowhere.pt")
