"""Mixed precision in training: the recipe's `amp` as Ultralytics' own `amp` argument, and what training really used.

Ultralytics takes `amp=False` (fp32), `amp=True` (fp16 autocast with a gradient scaler, after its AMP check) or
`amp="bf16"` (bfloat16 autocast, no scaler, no check). Its AMP check compares yolo26n.pt in fp32 and fp16, and
downloads that file into its weights folder when it is missing; offline (prunebench sets YOLO_OFFLINE) the
download would be tried and retried before the check gives up. `offline_check_amp` runs Ultralytics' check when
the file is already there or the machine is online, and otherwise does what Ultralytics does when it cannot
download: keep AMP on, with a warning.
"""

from __future__ import annotations

from typing import Any

AMP_CHECK_WEIGHTS = "yolo26n.pt"  # the model Ultralytics' check_amp loads (ultralytics/utils/checks.py)


def ultralytics_amp(requested: bool | str | None, device: str) -> bool | str:
    """The `amp` argument for Ultralytics' trainer. CPU training is fp32 whatever was asked: Ultralytics' check turns
    fp16 off there itself, and its bf16 autocast refuses any device but CUDA."""
    if not requested or not str(device).startswith("cuda"):
        return False
    if requested == "bf16":
        return "bf16"
    if requested is True:
        return True
    raise ValueError(f"finetune.amp {requested!r}: use false (fp32), true (fp16 with Ultralytics' AMP check) or bf16")


def amp_used(trainer, requested: bool | str | None) -> dict[str, Any]:
    """What the finished trainer trained with, for the record: the recipe's `amp`, whether autocast was on, its dtype.
    `amp_used` False after `amp: true` means fp32: on the CPU, or on a GPU whose AMP check failed."""
    on = bool(getattr(trainer, "amp", False))
    dtype = ("bfloat16" if trainer.args.amp == "bf16" else "float16") if on else "float32"
    return {"amp": requested if requested in (True, "bf16") else False, "amp_used": on, "autocast_dtype": dtype}


def offline_check_amp(model) -> bool:
    """Ultralytics' check_amp, without a download: when its check model is not in Ultralytics' weights folder and
    the machine is offline, AMP stays on with a warning, as Ultralytics itself decides when its download fails."""
    from ultralytics.utils import LOGGER, WEIGHTS_DIR, is_online
    from ultralytics.utils.checks import check_amp

    if next(model.parameters()).device.type != "cuda":
        return False  # what check_amp answers on the CPU (and MPS), before any download
    if (WEIGHTS_DIR / AMP_CHECK_WEIGHTS).is_file() or is_online():
        return check_amp(model)
    LOGGER.warning(f"AMP: checks skipped: {AMP_CHECK_WEIGHTS} is not in {WEIGHTS_DIR} and this machine is offline. "
                   "Training with amp=True; if losses turn NaN, use amp: false or bf16.")
    return True


def install_offline_check() -> None:
    """Point the trainer's AMP check at `offline_check_amp` (the trainer module imported check_amp by name)."""
    import ultralytics.engine.trainer as trainer_module

    trainer_module.check_amp = offline_check_amp


__all__ = ["AMP_CHECK_WEIGHTS", "amp_used", "install_offline_check", "offline_check_amp", "ultralytics_amp"]
