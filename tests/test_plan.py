"""Plan expansion and key stability."""

import textwrap

from prunebench.plan import build_plan, select
from prunebench.suite import load_suite

SUITE = """\
name: demo
models:
  - name: m1
    plugin: fake-model
    params: {weights: WEIGHTS}
  - name: m2
    plugin: fake-model
datasets:
  - name: d1
    plugin: fake-data
strategies:
  - name: fake-prune
    amounts: [0.3, 0.6, 0.9]
  - name: fake-other
    amounts: [0.5]
seeds: [0, 1]
finetune: {epochs: 2}
evaluation: {imgsz: 320, device: cpu}
"""


def plan_for(tmp_path, registry, text=SUITE, weights_bytes=b"abc"):
    weights = tmp_path / "w.pt"
    weights.write_bytes(weights_bytes)
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(text).replace("WEIGHTS", str(weights)))
    return build_plan(load_suite(path, registry))


def keys(cells):
    return {c.name: c.key for c in cells}


def test_cell_count_and_dense_baselines(tmp_path, registry):
    cells = plan_for(tmp_path, registry)
    # models x datasets x seeds x (dense + 3 amounts + 1 amount)
    assert len(cells) == 2 * 1 * 2 * (1 + 3 + 1)
    assert sum(c.is_dense for c in cells) == 2 * 1 * 2
    assert len({c.key for c in cells}) == len(cells)
    assert len({c.filename for c in cells}) == len(cells)
    assert "m1.d1.fake-prune.a0.30.s1." in next(c.filename for c in cells if c.name == "m1.d1.fake-prune.a0.30.s1")


def test_same_spec_same_key(tmp_path, registry):
    assert keys(plan_for(tmp_path, registry)) == keys(plan_for(tmp_path, registry))


def test_device_is_not_in_the_key(tmp_path, registry):
    assert keys(plan_for(tmp_path, registry)) == keys(plan_for(tmp_path, registry, SUITE.replace("device: cpu", "device: cuda:1")))


def test_changed_input_file_changes_only_its_cells(tmp_path, registry):
    before = keys(plan_for(tmp_path, registry))
    after = keys(plan_for(tmp_path, registry, weights_bytes=b"abd"))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {name for name in before if name.startswith("m1.")}


def test_each_changed_field_changes_the_key(tmp_path, registry):
    base = keys(plan_for(tmp_path, registry))
    for old, new in [("imgsz: 320", "imgsz: 256"), ("epochs: 2", "epochs: 3"),
                     ("amounts: [0.5]", "amounts: [0.5]\n    params: {}"), ("- name: fake-prune\n", "- name: fake-prune\n    params: {power: 2}\n")]:
        changed = keys(plan_for(tmp_path, registry, SUITE.replace(old, new)))
        if old.startswith("amounts: [0.5]"):  # explicit empty params == defaults: same key
            assert changed == base
            continue
        assert changed != base, (old, new)


def test_finetune_settings_do_not_invalidate_dense_baselines(tmp_path, registry):
    base = plan_for(tmp_path, registry)
    changed = plan_for(tmp_path, registry, SUITE.replace("epochs: 2", "epochs: 5"))
    for a, b in zip(base, changed):
        assert (a.key == b.key) == a.is_dense


def test_plugin_params_defaults_are_part_of_the_spec(tmp_path, registry):
    cell = next(c for c in plan_for(tmp_path, registry) if c.strategy == "fake-prune")
    assert cell.spec["strategy"] == {"name": "fake-prune", "label": "fake-prune", "params": {"power": 1}}


def test_select_by_glob_or_substring(tmp_path, registry):
    cells = plan_for(tmp_path, registry)
    assert {c.strategy for c in select(cells, ["fake-other"])} == {"fake-other"}
    assert all(c.name.startswith("m2.") and c.is_dense for c in select(cells, ["m2.*dense*"]))
    assert select(cells, []) == cells
