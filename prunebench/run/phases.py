"""A cell run as a list of phases, and what every kind of cell shares.

Each kind of cell (dense, control, pruned, target, iterative, a re-measure of a kept model, a deployment variant)
is a list of `Phase`s; `run_phases` runs them in order through one wrapper that times each into the record and,
when one raises, stops and returns a `PhaseOutcome` holding its name and its exception as a value (pytest's
`CallInfo.from_call`). The runner (run.runner), the trained cells' phases (run.cell_phases) and deployment
variants (run.deployed) all read this module; none reads another's private names.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from prunebench.config.suite import LoadedSuite
from prunebench.plugin.base import CellContext
from prunebench.records.evaluation import Evaluation
from prunebench.records.environment import Environment
from prunebench.records.record import Record
from prunebench.run.plan import Cell


@dataclass
class RunSettings:
    device: str  # resolved: "cpu" or "cuda:N"
    cache_dir: Path
    verbose: bool = False
    log: Callable[[str], None] = print
    environment: Environment | None = None  # every record of the run starts from it (None: an empty one)
    results_dir: Path | None = None  # where kept models go (and earlier records are looked up to re-measure)
    force: bool = False  # retrain even when a kept model of the same training exists
    suite_cells: int | None = None  # cells in the suite's whole plan: a leaderboard says "partial" until all are in
    requested_device: str | None = None  # as asked (auto, cuda:1), for executors that resolve it on each worker


@dataclass
class CellWork:
    """What the phases of one cell hand each other while it runs: the cell's own, never shared or kept."""

    cell: Cell
    record: Record
    loaded: LoadedSuite
    settings: RunSettings
    make_context: Callable[[Cell, Path], CellContext]
    work_dir: Path
    strategy: Any = None  # the strategy's instance (pruned cells)
    model: Any = None  # the model the next phase works on
    dense: Any = None  # the model source's dense YOLO (its checkpoint is the cell's baseline)
    reference: Any = None  # the model latency is timed against in pairs, or None
    checkpoint: Path | None = None  # the file evaluated and measured
    steps: dict[str, Any] = field(default_factory=dict)  # iterative pruning's running state
    size_before: Any = None  # a pruned cell's model size before pruning (run.delivered judges what was removed)
    _ctx: CellContext | None = None

    @property
    def ctx(self) -> CellContext:
        """The plugins' context, made when a phase first needs it (it prepares the dataset: a failure there
        belongs to that phase)."""
        if self._ctx is None:
            self._ctx = self.make_context(self.cell, self.work_dir)
        return self._ctx

    @property
    def evaluation(self):
        return self.loaded.suite.evaluation


@dataclass(frozen=True)
class Phase:
    """One named step of a cell; `run` works on the cell's CellWork. The name is the record's timing key and,
    on failure, `error.phase`."""

    name: str
    run: Callable[[CellWork], None]


@dataclass(frozen=True)
class PhaseOutcome:
    """How one phase went: its name, its seconds, and the exception it raised (None when it did not)."""

    name: str
    seconds: float
    error: Exception | None = None

    @classmethod
    def from_call(cls, name: str, call: Callable[[], None]) -> PhaseOutcome:
        start = time.perf_counter()
        try:
            call()
        except Exception as exc:  # the cell's failure, as a value: the run goes on with the next cell
            return cls(name, round(time.perf_counter() - start, 3), exc)
        return cls(name, round(time.perf_counter() - start, 3))


def run_phases(work: CellWork, phases: Sequence[Phase]) -> PhaseOutcome | None:
    """Run `phases` in order, each one's seconds into `record.timings[name]`; the first that fails ends the
    cell and is returned (None when all ran)."""
    for phase in phases:
        outcome = PhaseOutcome.from_call(phase.name, lambda: phase.run(work))
        work.record.timings[phase.name] = outcome.seconds
        if outcome.error is not None:
            return outcome
    return None


# ---------------------------------------------------------------------- evaluation, shared by every kind
def evaluate_checkpoint(work: CellWork, path: Path, split: str, work_dir: Path,
                        imgsz: int | None = None) -> dict[str, Any]:
    """`path` validated on `split` exactly as `yolo val` does, with the suite's evaluation settings."""
    from prunebench.yolo import evaluate

    ev = work.evaluation
    # A suite that deploys exports validates every row as Ultralytics validates a static export (rect=False).
    rect = False if ev.exports else None
    return evaluate.evaluate(path, work.ctx.dataset.data_yaml, split=split, imgsz=imgsz or ev.imgsz, batch=ev.batch,
                             device=work.settings.device, work_dir=work_dir, verbose=work.settings.verbose,
                             conf=ev.conf, iou=ev.iou, rect=rect)


def evaluate_every_split(work: CellWork, artefact: Path, imgsz: int | None = None) -> None:
    """Validate `artefact` on every split of the dataset; the headline split's metrics, per-class AP, curves,
    per-image matches and bootstrap into the record."""
    from prunebench.yolo import evaluate

    ev, ctx = work.evaluation, work.ctx
    headline = evaluate.headline_split(ctx.dataset.data_yaml, ev.split)
    by_split, results = {}, {}
    for split in evaluate.available_splits(ctx.dataset.data_yaml):
        results[split] = evaluate_checkpoint(work, artefact, split, ctx.work_dir / f"val-{split}", imgsz=imgsz)
        by_split[split] = results[split]["metrics"]
    result, matches = results[headline], per_image_results(results[headline]["per_image"], headline, ev.intervals)
    work.record.put_evaluation(Evaluation(
        split=headline, metrics_by_split=by_split, evaluator=evaluate.EVALUATOR,
        per_class_ap=result.get("per_class_ap", {}), curves=result.get("curves"),
        ultralytics_speed=result.get("speed"), per_image=matches["per_image"], bootstrap=matches.get("bootstrap")))


def baseline_identity(yolo) -> dict[str, Any]:
    """Which dense checkpoint a cell started from (its sha256): a leaderboard compares rows of one baseline only."""
    from prunebench.util.filehash import file_sha256

    path = getattr(yolo, "ckpt_path", None)
    if not path or not Path(path).is_file():
        return {"sha256": None, "checkpoint": None, "why": "the model source gave no checkpoint file"}
    return {"sha256": file_sha256(path), "checkpoint": str(path)}


def per_image_results(per_image: list[dict[str, Any]], split: str, intervals) -> dict[str, Any]:
    """details.per_image (the validator's per-image matches, compact) and details.bootstrap (mAP on resamples of
    the images, for the intervals every report draws) of the headline split."""
    from prunebench.records.matches import Matches

    matches = Matches.from_stats(per_image)
    out: dict[str, Any] = {"per_image": {"split": split, **matches.encode()}}
    if intervals.resamples > 0:
        out["bootstrap"] = {"split": split, **matches.replicates(intervals.resamples, intervals.seed)}
    return out


def scratch_folder(cache_dir: Path) -> Path:
    path = Path(cache_dir) / "scratch"
    path.mkdir(parents=True, exist_ok=True)
    return path
