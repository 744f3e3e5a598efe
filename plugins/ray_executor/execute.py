"""Run cells as Ray tasks; the driver keeps the locks and writes the records."""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any


def _ray_init(params) -> Any:
    import sys

    import ray
    from ray import cloudpickle  # Ray's vendored copy: the one its workers unpickle with

    # One-off --plugins-dir modules are not importable on workers: ship them by value.
    for name, module in list(sys.modules.items()):
        if name.startswith("prunebench_plugins_dir."):
            cloudpickle.register_pickle_by_value(module)
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False, "configure_logging": False}
        if params.address:
            kwargs["address"] = params.address
        elif params.local_num_cpus:
            kwargs["num_cpus"] = params.local_num_cpus
        # Workers must import prunebench and the plugins the same way the driver does.
        kwargs["runtime_env"] = {"env_vars": {k: v for k, v in os.environ.items()
                                              if k.startswith(("PRUNEBENCH_", "YOLO_"))}}
        ray.init(**kwargs)
    return ray


def _run_one(make_runner, cell):
    """Executed on a worker: the same CellRunner as the local executor."""
    import socket

    record = make_runner().run(cell)
    record.update_environment(ray_node=socket.gethostname(), ray_placement=placement())
    return record


def placement() -> dict[str, Any]:
    """Where Ray put this task: the resources it holds (GPU 0.5 when two cells share a GPU) and the GPU ids it
    was given (Ray sets CUDA_VISIBLE_DEVICES to them, so the cell's cuda:0 is the first)."""
    import ray

    context = ray.get_runtime_context()
    return {"resources": {k: float(v) for k, v in context.get_assigned_resources().items()},
            "gpu_ids": [str(i) for i in ray.get_gpu_ids()],
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


def run_cells_on_ray(params, cells, make_runner, on_record, claim) -> None:
    if not cells:
        return
    ray = _ray_init(params)
    gpus = params.num_gpus
    if gpus is None:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    remote = ray.remote(num_gpus=gpus, num_cpus=params.num_cpus, max_retries=0)(_run_one)

    # Baselines and datasets are built once, here, before any cell that needs them.
    runner = make_runner()
    runner.prepare_inputs(cells)

    with ExitStack() as locks:
        pending: dict[Any, Any] = {}
        for cell in cells:
            if locks.enter_context(claim(cell)):
                pending[remote.remote(make_runner, cell)] = cell
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            cell = pending.pop(ref)
            try:
                record = ray.get(ref)
            except Exception as exc:  # a worker that died or a task that failed outside the runner
                record = runner.failed_record(
                    cell, exc, hint="the Ray task died before returning a record (its worker was killed, or its node "
                                    "ran out of memory or left the cluster); the run went on")
                record.update_environment(executor="ray")
            on_record(cell, record)
