"""Base classes that plugins subclass. No torch import here: plugins import it lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # pragma: no cover
    import torch


class Params(BaseModel):
    """Base for every plugin's params: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EmptyParams(Params):
    """For plugins that take no params."""


@dataclass
class PreparedDataset:
    """A dataset ready for Ultralytics: its data YAML on disk and what it holds."""

    data_yaml: Path
    names: dict[int, str]
    synthetic: bool
    description: str = ""
    fingerprint: str = ""  # hash of the dataset's content identity (filled by the runner)
    val_images: list[Path] = field(default_factory=list)  # real images for latency measurement
    warnings: list[str] = field(default_factory=list)  # said once before any cell (e.g. images that will be dropped)


@dataclass
class CellContext:
    """What a plugin may use while a cell runs."""

    device: str  # resolved: "cpu" or "cuda:N"
    seed: int
    cache_dir: Path
    work_dir: Path  # a scratch folder for this cell, removed after it
    imgsz: int
    batch: int
    verbose: bool = False
    dataset: PreparedDataset | None = None
    log: Callable[[str], None] = print
    baseline_seed: int | None = None  # suite `baseline_per_seed`: train the dense baseline with this seed
    target_runtime: str | None = None  # the deploy runtime of a measured-latency target ("2x@onnx": "onnx"), else None


def check_amount(amount: float, strategy: str, *, structured: bool = True) -> None:
    """ValueError unless `amount` is a fraction `strategy` can prune: for a structured strategy, channels to
    remove in [0, 1) (a layer left with no channel computes nothing); otherwise weights to zero in [0, 1]."""
    inside = 0.0 <= amount < 1.0 if structured else 0.0 <= amount <= 1.0  # False for NaN too
    if inside:
        return
    if structured:
        raise ValueError(f"{strategy}: amount {amount!r} is not a fraction of channels to remove in [0, 1). "
                         "Removing every channel of a layer leaves nothing to compute with; use e.g. 0.3, 0.5 or 0.7.")
    raise ValueError(f"{strategy}: amount {amount!r} is not a fraction of weights to zero in [0, 1]; "
                     "use e.g. 0.3 for 30 % of the weights.")


class _Plugin:
    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = EmptyParams

    def __init__(self, params: Params | None = None, base_dir: Path | None = None):
        self.params = params if params is not None else self.Params()
        self.base_dir = Path(base_dir) if base_dir is not None else None  # the suite file's folder

    def resolve_path(self, value: str) -> Path:
        """A path a user wrote in a suite, made absolute: relative to the suite file's folder (so a suite runs
        from any folder), else to the current folder when only that one exists (older suites)."""
        path = Path(value).expanduser()
        if path.is_absolute():
            return path
        candidates = ([self.base_dir / path] if self.base_dir is not None else []) + [Path.cwd() / path]
        return next((c for c in candidates if c.exists()), candidates[0]).resolve()


class Strategy(_Plugin):
    """A pruning method.

    Scoring and cutting are the strategy's business; the runner only calls, in order:
    `sparsity_epochs()` (> 0 asks for a sparsity-training phase, with `regularize(model)`
    called after every backward pass), then `prune(model, amount, ctx)`, which changes the
    model in place and returns a JSON-able report of what it did.

    `structured = False`: the zeros are the result; fine-tuning keeps them as masks.
    `structured = True`: the smaller architecture is the result; fine-tuning trains it as is.
    """

    structured: ClassVar[bool] = False
    # Bump it when a change to the strategy changes what it does to a model: every cell that used it runs again
    # (it is part of each cell's key, beside the plugin's distribution name and version; the record stores them).
    version: ClassVar[str] = "1"

    def sparsity_epochs(self) -> int:
        return 0

    def sparsity_lr0(self) -> float | None:
        """The learning rate of sparsity training; None: the fine-tuning recipe's lr0."""
        return None

    def regularize(self, model: torch.nn.Module) -> None:
        """Add the sparsity penalty's gradient; called after each backward pass."""

    def snapshot(self, model: torch.nn.Module) -> dict[str, Any] | None:
        """What to record of the model before and after sparsity training (e.g. a BN scale histogram)."""
        return None

    def prune(self, model: torch.nn.Module, amount: float, ctx: CellContext) -> dict[str, Any]:
        raise NotImplementedError


class ModelSource(_Plugin):
    """Where a detection model comes from (a checkpoint on disk, an architecture + recipe, ...)."""

    def fingerprint(self) -> dict[str, Any]:
        """Cheap content identity of the inputs (no training, no torch): goes into cell keys."""
        return {}

    def check(self) -> None:
        """Raise ValueError with an actionable message if inputs are missing (no torch)."""

    def load(self, ctx: CellContext) -> Any:
        """Return an `ultralytics.YOLO` holding the trained dense detection model (loaded from a file, so its
        `ckpt_path` names the checkpoint the record's baseline sha256 is taken of). When `ctx.baseline_seed` is
        set (the suite's `baseline_per_seed`), a source that trains its baseline trains it with that seed."""
        raise NotImplementedError


class DatasetSource(_Plugin):
    """Where a detection dataset in Ultralytics format comes from."""

    synthetic: ClassVar[bool] = False

    def fingerprint(self) -> dict[str, Any]:
        """Cheap content identity (file listing and sizes, generator params): goes into cell keys."""
        return {}

    def check(self) -> None:
        """Raise ValueError with an actionable message if the dataset is unusable."""

    def prepare(self, cache_dir: Path) -> PreparedDataset:
        raise NotImplementedError


class Executor(_Plugin):
    """Runs the cells that need running; the driver (run_cells' caller) writes the records.

    `run_cells(cells, make_runner, on_record, claim)`: `make_runner()` gives a cell runner with
    `prepare_inputs(cells)` (datasets, baselines and checks, before any cell: a ValueError there stops the run
    with nothing written), `run(cell) -> Record` and `failed_record(cell, exc, hint)` (for a cell that died outside
    `run`); `claim(cell)` is a context manager yielding False when another process holds the cell; `on_record(cell,
    record)` hands each finished record back. An executor may run `make_runner` anywhere (in worker processes:
    it is picklable). An executor whose workers do not share this disk uses the runner's `remote_cells()`: `ship`
    each cell's inputs by content key, `run` it on the worker, `land` its outputs here (prunebench.run.remote).
    `resolves_device_on_workers`: the requested device (auto, cuda:N) is resolved on each worker, not here.
    """

    resolves_device_on_workers: ClassVar[bool] = False

    def run_cells(self, cells: Iterable[Any], make_runner: Callable[[], Any], on_record: Callable[[Any, Any], None],
                  claim: Callable[[Any], Any]) -> None:
        raise NotImplementedError
