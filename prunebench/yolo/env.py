"""Keep Ultralytics' side effects out of the user's way.

Ultralytics reads its environment at import time, so `configure()` must run before the
first `import ultralytics`. It sends the settings file to prunebench's cache, turns off
update checks, hub calls and telemetry, and (unless verbose) silences its logger.
Every prunebench module that needs Ultralytics imports it through `import_ultralytics()`.
"""

from __future__ import annotations

import logging
import os

from prunebench.util.paths import default_cache_dir, matplotlib_cache  # default_cache_dir: re-exported

_CONFIGURED = False
# The one opt-in to loading checkpoints by full unpickling (a checkpoint is a pickle: loading one fully can run
# any code it holds). Set by `--trust-checkpoints` on the command line, never by a suite: a suite is a file
# someone else may have written. Environment, so Ray workers and subprocesses inherit it.
TRUST_ENV = "PRUNEBENCH_TRUST_CHECKPOINTS"


def trusting() -> bool:
    return os.environ.get(TRUST_ENV, "") == "1"


def trust_checkpoints(trust: bool = True) -> None:
    """Load checkpoints by full unpickling from now on (`--trust-checkpoints`), or weights-only again."""
    if trust:
        os.environ[TRUST_ENV] = "1"
    else:
        os.environ.pop(TRUST_ENV, None)
    import sys

    if "ultralytics.nn.tasks" in sys.modules:
        _apply_load_mode()


def configure(verbose: bool = False) -> None:
    """Set the environment Ultralytics reads at import; safe to call more than once."""
    global _CONFIGURED
    config_dir = default_cache_dir() / "ultralytics-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    # setdefault: a user who set these on purpose keeps their choice.
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir))
    os.environ.setdefault("YOLO_OFFLINE", "1")  # no update checks, no hub, no downloads attempted
    matplotlib_cache()  # Ultralytics imports matplotlib
    # Weights-only loading and no eval() of an architecture YAML's `activation:` (Ultralytics' safe mode), unless
    # the user trusts the files; read at Ultralytics' import, and set again on every import_ultralytics().
    os.environ["ULTRALYTICS_SAFE_LOAD"] = "0" if trusting() else "1"
    os.environ["YOLO_VERBOSE"] = "True" if verbose else "False"
    set_verbose(verbose)
    _CONFIGURED = True


def set_verbose(verbose: bool) -> None:
    logging.getLogger("ultralytics").setLevel(logging.INFO if verbose else logging.ERROR)
    # torch warns "No CUDA runtime is found" when Torch-Pruning imports its C++ extension helpers on a CPU machine.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.INFO if verbose else logging.ERROR)


def _no_font(font: str = "Arial.ttf") -> None:
    """Stands in for ultralytics' check_font: no download; callers that draw would fall back to a default font."""
    return None


def import_ultralytics(verbose: bool | None = None):
    """Import ultralytics after configuring it; returns the module."""
    if not _CONFIGURED:
        configure(bool(verbose))
    import ultralytics
    import ultralytics.data.utils as data_utils
    from ultralytics.utils import SETTINGS

    # Ultralytics checks a dataset by fetching Arial.ttf for its plots (a network call, then a download
    # into its config folder). prunebench draws no Ultralytics plots, so no font is ever needed.
    data_utils.check_font = _no_font
    from prunebench.yolo import label_cache

    label_cache.install()  # label caches go to prunebench's cache: a user's dataset folder is read, never written

    # The settings file lives in our cache, so these edits touch nothing of the user's.
    wanted = {"sync": False, "hub": False, "clearml": False, "comet": False, "dvc": False,
              "mlflow": False, "neptune": False, "raytune": False, "tensorboard": False, "wandb": False}
    stale = {k: v for k, v in wanted.items() if k in SETTINGS and SETTINGS[k] != v}
    if stale:
        SETTINGS.update(stale)
    if verbose is not None:
        set_verbose(verbose)
    _apply_load_mode()
    return ultralytics


def _apply_load_mode() -> None:
    """Ultralytics reads ULTRALYTICS_SAFE_LOAD once, at import, into module globals: set them to the current mode
    (a test, or `trust_checkpoints`, may change it after the import)."""
    import ultralytics.nn.tasks as tasks
    import ultralytics.utils as utils

    safe = not trusting()
    tasks.SAFE_LOAD = utils.SAFE_LOAD = safe
