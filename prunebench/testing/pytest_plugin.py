"""prunebench's pytest plugin (the `pytest11` entry point): the conformance kit's fixtures and option. Only pytest
imports this module; `prunebench.testing` itself imports without pytest.
"""

from __future__ import annotations

import pytest

from prunebench.testing.baseline import (BASELINE_DIR_OPTION, BASELINE_DIR_ENV, TINY_IMGSZ, baseline_root,
                                         cached_baseline, synthetic_buds, tiny_context, tiny_model)


def pytest_addoption(parser):
    parser.getgroup("prunebench").addoption(
        BASELINE_DIR_OPTION, default=None, metavar="DIR",
        help=f"where the conformance kit keeps its trained baseline (default: ${BASELINE_DIR_ENV}, else "
             "<prunebench's cache>/kit-baselines); one sub-folder per recipe and library versions")


@pytest.fixture
def prunebench_plugins():
    from prunebench.plugin.loader import load_plugins

    return load_plugins()


@pytest.fixture
def prunebench_registry(prunebench_plugins):
    return prunebench_plugins.registry


@pytest.fixture(scope="session")
def prunebench_tiny_data(tmp_path_factory):
    return synthetic_buds(tmp_path_factory.mktemp("prunebench-tiny-data"), train=8, val=4, imgsz=TINY_IMGSZ, seed=0)


@pytest.fixture
def prunebench_tiny_model():
    return tiny_model()


@pytest.fixture
def prunebench_ctx(prunebench_tiny_data, tmp_path):
    return tiny_context(prunebench_tiny_data, tmp_path)


@pytest.fixture(scope="session")
def prunebench_trained_baseline(request):
    """A trained YOLOv8n and its dataset (TrainedBaseline), from the kit's cache, trained there first if need be."""
    return cached_baseline(baseline_root(request.config.getoption(BASELINE_DIR_OPTION)))


@pytest.fixture(scope="session")
def prunebench_known_bad():
    from prunebench.testing.known_bad import KNOWN_BAD

    return KNOWN_BAD
