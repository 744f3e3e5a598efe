"""Files a user hands over (checkpoints, suites, data and architecture YAMLs, records from elsewhere) cannot run
code or exhaust memory, and no malformed one ends in a traceback. Each payload would touch a file: the tests
check the file is never created."""

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY_MODEL_AND_DATA, run_cli

YOLO11N = REPO / "weights" / "yolo11n.pt"
COCO128 = REPO / "data" / "coco128" / "data.yaml"


# ---------------------------------------------------------------- checkpoints that would run code
def poisoned_checkpoint(tmp_path: Path, marker: Path) -> Path:
    """The genuine yolo11n.pt with one more entry whose unpickling runs `touch marker` (made in a subprocess: this
    test process never unpickles it)."""
    path = tmp_path / "evil.pt"
    code = textwrap.dedent(f"""
        import os, torch
        class Payload:
            def __reduce__(self):
                return (os.system, ("touch {marker}",))
        ckpt = torch.load({str(YOLO11N)!r}, map_location="cpu", weights_only=False)
        ckpt["extra"] = Payload()
        torch.save(ckpt, {str(path)!r})
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
    assert not marker.exists()
    return path


def test_a_poisoned_checkpoint_is_refused_and_its_payload_never_runs(tmp_path):
    from prunebench.yolo.checkpoints import UntrustedCheckpoint, load_yolo

    marker = tmp_path / "PWNED"
    evil = poisoned_checkpoint(tmp_path, marker)
    with pytest.raises(UntrustedCheckpoint) as error:
        load_yolo(evil)
    assert str(error.value).startswith(f"{evil} was not loaded: its pickle calls posix.system('touch ")
    assert "rerun with --trust-checkpoints" in str(error.value)
    assert not marker.exists()
    assert load_yolo(YOLO11N).task == "detect"  # the genuine file loads weights-only


def test_run_with_a_poisoned_weights_file_stops_before_any_cell(tmp_path):
    marker = tmp_path / "PWNED"
    evil = poisoned_checkpoint(tmp_path, marker)
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: poisoned\n" + TINY_MODEL_AND_DATA.replace(str(YOLO11N), str(evil))
                     + "finetune: {epochs: 0}\nevaluation: {imgsz: 64, device: cpu, measure: {latency: false}}\n")
    proc = run_cli("run", str(suite), "--results", str(tmp_path / "results"), cwd=tmp_path)
    assert proc.returncode == 1
    assert f"{evil} was not loaded" in proc.stderr and "--trust-checkpoints" in proc.stderr
    assert "Traceback" not in proc.stderr and not marker.exists()
    assert not list((tmp_path / "results").glob("cells/*.json"))


def test_a_kept_model_swapped_for_a_poisoned_one_is_refused_by_export(tmp_path):
    """The attacker also updated the record's sha256: the weights-only load is what stops the payload."""
    from prunebench.util.filehash import hash_file
    from tests.kept_models import build_results

    marker = tmp_path / "PWNED"
    results = tmp_path / "results"
    paths = build_results(results, tmp_path / "work")
    record_path = paths["dense"]
    record = json.loads(record_path.read_text())
    kept = results / record["details"]["model_file"]["path"]
    shutil.copy(poisoned_checkpoint(tmp_path, marker), kept)
    record["details"]["model_file"]["sha256"] = hash_file(kept)
    record_path.write_text(json.dumps(record))
    proc = run_cli("export", str(results), "--only", record["name"], "--format", "onnx", cwd=tmp_path)
    assert proc.returncode == 1 and "was not loaded" in proc.stderr and "Traceback" not in proc.stderr
    assert not marker.exists()


def test_a_channel_pruned_model_loads_weights_only(tmp_path):
    """prunebench's rewritten blocks are on the allow-list: its own kept models need no trust."""
    from prunebench.testing import tiny_context
    from prunebench.yolo.checkpoints import load_yolo, save_model
    from prunebench_builtins.channel import L1Channel

    model = load_yolo(YOLO11N).model
    L1Channel().prune(model, 0.3, tiny_context(tmp_path, tmp_path))
    path = save_model(model, tmp_path / "pruned.pt")
    reloaded = load_yolo(path).model
    assert any(type(m).__module__ == "prunebench.yolo.rewrites" for m in reloaded.modules())
    assert sum(p.numel() for p in reloaded.parameters()) == sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- YAML that would run code or exhaust memory
def test_an_architecture_yaml_with_code_in_its_activation_is_refused(tmp_path):
    from prunebench_builtins.ultralytics_models.architectures import resolve

    marker = tmp_path / "PWNED"
    shipped = Path(resolve("yolov8n.yaml").yaml_path).read_text()
    evil = tmp_path / "evil.yaml"
    evil.write_text(f'activation: __import__("os").system("touch {marker}")\n' + shipped)
    suite = tmp_path / "suite.yaml"
    suite.write_text(textwrap.dedent(f"""\
        name: evil-arch
        models:
          - name: mine
            params: {{arch: {evil}, baseline: {{epochs: 1, imgsz: 64, batch: 4}}}}
        datasets:
          - name: coco128
            params: {{data: {COCO128}}}
        """))
    proc = run_cli("validate", str(suite), cwd=tmp_path)
    assert proc.returncode == 1 and "is not a torch.nn activation called with literal arguments" in proc.stderr
    assert not marker.exists()
    evil.write_text(shipped.replace("[-1, 1, Conv, [64, 3, 2]]", '[-1, 1, "__import__(\'os\')", [64, 3, 2]]', 1))
    with pytest.raises(ValueError, match=r"names its module as .*not a plain name"):
        resolve(str(evil))


def bomb(levels: int, where: str = "x") -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\n{where}: *a{levels - 1}\n"


def test_an_alias_bomb_is_refused_in_well_under_a_second_with_its_line(tmp_path):
    suite = tmp_path / "bomb.yaml"
    suite.write_text(bomb(9) + "name: x\n")  # 720 bytes that expand to 387 million values
    started = time.perf_counter()
    proc = run_cli("validate", str(suite), cwd=tmp_path)
    assert proc.returncode == 1 and time.perf_counter() - started < 15  # a fresh interpreter included
    assert "YAML aliases (or sheer size) expand this document to more than 200,000 values" in proc.stderr
    assert proc.stderr.startswith(f"{suite}:1:") and "Traceback" not in proc.stderr


def test_an_error_quoting_a_huge_value_stays_short(tmp_path):
    suite = tmp_path / "description.yaml"
    suite.write_text(bomb(5, where="description") + "name: x\nmodels: []\ndatasets: []\n")
    proc = run_cli("validate", str(suite), cwd=tmp_path)
    assert proc.returncode == 1 and len(proc.stderr) < 5000
    assert "description: Input should be a valid string (got [[[[" in proc.stderr


def test_data_yamls_are_read_within_the_same_bounds(tmp_path):
    from prunebench.yolo import labels

    data = tmp_path / "data.yaml"
    data.write_text(bomb(8, where="names"))
    with pytest.raises(ValueError, match=r"^data YAML .*data.yaml:1: YAML aliases"):
        labels.read_data_yaml(data)


# ---------------------------------------------------------------- records a command cannot read
def malformed_records(results: Path) -> dict[str, str]:
    """A folder of one good record (from the fixtures) and one of each kind of bad one; name -> reason."""
    from tests.test_leaderboard import FIXTURES

    cells = results / "cells"
    cells.mkdir(parents=True)
    good = next((FIXTURES / "cpu" / "cells").glob("yolov8n.buds.dense.*.json"))
    shutil.copy(good, cells)
    base = json.loads(good.read_text())
    bad = {
        "no-key": ({k: v for k, v in base.items() if k != "key"}, "no key"),
        "metrics-string": (base | {"metrics": "fast"}, "metrics is a string, not an object"),
        "spec-null": (base | {"spec": None}, "spec is null, not an object"),
        "timings-list": (base | {"timings": [1, 2]}, "timings is a list, not an object"),
        "future": (base | {"schema_version": 99}, "schema version 99 is newer than this prunebench reads"),
    }
    for name, (record, _) in bad.items():
        (cells / f"{name}.json").write_text(json.dumps(record))
    (cells / "not-json.json").write_text("{ this is not json")
    return {name: reason for name, (_, reason) in bad.items()} | {"not-json": "not valid JSON"}


def test_malformed_records_are_named_once_and_never_fatal(tmp_path):
    results = tmp_path / "results"
    reasons = malformed_records(results)
    for command in (["leaderboard", str(results), "--no-plots"], ["show", "yolov8n.buds.dense", "--results",
                                                                    str(results)]):
        proc = run_cli(*command, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        for name, reason in reasons.items():
            lines = [line for line in proc.stderr.splitlines() if f"{name}.json" in line]
            assert len(lines) == 1 and reason in lines[0], (name, proc.stderr)


def test_run_moves_an_unreadable_record_aside_instead_of_overwriting_it(tmp_path):
    from prunebench.records.store import write_record

    cells = tmp_path / "cells"
    cells.mkdir()
    (cells / "m.d.dense.a0.00.s0.k.json").write_text('{"schema_version": 99, "key": "k"}')
    said = []
    good = {"schema_version": 2, "key": "k", "name": "m.d.dense.a0.00.s0", "spec": {}, "status": "ok"}
    write_record(tmp_path, "m.d.dense.a0.00.s0.k.json", good, warn=said.append)
    assert json.loads((cells / "m.d.dense.a0.00.s0.k.json.unreadable").read_text())["schema_version"] == 99
    assert json.loads((cells / "m.d.dense.a0.00.s0.k.json").read_text())["status"] == "ok"
    assert len(said) == 1 and "moved it to m.d.dense.a0.00.s0.k.json.unreadable" in said[0]


def test_a_full_disk_while_writing_a_record_stops_the_run_in_one_paragraph(tmp_path, monkeypatch, cells):
    from prunebench.records import store
    from prunebench.run.driver import RecordWriteError, decide, run_decisions
    from prunebench.run.executors import LocalExecutor
    from tests.test_driver import FakeRunner

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "atomic_write_text", full)
    results = tmp_path / "results"
    with pytest.raises(RecordWriteError) as error:
        run_decisions(decide(cells, results), results, LocalExecutor(), FakeRunner, log=lambda m: None)
    assert "(No space left on device): its result is lost, the records already written are intact" in str(error.value)


@pytest.fixture
def cells(tmp_path, registry):
    from tests.test_plan import plan_for

    return plan_for(tmp_path, registry)


# ---------------------------------------------------------------- checks of what is reported
def tea_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "data" / "tea_bud", tmp_path / "tea_bud")
    return tmp_path / "tea_bud" / "data.yaml"


def test_a_nan_in_a_test_label_fails_validation(tmp_path):
    from prunebench.yolo import labels

    data = tea_copy(tmp_path)
    label = next((data.parent / "labels" / "test").glob("*.txt"))
    label.write_text(label.read_text() + "0 nan 0.5 0.1 0.1\n")
    with pytest.raises(ValueError, match=rf"{label.name}:\d+: not a number: nan"):
        labels.check_dataset(labels.read_data_yaml(data))


def test_a_test_path_that_does_not_exist_is_an_error_not_a_silent_fallback_to_val(tmp_path):
    from prunebench.yolo import labels

    data = tea_copy(tmp_path)
    data.write_text(data.read_text().replace("test: images/test", "test: images/tset"))
    with pytest.raises(ValueError, match=r"`test: images/tset` points to .*which does not exist"):
        labels.read_data_yaml(data)


def test_a_corrupt_training_image_is_named_before_training(tmp_path):
    from prunebench_builtins.ultralytics_datasets import UltralyticsDataset

    data = tea_copy(tmp_path)
    broken = next((data.parent / "images" / "train").glob("*.jpg"))
    broken.write_bytes(broken.read_bytes()[:200])  # truncated
    prepared = UltralyticsDataset(UltralyticsDataset.Params(data=str(data))).prepare(tmp_path / "cache")
    assert len(prepared.warnings) == 1
    assert "1 image(s) of split `train` are corrupt" in prepared.warnings[0] and broken.name in prepared.warnings[0]


@pytest.mark.parametrize("field, problem", [
    ("seeds: [-1]", "seeds.0: Input should be greater than or equal to 0"),
    (f"seeds: [{2 ** 64}]", "seeds.0: Input should be less than or equal to 4294967295"),
])
def test_seeds_outside_numpys_range_fail_validation(tmp_path, field, problem):
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: s\n" + TINY_MODEL_AND_DATA + field + "\n")
    proc = run_cli("validate", str(suite), cwd=tmp_path)
    assert proc.returncode == 1 and problem in proc.stderr


def test_a_name_past_the_safe_length_fails_validation(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: s\n" + TINY_MODEL_AND_DATA.replace("name: yolo11n", "name: " + "m" * 300))
    proc = run_cli("validate", str(suite), cwd=tmp_path)
    assert proc.returncode == 1 and "models.0.name: String should have at most 64 characters" in proc.stderr


def test_cells_that_would_share_a_name_are_refused_naming_both(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: s\n" + TINY_MODEL_AND_DATA
                     + "strategies:\n  - name: l1-unstructured\n    amounts: [0.301, 0.304]\n")
    proc = run_cli("validate", str(suite), cwd=tmp_path)
    assert proc.returncode == 1
    assert "cells would share the name 'yolo11n.coco128.l1-unstructured.a0.30.s0'" in proc.stderr
    dotted = TINY_MODEL_AND_DATA.replace("name: yolo11n", "name: a.b").replace("name: coco128", "name: c")
    dotted += "  - name: b.c\n    plugin: ultralytics\n    params: {data: " + str(COCO128) + "}\n"
    dotted = dotted.replace("models:\n", "models:\n  - name: a\n    params: {weights: " + str(YOLO11N) + "}\n", 1)
    suite.write_text("name: s\n" + dotted)
    proc = run_cli("validate", str(suite), cwd=tmp_path)
    assert proc.returncode == 1 and "cells would share the name 'a.b.c.dense.a0.00.s0'" in proc.stderr


def test_a_symlinked_lock_is_refused_clearly(tmp_path):
    from prunebench.records.store import cell_lock

    locks = tmp_path / "cells" / ".locks"
    locks.mkdir(parents=True)
    (locks / "x.json.lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match=r"x.json.lock is a symbolic link .*prunebench never follows one"):
        cell_lock(tmp_path, "x.json")


def test_leaderboard_and_compare_given_a_broken_suite_say_so(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    proc = run_cli("leaderboard", str(broken), cwd=tmp_path)
    assert proc.returncode == 1 and "YAML syntax error" in proc.stderr and "Traceback" not in proc.stderr
    odd = tmp_path / "odd.yaml"
    odd.write_text("name: s\nresults: 5\n")
    proc = run_cli("compare", str(odd), str(odd), cwd=tmp_path)
    assert proc.returncode == 1 and "`results: 5` is not a folder path" in proc.stderr


# ---------------------------------------------------------------- leftovers
def test_leftovers_of_a_killed_process_are_removed_and_a_live_ones_are_kept(tmp_path):
    from prunebench.util import leftovers
    from prunebench.util.atomic import atomic_write_text

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    tag = leftovers.owner_tag()
    stale_dir = tmp_path / f"cell-{tag.replace(str(os.getpid()), dead)}abc"
    stale_file = tmp_path / f".r.json.{tag.replace(str(os.getpid()), dead)}x.tmp"
    stale_dir.mkdir()
    (stale_dir / "big.bin").write_bytes(b"0" * 1000)
    stale_file.write_text("half a record")
    with leftovers.scratch_dir(tmp_path, "cell") as live:
        removed = leftovers.clean([tmp_path])
        assert Path(live).is_dir(), "a live process's folder is kept"
    assert set(removed) == {stale_dir, stale_file} and not stale_dir.exists() and not stale_file.exists()
    atomic_write_text(tmp_path / "kept.txt", "x")
    assert (tmp_path / "kept.txt").read_text() == "x" and not leftovers.clean([tmp_path])


def test_matplotlib_keeps_its_cache_in_prunebenchs(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path / "home"), PRUNEBENCH_CACHE=str(tmp_path / "cache"))
    env.pop("MPLCONFIGDIR", None)
    code = "import prunebench.report.plots, matplotlib; print(matplotlib.get_cachedir())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(tmp_path / "cache" / "matplotlib")
    assert not (tmp_path / "home").exists()
