"""Suite validation: good suites pass; each kind of mistake gives its exact, located message."""

import textwrap

import pytest

from prunebench.config.suite import SuiteError, load_suite

GOOD = """\
name: demo
models:
  - name: m1
    plugin: fake-model
datasets:
  - name: d1
    plugin: fake-data
strategies:
  - name: fake-prune
    params: {power: 2}
    amounts: [0.3, 0.6]
seeds: [0, 1]
evaluation: {imgsz: 320, device: cpu}
"""


def write(tmp_path, text, name="suite.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path, registry, text):
    path = write(tmp_path, text)
    with pytest.raises(SuiteError) as info:
        load_suite(path, registry)
    return [p.replace(str(path), "suite.yaml") for p in info.value.problems]


def test_good_suite_resolves_plugins_and_params(tmp_path, registry):
    loaded = load_suite(write(tmp_path, GOOD), registry)
    assert loaded.suite.name == "demo"
    assert loaded.strategies["fake-prune"].params.power == 2
    assert loaded.models["m1"].cls.name == "fake-model"
    assert str(loaded.results_dir) == "results/demo"


def test_unknown_strategy_says_did_you_mean_and_lists_available(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD.replace("name: fake-prune", "name: fake-prnue"))
    assert got == [
        "suite.yaml:9: strategies.0.name: unknown strategy 'fake-prnue'; did you mean 'fake-prune'? "
        "Available: " + ", ".join(registry.names("strategies"))
    ]


def test_unknown_key_says_did_you_mean(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD.replace("device: cpu", "devise: cpu"))
    assert got == [
        "suite.yaml:13: evaluation.devise: unknown key 'devise'; did you mean 'device'? "
        "Allowed keys: imgsz, batch, device, conf, iou, split, measure, intervals, deploy, smaller_inputs, "
        "calibration"
    ]


def test_plugin_params_are_validated_by_the_plugin(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD.replace("{power: 2}", "{power: 0, powr: 1}"))
    assert got == [
        "suite.yaml:10: strategies.0.params.power: Input should be greater than or equal to 1 (got 0)",
        "suite.yaml:10: strategies.0.params.powr: unknown key 'powr'; did you mean 'power'? Allowed keys: power",
    ]


def test_amount_outside_open_interval(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD.replace("[0.3, 0.6]", "[0.3, 1.0]"))
    assert got == ["suite.yaml:11: strategies.0.amounts: amount 1.0 is outside (0, 1): write 0.3 for 30 % (or a "
                   "speed-up target such as '2x' for a channel strategy)"]


def test_speed_up_target_is_refused_for_an_unstructured_strategy(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD.replace("[0.3, 0.6]", "[0.3, 2x]"))
    assert got == ["suite.yaml:11: strategies.0.amounts: 'fake-prune' prunes weights inside tensors of unchanged "
                   "shape, so its GFLOPs never drop on dense kernels: speed-up targets such as '2x' need a channel "
                   "strategy (l1-channel, network-slimming, channel); give fractions such as 0.3 instead"]


def test_badly_written_speed_up_target(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD.replace("[0.3, 0.6]", "[0.3, 'fast']"))
    assert got == ["suite.yaml:11: strategies.0.amounts: amount 'fast' is neither a fraction in (0, 1) (0.3 = remove "
                   "30 %) nor a speed-up target above 1x written like '2x' or '1.5x' (the pruned model's GFLOPs = "
                   "dense / 2) or '2x@openvino-int8' (measured 2x faster than the dense model on that deploy "
                   "runtime)"]


def test_schedule_is_refused_for_an_unstructured_strategy(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD.replace("    amounts: [0.3, 0.6]\n",
                                                     "    amounts: [0.3, 0.6]\n    schedule: {steps: 3, finetune_epochs_per_step: 1}\n"))
    assert got == ["suite.yaml:12: strategies.0.schedule: iterative schedules prune channels step by step; "
                   "'fake-prune' is an unstructured strategy: remove `schedule:` or use a channel strategy"]


def test_a_suite_of_references_only_prunes_nothing(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD.replace("    plugin: fake-model\n", "    plugin: fake-model\n    role: reference\n"))
    assert got == ["suite.yaml:2: models: every model is a `role: reference`, so nothing would be pruned: mark the "
                   "model under study `role: study` (the default)"]


def test_wrong_type(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD.replace("imgsz: 320", "imgsz: big"))
    assert got == [
        "suite.yaml:13: evaluation.imgsz: Input should be a valid integer, unable to parse string as an integer "
        "(got 'big')"
    ]


def test_empty_list(tmp_path, registry):
    text = GOOD.replace("models:\n  - name: m1\n    plugin: fake-model\n", "models: []\n")
    got = problems(tmp_path, registry, text)
    assert got == ["suite.yaml:2: models: List should have at least 1 item after validation, not 0 (got [])"]


def test_duplicate_model_names(tmp_path, registry):
    text = GOOD.replace("    plugin: fake-model\n", "    plugin: fake-model\n  - name: m1\n    plugin: fake-model\n")
    got = problems(tmp_path, registry, text)
    assert got == ["suite.yaml:1: (top level): duplicate models names ['m1']: each name must be unique"]


def test_missing_required_key(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD.replace("name: demo\n", ""))
    assert got == ["suite.yaml:1: name: required key 'name' is missing"]


def test_yaml_syntax_error_names_the_line(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD.replace("seeds: [0, 1]", "seeds: [0, 1"))
    assert len(got) == 1 and got[0].startswith("suite.yaml:13: YAML syntax error:")


def test_yaml_python_tags_never_run(tmp_path, registry):
    marker = tmp_path / "pwned"
    text = GOOD.replace("name: demo", f"name: !!python/object/apply:os.system ['touch {marker}']")
    got = problems(tmp_path, registry, text)
    assert "YAML syntax error" in got[0] and "python/object/apply" in got[0]
    assert not marker.exists()


def test_duplicate_yaml_keys_are_rejected(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD + "seeds: [3]\n")
    assert got == ["suite.yaml:14: YAML syntax error: duplicate key 'seeds' (first on line 12)"]


def test_not_a_mapping(tmp_path, registry):
    assert problems(tmp_path, registry, "- just\n- a list\n") == [
        "suite.yaml:1: (top level): a suite is a mapping of keys (name, models, datasets, ...), got list"
    ]


def test_missing_file(tmp_path, registry):
    with pytest.raises(SuiteError, match="no such file"):
        load_suite(tmp_path / "nope.yaml", registry)


def test_bad_device_spelling(tmp_path, registry):
    got = problems(tmp_path, registry, GOOD.replace("device: cpu", "device: gpu"))
    assert got == ["suite.yaml:13: evaluation.device: String should match pattern '^(auto|cpu|cuda(:\\d+)?)$' "
                   "(got 'gpu')"]
