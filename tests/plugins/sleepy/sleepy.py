"""A --plugins-dir plugin for fault tests: an executor whose cells only sleep.

Records are still written by prunebench's driver (locks, atomic writes, resume), which is
what the interrupt, SIGKILL and concurrency tests exercise in real subprocesses.
Each cell appends its name to $SLEEPY_LOG when it starts, so tests can count who ran what.
"""

import os
import time

from prunebench import DatasetSource, ModelSource, PreparedDataset, Strategy, hookimpl
from prunebench.run.executors import LocalExecutor
from prunebench.records.store import SCHEMA_VERSION


class SleepyModel(ModelSource):
    name = "sleepy-model"


class SleepyData(DatasetSource):
    name = "sleepy-data"

    def prepare(self, cache_dir):
        return PreparedDataset(cache_dir / "none.yaml", {0: "x"}, synthetic=True)


class SleepyStrategy(Strategy):
    name = "sleepy"


class SleepyRunner:
    def prepare_inputs(self, cells):
        pass

    def run(self, cell):
        with open(os.environ["SLEEPY_LOG"], "a") as log:
            log.write(f"{os.getpid()} {cell.name}\n")
        time.sleep(float(os.environ.get("SLEEPY_SECONDS", "0.5")))
        return {"schema_version": SCHEMA_VERSION, "key": cell.key, "measure_key": cell.measure_key, "name": cell.name,
                "spec": cell.spec,
                "status": "ok", "error": None, "metrics": {"map50": 0.5}, "details": {}, "timings": {},
                "environment": {"device": "cpu"}}


class SleepyExecutor(LocalExecutor):
    name = "sleepy"

    def run_cells(self, cells, make_runner, on_record, claim):
        super().run_cells(cells, SleepyRunner, on_record, claim)  # the local executor's loop, cells that only sleep


@hookimpl
def register_models(register):
    register(SleepyModel)


@hookimpl
def register_datasets(register):
    register(SleepyData)


@hookimpl
def register_strategies(register):
    register(SleepyStrategy)


@hookimpl
def register_executors(register):
    register(SleepyExecutor)
