"""Cells run on machines that do not share the driver's disk (the Ray executor on a cluster).

Three steps, each a method of `RemoteCells` (the runner's `remote_cells()`):
- `ship(cells, put)` on the driver, after `prepare_inputs`: what each cell reads, packed by content key
  (run.cell_inputs): the prepared datasets, each model's dense checkpoint per dataset, and for a re-measure or a
  deployment variant the records and kept models it reads from the results folder.
- `run(cell, inputs, fetch, ...)` on the worker: the inputs unpacked into the node's own cache, the device resolved
  there within the GPUs the executor gave the cell, the cell run by the same CellRunner with the shipped inputs
  standing in for the model and dataset sources (a worker never trains a baseline or prepares a dataset: a missing
  input is an error naming the node), its kept models and log lines returned, its scratch removed.
- `land(cell, result)` on the driver: the returned files written into the results folder and checked against the
  record's sha256, the cell's log lines said on the driver's console.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from prunebench.plugin.base import CellContext, DatasetSource, ModelSource, PreparedDataset
from prunebench.records.environment import Environment
from prunebench.records.index import RecordIndex
from prunebench.records.record import Record, study_model_for
from prunebench.records.store import cells_dir, load_record
from prunebench.run import cell_inputs
from prunebench.run.cell_inputs import Blob, MissingInputError, ShippedDataset
from prunebench.run.plan import Cell
from prunebench.util.atomic import atomic_write_bytes
from prunebench.util.leftovers import scratch_dir

MAX_LOG_LINES = 200  # a cell's forwarded lines; more are counted, not sent


@dataclass(frozen=True)
class CellInputs:
    """What one cell reads, as blobs: its datasets, its models' dense checkpoints (by dataset fingerprint and
    baseline seed) and fingerprints, and the results-folder files (records, kept models) it reads."""

    datasets: dict[str, ShippedDataset]
    dataset_fingerprints: dict[str, dict[str, Any]]
    checkpoints: dict[str, dict[tuple[str, int | None], Blob]]
    model_fingerprints: dict[str, dict[str, Any]]
    results_files: dict[str, Blob] = field(default_factory=dict)  # path relative to the results folder -> blob

    def blobs(self) -> list[Blob]:
        return ([d.blob for d in self.datasets.values()] + [b for by in self.checkpoints.values() for b in by.values()]
                + list(self.results_files.values()))


@dataclass(frozen=True)
class OutputFile:
    """A file the cell wrote into its results folder (a kept model), returned to the driver."""

    path: str  # relative to the results folder
    sha256: str
    data: bytes


@dataclass
class RemoteResult:
    record: Record
    outputs: list[OutputFile]
    log: list[str]
    node: str


# ---------------------------------------------------------------- what stands in for the sources on a worker
@dataclass(frozen=True)
class _ShippedModelParams:
    model: str
    node: str
    fingerprint: dict[str, Any]
    checkpoints: dict[tuple[str, int | None], Path]


class ShippedModel(ModelSource):
    """A model source on a worker: the driver's dense checkpoints, unpacked. Never trains."""

    name = "shipped-model"

    def fingerprint(self) -> dict[str, Any]:
        return self.params.fingerprint

    def load(self, ctx: CellContext):
        from prunebench.yolo.checkpoints import load_yolo

        p = self.params
        path = p.checkpoints.get((ctx.dataset.fingerprint if ctx.dataset else "", ctx.baseline_seed))
        if path is None:
            raise MissingInputError(
                f"Ray node {p.node}: the driver shipped no dense checkpoint of model {p.model!r} for this dataset "
                f"(baseline seed {ctx.baseline_seed}); a worker never trains a baseline itself. This is a "
                "prunebench bug: report it with the suite")
        return load_yolo(path)


@dataclass(frozen=True)
class _ShippedDatasetParams:
    fingerprint: dict[str, Any]
    prepared: PreparedDataset


class ShippedDatasetSource(DatasetSource):
    """A dataset source on a worker: the driver's prepared dataset, unpacked. Never prepares."""

    name = "shipped-dataset"

    def fingerprint(self) -> dict[str, Any]:
        return self.params.fingerprint

    def prepare(self, cache_dir: Path) -> PreparedDataset:
        return dataclasses.replace(self.params.prepared, warnings=[])  # said once, on the driver


class _MissingDataset(DatasetSource):
    name = "missing-dataset"

    def check(self) -> None:
        raise MissingInputError(f"Ray node {self.params}: the driver shipped no prepared dataset for this cell; a "
                                "worker never prepares a dataset itself. This is a prunebench bug: report it")


# ---------------------------------------------------------------- the three steps
class RemoteCells:
    """`runner`: the driver's CellRunner; `suite_file(suite, results_dir)`: how a record names its suite file."""

    def __init__(self, runner, suite_file: Callable[[Path, Path | None], str]):
        self.runner = runner
        self.suite_file = suite_file

    @property
    def requested_device(self) -> str:
        return self.runner.settings.requested_device or self.runner.settings.device

    # ---------------------------------------------------------------- driver: ship
    def ship(self, cells: list[Cell], put: Callable[[bytes], Any]) -> dict[str, CellInputs]:
        """Each cell's inputs by cell key; a blob shared by many cells is put once."""
        runner, loaded = self.runner, self.runner.loaded
        datasets = {name: cell_inputs.pack_dataset(runner.dataset(name), put)
                    for name in sorted({c.dataset for c in cells})}
        dataset_fps = {name: loaded.datasets[name].instance().fingerprint() for name in datasets}
        model_fps: dict[str, dict[str, Any]] = {}
        checkpoints: dict[str, dict[tuple[str, int | None], Blob]] = {}
        put_files: dict[Path, Blob] = {}

        def packed(path: Path) -> Blob:  # a file many cells read is put into the store once
            if path not in put_files:
                put_files[path] = cell_inputs.pack_file(path, put)
            return put_files[path]

        out = {}
        for cell in cells:
            found: dict[str, dict[tuple[str, int | None], Blob]] = {}
            for model in self._models_read(cell):
                slot = (runner.dataset(cell.dataset).fingerprint, cell.spec.get("baseline_seed"))
                if slot not in checkpoints.setdefault(model, {}):
                    checkpoints[model][slot] = packed(self._dense_checkpoint(model, cell))
                    model_fps[model] = loaded.models[model].instance().fingerprint()
                found.setdefault(model, {})[slot] = checkpoints[model][slot]
            results = {rel: packed(path) for rel, path in self._results_read(cell).items()}
            out[cell.key] = CellInputs({cell.dataset: datasets[cell.dataset]},
                                       {cell.dataset: dataset_fps[cell.dataset]}, found,
                                       {m: model_fps[m] for m in found}, results)
        return out

    def _models_read(self, cell: Cell) -> list[str]:
        """The cell's model, and for a reference model's dense cell timed in pairs, the model under study."""
        loaded = self.runner.loaded
        models = [cell.model]
        if cell.is_dense and loaded.models[cell.model].entry.role == "reference":
            study = study_model_for(name for name, m in loaded.models.items() if m.entry.role == "study"
                                    and (m.entry.datasets is None or cell.dataset in m.entry.datasets))
            if study is not None:
                models.append(study)
        return models

    def _dense_checkpoint(self, model: str, cell: Cell) -> Path:
        """The file the model source loads for this cell (trained or adapted by `prepare_inputs`, so cached)."""
        runner = self.runner
        with scratch_dir(Path(runner.settings.cache_dir) / "scratch", "ship") as tmp:
            ev = runner.loaded.suite.evaluation
            ctx = CellContext(device=runner.settings.device, seed=cell.seed, cache_dir=runner.settings.cache_dir,
                              work_dir=Path(tmp), imgsz=ev.imgsz, batch=ev.batch, dataset=runner.dataset(cell.dataset),
                              log=runner.settings.log, baseline_seed=cell.spec.get("baseline_seed"))
            yolo = runner.loaded.models[model].instance().load(ctx)
        path = getattr(yolo, "ckpt_path", None)
        if not path or not Path(path).is_file():
            raise ValueError(f"model {model!r}: its source gave no checkpoint file, so its cells cannot be shipped to "
                             "Ray workers that do not share this disk; use the local executor for it")
        return Path(path)

    def _results_read(self, cell: Cell) -> dict[str, Path]:
        """Records and kept models a re-measure or a deployment variant reads, by path relative to the results
        folder: the earlier record (or the parent's) and the dense references it is timed against."""
        settings = self.runner.settings
        results_dir = settings.results_dir
        if results_dir is None:
            return {}
        if cell.spec.get("deploy"):
            parent = cell.deploy["parent"]
            first = load_record(cells_dir(results_dir) / f"{parent['name']}.{parent['key']}.json")
        elif settings.force:
            return {}
        else:
            first = load_record(cells_dir(results_dir) / cell.filename)
            if first is None or not first.ok or first.key != cell.key:
                return {}
        if first is None:
            return {}  # the variant fails on the worker with the usual message
        index = RecordIndex(results_dir)
        records = [first] + [f.record for f in (index.reference_of(first), index.timing_reference(first)[0]) if f]
        files = {}
        for record in records:
            files[f"{cells_dir(results_dir).name}/{record.name}.{record.key}.json"] = (
                cells_dir(results_dir) / f"{record.name}.{record.key}.json")
            kept = record.model_file
            if kept is not None and kept.resolve(results_dir).is_file():
                files[kept.path] = kept.resolve(results_dir)
        return files

    # ---------------------------------------------------------------- worker: run
    def run(self, cell: Cell, inputs: CellInputs, *, fetch: Callable[[Any], bytes], node: str, node_label: str,
            gpu_ids: list[str], cache_dir: Path, extra_env: dict[str, Any]) -> RemoteResult:
        """Run one cell here, on inputs shipped from the driver; nothing of it stays in this node's scratch."""
        import socket

        from prunebench.util import leftovers
        from prunebench.util.environment import environment, timing_threads

        lines: list[str] = []

        def log(message: str) -> None:
            print(message, flush=True)  # the node's own log keeps everything
            if len(lines) < MAX_LOG_LINES:
                lines.append(message)

        runner, ev = self.runner, self.runner.loaded.suite.evaluation
        cache_dir = Path(cache_dir)
        scratch = cache_dir / "scratch"
        leftovers.clean([scratch, cache_dir / cell_inputs.INPUTS_DIRNAME])  # what a killed cell of this node left
        with scratch_dir(scratch, "remote-cell") as tmp:
            results_dir = Path(tmp) / "results"
            try:
                device = worker_device(self.requested_device, gpu_ids, node_label)
                env = Environment.from_json(dict(environment(device, timing_threads=timing_threads(
                    device, ev.measure.threads)), **extra_env))
            except Exception as exc:
                record = runner.failed_record(cell, exc, hint=None)
                record.update_environment(hostname=socket.gethostname(), **extra_env)
                return RemoteResult(record, [], lines, node_label)
            settings = dataclasses.replace(runner.settings, device=device, cache_dir=cache_dir,
                                           results_dir=results_dir, log=log, environment=env)
            fetched = 0
            try:
                loaded, fetched, shipped = self._unpacked_suite(inputs, cache_dir, results_dir, fetch, node_label)
            except Exception as exc:
                record = type(runner)(runner.loaded, settings).failed_record(cell, exc)
                return RemoteResult(record, [], lines, node_label)
            total = sum(b.size for b in inputs.blobs())
            log(f"on {device}; inputs {total:,} bytes, {fetched:,} of them fetched (the rest in this node's cache)")
            record = type(runner)(loaded, settings).run(cell)
            outputs = _outputs(results_dir, exclude=shipped)
            sent = sum(len(o.data) for o in outputs)
            record.set_detail("transfer", {"inputs_bytes": total, "inputs_fetched_bytes": fetched, "outputs_bytes": sent})
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in record.timings.items() if isinstance(v, (int, float)))
            log(f"{record.status} ({phases}); returning {len(outputs)} file(s), {sent:,} bytes")
            return RemoteResult(record, outputs, lines, node_label)

    def _unpacked_suite(self, inputs: CellInputs, cache_dir: Path, results_dir: Path, fetch, node: str):
        """The suite with the shipped inputs standing in for its model and dataset sources; bytes fetched; the
        results-folder paths that came from the driver."""
        loaded = self.runner.loaded
        fetched = 0

        def unpack(blob: Blob, write) -> Path:
            nonlocal fetched
            found = cell_inputs.unpack(blob, cache_dir, fetch, node, write)
            fetched += found.fetched_bytes
            return found.folder

        datasets = {name: dataclasses.replace(r, cls=_MissingDataset, params=node) for name, r in loaded.datasets.items()}
        for name, shipped in inputs.datasets.items():
            folder = unpack(shipped.blob, cell_inputs.write_dataset(shipped))
            data_yaml, val_images = cell_inputs.dataset_paths(shipped, folder)
            prepared = PreparedDataset(data_yaml=data_yaml, names=shipped.names, synthetic=shipped.synthetic,
                                       description=shipped.description, val_images=val_images)
            datasets[name] = dataclasses.replace(loaded.datasets[name], cls=ShippedDatasetSource,
                                                 params=_ShippedDatasetParams(inputs.dataset_fingerprints[name], prepared))
        models = dict(loaded.models)
        for name, by_slot in inputs.checkpoints.items():
            paths = {slot: unpack(blob, cell_inputs.write_file(blob.name)) / blob.name for slot, blob in by_slot.items()}
            models[name] = dataclasses.replace(loaded.models[name], cls=ShippedModel, params=_ShippedModelParams(
                name, node, inputs.model_fingerprints[name], paths))
        for rel, blob in inputs.results_files.items():
            source = unpack(blob, cell_inputs.write_file(blob.name)) / blob.name
            target = results_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        suite = dataclasses.replace(loaded, models=models, datasets=datasets)
        return suite, fetched, set(inputs.results_files)

    # ---------------------------------------------------------------- driver: land
    def land(self, cell: Cell, result: RemoteResult) -> Record:
        """Write the returned files into the results folder, each checked against its sha256 and the record's; a
        file that does not match makes the cell failed. The cell's lines go to the driver's log."""
        settings = self.runner.settings
        for line in result.log:
            settings.log(f"  [{result.node}] {cell.name}: {line}")
        record = result.record
        if self.runner.loaded.path is not None:  # the worker named it from its own scratch results folder
            record.suite_file = self.suite_file(Path(self.runner.loaded.path), settings.results_dir)
        kept = record.model_file
        for output in result.outputs:
            rel = Path(output.path)
            problem = None
            if rel.is_absolute() or ".." in rel.parts:
                problem = f"a returned file has a path outside the results folder: {output.path}"
            elif hashlib.sha256(output.data).hexdigest() != output.sha256:
                problem = f"the returned {output.path} is not the file the worker hashed (transfer corrupted)"
            elif kept is not None and kept.path == output.path and kept.sha256 != output.sha256:
                problem = f"the returned {output.path} has sha256 {output.sha256[:12]}, the record says {kept.sha256[:12]}"
            if problem is not None:
                return self.runner.failed_record(cell, MissingInputError(f"Ray node {result.node}: {problem}"))
            if settings.results_dir is not None:
                atomic_write_bytes(Path(settings.results_dir) / rel, output.data)
        return record


def worker_device(requested: str, gpu_ids: list[str], node: str) -> str:
    """`requested` (auto, cpu, cuda, cuda:N) resolved on the worker, within the GPUs the executor gave the cell
    (Ray makes them cuda:0.. through CUDA_VISIBLE_DEVICES). A cell that holds a GPU but torch sees none fails."""
    import torch

    wanted = str(requested).strip().lower()
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpu_ids and visible == 0:
        raise RuntimeError(f"Ray node {node} gave this cell GPU(s) {', '.join(gpu_ids)}, but torch there sees no CUDA "
                           f"GPU (torch {torch.__version__}, CUDA {torch.version.cuda or 'none: a CPU-only build'}): "
                           "install a CUDA build of torch on that node, or run with --device cpu")
    if wanted == "cpu":
        return "cpu"
    if wanted == "auto":
        return "cuda:0" if gpu_ids else "cpu"
    index = int(wanted.partition(":")[2] or 0) if wanted.startswith("cuda") else None
    if index is None:
        raise ValueError(f"device {requested!r} is not one prunebench can run on: use auto, cpu, cuda or cuda:N")
    if not gpu_ids:
        raise RuntimeError(f"device {requested!r} was requested, but Ray gave this cell no GPU on node {node}: give "
                           "the executor `num_gpus: 1` (or a fraction), or run with --device auto")
    if index >= min(len(gpu_ids), visible):
        raise RuntimeError(f"device {requested!r} was requested, but the cell holds {len(gpu_ids)} GPU(s) on node "
                           f"{node} (cuda:0..cuda:{len(gpu_ids) - 1} there): ask for cuda:0, or more GPUs per cell")
    return f"cuda:{index}"


def _outputs(results_dir: Path, exclude: set[str]) -> list[OutputFile]:
    """Every file the cell wrote below its results folder, except what the driver shipped in."""
    out = []
    if not results_dir.is_dir():
        return out
    for path in sorted(p for p in results_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(results_dir).as_posix()
        if rel in exclude:
            continue
        data = path.read_bytes()
        out.append(OutputFile(rel, hashlib.sha256(data).hexdigest(), data))
    return out


__all__ = ["CellInputs", "OutputFile", "RemoteCells", "RemoteResult", "worker_device"]
