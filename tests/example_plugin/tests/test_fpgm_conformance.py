"""The plugin author's own test: prunebench's conformance check, through the pytest plugin's fixtures."""

import pytest

from prunebench.testing import check_strategy


@pytest.fixture
def fpgm_info(prunebench_plugins):
    info = next((i for i in prunebench_plugins.infos if i.name == "fpgm"), None)
    if info is None:
        pytest.skip("the example plugin is not installed here (pip install ./tests/example_plugin)")
    return info


def test_fpgm_is_installed_as_a_plugin(fpgm_info, prunebench_plugins):
    assert (fpgm_info.source, fpgm_info.version, fpgm_info.error) == ("entry point", "0.2.0", None)
    assert prunebench_plugins.registry.owner("strategies", "fpgm-channel") == "fpgm"


def test_fpgm_conforms(fpgm_info, prunebench_registry, prunebench_tiny_data, prunebench_trained_baseline, tmp_path):
    report = check_strategy(prunebench_registry.get("strategies", "fpgm-channel"), prunebench_tiny_data, tmp_path,
                            amount=0.5, baseline=prunebench_trained_baseline)
    assert report.passed, str(report)
    assert 0.3 < report.details["param_reduction"] < 0.9
