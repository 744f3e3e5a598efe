"""Content fingerprints: a dataset's identity follows its image and label bytes (not names and sizes), cell keys
and cached baselines follow it, and the stat cache (prunebench.util.filehash) spares re-reading unchanged files."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from prunebench.util import filehash
from prunebench.run.plan import build_plan
from prunebench.config.suite import load_suite
from prunebench_builtins.ultralytics_datasets import UltralyticsDataset

REPO = Path(__file__).resolve().parents[1]
OLD = 1_000_000_000  # an mtime (2001) far older than filehash.RACY_SECONDS: digests of such files are remembered
BOX = "0 0.5 0.5 0.2 0.3\n"


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """A fresh cache folder per test, and no digests remembered in memory from other tests."""
    monkeypatch.setenv("PRUNEBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(filehash, "_CACHES", {})
    return tmp_path / "cache" / filehash.CACHE_FILENAME


@pytest.fixture
def reads(monkeypatch):
    """The files whose bytes were read to hash them, in order."""
    seen: list[Path] = []
    real = filehash.hash_file

    def counting(path):
        seen.append(Path(path))
        return real(path)

    monkeypatch.setattr(filehash, "hash_file", counting)
    return seen


def make_dataset(root: Path) -> Path:
    """2 train, 1 val and 1 test image (small real JPEGs: preparing a dataset decodes every reported image),
    labels, 2 classes."""
    from PIL import Image

    for split, stems in (("train", "ab"), ("val", "c"), ("test", "d")):
        for stem in stems:
            (root / "images" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (32, 32), (ord(stem), 80, 160)).save(root / "images" / split / f"{stem}.jpg")
            (root / "labels" / split / f"{stem}.txt").write_text(BOX)
    (root / "data.yaml").write_text("train: images/train\nval: images/val\ntest: images/test\nnames: [bud, leaf]\n")
    age(root)
    return root / "data.yaml"


def age(root: Path) -> None:
    """Make every file look long unchanged, so that the stat cache may remember it."""
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (OLD, OLD))


def fingerprint(data: Path) -> dict:
    return UltralyticsDataset(UltralyticsDataset.Params(data=str(data))).fingerprint()


def new_process() -> None:
    """What a later run sees: only what the cache file remembers."""
    filehash._CACHES.clear()


def plan_keys(tmp_path: Path, data: Path, registry) -> dict[str, str]:
    suite = tmp_path / "suite.yaml"
    suite.write_text(textwrap.dedent(f"""\
        name: fp
        models: [{{name: m, plugin: fake-model}}]
        datasets: [{{name: d, plugin: ultralytics, params: {{data: {data}}}}}]
        strategies: [{{name: fake-prune, amounts: [0.5]}}]
        evaluation: {{imgsz: 64, device: cpu}}
        """))
    return {cell.name: cell.key for cell in build_plan(load_suite(suite, registry))}


def baseline_dir(tmp_path: Path, data: Path, registry) -> Path:
    """Where an `arch:` model's baseline trained on this dataset is cached, as the runner computes it."""
    from prunebench.run.runner import CellRunner, RunSettings
    from prunebench_builtins.ultralytics_models import loading

    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: fp\nmodels: [{{name: m, plugin: fake-model}}]\n"
                     f"datasets: [{{name: d, plugin: ultralytics, params: {{data: {data}}}}}]\n")
    runner = CellRunner(load_suite(suite, registry), RunSettings(device="cpu", cache_dir=tmp_path / "cache"))
    return loading.baseline_dir(tmp_path / "cache", {"arch": "yolov8n.yaml"}, runner.dataset("d").fingerprint,
                                "yolov8n")


# ---------------------------------------------------------------- content changes are seen
def test_a_class_id_changed_inside_a_label_file_changes_keys_and_baseline(tmp_path, registry):
    data = make_dataset(tmp_path / "ds")
    before = fingerprint(data), plan_keys(tmp_path, data, registry), baseline_dir(tmp_path, data, registry)
    label = tmp_path / "ds" / "labels" / "train" / "a.txt"
    size = label.stat().st_size
    label.write_text(BOX.replace("0 ", "1 ", 1))  # the same box, now class 1: same name, same size
    assert label.stat().st_size == size

    new_process()
    after = fingerprint(data), plan_keys(tmp_path, data, registry), baseline_dir(tmp_path, data, registry)
    assert after[0]["train"]["labels_sha256"] != before[0]["train"]["labels_sha256"]
    assert after[0]["train"]["images_sha256"] == before[0]["train"]["images_sha256"]
    assert after[0]["val"] == before[0]["val"] and after[0]["test"] == before[0]["test"]
    assert all(after[1][name] != key for name, key in before[1].items()), "every cell of the dataset re-runs"
    assert after[2] != before[2], "the cached baseline trained on the old labels is not reused"


def test_an_image_replaced_by_another_of_the_same_size_changes_the_fingerprint(tmp_path):
    data = make_dataset(tmp_path / "ds")
    first = fingerprint(data)
    image = tmp_path / "ds" / "images" / "val" / "c.jpg"
    size = image.stat().st_size
    image.write_bytes(b"C" * size)  # rewritten in place: same size, new mtime
    new_process()
    second = fingerprint(data)
    assert second["val"]["images_sha256"] != first["val"]["images_sha256"]
    assert second["val"]["labels_sha256"] == first["val"]["labels_sha256"] and second["train"] == first["train"]

    # Copied in with its old mtime kept (`cp -p`, `rsync -t` write a new file and rename it): the inode tells.
    replacement = tmp_path / "replacement.jpg"
    replacement.write_bytes(b"Z" * size)
    os.utime(image, (OLD, OLD))
    fingerprint(data)
    os.utime(replacement, (OLD, OLD))
    os.replace(replacement, image)
    new_process()
    third = fingerprint(data)
    assert third["val"]["images_sha256"] not in (first["val"]["images_sha256"], second["val"]["images_sha256"])


def test_the_test_split_and_class_names_are_part_of_the_identity(tmp_path):
    data = make_dataset(tmp_path / "ds")
    first = fingerprint(data)
    assert first["test"]["images"] == 1 and first["names"] == {0: "bud", 1: "leaf"}
    (tmp_path / "ds" / "labels" / "test" / "d.txt").write_text(BOX.replace("0.3", "0.4"))
    assert fingerprint(data)["test"] != first["test"]


def test_touching_files_changes_nothing(tmp_path, registry):
    data = make_dataset(tmp_path / "ds")
    before = fingerprint(data), plan_keys(tmp_path, data, registry)
    for path in (tmp_path / "ds").rglob("*"):
        if path.is_file():
            os.utime(path, (OLD + 3600, OLD + 3600))  # as `touch` does, only the time moves
    new_process()
    assert (fingerprint(data), plan_keys(tmp_path, data, registry)) == before


def test_the_fingerprint_does_not_depend_on_where_the_dataset_lives(tmp_path):
    assert fingerprint(make_dataset(tmp_path / "a")) == fingerprint(make_dataset(tmp_path / "b"))


# ---------------------------------------------------------------- the stat cache
def test_a_warm_stat_cache_reads_no_file_bytes(tmp_path, reads, own_cache):
    data = make_dataset(tmp_path / "ds")
    first = fingerprint(data)
    assert len(reads) == 1 + 4 + 4, "cold: the YAML, 4 images and 4 label files are read once each"
    assert own_cache.is_file()

    reads.clear()
    new_process()
    assert fingerprint(data) == first and reads == [], "warm: stats only, from the cache file"

    label = tmp_path / "ds" / "labels" / "val" / "c.txt"
    os.utime(label, (OLD + 5, OLD + 5))
    new_process()
    assert fingerprint(data) == first and reads == [label.resolve()], "a touched file is read again, alone"


def test_weights_hashes_come_from_the_stat_cache(tmp_path, reads):
    from prunebench_builtins.ultralytics_models import UltralyticsModel

    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights")
    os.utime(weights, (OLD, OLD))
    model = UltralyticsModel(UltralyticsModel.Params(weights=str(weights)))
    assert model.fingerprint()["weights_sha256"] == hashlib.sha256(b"weights").hexdigest()
    new_process()
    model.fingerprint()
    assert reads == [weights.resolve()], "the second run found the digest in the cache file"


def test_a_file_changed_moments_ago_is_not_remembered(tmp_path, reads):
    """Its mtime tick may not be over: a same-size rewrite within it would look unchanged."""
    fresh = tmp_path / "fresh.txt"
    fresh.write_text("0 0.5 0.5 0.2 0.3\n")
    assert filehash.file_sha256(fresh) == filehash.file_sha256(fresh)
    assert reads == [fresh, fresh]


def test_a_corrupt_cache_file_is_ignored_and_rewritten(tmp_path, own_cache, reads):
    data = make_dataset(tmp_path / "ds")
    expected = fingerprint(data)
    entries = json.loads(own_cache.read_text())["entries"]
    for garbage in (b"\x00\xff not json", b'{"version": 1, "entries": {"', b"[1, 2]",
                    json.dumps({"version": 1, "entries": {p: [1, "x"] for p in entries}}).encode(),
                    json.dumps({"version": 99, "entries": entries}).encode()):
        own_cache.write_bytes(garbage)
        new_process()
        reads.clear()
        assert fingerprint(data) == expected
        assert len(reads) == 9, "nothing usable was remembered, so everything was read again"
        assert json.loads(own_cache.read_text())["entries"] == entries, "and the cache file was rewritten"


def test_an_unwritable_cache_folder_costs_only_the_rehashing(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("PRUNEBENCH_CACHE", str(blocker))
    data = make_dataset(tmp_path / "ds")
    assert fingerprint(data) == fingerprint(data)


def _hash_many(args) -> None:
    cache_dir, paths, rounds = args
    os.environ["PRUNEBENCH_CACHE"] = cache_dir
    for _ in range(rounds):
        filehash._CACHES.clear()  # each round writes the cache file again
        filehash.file_sha256s(paths)


def test_concurrent_writers_leave_a_valid_cache_file(tmp_path, own_cache):
    files = []
    for i in range(40):
        path = tmp_path / "files" / f"{i}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(str(i).encode() * 1000)
        os.utime(path, (OLD, OLD))
        files.append(path)
    jobs = [(str(own_cache.parent), files[i::4], 15) for i in range(4)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_hash_many, jobs)
    entries = json.loads(own_cache.read_text())["entries"]  # whole JSON: no interleaved or torn write
    assert entries, "at least the last writer's entries are there"
    for path, (size, mtime_ns, inode, digest) in entries.items():
        assert digest == hashlib.sha256(Path(path).read_bytes()).hexdigest() and size == 1000 * len(Path(path).stem)
    assert not list(own_cache.parent.glob("*.tmp")), "no temporary files left behind"


# ---------------------------------------------------------------- cost
def test_fingerprinting_a_dataset_imports_no_torch(tmp_path):
    data = make_dataset(tmp_path / "ds")
    code = ("import sys; from prunebench_builtins.ultralytics_datasets import UltralyticsDataset as D; "
            f"D(D.Params(data={str(data)!r})).fingerprint(); "
            "print([m for m in ('torch', 'ultralytics') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PRUNEBENCH_CACHE": str(tmp_path / "cache")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
