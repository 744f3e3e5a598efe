"""Expand a suite into cells, each with a stable content key.

Per model x dataset x seed: the dense model as loaded (or adapted), one fine-tuned dense control
per distinct fine-tuning recipe (the reference pruned rows are judged against: the same training
budget), and, for models under study, one cell per strategy x amount (or speed-up target).

Two keys: `key` hashes what shapes the trained model (the train spec, which for a pruned cell names the
strategy's plugin, its distribution and version, and the strategy class's `version`; the content fingerprints
of the files it reads; the record schema version); `measure_key` hashes the evaluation and
measurement settings. A change to measurement settings alone re-measures a cell's kept model
instead of retraining it. The device is in neither.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from prunebench.config.suite import FinetuneSettings, LoadedSuite, Resolved, target_text
from prunebench.records.record import DENSE, DENSE_FT, SCHEMA_VERSION
from prunebench.util.amount import Amount
from prunebench.util.canonical import canonical_json, short_hash
from prunebench.util.patterns import matches


@dataclass(frozen=True)
class Cell:
    suite: str
    model: str
    dataset: str
    strategy: str  # the strategy entry's key (label or name); "dense" / "dense-ft[-<hex>]" for dense rows
    amount: float | None  # fraction asked; None when `target` is set
    seed: int
    spec: dict[str, Any] = field(compare=False, hash=False)
    key: str = ""
    measure_key: str = field(default="", compare=False)
    target: float | None = None  # speed-up target: in GFLOPs (2.0 = dense / 2), or measured (spec target_runtime)
    inputs: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)  # fingerprints
    suffix: str = ""  # a deployment variant of another cell: "onnx-int8", "i320" (prunebench.run.variants)

    @property
    def is_dense(self) -> bool:
        """A dense row (as loaded, or the fine-tuned control): nothing is pruned."""
        return self.spec["strategy"]["name"] == DENSE

    @property
    def is_control(self) -> bool:
        return self.is_dense and self.spec.get("finetune") is not None

    @property
    def target_runtime(self) -> str | None:
        """The deploy runtime a measured-latency target is timed on ("openvino-int8"); None for GFLOPs targets."""
        return self.spec.get("target_runtime")

    @property
    def asked(self) -> Amount:
        return Amount.of(self.amount, self.target, self.target_runtime)

    @property
    def amount_text(self) -> str:
        return self.asked.label()

    @property
    def name(self) -> str:
        base = f"{self.model}.{self.dataset}.{self.strategy}.{self.amount_text}.s{self.seed}"
        return f"{base}.{self.suffix}" if self.suffix else base

    @property
    def deploy(self) -> dict[str, Any] | None:
        """How this variant cell deploys its parent cell's kept model (None: the torch cell itself)."""
        return self.spec.get("deploy")

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.key}.json"


def content_key(spec: dict[str, Any], fingerprints: dict[str, Any]) -> str:
    return short_hash({"schema_version": SCHEMA_VERSION, "spec": spec, "inputs": fingerprints})


# What a pruned cell's spec holds of the code that prunes: spec.strategy.plugin = {"name", "distribution",
# "version"} of the plugin that registered the strategy, and spec.strategy.version = the class's `version`.
IDENTITY_FIELDS = ("plugin", "version")


def strategy_identity(spec: dict[str, Any]) -> dict[str, Any]:
    """{"plugin": ..., "version": ...} of a cell's or a record's spec ({} for dense rows and for records written
    before prunebench recorded them)."""
    strategy = spec.get("strategy") or {}
    return {k: strategy[k] for k in IDENTITY_FIELDS if k in strategy}


def key_with_identity(cell: Cell, identity: dict[str, Any]) -> str:
    """The key `cell` would have if its strategy came from the plugin `identity` describes (an earlier record's
    strategy_identity): equal to that record's key exactly when nothing but the plugin differs."""
    train = {k: v for k, v in cell.spec.items() if k != "evaluation"}
    strategy = {k: v for k, v in train["strategy"].items() if k not in IDENTITY_FIELDS}
    return content_key(train | {"strategy": strategy | identity}, cell.inputs)


def _entry_spec(resolved: Resolved) -> dict[str, Any]:
    entry = resolved.entry
    return {"name": entry.name, "plugin": getattr(entry, "plugin", entry.name),
            "params": resolved.params.model_dump(mode="json")}


def finetune_recipe(loaded: LoadedSuite, strategy: Resolved | None,
                    dataset: Resolved | None = None) -> dict[str, Any] | None:
    """The fine-tuning recipe a cell gets, or None when it gets none.

    Lowest to highest priority: prunebench's defaults, the strategy's `recommended_finetune`, the fields the
    suite's `finetune:` sets, the dataset entry's `finetune:`, the strategy entry's own `finetune:`. imgsz and
    batch default to the evaluation's. An iterative schedule's budget is its steps x epochs per step.
    """
    suite = loaded.suite
    values = FinetuneSettings().model_dump(mode="json")
    if strategy is not None:
        values.update(getattr(strategy.cls, "recommended_finetune", None) or {})
    values.update(suite.finetune.model_dump(mode="json", include=suite.finetune.model_fields_set))
    for override in (getattr(dataset.entry, "finetune", None) if dataset is not None else None,
                     strategy.entry.finetune if strategy is not None else None):
        if override is not None:
            values.update(override.model_dump(mode="json", exclude_none=True))
    entry = strategy.entry if strategy is not None else None
    if entry is not None and entry.schedule is not None:
        values["epochs"] = entry.schedule.steps * entry.schedule.finetune_epochs_per_step
    if values["epochs"] == 0:
        return None
    sparsity = _sparsity_phase(strategy, values)
    if sparsity is not None:
        # Sparsity training is extra training on the data: the control gets the same phase (without the
        # penalty), so slimming is not compared with a model trained for fewer epochs.
        values["sparsity"] = sparsity
    if values["epochs"] != "auto":
        values.pop("min_steps", None)  # only `auto` reads it: keep it out of keys where it changes nothing
    if not values.get("amp"):
        values.pop("amp", None)  # fp32, the default: out of the key, so records made before `amp` existed still match
    if values.get("distill") in (None, "none"):
        values.pop("distill", None)  # plain fine-tuning: recipes (and keys) as before distillation existed
        values.pop("dis", None)
    values["imgsz"] = values.get("imgsz") or suite.evaluation.imgsz
    values["batch"] = values.get("batch") or suite.evaluation.batch
    return values


def _sparsity_phase(strategy: Resolved | None, recipe: dict[str, Any]) -> dict[str, Any] | None:
    """{"epochs", "lr0"} of the strategy's sparsity training (network slimming), or None when it has none."""
    if strategy is None:
        return None
    instance = strategy.instance()
    epochs = instance.sparsity_epochs()
    if epochs <= 0:
        return None
    lr0 = instance.sparsity_lr0()
    return {"epochs": int(epochs), "lr0": float(lr0 if lr0 is not None else recipe["lr0"])}


def measure_spec(loaded: LoadedSuite) -> dict[str, Any]:
    """What the evaluation and measurement depend on (not the device: that is in the record). The deployment
    fields appear only when a suite uses them, so the keys of suites without them stay as they were."""
    evaluation = loaded.suite.evaluation
    exclude = {"device", "deploy", "smaller_inputs", "calibration"}
    spec = evaluation.model_dump(mode="json", exclude=exclude)
    if evaluation.exports:
        spec["deploy"] = list(evaluation.deploy)
        spec["rect"] = False  # every row validated as the exports are (see EvaluationSettings.deploy)
    if any(v.endswith("-int8") for v in evaluation.deploy):
        spec["calibration"] = evaluation.calibration.model_dump(mode="json")
    if evaluation.smaller_inputs:
        spec["smaller_inputs"] = list(evaluation.smaller_inputs)
    return spec


def build_plan(loaded: LoadedSuite) -> list[Cell]:
    suite = loaded.suite
    evaluation = measure_spec(loaded)
    measure_key = short_hash(evaluation)
    # Fingerprints read files (hash weights, list labels): once per entry, not per cell.
    model_fps = {name: r.instance().fingerprint() for name, r in loaded.models.items()}
    dataset_fps = {name: r.instance().fingerprint() for name, r in loaded.datasets.items()}
    # Recipes per dataset (a dataset may set its own), and one fine-tuned dense control per distinct recipe.
    recipes: dict[str, dict[Any, dict[str, Any] | None]] = {}
    controls: dict[str, dict[str, str]] = {}
    for dataset_name, dataset in loaded.datasets.items():
        recipes[dataset_name] = {key: finetune_recipe(loaded, strategy, dataset)
                                 for key, strategy in loaded.strategies.items()}
        if not loaded.strategies:
            recipes[dataset_name][None] = finetune_recipe(loaded, None, dataset)
        controls[dataset_name] = _control_labels([r for r in recipes[dataset_name].values() if r is not None])

    cells: list[Cell] = []
    for model_name, model in loaded.models.items():
        study = model.entry.role == "study"
        for dataset_name, dataset in loaded.datasets.items():
            if model.entry.datasets is not None and dataset_name not in model.entry.datasets:
                continue
            dataset_spec = _entry_spec(dataset) | {"synthetic": bool(getattr(dataset.cls, "synthetic", False))}
            base_spec = {"model": _entry_spec(model) | {"role": model.entry.role}, "dataset": dataset_spec}
            fingerprints = {"model": model_fps[model_name], "dataset": dataset_fps[dataset_name]}
            for seed in suite.seeds:
                active = {key: strategy for key, strategy in loaded.strategies.items()
                          if strategy.entry.seeds is None or seed in strategy.entry.seeds}
                # A control runs at a seed when some entry with its recipe does (labels stay those of the whole suite).
                used = {canonical_json(recipes[dataset_name][key]) for key in active
                        if recipes[dataset_name][key] is not None} if loaded.strategies else None
                variants = [(DENSE, {"name": DENSE, "label": DENSE, "params": {}, "structured": None}, 0.0, None,
                             None, None, None)]
                for label, recipe in controls[dataset_name].items():
                    if used is None or recipe in used:
                        variants.append((label, {"name": DENSE, "label": label, "params": {}, "structured": None},
                                         0.0, None, json.loads(recipe), None, None))
                for key, strategy in (active.items() if study else ()):
                    entry = strategy.entry
                    strategy_spec = {"name": entry.name, "label": key,
                                     "params": strategy.params.model_dump(mode="json"),
                                     "structured": bool(getattr(strategy.cls, "structured", False)),
                                     "plugin": strategy.plugin, "version": str(getattr(strategy.cls, "version", "1"))}
                    schedule = entry.schedule.model_dump(mode="json") if entry.schedule is not None else None
                    for amount in entry.amounts:
                        variants.append((key, strategy_spec, amount.fraction, amount.target,
                                         recipes[dataset_name][key], schedule, amount.runtime))
                for label, strategy_spec, amount, target, recipe, schedule, runtime in variants:
                    train = base_spec | {"strategy": strategy_spec, "amount": amount, "target": target, "seed": seed,
                                         "finetune": recipe, "schedule": schedule}
                    if runtime is not None:  # only then: GFLOPs targets keep the keys they always had
                        train["target_runtime"] = runtime
                    if suite.baseline_per_seed:  # only then: the keys of suites without it stay as they were
                        train["baseline_seed"] = seed
                    cells.append(Cell(suite.name, model_name, dataset_name, label, amount, seed,
                                      train | {"evaluation": evaluation}, content_key(train, fingerprints),
                                      measure_key, target, inputs=fingerprints))
    from prunebench.run.variants import variant_cells

    cells += variant_cells(cells, suite.evaluation)
    check_unique_names(cells, loaded)
    return cells


def check_unique_names(cells: list[Cell], loaded: LoadedSuite) -> None:
    """SuiteError when two different cells would share a name (their records' names, and the file names the
    readers show): amounts that round to the same two decimals (0.301 and 0.304), or names whose dots line up
    (model `a.b` on dataset `c` and model `a` on dataset `b.c`)."""
    from prunebench.config.suite import SuiteError

    seen: dict[str, Cell] = {}
    problems = []
    for cell in cells:
        other = seen.setdefault(cell.name, cell)
        if other is not cell and other.key != cell.key:
            problems.append(f"{loaded.path or 'suite'}: cells would share the name {cell.name!r}: model "
                            f"{other.model!r}, dataset {other.dataset!r}, {other.strategy} {other.amount_text} and "
                            f"model {cell.model!r}, dataset {cell.dataset!r}, {cell.strategy} {cell.amount_text} "
                            "(amounts are named to two decimals, and names are joined by dots): use amounts that "
                            "differ in the first two decimals, or names without the dots that make them collide")
    if problems:
        raise SuiteError(problems)


def _control_labels(recipes: list[dict[str, Any]]) -> dict[str, str]:
    """label -> canonical recipe of each fine-tuned dense control: "dense-ft" when the suite has one
    recipe, "dense-ft-<6 hex of the recipe>" for each when it has several."""
    distinct = sorted({canonical_json(r) for r in recipes})
    if len(distinct) == 1:
        return {DENSE_FT: distinct[0]}
    return {f"{DENSE_FT}-{hashlib.sha256(r.encode()).hexdigest()[:6]}": r for r in distinct}


def select(cells: list[Cell], patterns: list[str]) -> list[Cell]:
    """Cells whose name matches any glob pattern (a plain word matches as a substring)."""
    return [c for c in cells if matches(c.name, patterns)]


__all__ = ["Cell", "DENSE", "DENSE_FT", "IDENTITY_FIELDS", "build_plan", "canonical_json", "content_key",
           "finetune_recipe", "key_with_identity", "select", "short_hash", "strategy_identity", "target_text"]
