"""Checkpoints that `ultralytics.YOLO(path)` loads, pruned architectures included, loaded weights-only.

An Ultralytics checkpoint is a pickled dict whose "model" (or "ema") entry is the module
itself, so a model whose layers pruning made narrower reloads as the narrower model; a
state_dict alone could not. `load_yolo` / `load_model` turn the ways a file can be wrong
(missing, truncated, not a detection model) into one clear ValueError each.

Loading is weights-only (`torch.load(weights_only=True)` through Ultralytics' safe mode, see yolo/env.py):
the unpickler reconstructs only an allow-list of classes (torch's and Ultralytics' layers, and the blocks
prunebench's own rewrites put into a channel-pruned model: `prunebench.yolo.rewrites`), so a checkpoint with
anything else in it (an object whose `__reduce__` would run a command, say) is refused, naming the file and
what it holds, before any of it runs. `--trust-checkpoints` is the one way to load such a file fully.
"""

from __future__ import annotations

import copy
import io
import pickle
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prunebench.util.atomic import atomic_write_bytes
from prunebench.yolo.env import import_ultralytics

# Plain detection heads (not segment / pose / obb / YOLOE / World / RT-DETR). This module imports no torch
# at import time, so the torch-free architecture checks read this set from here too.
DETECT_HEADS = {"Detect", "v10Detect"}
CHECKPOINT_HINT = ("`weights:` must be an Ultralytics detection checkpoint, such as the weights/best.pt "
                   "that `yolo detect train` writes (YOLOv3/5/8/11 family)")


def save_model(model, path: Path, *, half: bool = False) -> Path:
    """Write `model` as an Ultralytics checkpoint at `path` (atomically) and return the path.

    fp32 unless `half`; the module is deep-copied, so the caller's model is left as it was.
    """
    import torch

    ultralytics = import_ultralytics()
    from ultralytics.nn.tasks import guess_model_task

    path = Path(path)
    saved = copy.deepcopy(model).to("cpu").eval()
    saved = saved.half() if half else saved.float()
    for parameter in saved.parameters():
        parameter.requires_grad_(False)
    if hasattr(saved, "criterion"):
        saved.criterion = None  # training-only state, rebuilt on demand
    checkpoint = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "version": ultralytics.__version__,
        "license": "AGPL-3.0 (https://ultralytics.com/license)",
        "docs": "https://docs.ultralytics.com",
        "model": saved,
        # YOLO(path) reads the task from here, defaulting to "detect" when it is missing.
        "train_args": {**_train_args(model), "task": guess_model_task(model)},
        "written_by": "prunebench",
    }
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _train_args(model) -> dict[str, Any]:
    """The model's Ultralytics args as a plain dict (YOLO(path) merges them with its defaults)."""
    args = getattr(model, "args", None)
    if isinstance(args, dict):
        return dict(args)
    if args is not None and hasattr(args, "__dict__"):
        return dict(vars(args))
    return {}


TRUST_HINT = ("if you trust where this file comes from (a checkpoint is a pickle: loading it fully can run any "
              "code it holds), rerun with --trust-checkpoints")
# Names a genuine checkpoint holds (torch and Ultralytics layers, their data types, prunebench's own blocks);
# the others are what a refusal lists. The gate itself is torch's weights-only unpickler, not this list.
EXPECTED_PREFIXES = ("torch.", "ultralytics.", "numpy.", "collections.", "pathlib.", "prunebench.yolo.rewrites.")


class UntrustedCheckpoint(ValueError):
    """A checkpoint that would load only by full unpickling, refused."""


def allow_own_classes() -> None:
    """Let a weights-only load rebuild the rewritten blocks of a channel-pruned model: importing
    prunebench.yolo.rewrites registers them (prunebench's own code, trusted like torch's and Ultralytics' layers)."""
    from prunebench.yolo import rewrites  # noqa: F401


def unexpected_globals(path: Path) -> list[str]:
    """The names in `path` that a genuine Ultralytics or prunebench checkpoint does not hold (for the message)."""
    import torch

    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except (ValueError, RuntimeError, OSError):  # not a torch zip archive: torch.load reports that itself
        return []
    return sorted(g for g in found if not g.startswith(EXPECTED_PREFIXES))


def load_yolo(path: Path):
    """`ultralytics.YOLO(path)` for a detection checkpoint, loaded weights-only unless the user trusts checkpoints
    (`--trust-checkpoints`); ValueError (what is wrong, what to do) otherwise."""
    from prunebench.yolo.env import trusting

    import_ultralytics()
    from ultralytics import YOLO

    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ValueError(f"model checkpoint not found: {path}; {CHECKPOINT_HINT}")
    if path.suffix != ".pt":
        raise ValueError(f"{path} is not a .pt file; {CHECKPOINT_HINT} (exports such as .onnx or .engine "
                         "cannot be pruned)")
    if not trusting():
        allow_own_classes()
        from prunebench.yolo.checkpoint_scan import CheckpointRefused, check_checkpoint

        try:  # what its pickle would call and allocate, read before anything of it is unpickled
            check_checkpoint(path)
        except CheckpointRefused as exc:
            raise UntrustedCheckpoint(str(exc)) from None
    try:
        yolo = YOLO(str(path))
    except (TypeError, RuntimeError, EOFError, pickle.UnpicklingError, AttributeError, KeyError, IndexError,
            ValueError, OverflowError, ModuleNotFoundError) as exc:  # IndexError: torch's unpickler on a corrupt stream
        if "outside the supported Ultralytics checkpoint format" in str(exc) and (held := unexpected_globals(path)):
            raise UntrustedCheckpoint(_untrusted_message(path, held)) from None
        raise ValueError(_unreadable_message(path, exc)) from exc
    head = _head_name(yolo.model)
    if head == "RTDETRDecoder":  # task "detect", but a transformer detector prunebench neither trains nor prunes
        raise ValueError(f"{path} holds an RT-DETR model (head: RTDETRDecoder), a transformer detector prunebench "
                         f"does not support; {CHECKPOINT_HINT}")
    if yolo.task != "detect" or head not in DETECT_HEADS:
        raise ValueError(f"{path} holds a {yolo.task!r} model (head: {head}), not a detection model; "
                         f"{CHECKPOINT_HINT}")
    return yolo


def load_model(path: Path):
    """The detection model (an fp32 `torch.nn.Module` in eval mode) saved at `path`."""
    return load_yolo(path).model


def _head_name(model) -> str:
    layers = getattr(model, "model", None)
    try:
        return type(layers[-1]).__name__
    except (TypeError, IndexError, KeyError):
        return type(model).__name__


def _untrusted_message(path: Path, refused: list[str]) -> str:
    held = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
    held = held or "types outside the Ultralytics checkpoint format"
    return (f"{path} was not loaded: it holds objects a weights-only load does not rebuild ({held}), so loading "
            "it would mean unpickling it fully, which runs whatever code it carries; prunebench loads checkpoints "
            f"weights-only; {TRUST_HINT}")


def _unreadable_message(path: Path, exc: BaseException) -> str:
    cause = " ".join(str(exc).replace("ERROR ❌️", "").split())
    if "truncated" in cause or "PytorchStreamReader" in cause or isinstance(exc, (EOFError, pickle.UnpicklingError)):
        what = "is not a readable PyTorch checkpoint: the file is empty, truncated or corrupted (copy it again)"
    elif ("outside the supported Ultralytics checkpoint format" in cause or "'model'" in cause
          or isinstance(exc, KeyError)):
        what = ("is a PyTorch file but not an Ultralytics model checkpoint (it has no 'model' or 'ema' module, "
                "e.g. a bare state_dict)")
    else:
        what = f"could not be loaded by Ultralytics ({type(exc).__name__}: {cause})"
    return f"{path} {what}; {CHECKPOINT_HINT}"
