"""The conformance kit for strategy authors, and (in `prunebench.testing.pytest_plugin`, which pytest loads through
the `pytest11` entry point) its fixtures. This module imports without pytest: a plain script may call
`check_strategy` (build its arguments with `synthetic_buds`, `tiny_context` and `cached_baseline`).

Fixtures (prunebench.testing.pytest_plugin; all imports lazy: pytest loads it in every session of every project
that has prunebench installed):
  prunebench_plugins          the loaded plugins (built-ins and every installed third party's)
  prunebench_registry         their registry: registry.get("strategies", "my-strategy")
  prunebench_tiny_data        a tiny synthetic-buds dataset (PreparedDataset), made once per session
  prunebench_tiny_model       a fresh, untrained YOLOv8n DetectionModel (use it for shape checks)
  prunebench_ctx              a CellContext for calling strategy.prune() in a test
  prunebench_trained_baseline a YOLOv8n trained from scratch on synthetic buds at 64 px, so that the kit can
                              tell harm from noise (an untrained model scores 0 whatever is done to it). Trained
                              once (about 25 s of training on 2 idle CPU cores) and kept in prunebench's cache,
                              keyed by its recipe and the Ultralytics, torch and prunebench versions: later
                              sessions load it. Elsewhere: `pytest --prunebench-baseline-dir DIR` or
                              PRUNEBENCH_KIT_BASELINE_DIR=DIR.
  prunebench_known_bad        the known-bad strategies (prunebench.testing.known_bad.KNOWN_BAD), to see the kit
                              fail them on your machine

And the conformance check a strategy author runs in their own test suite:

    from prunebench.testing import check_strategy

    def test_my_strategy_conforms(prunebench_registry, prunebench_tiny_data, prunebench_trained_baseline,
                                  tmp_path):
        report = check_strategy(prunebench_registry.get("strategies", "my-strategy"),
                                prunebench_tiny_data, tmp_path, baseline=prunebench_trained_baseline)
        assert report.passed, report
"""

from __future__ import annotations

from prunebench.testing.baseline import (BASELINE_ARCH, BASELINE_BATCH, BASELINE_DATA, BASELINE_DIR_ENV,
                                         BASELINE_DIR_OPTION, BASELINE_EPOCHS, BASELINE_MIN_MAP50, TINY_IMGSZ,
                                         TrainedBaseline, baseline_folder, baseline_identity, baseline_root,
                                         cached_baseline, synthetic_buds, tiny_context, tiny_model, trained_baseline)
from prunebench.testing.conformance import (CHECKS, MIN_KEPT_SHARE, REPORT_TOLERANCE, SMALL_AMOUNT,
                                            ConformanceReport, as_the_runner_gives_it, check_strategy)
from prunebench.testing.failures import ConformanceFailure
from prunebench.testing.protected import ProtectedLayers

__all__ = [
    "BASELINE_ARCH", "BASELINE_BATCH", "BASELINE_DATA", "BASELINE_DIR_ENV", "BASELINE_DIR_OPTION", "BASELINE_EPOCHS",
    "BASELINE_MIN_MAP50", "CHECKS", "MIN_KEPT_SHARE", "REPORT_TOLERANCE", "SMALL_AMOUNT", "TINY_IMGSZ",
    "ConformanceFailure", "ConformanceReport", "ProtectedLayers", "TrainedBaseline", "as_the_runner_gives_it",
    "baseline_folder", "baseline_identity", "baseline_root", "cached_baseline", "check_strategy", "synthetic_buds",
    "tiny_context", "tiny_model", "trained_baseline",
]

# An install made before the `pytest11` entry point moved to prunebench.testing.pytest_plugin still names this module
# (its entry points are written at install time, until `pip install -e .` again): under pytest, serve the fixtures
# from here too. Without pytest nothing more is imported.
if __import__("sys").modules.get("pytest") is not None:
    from prunebench.testing.pytest_plugin import *  # noqa: E402,F401,F403
