"""Resume, failure isolation, locks and atomic writes, with a fake cell runner (no models)."""

import json
import os

import pytest
from filelock import FileLock

from prunebench.run.driver import CACHED, FORCED, REMEASURE, RETRY, RUN, SKIP_FAILED, decide, run_decisions
from prunebench.run.executors import LocalExecutor
from prunebench.records.store import SCHEMA_VERSION, cells_dir, iter_records
from prunebench.util.atomic import atomic_write_text
from tests.test_plan import plan_for


class FakeRunner:
    """Records what it ran; fails the cells named in `fail`."""

    def __init__(self, fail=(), interrupt_at=None):
        self.ran, self.fail, self.interrupt_at = [], set(fail), interrupt_at

    def prepare_inputs(self, cells):
        pass

    def run(self, cell):
        if cell.name == self.interrupt_at:
            raise KeyboardInterrupt
        self.ran.append(cell.name)
        ok = cell.name not in self.fail
        return {"schema_version": SCHEMA_VERSION, "key": cell.key, "measure_key": cell.measure_key, "name": cell.name,
                "spec": cell.spec,
                "status": "ok" if ok else "failed", "metrics": {"map50": 0.5} if ok else {},
                "error": None if ok else {"type": "RuntimeError", "message": "boom\nsecond line"}}


def run(cells, results, runner, **kw):
    decisions = decide(cells, results, **kw)
    summary = run_decisions(decisions, results, LocalExecutor(), lambda: runner, log=lambda m: None)
    return decisions, summary


@pytest.fixture
def cells(tmp_path, registry):
    return plan_for(tmp_path, registry)


def test_second_run_executes_nothing(tmp_path, cells):
    results = tmp_path / "results"
    first = FakeRunner()
    run(cells, results, first)
    assert len(first.ran) == len(cells)
    second = FakeRunner()
    decisions, summary = run(cells, results, second)
    assert second.ran == [] and {d.action for d in decisions} == {CACHED}
    assert summary.cached == len(cells) and not summary.any_failed


def test_changed_measurement_settings_re_measure_instead_of_caching(tmp_path, registry, cells):
    import dataclasses

    results = tmp_path / "results"
    run(cells, results, FakeRunner())
    remeasured = [dataclasses.replace(c, measure_key="other-settings") for c in cells]
    decisions = decide(remeasured, results)
    assert {d.action for d in decisions} == {REMEASURE} and all(d.will_run for d in decisions)
    second = FakeRunner()
    run(remeasured, results, second)
    assert len(second.ran) == len(cells)  # the runner is asked again (it re-measures from the kept model)
    assert {d.action for d in decide(remeasured, results)} == {CACHED}


def test_failure_is_recorded_and_the_run_goes_on(tmp_path, cells):
    results = tmp_path / "results"
    bad = cells[1].name
    _, summary = run(cells, results, FakeRunner(fail={bad}))
    records = {r.name: r for _, r in iter_records([results])}
    assert len(records) == len(cells)
    assert records[bad].status == "failed" and records[bad].error_message.startswith("boom")
    assert summary.failed == [(bad, "RuntimeError: boom")] and summary.any_failed
    # Failed cells are kept (not rerun) unless asked; --retry-failed reruns only them.
    decisions = decide(cells, results)
    assert [d.cell.name for d in decisions if d.action == SKIP_FAILED] == [bad]
    retry = FakeRunner()
    decisions, summary = run(cells, results, retry, retry_failed=True)
    assert retry.ran == [bad] and [d.action for d in decisions].count(RETRY) == 1
    assert not summary.any_failed


def test_force_reruns_everything(tmp_path, cells):
    results = tmp_path / "results"
    run(cells, results, FakeRunner())
    again = FakeRunner()
    decisions, _ = run(cells, results, again, force=True)
    assert len(again.ran) == len(cells) and {d.action for d in decisions} == {FORCED}


def test_interrupt_keeps_finished_cells_and_resumes(tmp_path, cells):
    results = tmp_path / "results"
    stop = cells[3].name
    _, summary = run(cells, results, FakeRunner(interrupt_at=stop))
    assert summary.interrupted and len(list(iter_records([results]))) == 3
    resumed = FakeRunner()
    run(cells, results, resumed)
    assert resumed.ran == [c.name for c in cells[3:]]


def test_cell_held_by_another_process_is_skipped(tmp_path, cells):
    results = tmp_path / "results"
    lock_dir = cells_dir(results) / ".locks"
    lock_dir.mkdir(parents=True)
    held = FileLock(str(lock_dir / f"{cells[0].filename}.lock"))
    held.acquire()
    try:
        runner = FakeRunner()
        _, summary = run(cells, results, runner)
    finally:
        held.release()
    assert cells[0].name not in runner.ran and summary.busy == [cells[0].name]
    assert decide(cells, results)[0].action == RUN  # the next run picks it up


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "cells" / "x.json"
    atomic_write_text(target, json.dumps({"old": True}))

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, json.dumps({"new": True}))
    assert json.loads(target.read_text()) == {"old": True}  # the old record is intact
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]  # no temp file left behind


def test_unreadable_record_is_not_trusted(tmp_path, cells):
    results = tmp_path / "results"
    run(cells, results, FakeRunner())
    path = next(cells_dir(results).glob("*.json"))
    path.write_text('{"schema_version": 1, "key": "trunc')  # e.g. a file cut short by another tool
    decisions = decide(cells, results)
    assert sum(d.action == RUN for d in decisions) == 1
