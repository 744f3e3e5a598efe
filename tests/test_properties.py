"""Property-based tests of the suite schema and the plan (hypothesis)."""

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prunebench.run.plan import build_plan
from prunebench.config.suite import SuiteError, validate_suite

# two decimals: amounts that round alike are refused as colliding cell names (plan.check_unique_names)
amounts = st.lists(st.floats(min_value=0.01, max_value=0.99, allow_nan=False).map(lambda x: round(x, 2)),
                   min_size=1, max_size=4, unique=True)
names = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), min_size=1, max_size=3, unique=True)


@st.composite
def valid_suites(draw):
    strategies = []
    for label in draw(st.lists(st.from_regex(r"s[a-z0-9]{0,5}", fullmatch=True), max_size=3, unique=True)):
        strategies.append({"name": draw(st.sampled_from(["fake-prune", "fake-other"])), "label": label,
                           "amounts": draw(amounts)})
        if strategies[-1]["name"] == "fake-prune" and draw(st.booleans()):
            strategies[-1]["params"] = {"power": draw(st.integers(1, 5))}
    return {
        "name": "prop",
        "models": [{"name": n, "plugin": "fake-model", "params": {"width": draw(st.floats(0.25, 2.0))}}
                   for n in draw(names)],
        "datasets": [{"name": n, "plugin": "fake-data"} for n in draw(names)],
        "strategies": strategies,
        "seeds": draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=3, unique=True)),
        "finetune": {"epochs": draw(st.integers(0, 5))},
        "evaluation": {"imgsz": draw(st.sampled_from([128, 320, 640])), "device": "cpu"},
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(valid_suites())
def test_valid_suites_expand_to_the_right_cells_with_unique_keys(registry, data):
    cells = build_plan(validate_suite(data, registry))
    controls = 1 if data["finetune"]["epochs"] > 0 else 0  # one recipe in these suites: one fine-tuned control
    per_pair = 1 + controls + sum(len(s["amounts"]) for s in data["strategies"])
    assert len(cells) == len(data["models"]) * len(data["datasets"]) * len(data["seeds"]) * per_pair
    assert len({c.key for c in cells}) == len(cells)
    assert len({c.filename for c in cells}) == len(cells)
    # the same suite through YAML gives the same keys
    again = build_plan(validate_suite(yaml.safe_load(yaml.safe_dump(data)), registry))
    assert [c.key for c in again] == [c.key for c in cells]


JUNK = st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=5),
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(valid_suites(), st.data())
def test_mutated_suites_give_a_validation_error_never_a_traceback(registry, suite, data):
    mutated = copy.deepcopy(suite)
    paths = [p for p in _paths(mutated) if p]
    path = data.draw(st.sampled_from(paths))
    parent = mutated
    for part in path[:-1]:
        parent = parent[part]
    action = data.draw(st.sampled_from(["junk", "delete", "unknown-key"]))
    if action == "junk":
        parent[path[-1]] = data.draw(JUNK)
    elif action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent["zz_" + str(path[-1])] = 1
    try:
        validate_suite(mutated, registry)
    except SuiteError as exc:
        assert exc.problems and all(": " in p for p in exc.problems)
