"""A cell's input files packed by content key on the driver and unpacked into a worker's own cache.

An executor whose workers do not share the driver's disk (Ray on several machines) ships what a cell reads: the
prepared dataset (images, labels, the class names), the dense checkpoint it starts from and, for a re-measure or
a deployment variant, the records and kept models it reads. Each travels as one blob named by the sha256 of its
bytes; the worker fetches a blob only when its cache lacks it, checks the sha256, and unpacks it under
`<cache>/inputs/<sha256>-<name>/`, so the next cell of that node (and the next run) reuses it. Nothing here knows
how blobs travel: `put` and `fetch` are the executor's (Ray's object store, or bytes as they are).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from prunebench.util.atomic import atomic_write_text
from prunebench.util.leftovers import owner_tag

INPUTS_DIRNAME = "inputs"
DATASET_FILES = "files"  # inside a dataset blob: the images and labels, below their common folder


class MissingInputError(RuntimeError):
    """A worker lacks an input the driver should have shipped, or received one whose bytes are not the ones sent."""


@dataclass(frozen=True)
class Blob:
    """Bytes known by their sha256, held by `ref` (an object-store reference, or the bytes themselves)."""

    sha256: str
    name: str  # readable part of the folder it unpacks into: the file name, or the dataset's
    size: int
    ref: Any

    @property
    def folder_name(self) -> str:
        return f"{self.sha256}-{self.name}"


@dataclass(frozen=True)
class ShippedDataset:
    """A prepared dataset as a worker rebuilds it: its files (one tar blob) and the YAML without paths."""

    blob: Blob
    yaml_content: dict[str, Any]  # the prepared data YAML, split paths taken out
    splits: dict[str, list[str]]  # split -> its images, relative to the blob's files folder
    val_images: list[str]  # relative, as `splits`
    names: dict[int, str]
    synthetic: bool
    description: str


def _blob(data: bytes, name: str, put: Callable[[bytes], Any]) -> Blob:
    return Blob(hashlib.sha256(data).hexdigest(), _safe_name(name), len(data), put(data))


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:60] or "input"


def pack_file(path: Path, put: Callable[[bytes], Any]) -> Blob:
    """One file as a blob; its key is the file's sha256 (for a checkpoint: the record's baseline sha256)."""
    path = Path(path)
    return _blob(path.read_bytes(), path.name, put)


def pack_dataset(prepared, put: Callable[[bytes], Any]) -> ShippedDataset:
    """A prepared dataset (its data YAML with absolute paths, as dataset sources write it) as one tar of every image
    of every split and its label file, named below their common folder. The tar is reproducible (sorted, no times,
    no owners), so the same dataset has the same key on every run and a worker's cache keeps serving it."""
    from prunebench.yolo import labels

    data = labels.read_data_yaml(prepared.data_yaml)
    images = {split: labels.list_split_images(data, split) for split in data.splits}
    files = sorted({p for split in images.values() for image in split
                    for p in (image, labels.label_path(image)) if p.is_file()})
    root = Path(os.path.commonpath([str(p.parent) for p in files]))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            info = tarfile.TarInfo(f"{DATASET_FILES}/{path.relative_to(root).as_posix()}")
            info.size, info.mode = path.stat().st_size, 0o644
            with path.open("rb") as f:
                tar.addfile(info, f)
    rel = lambda p: Path(p).relative_to(root).as_posix()  # noqa: E731
    content = {k: v for k, v in data.raw.items() if k not in {"path", *data.splits}}
    return ShippedDataset(
        blob=_blob(buffer.getvalue(), Path(prepared.data_yaml).parent.name or "dataset", put), yaml_content=content,
        splits={split: [rel(p) for p in found] for split, found in images.items()},
        val_images=[rel(p) for p in prepared.val_images], names=dict(prepared.names),
        synthetic=bool(prepared.synthetic), description=prepared.description)


@dataclass
class Unpacked:
    """Where a worker found a blob, and whether it had to fetch it (its bytes crossed the network)."""

    folder: Path
    fetched_bytes: int


def unpack(blob: Blob, cache_dir: Path, fetch: Callable[[Any], bytes], node: str,
           write: Callable[[bytes, Path, Path], None]) -> Unpacked:
    """The blob's folder in this worker's cache: already there (its `.sha256` marker names it), or fetched, checked
    and written now by `write(data, staging, folder)` into a temporary folder renamed into place (a reader never sees half
    of it; two cells of one node unpacking the same blob both end with the same folder)."""
    from filelock import FileLock

    base = Path(cache_dir) / INPUTS_DIRNAME
    base.mkdir(parents=True, exist_ok=True)
    folder = base / blob.folder_name
    marker = folder / ".sha256"
    with FileLock(str(folder) + ".lock"):
        if marker.is_file() and marker.read_text().strip() == blob.sha256:
            return Unpacked(folder, 0)
        try:
            data = fetch(blob.ref)
        except Exception as exc:
            raise MissingInputError(f"Ray node {node} could not fetch input {blob.name} (sha256 {blob.sha256[:12]}) "
                                    f"from the driver: {type(exc).__name__}: {exc}") from exc
        got = hashlib.sha256(data).hexdigest()
        if got != blob.sha256:
            raise MissingInputError(f"Ray node {node} received input {blob.name} with sha256 {got[:12]}, not the "
                                    f"{blob.sha256[:12]} the driver sent: the transfer corrupted it; run again")
        staging = base / f".{blob.folder_name}.{owner_tag()}tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            write(data, staging, folder)
            atomic_write_text(staging / ".sha256", blob.sha256 + "\n")
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(staging, folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return Unpacked(folder, len(data))


def write_file(name: str) -> Callable[[bytes, Path, Path], None]:
    """`unpack`'s writer for a single file: the bytes as `<folder>/<name>`."""
    def write(data: bytes, staging: Path, folder: Path) -> None:
        (staging / name).write_bytes(data)
    return write


def write_dataset(shipped: ShippedDataset) -> Callable[[bytes, Path, Path], None]:
    """`unpack`'s writer for a dataset: the tar's files, one image list per split with this folder's absolute paths,
    and the data YAML pointing at them (Ultralytics finds each image's labels by its path, kept below `files/`)."""
    def write(data: bytes, staging: Path, folder: Path) -> None:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            tar.extractall(staging, filter="data")  # the data filter refuses absolute paths, links out, devices
        content = dict(shipped.yaml_content)
        for split, images in shipped.splits.items():
            (staging / f"{split}.txt").write_text("".join(f"{folder / DATASET_FILES / image}\n" for image in images))
            content[split] = str(folder / f"{split}.txt")  # where it will be once the folder is renamed into place
        atomic_write_text(staging / "data.yaml", "# shipped by the driver, unpacked by prunebench\n"
                          + yaml.safe_dump(content, sort_keys=False, allow_unicode=True))
    return write


def dataset_paths(shipped: ShippedDataset, folder: Path) -> tuple[Path, list[Path]]:
    """The unpacked dataset's data YAML and its validation images (for latency timing)."""
    return folder / "data.yaml", [folder / DATASET_FILES / image for image in shipped.val_images]
