"""The `ray` executor: each cell is a Ray task on a local Ray instance or an existing cluster.

Install with `pip install prunebench[ray]`. Ray is imported only when a run uses it.
"""

from __future__ import annotations

from pydantic import Field

from prunebench import Executor, Params, hookimpl


class RayParams(Params):
    address: str | None = Field(
        None, description="Ray cluster address ('auto', 'ray://head:10001'); none starts a local Ray instance.")
    num_gpus: float | None = Field(
        None, ge=0, description="GPUs per cell; default 1 when the cluster has GPUs, else 0.")
    num_cpus: float = Field(1, gt=0, description="CPUs per cell.")
    local_num_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray instance (default: all).")


class RayExecutor(Executor):
    name = "ray"
    description = ("Run each cell as a Ray task asking for one GPU (or a fraction, or CPUs when there is none or "
                   "--device cpu). Datasets and baselines are prepared once on the driver and travel to the workers "
                   "through Ray's object store by content key; workers need no shared disk. Records and kept models "
                   "come back to the driver, which writes them; the device is resolved on each worker.")
    Params = RayParams
    resolves_device_on_workers = True

    def run_cells(self, cells, make_runner, on_record, claim):
        from prunebench_builtins.ray_executor.execute import run_cells_on_ray

        run_cells_on_ray(self.params, cells, make_runner, on_record, claim)


@hookimpl
def register_executors(register):
    register(RayExecutor)
