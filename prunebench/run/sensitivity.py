"""Per-layer sensitivity: each prunable channel group pruned ALONE by L1 at a few ratios, the drop in val
mAP50-95 without fine-tuning, cached by content in prunebench's cache.

Evaluation is the runner's own (`prunebench.yolo.evaluate.evaluate`, i.e. `yolo val` on a saved checkpoint) on the
VAL split only: the map is meant to steer pruning choices, so it must never see the test split that judges them.
The baseline is the same prepared (block-rewritten, output-identical) model, saved and evaluated the same way, so a
drop is the pruning's alone.

The cache key covers what the numbers depend on: the checkpoint's sha256, the data YAML's sha256 and the dataset's
fingerprint, the evaluation settings, the ratios, the group filter, the criterion and the code (SENSITIVITY_VERSION,
prunebench, Ultralytics, torch and Torch-Pruning versions). The device is not in it (as for cells); it is in the
provenance.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable, Sequence

from prunebench.records import sensitivity as sensitivity_file
from prunebench.records.sensitivity import ChannelGroup, SensitivityError, SensitivityMap
from prunebench.util.canonical import short_hash
from prunebench.util.filehash import file_sha256
from prunebench.util.leftovers import scratch_dir

SENSITIVITY_VERSION = 1  # bump when what is measured or how changes without the settings below changing
DEFAULT_RATIOS = (0.1, 0.3, 0.5)
CACHE_DIRNAME = "sensitivity"
LOW_BASELINE = 0.05  # val mAP50-95 below which every drop is squeezed into a few points: said before measuring


@dataclass(frozen=True)
class SensitivitySettings:
    """How the map is measured; evaluation settings as the suite's (`evaluation:`) so the baseline matches its rows."""

    imgsz: int
    batch: int = 16
    device: str = "cpu"
    conf: float = 0.001
    iou: float = 0.7
    rect: bool | None = None  # None: Model.val's own (True for a .pt); False as a suite that deploys exports
    ratios: tuple[float, ...] = DEFAULT_RATIOS
    groups: tuple[str, ...] = ()  # glob or substring patterns on group names/labels; () = every group

    def __post_init__(self) -> None:
        if self.imgsz < 32:
            raise ValueError(f"sensitivity imgsz {self.imgsz} is below 32 px, the smallest a detector's strides allow")
        bad = [r for r in self.ratios if not 0 < r < 1]
        if not self.ratios or bad:
            raise ValueError(f"sensitivity ratios must be fractions of a group's channels in (0, 1), e.g. 0.1 0.3 "
                             f"0.5; got {list(self.ratios) or 'none'}")
        if len(set(self.ratios)) != len(self.ratios):
            raise ValueError(f"sensitivity ratios repeat: {list(self.ratios)}")


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def cache_key(checkpoint: Path, data_yaml: Path, settings: SensitivitySettings, data_fingerprint: str = "") -> str:
    from prunebench.yolo.sensitivity import CRITERION

    identity = {
        "model_sha256": file_sha256(checkpoint), "data_yaml_sha256": file_sha256(data_yaml),
        "data_fingerprint": data_fingerprint, "split": sensitivity_file.SPLIT, "imgsz": settings.imgsz,
        "batch": settings.batch, "conf": settings.conf, "iou": settings.iou, "rect": settings.rect,
        "ratios": list(settings.ratios), "groups": list(settings.groups), "criterion": CRITERION,
        "code": {"sensitivity": SENSITIVITY_VERSION,
                 **{name: _version(name) for name in ("prunebench", "ultralytics", "torch", "torch-pruning")}},
    }
    return short_hash(identity, 24)


def cache_path(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / CACHE_DIRNAME / f"{key}.json"


def selected(groups: list, patterns: Sequence[str]) -> list:
    """The groups whose name or label matches any pattern (glob, else substring); all when there are none."""
    if not patterns:
        return list(groups)

    def hit(text: str, pattern: str) -> bool:
        return fnmatch.fnmatchcase(text, pattern) or pattern in text

    return [g for g in groups if any(hit(g.name, p) or hit(g.label, p) for p in patterns)]


def measure(checkpoint: Path, data_yaml: Path, settings: SensitivitySettings, *, model: str, dataset: str,
            cache_dir: Path, data_fingerprint: str = "", log: Callable[[str], None] = print,
            force: bool = False) -> SensitivityMap:
    """The sensitivity map of the detection checkpoint on the dataset's val split: from the cache when this content
    was measured before (unless `force`), else measured and cached. ValueError for a filter that matches no group."""
    key = cache_key(checkpoint, data_yaml, settings, data_fingerprint)
    cached = cache_path(cache_dir, key)
    if cached.is_file() and not force:
        try:
            found = sensitivity_file.read(cached)
        except SensitivityError as exc:
            log(f"sensitivity: ignoring an unreadable cache file ({exc}); measuring again")
        else:
            log(f"sensitivity {model} × {dataset}: cached ({cached})")
            return dataclasses.replace(found, model=model, dataset=dataset)
    value = _measure(checkpoint, data_yaml, settings, model=model, dataset=dataset, cache_dir=cache_dir,
                     key=key, data_fingerprint=data_fingerprint, log=log)
    sensitivity_file.write(cached, value)
    return value


def _measure(checkpoint: Path, data_yaml: Path, settings: SensitivitySettings, *, model: str, dataset: str,
             cache_dir: Path, key: str, data_fingerprint: str, log: Callable[[str], None]) -> SensitivityMap:
    from prunebench.yolo import checkpoints, evaluate
    from prunebench.yolo import sensitivity as groups_of

    started = time.perf_counter()
    prepared = groups_of.prepare(checkpoints.load_model(Path(checkpoint)))
    every = groups_of.channel_groups(prepared)
    chosen = selected(every, settings.groups)
    if not chosen:
        raise ValueError(f"--groups {' '.join(settings.groups)} matches none of the model's {len(every)} prunable "
                         f"channel groups (e.g. {', '.join(repr(g.label) for g in every[:3])}); give a glob or a "
                         "substring of a group's name or label, or leave --groups out for all of them")
    skipped: dict[str, dict[str, str]] = {}
    with scratch_dir(_scratch(cache_dir), "sensitivity") as tmp:
        work = Path(tmp)

        def val_map(net) -> float:
            path = checkpoints.save_model(net, work / "model.pt")
            result = evaluate.evaluate(path, Path(data_yaml), split=sensitivity_file.SPLIT, imgsz=settings.imgsz,
                                       batch=settings.batch, device=settings.device, work_dir=work,
                                       conf=settings.conf, iou=settings.iou, rect=settings.rect)
            return float(result["metrics"]["map50_95"])

        baseline = val_map(prepared)
        log(f"sensitivity {model} × {dataset}: baseline val mAP50-95 {100 * baseline:.1f}; {len(chosen)} of "
            f"{len(every)} groups × {len(settings.ratios)} ratios = {len(chosen) * len(settings.ratios)} evaluations")
        if baseline < LOW_BASELINE:
            log(f"warning: {model} scores {100 * baseline:.1f} mAP50-95 on {dataset}'s val split: a drop cannot exceed "
                "that, so this map will say little; train or adapt the baseline further (or check the data)")
        drops = []
        for number, group in enumerate(chosen, 1):
            row: list[float | None] = []
            for ratio in settings.ratios:
                pruned = groups_of.prune_group(prepared, group, ratio)
                if pruned.model is None:
                    skipped.setdefault(group.label, {})[f"{ratio:g}"] = pruned.why
                    row.append(None)
                    continue
                row.append(round(100 * (baseline - val_map(pruned.model)), 3))
            drops.append(tuple(row))
            shown = ", ".join("—" if d is None else f"{d:+.1f}" for d in row)
            log(f"  [{number}/{len(chosen)}] {group.label} ({group.channels} ch): drop {shown} points at ratios "
                f"{', '.join(f'{r:g}' for r in settings.ratios)}")
    provenance = {
        "checkpoint": str(checkpoint), "model_sha256": file_sha256(checkpoint), "data_yaml": str(data_yaml),
        "data_fingerprint": data_fingerprint, "evaluator": evaluate.EVALUATOR, "device": settings.device,
        "batch": settings.batch, "conf": settings.conf, "iou": settings.iou, "rect": settings.rect,
        "groups_total": len(every), "group_filter": list(settings.groups), "skipped": skipped,
        "selection": "Torch-Pruning MagnitudeImportance(p=1) over the coupled group, lowest channels removed, a group "
                     "of n keeping n*(1-ratio) rounded half up (as l1-channel); no fine-tuning",
        "seconds": round(time.perf_counter() - started, 1), "sensitivity_version": SENSITIVITY_VERSION,
    }
    return SensitivityMap(model=model, dataset=dataset, imgsz=settings.imgsz, criterion=groups_of.CRITERION,
                          groups=tuple(ChannelGroup(g.name, g.label, g.channels) for g in chosen),
                          ratios=tuple(settings.ratios), baseline_map50_95=round(baseline, 6), drops=tuple(drops),
                          key=key, provenance=provenance)


@dataclass(frozen=True)
class SuiteBaseline:
    """One model × dataset of a suite, with the dense checkpoint its cells start from."""

    model: str
    dataset: str
    checkpoint: Path
    data_yaml: Path
    data_fingerprint: str


def suite_pairs(loaded, models: Sequence[str] = (), datasets: Sequence[str] = ()) -> list[tuple[str, str]]:
    """The (model, dataset) pairs a suite pairs up (a model entry's `datasets:` respected), narrowed to the names
    given; ValueError naming what is available for an unknown name or a pair the suite does not make."""
    for kind, names, known in (("model", models, loaded.models), ("dataset", datasets, loaded.datasets)):
        unknown = [n for n in names if n not in known]
        if unknown:
            where = f"{loaded.path}: " if loaded.path else ""
            raise ValueError(f"{where}no {kind} named {', '.join(map(repr, unknown))} in suite "
                             f"{loaded.suite.name!r}; its {kind}s: {', '.join(known)} (--{kind} takes these names)")
    entries = {entry.name: entry for entry in loaded.suite.models}
    pairs = [(m, d) for m in (models or [e.name for e in loaded.suite.models if e.role == "study"])
             for d in (datasets or list(loaded.datasets))
             if entries[m].datasets is None or d in entries[m].datasets]
    if not pairs:
        raise ValueError(f"suite {loaded.suite.name!r} evaluates model(s) {', '.join(models) or '(study models)'} on "
                         f"none of dataset(s) {', '.join(datasets) or ', '.join(loaded.datasets)} (a model entry's "
                         "`datasets:` limits which); pick a --model and --dataset the suite pairs up")
    return pairs


def suite_baseline(loaded, model: str, dataset: str, *, cache_dir: Path, device: str, verbose: bool = False,
                   log: Callable[[str], None] = print) -> SuiteBaseline:
    """The dense checkpoint a suite's cells of `model` × `dataset` start from, obtained as the runner obtains it:
    the dataset prepared, the model source's `load` (which adapts or trains the baseline once and caches it)."""
    from prunebench.plugin.base import CellContext

    source = loaded.datasets[dataset].instance()
    source.check()
    prepared = source.prepare(Path(cache_dir))
    prepared.fingerprint = short_hash(source.fingerprint())
    ev = loaded.suite.evaluation
    recipe = loaded.suite.finetune
    model_source = loaded.models[model].instance()
    model_source.check()
    with scratch_dir(_scratch(cache_dir), "sensitivity-load") as tmp:
        ctx = CellContext(device=device, seed=loaded.suite.seeds[0], cache_dir=Path(cache_dir), work_dir=Path(tmp),
                          imgsz=int(recipe.imgsz or ev.imgsz),
                          batch=int(recipe.batch or ev.batch), verbose=verbose, dataset=prepared,
                          log=log, baseline_seed=loaded.suite.seeds[0] if loaded.suite.baseline_per_seed else None)
        yolo = model_source.load(ctx)
    path = getattr(yolo, "ckpt_path", None)
    if not path or not Path(path).is_file():
        raise ValueError(f"model {model!r}: its source gave no checkpoint file to measure (ckpt_path is empty); "
                         "give the model `weights:` in the suite")
    return SuiteBaseline(model, dataset, Path(path), Path(prepared.data_yaml), prepared.fingerprint)


def _scratch(cache_dir: Path) -> Path:
    folder = Path(cache_dir) / "scratch"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
