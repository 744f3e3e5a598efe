"""Generated hostile inputs (Hypothesis): mutated suites, data YAMLs, checkpoints and records. Each ends in a result
or a clean refusal (SuiteError / ValueError, or exit code 1 from a command): never another exception, and nothing is
written outside the folder the command owns. Sized for CI on 2 cores (a few seconds per group)."""

import functools
import hashlib
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, TINY_MODEL_AND_DATA
from tests.test_record_bounds import FIXTURES, TARGET, run_main

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                derandomize=True)
BASE_SUITE = ("name: hostile\n" + TINY_MODEL_AND_DATA
              + "strategies:\n  - name: l1-unstructured\n    amounts: [0.3]\nseeds: [0]\n")

# JSON-like values, nested a little, with the strings a hostile file would hold.
hostile_text = st.one_of(st.text(max_size=30), st.sampled_from([
    "<script>x</script>", "../../etc/passwd", "/etc/passwd", "~/x", "\x1b[2J", "$\\frac{}$", "a|b", "dense",
    "dense-ft", "*a", "&a", "!!python/object:os.system", "1e999", "NaN", "-0", "x" * 300]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                    st.floats(allow_nan=False, allow_infinity=False), hostile_text)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(hostile_text, inner, max_size=4)), max_leaves=12)


def tree_digest(root: Path, skip: Path) -> str:
    """Names, sizes and mtimes of every file under `root` except below `skip`: what a write elsewhere would change."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == skip or skip in Path(dirpath).parents:
            dirnames[:] = []
            continue
        for name in filenames:
            stat = (Path(dirpath) / name).stat()
            found.append(f"{dirpath}/{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest()


# ---------------------------------------------------------------- suites
def mutate_mapping(data, path, value):
    target = data
    for key in path[:-1]:
        target = target[key] if isinstance(target, dict) else target[int(key) % max(1, len(target))]
    if isinstance(target, dict):
        target[path[-1]] = value
    elif isinstance(target, list) and target:
        target[int(path[-1]) % len(target)] = value


SUITE_PATHS = [("name",), ("models",), ("models", 0), ("models", 0, "params"), ("models", 0, "params", "weights"),
               ("datasets", 0, "params", "data"), ("strategies",), ("strategies", 0, "name"),
               ("strategies", 0, "label"), ("strategies", 0, "amounts"), ("strategies", 0, "params"), ("seeds",),
               ("results",), ("finetune",), ("evaluation",), ("executor",), ("literature",), ("extra",)]


@settings(max_examples=120, **SETTINGS)
@given(path=st.sampled_from(SUITE_PATHS), value=values, raw=st.one_of(st.none(), st.text(max_size=40)))
def test_mutated_suites_are_validated_or_refused_cleanly(tmp_path_factory, registry, path, value, raw):
    from prunebench.config.suite import SuiteError, load_suite
    from prunebench.run.plan import build_plan

    folder = tmp_path_factory.mktemp("suite")
    data = yaml.safe_load(BASE_SUITE)
    mutate_mapping(data, path, value)
    text = yaml.safe_dump(data, allow_unicode=True) if raw is None else BASE_SUITE + raw
    (folder / "suite.yaml").write_text(text)
    before = tree_digest(folder, folder / "nowhere")
    try:
        loaded = load_suite(folder / "suite.yaml", registry)
        build_plan(loaded)
    except (SuiteError, ValueError):
        pass
    assert tree_digest(folder, folder / "nowhere") == before


# ---------------------------------------------------------------- data YAMLs
DATA_KEYS = st.sampled_from(["path", "train", "val", "test", "names", "nc", "download", "yaml_file"])


@settings(max_examples=50, **SETTINGS)
@given(changes=st.dictionaries(DATA_KEYS, values, max_size=3), raw=st.one_of(st.none(), st.text(max_size=40)))
def test_mutated_data_yamls_are_read_or_refused_cleanly(tmp_path_factory, changes, raw):
    from prunebench.yolo import labels

    folder = tmp_path_factory.mktemp("data")
    data = yaml.safe_load((REPO / "data" / "coco128" / "data.yaml").read_text())
    data["path"] = str(REPO / "data" / "coco128")
    data.update(changes)
    text = yaml.safe_dump(data, allow_unicode=True) if raw is None else yaml.safe_dump(data) + raw
    (folder / "data.yaml").write_text(text)
    try:
        labels.check_dataset(labels.read_data_yaml(folder / "data.yaml"))
    except ValueError:
        pass


# ---------------------------------------------------------------- checkpoints
@functools.lru_cache(maxsize=1)
def genuine_pickle() -> tuple[bytes, dict[str, bytes]]:
    """yolov8n.pt's data.pkl and its other entries (read once; not a test argument, whose repr Hypothesis prints)."""
    with zipfile.ZipFile(REPO / "weights" / "yolov8n.pt") as archive:
        names = archive.namelist()
        prefix = next(n for n in names if n.endswith("data.pkl"))[:-len("data.pkl")]
        return archive.read(prefix + "data.pkl"), {n[len(prefix):]: archive.read(n) for n in names
                                                   if not n.endswith("data.pkl")}


@settings(max_examples=40, **SETTINGS)
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=4)), min_size=1, max_size=4),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_mutated_checkpoints_are_loaded_or_refused_cleanly(tmp_path_factory, edits, cut):
    from prunebench.yolo.checkpoints import load_yolo

    pkl, rest = genuine_pickle()
    data = bytearray(pkl)
    for where, blob in edits:
        at = int(where * (len(data) - 1))
        data[at:at + len(blob)] = blob
    if cut is not None:
        data = data[:int(cut * len(data))]
    folder = tmp_path_factory.mktemp("ckpt")
    path = folder / "mutated.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mutated/data.pkl", bytes(data))
        for name, blob in rest.items():
            archive.writestr(f"mutated/{name}", blob)
    try:
        load_yolo(path)
    except ValueError:
        pass


# ---------------------------------------------------------------- records
RECORD_PATHS = [("name",), ("key",), ("status",), ("spec",), ("spec", "strategy"), ("spec", "strategy", "label"),
                ("spec", "strategy", "name"), ("spec", "amount"), ("spec", "evaluation"), ("metrics",),
                ("metrics", "map50_95"), ("details",), ("details", "bootstrap"), ("details", "model_file"),
                ("details", "model_file", "path"), ("details", "measure"), ("details", "exports"), ("timings",),
                ("environment",), ("environment", "device_name"), ("error",), ("finished_at",)]


@settings(max_examples=25, **SETTINGS)
@given(changes=st.lists(st.tuples(st.sampled_from(RECORD_PATHS), values), min_size=1, max_size=3))
def test_mutated_records_never_end_in_a_traceback_nor_write_outside(tmp_path_factory, changes):
    work = tmp_path_factory.mktemp("records")
    folder = work / "results" / "r"
    shutil.copytree(FIXTURES / "cells", folder / "cells")
    path = next((folder / "cells").glob(f"{TARGET}.*.json"))
    data = json.loads(path.read_text())
    for where, value in changes:
        mutate_mapping(data, where, value)
    path.write_text(json.dumps(data))
    before = tree_digest(work, folder)
    for argv in (["leaderboard", folder, "--no-plots"], ["compare", FIXTURES, folder],
                 ["show", TARGET, "--results", folder]):
        code, _, _ = run_main(*argv)  # an exception escaping main() fails the test
        assert code in (0, 1)
    assert tree_digest(work, folder) == before
