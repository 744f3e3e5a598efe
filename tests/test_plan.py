"""Plan expansion and key stability."""

import textwrap
from pathlib import Path

import pytest

from prunebench.run.plan import build_plan, select
from prunebench.config.suite import load_suite

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


def test_cell_count_dense_baselines_and_fine_tuned_controls(tmp_path, registry):
    cells = plan_for(tmp_path, registry)
    # models x datasets x seeds x (dense + dense-ft control + 3 amounts + 1 amount)
    assert len(cells) == 2 * 1 * 2 * (1 + 1 + 3 + 1)
    assert sum(c.is_dense for c in cells) == 2 * 1 * 2 * 2
    controls = [c for c in cells if c.is_control]
    assert {c.strategy for c in controls} == {"dense-ft"} and len(controls) == 4
    pruned = next(c for c in cells if c.strategy == "fake-prune")
    # The control gets exactly the recipe the pruned cells get: the first rule of a fair comparison.
    assert all(c.spec["finetune"] == pruned.spec["finetune"] for c in controls)
    assert all(c.spec["finetune"] is None for c in cells if c.strategy == "dense")
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
    for old, new in [("imgsz: 320", "imgsz: 256"), ("epochs: 2", "epochs: 3"), ("epochs: 2", "epochs: 2, lr0: 0.002"),
                     ("amounts: [0.5]", "amounts: [0.5]\n    params: {}"), ("- name: fake-prune\n", "- name: fake-prune\n    params: {power: 2}\n")]:
        changed = keys(plan_for(tmp_path, registry, SUITE.replace(old, new)))
        if old.startswith("amounts: [0.5]"):  # explicit empty params == defaults: same key
            assert changed == base
            continue
        assert changed != base, (old, new)


def test_finetune_settings_change_fine_tuned_cells_only(tmp_path, registry):
    base = plan_for(tmp_path, registry)
    changed = plan_for(tmp_path, registry, SUITE.replace("epochs: 2", "epochs: 5"))
    for a, b in zip(base, changed):
        assert (a.key == b.key) == (a.strategy == "dense"), a.name  # the control follows the recipe


def test_measurement_settings_change_the_measure_key_not_the_training_key(tmp_path, registry):
    base = plan_for(tmp_path, registry)
    changed = plan_for(tmp_path, registry, SUITE.replace("device: cpu", "device: cpu, measure: {min_run_time: 2.0}"))
    assert [c.key for c in base] == [c.key for c in changed]  # nothing retrains
    assert all(a.measure_key != b.measure_key for a, b in zip(base, changed))  # everything re-measures


def test_evaluation_imgsz_retrains_only_when_fine_tuning_follows_it(tmp_path, registry):
    pinned = SUITE.replace("finetune: {epochs: 2}", "finetune: {epochs: 2, imgsz: 320}")
    base = plan_for(tmp_path, registry, pinned)
    changed = plan_for(tmp_path, registry, pinned.replace("evaluation: {imgsz: 320", "evaluation: {imgsz: 256"))
    assert [c.key for c in base] == [c.key for c in changed]
    assert base[0].spec["finetune"] is None and base[1].spec["finetune"]["imgsz"] == 320


def test_several_recipes_get_one_control_each(tmp_path, registry):
    text = SUITE.replace("  - name: fake-other\n    amounts: [0.5]",
                         "  - name: fake-other\n    amounts: [0.5]\n    finetune: {epochs: 4, lr0: 0.005}")
    cells = plan_for(tmp_path, registry, text)
    controls = {c.strategy: c.spec["finetune"] for c in cells if c.is_control and c.model == "m1" and c.seed == 0}
    assert len(controls) == 2 and all(label.startswith("dense-ft-") for label in controls)
    other = next(c for c in cells if c.strategy == "fake-other")
    assert other.spec["finetune"]["epochs"] == 4 and other.spec["finetune"]["lr0"] == 0.005
    assert other.spec["finetune"] in controls.values()
    prune = next(c for c in cells if c.strategy == "fake-prune")
    assert prune.spec["finetune"]["epochs"] == 2 and prune.spec["finetune"] in controls.values()


def test_an_entry_may_run_at_fewer_seeds_and_its_own_control_follows_it(tmp_path, registry):
    """The heaviest rows may keep fewer seeds: fake-other (its own recipe) at seed 1 only; its control runs at
    seed 1 only and keeps the label it has in the whole suite; every other cell and key is as before."""
    own = SUITE.replace("  - name: fake-other\n    amounts: [0.5]",
                        "  - name: fake-other\n    amounts: [0.5]\n    finetune: {epochs: 4}")
    full = plan_for(tmp_path, registry, own)
    fewer = plan_for(tmp_path, registry, own.replace("finetune: {epochs: 4}", "finetune: {epochs: 4}\n    seeds: [1]"))
    other = {(c.strategy, c.seed) for c in fewer if c.model == "m1" and c.strategy == "fake-other"}
    assert other == {("fake-other", 1)}
    four = {(c.strategy, c.seed) for c in fewer
            if c.model == "m1" and c.is_control and c.spec["finetune"]["epochs"] == 4}
    assert len(four) == 1 and next(iter(four))[1] == 1
    assert set(keys(fewer).items()) < set(keys(full).items())
    assert len(keys(full)) - len(keys(fewer)) == 2 * 2  # per model: fake-other and its control at seed 0


def test_an_entrys_seeds_must_be_the_suites():
    from prunebench.config.suite import Suite

    with pytest.raises(ValueError, match=r"strategy 'fake-prune' has seeds \[0, 5\]: give each once, from the "
                                         r"suite's seeds \[0, 1\]"):
        Suite.model_validate({"name": "s", "models": [{"name": "m"}], "datasets": [{"name": "d"}], "seeds": [0, 1],
                              "strategies": [{"name": "fake-prune", "amounts": [0.3], "seeds": [0, 5]}]})
    with pytest.raises(ValueError, match=r"seeds \[1\] run no strategy entry"):
        Suite.model_validate({"name": "s", "models": [{"name": "m"}], "datasets": [{"name": "d"}], "seeds": [0, 1],
                              "strategies": [{"name": "fake-prune", "amounts": [0.3], "seeds": [0]}]})
    with pytest.raises(ValueError, match="at least 1 item"):
        Suite.model_validate({"name": "s", "models": [{"name": "m"}], "datasets": [{"name": "d"}], "seeds": [0, 1],
                              "strategies": [{"name": "fake-prune", "amounts": [0.3], "seeds": []}]})


def test_strategy_recommendation_fills_what_the_suite_leaves_unset(tmp_path, registry, monkeypatch):
    from tests.plugins.fake_plugins import FakeStrategy

    monkeypatch.setattr(FakeStrategy, "recommended_finetune", {"lr0": 0.02, "epochs": 9}, raising=False)
    cell = next(c for c in plan_for(tmp_path, registry) if c.strategy == "fake-prune")
    assert cell.spec["finetune"]["lr0"] == 0.02  # the suite sets no lr0: the strategy's recommendation
    assert cell.spec["finetune"]["epochs"] == 2  # the suite's explicit epochs win


def test_speed_up_targets_and_schedules_in_names_and_specs(tmp_path, registry, monkeypatch):
    from tests.plugins.fake_plugins import FakeStrategy

    monkeypatch.setattr(FakeStrategy, "structured", True)
    text = SUITE.replace("amounts: [0.3, 0.6, 0.9]", "amounts: [0.3, '2x', 1.5x]\n    schedule: {steps: 3, finetune_epochs_per_step: 2}")
    cells = plan_for(tmp_path, registry, text)
    target = next(c for c in cells if c.target == 2.0)
    assert target.name == "m1.d1.fake-prune.x2.00.s0" and target.amount is None
    assert target.spec["schedule"] == {"steps": 3, "finetune_epochs_per_step": 2}
    assert target.spec["finetune"]["epochs"] == 6  # steps x epochs per step: the budget the control gets too
    assert {c.spec["finetune"]["epochs"] for c in cells if c.is_control} == {2, 6}


def test_plugin_params_defaults_are_part_of_the_spec(tmp_path, registry):
    cell = next(c for c in plan_for(tmp_path, registry) if c.strategy == "fake-prune")
    assert cell.spec["strategy"] == {"name": "fake-prune", "label": "fake-prune", "params": {"power": 1},
                                     "structured": False,
                                     # registered in-process: no distribution; the class's default version
                                     "plugin": {"name": "fake", "distribution": None, "version": None},
                                     "version": "1"}


def test_select_by_glob_or_substring(tmp_path, registry):
    cells = plan_for(tmp_path, registry)
    assert {c.strategy for c in select(cells, ["fake-other"])} == {"fake-other"}
    assert all(c.name.startswith("m2.") and c.is_dense for c in select(cells, ["m2.*dense*"]))
    assert len(select(cells, ["m2.*dense*"])) == 4  # dense and dense-ft, two seeds
    assert select(cells, []) == cells


def test_a_dataset_may_set_its_own_recipe_and_its_control_gets_it(tmp_path, registry):
    """A model used as it is on the data it was trained for needs a gentler touch-up than one adapted to new data;
    each dataset's dense control gets that dataset's recipe, and the other dataset's cells keep their keys."""
    two = SUITE.replace("  - name: d1\n    plugin: fake-data\n",
                        "  - name: d1\n    plugin: fake-data\n  - name: d2\n    plugin: fake-data\n")
    before = plan_for(tmp_path, registry, two)
    after = plan_for(tmp_path, registry, two.replace("  - name: d2\n    plugin: fake-data\n",
                                                     "  - name: d2\n    plugin: fake-data\n    finetune: {lr0: 0.0002}\n"))
    for cell in after:
        recipe = cell.spec["finetune"]
        if recipe is not None:
            assert recipe["lr0"] == (0.0002 if cell.dataset == "d2" else 0.0005), cell.name  # 0.0005: the default
            assert recipe["epochs"] == 2  # the suite's own fields still apply
    assert {c.strategy for c in after if c.is_control} == {"dense-ft"}  # one recipe per dataset: one control each
    changed = {c.name for c, d in zip(before, after) if c.key != d.key}
    assert changed == {c.name for c in after if c.dataset == "d2" and c.spec["finetune"] is not None}
    override = plan_for(tmp_path, registry, two.replace(
        "  - name: d2\n    plugin: fake-data\n", "  - name: d2\n    plugin: fake-data\n    finetune: {lr0: 0.0002}\n"
    ).replace("  - name: fake-other\n", "  - name: fake-other\n    finetune: {lr0: 0.02}\n"))
    # a strategy entry's own recipe wins over the dataset's, and its dense control follows it
    other = {c.spec["finetune"]["lr0"] for c in override if c.strategy == "fake-other"}
    assert other == {0.02}
    d2_controls = {c.spec["finetune"]["lr0"] for c in override if c.is_control and c.dataset == "d2"}
    assert d2_controls == {0.0002, 0.02}


def test_a_baseline_per_seed_gives_every_seed_its_own_keys_and_asks_the_source_for_that_seed(tmp_path, registry):
    shared = plan_for(tmp_path, registry)
    per_seed = plan_for(tmp_path, registry, SUITE + "baseline_per_seed: true\n")
    assert all("baseline_seed" not in c.spec for c in shared), "suites without the option keep their keys"
    assert all(c.spec["baseline_seed"] == c.seed for c in per_seed)
    assert not set(keys(shared).values()) & set(keys(per_seed).values())
    dense = {c.seed: c for c in per_seed if c.is_dense and not c.is_control and c.model == per_seed[0].model}
    assert len(dense) == 2 and dense[0].key != dense[1].key


def test_the_ultralytics_source_trains_one_baseline_per_seed_when_asked(tmp_path, monkeypatch):
    """Each seed's baseline is trained with that seed into its own cache folder; without baseline_seed, the recipe's
    seed serves every cell (no training here: the trainer is replaced by one that records its recipe)."""
    from prunebench import CellContext, PreparedDataset
    from prunebench.yolo import checkpoints, training
    from prunebench_builtins.ultralytics_models import UltralyticsModel

    trained = []

    def fake_train(source, data_yaml, recipe, *, device, out_dir, verbose):
        trained.append((recipe.seed, out_dir.name))
        (out_dir / "best.pt").write_bytes(b"weights")

    monkeypatch.setattr(training, "train_baseline", fake_train)
    monkeypatch.setattr(checkpoints, "load_yolo", lambda path: path)
    weights = Path(__file__).resolve().parents[1] / "weights" / "yolo11n.pt"
    source = UltralyticsModel(UltralyticsModel.Params(weights=str(weights), baseline={"epochs": 1, "seed": 7}))
    data = PreparedDataset(tmp_path / "data.yaml", {0: "a"}, synthetic=False, fingerprint="d")
    def ctx(seed):
        return CellContext(device="cpu", seed=0, cache_dir=tmp_path, work_dir=tmp_path, imgsz=64, batch=2,
                           dataset=data, log=lambda m: None, baseline_seed=seed)

    paths = {seed: source.load(ctx(seed)) for seed in (None, 0, 1)}
    assert [seed for seed, _ in trained] == [7, 0, 1] and len({folder for _, folder in trained}) == 3
    assert source.load(ctx(1)) == paths[1] and len(trained) == 3, "cached: a second cell of seed 1 trains nothing"
