"""The CLI: exit codes, messages, help, progress lines, dry-run estimates, file permissions, and the fast
commands never importing torch."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from prunebench.cli import main

FAST = [["plugins"], ["list"], ["list", "strategies"], ["list", "models"], ["list", "datasets"], ["schema"]]


@pytest.mark.parametrize("argv", FAST, ids=lambda a: " ".join(a))
def test_fast_commands_do_not_import_torch(argv):
    code = ("import sys; from prunebench.cli import main; rc = main(%r); "
            "bad = [m for m in ('torch', 'ultralytics', 'torch_pruning', 'matplotlib') if m in sys.modules]; "
            "print('IMPORTED', bad); sys.exit(rc)") % (argv,)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("IMPORTED []")


def test_validate_does_not_import_torch(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nmodels: [{name: m, params: {arch: yolov8n.yaml}}]\n"
                     "datasets: [{name: d, plugin: synthetic-buds}]\n")
    code = ("import sys; from prunebench.cli import main; rc = main(['validate', %r]); "
            "print('IMPORTED', [m for m in ('torch', 'ultralytics') if m in sys.modules]); sys.exit(rc)") % str(suite)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # The dense model as loaded, and its fine-tuned control.
    assert "valid suite 's': 2 cells (1 dense baseline + 1 fine-tuned dense control + 0 pruned)" in out.stdout
    assert out.stdout.strip().endswith("IMPORTED []")


def test_validate_bad_suite_exits_1_with_located_message(tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nmodels: [{name: m, plugin: nope}]\ndatasets: [{name: d, plugin: synthetic-buds}]\n")
    assert main(["validate", str(suite)]) == 1
    err = capsys.readouterr().err
    assert f"{suite}:2: models.0.plugin: unknown model 'nope'" in err


def test_schema_is_json_schema():
    out = subprocess.run([sys.executable, "-m", "prunebench", "schema"], capture_output=True, text=True, timeout=60)
    schema = json.loads(out.stdout)
    assert schema["title"] == "Suite" and {"models", "datasets", "strategies"} <= set(schema["properties"])


def test_run_dry_run_lists_plan(tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(textwrap.dedent(f"""\
        name: s
        models: [{{name: m, params: {{arch: yolov8n.yaml}}}}]
        datasets: [{{name: d, plugin: synthetic-buds}}]
        strategies: [{{name: l1-unstructured, amounts: [0.3, 0.6]}}]
        results: {tmp_path / 'results'}
    """))
    assert main(["run", str(suite), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "m.d.dense.a0.00.s0" in out and "m.d.l1-unstructured.a0.60.s0" in out
    assert "4 cells: 4 will run, 0 cached or kept" in out  # dense, its fine-tuned control, two pruned
    assert not (tmp_path / "results").exists()


def test_only_matching_nothing_is_an_error(tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nmodels: [{name: m, params: {arch: yolov8n.yaml}}]\n"
                     "datasets: [{name: d, plugin: synthetic-buds}]\n")
    assert main(["run", str(suite), "--only", "zzz", "--dry-run"]) == 1
    assert "--only zzz matches no cell" in capsys.readouterr().err


def test_suite_reference_doc_is_generated_from_the_schema():
    from pathlib import Path

    from prunebench.config.schema_doc import suite_reference_markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "suite-reference.md"
    assert doc.read_text() == suite_reference_markdown(), "regenerate: prunebench schema --markdown > docs/suite-reference.md"


def test_a_device_this_machine_lacks_is_refused_before_anything_is_written(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error is for machines without it")
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nmodels: [{name: m, params: {arch: yolov8n.yaml}}]\n"
                     "datasets: [{name: d, plugin: synthetic-buds}]\n"
                     f"evaluation: {{device: cuda}}\nresults: {tmp_path / 'results'}\n")
    assert main(["run", str(suite)]) == 1
    err = capsys.readouterr().err
    assert "was requested but torch sees no CUDA GPU" in err and "Use `device: auto` or `device: cpu`" in err
    assert "Traceback" not in err
    assert not (tmp_path / "results").exists(), "nothing is written for a run that cannot start"


def test_leaderboard_and_compare_of_empty_folders_are_clear_errors(tmp_path, capsys):
    empty = tmp_path / "empty"
    (empty / "cells").mkdir(parents=True)
    assert main(["leaderboard", str(empty)]) == 1
    assert "no records found in" in capsys.readouterr().err
    assert main(["compare", str(empty), str(empty)]) == 1
    err = capsys.readouterr().err
    assert "no records found in" in err and "Traceback" not in err
    assert not (empty / "LEADERBOARD.md").exists()


# ---------------------------------------------------------------- help and `list`
SUBCOMMANDS_WITH_POSITIONALS = ["run", "validate", "list", "leaderboard", "compare", "export", "measure", "show",
                               "new-strategy"]


@pytest.mark.parametrize("command", SUBCOMMANDS_WITH_POSITIONALS)
def test_every_positional_argument_is_explained_in_help(command):
    from prunebench.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    positionals = [a for a in sub._actions if not a.option_strings]
    assert positionals, f"{command} has no positional argument any more: update this list"
    assert all(a.help and len(a.help) > 15 for a in positionals), [(a.dest, a.help) for a in positionals]


def test_run_help_says_what_suite_is(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "SUITE the suite YAML to run" in out


def test_list_without_a_kind_lists_the_kinds_and_what_each_holds(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for kind in ("strategies", "models", "datasets", "executors"):
        assert f"\n{kind}: " in "\n" + out
    assert "l1-unstructured" in out and "synthetic-buds" in out and "local" in out
    assert "`prunebench list KIND`" in out


def test_list_of_an_unknown_kind_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["list", "strategy"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'strategy'" in capsys.readouterr().err


# ---------------------------------------------------------------- dry-run estimates
DRY_SUITE = """\
name: s
models: [{{name: m, params: {{arch: yolov8n.yaml}}}}]
datasets: [{{name: d, plugin: synthetic-buds}}]
strategies: [{{name: l1-unstructured, amounts: [0.3, 0.6]}}, {{name: random-unstructured, amounts: [0.3]}}]
results: {results}
"""


def _dry_suite(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(DRY_SUITE.format(results=tmp_path / "results"))
    return suite


def _earlier_record(results, name, label, total, suite="s", status="ok"):
    """A record of an earlier run: another key (other amounts, seeds, fingerprints), only what the estimate reads."""
    from prunebench.records.store import SCHEMA_VERSION, write_record

    record = {"schema_version": SCHEMA_VERSION, "key": f"old-{name}", "name": name, "suite": suite, "status": status,
              "spec": {"strategy": {"name": label, "label": label}}, "timings": {"total": total}}
    write_record(results, f"{name}.old.json", record)


def test_dry_run_says_no_estimate_without_earlier_records(tmp_path, capsys):
    assert main(["run", str(_dry_suite(tmp_path)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "5 cells: 5 will run, 0 cached or kept" in out
    assert "no estimate: " in out and "no finished record of suite 's'" in out


def test_dry_run_estimates_from_the_median_of_the_same_strategy_else_of_all(tmp_path, capsys):
    results = tmp_path / "results"
    _earlier_record(results, "a", "l1-unstructured", 100.0)
    _earlier_record(results, "b", "l1-unstructured", 300.0)
    _earlier_record(results, "c", "l1-unstructured", 250.0)
    _earlier_record(results, "d", "dense", 30.0)
    _earlier_record(results, "e", "l1-unstructured", 9999.0, suite="another-suite")  # not this suite's: ignored
    _earlier_record(results, "f", "l1-unstructured", 1.0, status="failed")  # a failure's time says nothing
    assert main(["run", str(_dry_suite(tmp_path)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    rows = {line.split("|")[1].strip(): line.split("|")[4].strip() for line in out.splitlines()
            if line.startswith("| m.d.")}
    # l1-unstructured: median of 100, 250, 300; dense: its own 30; dense-ft and random-unstructured: none of their
    # own, so the median of all four of the suite's ok records (30, 100, 250, 300) = 175.
    assert rows == {"m.d.dense.a0.00.s0": "30 s", "m.d.dense-ft.a0.00.s0": "3 min",
                    "m.d.l1-unstructured.a0.30.s0": "4 min", "m.d.l1-unstructured.a0.60.s0": "4 min",
                    "m.d.random-unstructured.a0.30.s0": "3 min"}
    assert "estimate: about 15 min for 5 cells to run" in out  # 30 + 250 + 250 + 175 + 175 = 880 s
    assert "3 cells from the median time of earlier cells of the same strategy" in out
    assert "2 cells from the median of all of them" in out and "4 earlier records of suite 's'" in out


def test_estimate_of_a_remeasure_counts_only_evaluation_and_measurement(tmp_path):
    from prunebench.run.driver import REMEASURE, Decision, estimate
    from prunebench.records.store import SCHEMA_VERSION, write_record
    from tests.test_plan import plan_for

    results = tmp_path / "results"
    write_record(results, "x.json", {"schema_version": SCHEMA_VERSION, "key": "k", "name": "x", "suite": "demo",
                                     "status": "ok", "spec": {"strategy": {"name": "fake-prune",
                                                                           "label": "fake-prune"}},
                                     "timings": {"total": 100.0, "finetune": 80.0, "evaluate": 6.0,
                                                 "measure": 4.0}})
    from prunebench.plugin.loader import load_plugins
    from tests.plugins.fake_plugins import FakePlugin

    cells = plan_for(tmp_path, load_plugins(extra=[("fake", FakePlugin())]).registry)
    cell = next(c for c in cells if c.strategy == "fake-prune")
    guess = estimate([Decision(cell, REMEASURE)], results, "demo")
    assert guess.per_cell == {cell.name: 10.0} and guess.from_label == 1


# ---------------------------------------------------------------- progress when stderr is not a terminal
class _TimedRunner:
    """Returns a finished record per cell, with the figures a progress line shows; fails one cell."""

    def __init__(self, fail=None):
        self.fail = fail

    def prepare_inputs(self, cells):
        pass

    def run(self, cell):
        from prunebench.records.store import SCHEMA_VERSION

        ok = cell.name != self.fail
        return {"schema_version": SCHEMA_VERSION, "key": cell.key, "measure_key": cell.measure_key, "name": cell.name,
                "spec": cell.spec, "status": "ok" if ok else "failed",
                "metrics": {"map50_95": 0.4567} if ok else {},
                "error": None if ok else {"type": "RuntimeError", "message": "boom"},
                "timings": {"total": 12.34}, "environment": {"hostname": "vm"}}


def test_run_prints_one_plain_line_per_finished_cell_without_a_terminal(tmp_path, registry):
    import io

    from tqdm.auto import tqdm

    from prunebench.run.driver import decide, run_decisions
    from prunebench.run.executors import LocalExecutor
    from tests.test_plan import plan_for

    cells = plan_for(tmp_path, registry)[:3]
    results = tmp_path / "results"
    lines = []
    redirected = io.StringIO()  # not a terminal: tqdm(disable=None) draws nothing there, as with `2> run.log`
    progress = tqdm(total=len(cells), file=redirected, disable=None)
    summary = run_decisions(decide(cells, results), results, LocalExecutor(), lambda: _TimedRunner(fail=cells[1].name),
                            progress=progress, log=lines.append)
    progress_lines = [line for line in lines if line.startswith("[")]
    assert progress_lines == [
        f"[1/3] {cells[0].name}: ok, mAP50-95 0.457, 12.3 s",
        f"[2/3] {cells[1].name}: failed (RuntimeError), mAP50-95 -, 12.3 s",
        f"[3/3] {cells[2].name}: ok, mAP50-95 0.457, 12.3 s",
    ]
    assert redirected.getvalue() == "" and summary.where == {"vm": 3}


def test_run_prints_no_plain_lines_under_a_progress_bar(tmp_path, registry):
    from prunebench.run.driver import decide, run_decisions
    from prunebench.run.executors import LocalExecutor
    from tests.test_plan import plan_for

    class Bar:  # a drawn (enabled) progress bar
        disable = False

        def __init__(self):
            self.postfix, self.n = "", 0

        def update(self, n):
            self.n += n

        def set_postfix_str(self, text, refresh=True):
            self.postfix = text

    cells = plan_for(tmp_path, registry)[:2]
    bar, lines = Bar(), []
    run_decisions(decide(cells, tmp_path / "r"), tmp_path / "r", LocalExecutor(), lambda: _TimedRunner(),
                  progress=bar, log=lines.append)
    assert lines == [] and bar.n == 2
    assert bar.postfix == "ran on vm: 2 cells"


def test_words_are_pluralised():
    from prunebench.run.driver import plural, ran_on

    assert [plural(n, "cell") for n in (0, 1, 2)] == ["0 cells", "1 cell", "2 cells"]
    assert ran_on({"vm": 1, "gpu-node": 3}) == "ran on vm: 1 cell, gpu-node: 3 cells"


def test_summary_of_one_cell_is_singular(capsys):
    from prunebench.cli import _print_summary
    from prunebench.run.driver import RunSummary

    _print_summary(RunSummary(ran=["a"], cached=1, kept_failed=1, busy=["b"], where={"vm": 1, "w2": 1}), Path("r"))
    err = capsys.readouterr().err
    assert "ran 1 cell in" in err and "ran on vm: 1 cell, w2: 1 cell" in err
    assert "1 cell failed in an earlier run and was kept" in err and "1 cell was being run by another" in err
    assert "1 cells" not in err


class _FakeTrainer:
    """What EpochBar reads of an Ultralytics trainer."""

    def __init__(self, epochs, val):
        from types import SimpleNamespace

        self.epochs, self.epoch, self.callbacks = epochs, 0, {}
        self.args = SimpleNamespace(val=val)
        self.tloss = {"box_loss": 1.0, "cls_loss": 0.5, "dfl_loss": 0.25}  # mean losses by name, as in 8.4
        self.metrics = {"metrics/mAP50(B)": 0.125}

    def add_callback(self, event, fn):
        self.callbacks.setdefault(event, []).append(fn)

    def run_epochs(self):
        for epoch in range(self.epochs):
            self.epoch = epoch
            self._fire("on_fit_epoch_end")
        if self.args.val:  # final_eval validates best.pt and logs it as one epoch more (Ultralytics 8.4)
            self.epoch += 1
            self._fire("on_fit_epoch_end")
        self._fire("on_train_end")

    def _fire(self, event):
        for fn in self.callbacks.get(event, []):
            fn(self)


def test_epoch_bar_prints_one_line_per_baseline_epoch_without_a_terminal():
    import io

    from prunebench.yolo.training import EpochBar

    stream = io.StringIO()
    trainer = _FakeTrainer(epochs=3, val=True)
    EpochBar.attach(trainer, "baseline yolov8n", plain_lines=True, stream=stream)
    trainer.run_epochs()
    lines = stream.getvalue().splitlines()
    assert [line.rsplit(",", 1)[0] for line in lines] == [
        f"baseline yolov8n: epoch {e}/3, loss 1.750, mAP50 0.125" for e in (1, 2, 3)]
    assert all(line.endswith(" s") for line in lines)


def test_epoch_bar_is_quiet_off_a_terminal_unless_asked_and_draws_a_bar_on_one():
    import io

    from prunebench.yolo.training import EpochBar

    quiet = io.StringIO()
    trainer = _FakeTrainer(epochs=2, val=False)
    EpochBar.attach(trainer, "fine-tuning", stream=quiet)  # fine-tuning: the run's per-cell line says enough
    trainer.run_epochs()
    assert quiet.getvalue() == ""

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    trainer = _FakeTrainer(epochs=2, val=False)
    bar = EpochBar.attach(trainer, "baseline", plain_lines=True, stream=terminal)
    trainer.run_epochs()
    assert bar.bar is not None and bar.bar.n == 2  # a tqdm bar, not lines
    assert "epoch 1/2" not in terminal.getvalue()


# ---------------------------------------------------------------- files get the user's usual permissions
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_records_leaderboards_and_checkpoints_follow_the_umask(tmp_path, umask, mode):
    import os

    from prunebench.records.store import SCHEMA_VERSION, write_record
    from prunebench.util.atomic import atomic_write_bytes, atomic_write_text

    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "LEADERBOARD.md", "# board\n")
        write_record(tmp_path, "x.json", {"schema_version": SCHEMA_VERSION, "key": "k", "name": "x", "spec": {},
                                          "status": "ok"})
        atomic_write_bytes(tmp_path / "models" / "m.pt", b"weights")
        (tmp_path / "plot.png").write_bytes(b"png")  # what any other writer (matplotlib) gets
    finally:
        os.umask(previous)
    modes = {p.name: p.stat().st_mode & 0o777 for p in
             (tmp_path / "LEADERBOARD.md", tmp_path / "cells" / "x.json", tmp_path / "models" / "m.pt",
              tmp_path / "plot.png")}
    assert modes == dict.fromkeys(modes, mode)
    assert (tmp_path / "LEADERBOARD.md").read_text() == "# board\n"
