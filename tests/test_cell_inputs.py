"""A cell's inputs packed by content key and unpacked into a worker's own cache; outputs landed on the driver only
when their hash is the record's; the device resolved on the worker. No Ray here (tests/test_ray_cluster.py runs a
real cluster)."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from prunebench.plugin.base import PreparedDataset
from prunebench.records.record import ModelFile
from prunebench.run import cell_inputs
from prunebench.run.cell_inputs import MissingInputError
from prunebench.run.remote import OutputFile, RemoteCells, RemoteResult, worker_device
from prunebench_builtins.ray_executor.execute import connection_error, gpus_per_cell


def _dataset(root: Path) -> PreparedDataset:
    for split, count in (("train", 3), ("val", 2)):
        for i in range(count):
            image = root / "images" / split / f"{split}{i}.jpg"
            image.parent.mkdir(parents=True, exist_ok=True)
            image.write_bytes(f"jpeg {split} {i}".encode())
            label = root / "labels" / split / f"{split}{i}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(f"0 0.5 0.5 0.{i + 1} 0.2\n")
    (root / "data.yaml").write_text("train: images/train\nval: images/val\nnames: {0: bud}\n")
    return PreparedDataset(data_yaml=root / "data.yaml", names={0: "bud"}, synthetic=False, description="tiny",
                           val_images=sorted((root / "images" / "val").glob("*.jpg")))


class Store:
    """The object store, in a dict; counts what a worker fetched."""

    def __init__(self):
        self.objects, self.fetched = {}, []

    def put(self, data: bytes):
        ref = f"ref{len(self.objects)}"
        self.objects[ref] = data
        return ref

    def get(self, ref):
        self.fetched.append(ref)
        return self.objects[ref]


def test_a_dataset_unpacks_into_the_workers_cache_with_its_labels_and_is_fetched_once(tmp_path):
    store = Store()
    shipped = cell_inputs.pack_dataset(_dataset(tmp_path / "driver" / "data"), store.put)
    again = cell_inputs.pack_dataset(_dataset(tmp_path / "driver2" / "data"), Store().put)
    assert shipped.blob.sha256 == again.blob.sha256, "the same files give the same key, wherever they are"

    cache = tmp_path / "worker-cache"
    found = cell_inputs.unpack(shipped.blob, cache, store.get, "node-1", cell_inputs.write_dataset(shipped))
    assert found.fetched_bytes == shipped.blob.size and found.folder.parent == cache / "inputs"
    data_yaml, val_images = cell_inputs.dataset_paths(shipped, found.folder)
    content = yaml.safe_load(data_yaml.read_text())
    assert content["names"] == {0: "bud"}
    for split, count in (("train", 3), ("val", 2)):
        images = [Path(line) for line in Path(content[split]).read_text().splitlines()]
        assert len(images) == count and all(p.is_file() and str(p).startswith(str(found.folder)) for p in images)
        # Ultralytics finds labels by the image's path: images/ -> labels/, .jpg -> .txt
        assert all(Path(str(p).replace("/images/", "/labels/")).with_suffix(".txt").is_file() for p in images)
    assert [p.read_bytes() for p in val_images] == [b"jpeg val 0", b"jpeg val 1"]

    second = cell_inputs.unpack(shipped.blob, cache, store.get, "node-1", cell_inputs.write_dataset(shipped))
    assert second.fetched_bytes == 0 and len(store.fetched) == 1, "the node's next cell finds it in its cache"


def test_bytes_that_are_not_the_ones_sent_are_refused_naming_the_node(tmp_path):
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"checkpoint bytes")
    store = Store()
    blob = cell_inputs.pack_file(weights, store.put)
    store.objects[blob.ref] = b"checkpoint byteZ"
    with pytest.raises(MissingInputError, match="node-7 received input best.pt"):
        cell_inputs.unpack(blob, tmp_path / "cache", store.get, "node-7", cell_inputs.write_file("best.pt"))
    assert not any((tmp_path / "cache" / "inputs").glob("*/best.pt")), "nothing half-written stays"

    def unreachable(ref):
        raise ConnectionError("object lost")
    with pytest.raises(MissingInputError, match="node-7 could not fetch input best.pt"):
        cell_inputs.unpack(blob, tmp_path / "cache", unreachable, "node-7", cell_inputs.write_file("best.pt"))


def _remote(results: Path, lines: list):
    runner = SimpleNamespace(loaded=SimpleNamespace(path=None),
                             settings=SimpleNamespace(results_dir=results, log=lines.append),
                             failed_record=lambda cell, exc, hint=None: ("failed", str(exc)))
    return RemoteCells(runner, suite_file=lambda suite, results_dir: str(suite))


def _result(data: bytes, recorded: bytes, path: str = "models/a.pt") -> RemoteResult:
    import hashlib

    sha = hashlib.sha256(recorded).hexdigest()
    record = SimpleNamespace(model_file=ModelFile("models/a.pt", sha, len(recorded)))
    return RemoteResult(record, [OutputFile(path, hashlib.sha256(data).hexdigest(), data)], ["ok (load 1.0 s)"],
                        "host/abcd1234")


def test_a_kept_model_lands_in_the_drivers_results_only_when_it_is_the_recorded_one(tmp_path):
    lines = []
    remote = _remote(tmp_path / "results", lines)
    cell = SimpleNamespace(name="m.d.l1.a0.30.s0")
    landed = remote.land(cell, _result(b"model", b"model"))
    assert (tmp_path / "results" / "models" / "a.pt").read_bytes() == b"model"
    assert landed.model_file.path == "models/a.pt"
    assert lines == ["  [host/abcd1234] m.d.l1.a0.30.s0: ok (load 1.0 s)"], "the cell's lines reach the driver"

    other = _remote(tmp_path / "results2", [])
    failed = other.land(cell, _result(b"other model", b"model"))
    assert failed[0] == "failed" and "the record says" in failed[1]
    assert not (tmp_path / "results2" / "models").exists()
    escaping = other.land(cell, _result(b"model", b"model", path="../outside.pt"))
    assert escaping[0] == "failed" and not (tmp_path / "outside.pt").exists()


@pytest.fixture
def gpus(monkeypatch):
    import torch

    def have(count: int):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    return have


def test_the_device_is_resolved_on_the_worker_within_its_gpus(gpus):
    gpus(0)
    assert worker_device("auto", [], "n") == "cpu"
    with pytest.raises(RuntimeError, match="gave this cell GPU"):
        worker_device("auto", ["0"], "n")  # holds a GPU, finds none: loud
    with pytest.raises(RuntimeError, match="no GPU on node n"):
        worker_device("cuda", [], "n")
    gpus(1)  # Ray's CUDA_VISIBLE_DEVICES: the held GPU is this process's cuda:0, whatever its index on the node
    assert worker_device("auto", ["3"], "n") == "cuda:0"
    assert worker_device("cuda:0", ["3"], "n") == "cuda:0"
    assert worker_device("cpu", [], "n") == "cpu"
    with pytest.raises(RuntimeError, match="holds 1 GPU"):
        worker_device("cuda:1", ["3"], "n")


def test_a_cell_holds_a_gpu_only_when_it_will_use_one():
    assert gpus_per_cell(None, "cpu", {"CPU": 4, "GPU": 2}) == 0
    assert gpus_per_cell(None, "auto", {"CPU": 4, "GPU": 2}) == 1
    assert gpus_per_cell(None, "auto", {"CPU": 4}) == 0
    assert gpus_per_cell(0.5, "auto", {"CPU": 4, "GPU": 1}) == 0.5
    with pytest.raises(ValueError, match="cluster has no GPU"):
        gpus_per_cell(None, "cuda:0", {"CPU": 4})


def test_a_connection_failure_says_what_to_set(monkeypatch):
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    text = connection_error("10.0.0.1:6379", ConnectionError("Failed to connect\nmore"))
    assert "\n" not in text and "RAY_AUTH_MODE=token" in text and "not set to token here" in text
    assert "docs/ray.md" in text
