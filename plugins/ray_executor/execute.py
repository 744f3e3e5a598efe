"""Run cells as Ray tasks on machines that need not share a disk; the driver keeps the locks and writes the records
and the kept models.

What a cell reads travels with it through Ray's object store, by content key (the runner's `remote_cells()`:
prunebench.run.remote); each worker resolves the device, uses its own cache (its PRUNEBENCH_CACHE, else
~/.cache/prunebench there) and sends back its record, kept models and log lines.
"""

from __future__ import annotations

import os
import socket
from contextlib import ExitStack
from typing import Any

# Driver settings workers need to behave the same (plugin loading, trusted checkpoints), not the driver's folders:
# a worker's cache and Ultralytics settings are its own node's.
FORWARDED_PREFIXES = ("PRUNEBENCH_", "YOLO_")
NODE_OWN = {"PRUNEBENCH_CACHE", "YOLO_CONFIG_DIR"}

DIED_HINT = ("the Ray task died before returning a record (its worker was killed, or its node ran out of memory or "
             "left the cluster); the run went on, and nothing of the cell reached the results folder")


def connection_error(address: str | None, exc: BaseException) -> str:
    """One paragraph for a cluster this driver could not join (no traceback: it is the user's to fix)."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
    auth = ("RAY_AUTH_MODE=token is set here: check that this machine's token is the head's" if
            os.environ.get("RAY_AUTH_MODE") == "token" else "RAY_AUTH_MODE is not set to token here")
    return (f"could not connect to {where} ({type(exc).__name__}: {first}). Check that the head is running there "
            "(`ray status --address HEAD:6379` on the head) and reachable from this machine. Ray 2.60 turns on token "
            "authentication: this driver needs RAY_AUTH_MODE=token and the head's token, in ~/.ray/auth_token, a "
            "file named by RAY_AUTH_TOKEN_PATH, or RAY_AUTH_TOKEN itself (`ray get-auth-token` prints it on the head); "
            f"{auth}. docs/ray.md gives the commands.")


def _check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """ConnectionError at once when nothing listens at a `host:port` address (Ray itself retries for minutes)."""
    if not address or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # Ray says what is wrong with it
    with socket.create_connection((host, int(port)), timeout=timeout):
        pass


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
        kwargs["runtime_env"] = {"env_vars": {k: v for k, v in os.environ.items()
                                              if k.startswith(FORWARDED_PREFIXES) and k not in NODE_OWN}}
        try:
            _check_reachable(params.address)
            ray.init(**kwargs)
        except Exception as exc:  # ConnectionError, an auth failure, a timeout: Ray's types vary by version
            raise ValueError(connection_error(params.address, exc)) from None
    return ray


def gpus_per_cell(num_gpus: float | None, requested: str, cluster: dict[str, float]) -> float:
    """GPUs each cell holds: as configured; else none for --device cpu, one when the cluster has GPUs. A cuda
    device asked of a cluster with no GPU is refused here, before any cell."""
    if num_gpus is not None:
        return num_gpus
    wanted = requested.strip().lower()
    if wanted == "cpu":
        return 0
    has_gpu = cluster.get("GPU", 0) > 0
    if wanted.startswith("cuda") and not has_gpu:
        raise ValueError(f"device {requested!r} was requested, but the Ray cluster has no GPU (its resources: "
                         f"{', '.join(f'{k} {v:g}' for k, v in sorted(cluster.items()) if '.' not in k)}): start "
                         "the workers on GPU machines, or run with --device auto or cpu")
    return 1 if has_gpu else 0


def _run_remote(remote_cells, cell, inputs):
    """Executed on a worker: the cell on the shipped inputs, in this node's cache."""
    import ray

    from prunebench.util.paths import default_cache_dir

    node_id = ray.get_runtime_context().get_node_id()
    label = f"{socket.gethostname()}/{node_id[:8]}"
    extra = {"executor": "ray", "ray_node": label, "ray_node_id": node_id, "ray_placement": placement()}
    return remote_cells.run(cell, inputs, fetch=ray.get, node=node_id, node_label=label,
                            gpu_ids=[str(i) for i in ray.get_gpu_ids()], cache_dir=default_cache_dir().resolve(),
                            extra_env=extra)


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
    runner = make_runner()
    remote_cells = runner.remote_cells()
    gpus = gpus_per_cell(params.num_gpus, remote_cells.requested_device, ray.cluster_resources())
    task = ray.remote(num_gpus=gpus, num_cpus=params.num_cpus, max_retries=0)(_run_remote)

    # Baselines and datasets are built once, here, before any cell; then packed by content key.
    runner.prepare_inputs(cells)
    shipped = remote_cells.ship(cells, ray.put)
    suite_ref = ray.put(remote_cells)  # the suite and settings, sent once rather than with every task

    with ExitStack() as locks:
        pending: dict[Any, Any] = {}
        for cell in cells:
            if locks.enter_context(claim(cell)):
                pending[task.remote(suite_ref, cell, shipped[cell.key])] = cell
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            cell = pending.pop(ref)
            try:
                record = remote_cells.land(cell, ray.get(ref))
            except Exception as exc:  # a worker that died or a task that failed outside the runner
                record = runner.failed_record(cell, exc, hint=DIED_HINT)
                record.update_environment(executor="ray")
            on_record(cell, record)
