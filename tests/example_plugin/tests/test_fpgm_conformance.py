"""The plugin author's own test: prunebench's conformance check, through the pytest plugin's fixtures."""

from prunebench.testing import check_strategy


def test_fpgm_is_installed_as_a_plugin(prunebench_plugins):
    info = next(i for i in prunebench_plugins.infos if i.name == "fpgm")
    assert (info.source, info.version, info.error) == ("entry point", "0.2.0", None)
    assert prunebench_plugins.registry.owner("strategies", "fpgm-channel") == "fpgm"


def test_fpgm_conforms(prunebench_registry, prunebench_tiny_data, tmp_path):
    report = check_strategy(prunebench_registry.get("strategies", "fpgm-channel"), prunebench_tiny_data, tmp_path,
                            amount=0.5)
    assert report.passed, str(report)
    assert 0.3 < report.details["param_reduction"] < 0.9
