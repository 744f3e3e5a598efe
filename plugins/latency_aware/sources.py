"""Where the allocation's savings and costs come from, chosen by the strategy's params, read through prunebench's
public API only (`prunebench.pruning.group_latency_table`, `read_sensitivity_map`), and matched to the model's groups
by name with a clear error when they were measured on another model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The deploy runtimes a per-group latency table can be measured on (docs/sensitivity.md), by the deploy variant
# of a measured-latency target (`2x@onnx` is timed in ONNX Runtime). Others (INT8, OpenVINO) have no table yet.
TABLE_RUNTIME = {"torch": "torch", "onnx": "onnxruntime"}


@dataclass(frozen=True)
class Savings:
    """What a removed channel saves: counted MACs, or a measured table (`table` set) on `runtime`."""

    kind: str  # "macs" or "table"
    runtime: str | None
    table: Any = None  # prunebench's LatencyTable
    why: str = ""  # how it was chosen, for the report


def choose_savings(saving: str, target_runtime: str | None) -> tuple[str, str | None, str]:
    """(kind, table runtime, why) for the `saving` param and the cell's measured-latency target, if any."""
    if saving == "macs":
        return "macs", None, "saving: macs (counted)"
    if saving != "auto":
        return "table", saving, f"saving: the {saving} latency table"
    if target_runtime is None:
        return "macs", None, "saving auto, and the cell asks for no measured-latency target: MACs (counted)"
    if target_runtime in TABLE_RUNTIME:
        runtime = TABLE_RUNTIME[target_runtime]
        return "table", runtime, f"saving auto, target on {target_runtime}: the {runtime} latency table"
    return "macs", None, (f"saving auto, target on {target_runtime}: no latency table can be measured on it yet "
                          f"(only {', '.join(TABLE_RUNTIME)}), so counted MACs stand in")


def latency_savings(model, saving: str, ctx, pairs: int) -> Savings:
    """The Savings for this cell; a measured table is built (or read from prunebench's cache) on the dense model."""
    kind, runtime, why = choose_savings(saving, getattr(ctx, "target_runtime", None))
    if kind == "macs":
        return Savings("macs", None, None, why)
    from prunebench.pruning import group_latency_table

    ctx.log(f"latency-aware: per-group {runtime} latency table at {ctx.imgsz} px (cached by content; the first "
            "build times every group at a few widths and takes minutes)")
    table = group_latency_table(model, imgsz=ctx.imgsz, cache_dir=Path(ctx.cache_dir), runtime=runtime, pairs=pairs,
                                log=ctx.log)
    return Savings("table", runtime, table, why)


def table_rows(table, names: list[str], channels: dict[str, int]) -> dict[str, tuple]:
    """name -> the table's saved_ms row, for every group the allocation prunes; ValueError when the table lacks one
    or counts other channels (a table of another model)."""
    rows = {g.name: (g, row) for g, row in zip(table.groups, table.saved_ms)}
    return {name: _matched(rows, name, channels[name], "latency table", table.key)[1] for name in names}


def sensitivity_rows(found, names: list[str], channels: dict[str, int], path: str) -> dict[str, tuple]:
    """name -> the map's drops row for every group; ValueError naming what is missing (the map must cover every
    prunable group of the model: run `prunebench sensitivity` without --groups)."""
    rows = {g.name: (g, row) for g, row in zip(found.groups, found.drops)}
    missing = [n for n in names if n not in rows]
    if missing:
        raise ValueError(
            f"latency-aware: the sensitivity map {path} does not cover {len(missing)} of this model's {len(names)} "
            f"prunable channel groups (e.g. {', '.join(missing[:3])}); it was measured on another model or with "
            "--groups. Measure the whole map of the suite's model (`prunebench sensitivity SUITE --model M "
            "--dataset D`, no --groups) and give its JSON, or leave `sensitivity` out for the L1 proxy")
    return {name: _matched(rows, name, channels[name], f"sensitivity map {path}", found.key)[1] for name in names}


def _matched(rows: dict[str, tuple], name: str, channels: int, what: str, key: str):
    if name not in rows:
        raise ValueError(f"latency-aware: the {what} (key {key}) has no group {name!r}: it was measured on another "
                         "model; build it from the model this cell prunes")
    group, row = rows[name]
    if group.channels != channels:
        raise ValueError(f"latency-aware: the {what} (key {key}) gives group {name!r} {group.channels} channels, the "
                         f"model has {channels}: it was measured on another model")
    return group, row


def read_map(path: Path):
    """The SensitivityMap at `path`, with a clear error for a missing or unreadable file."""
    from prunebench.pruning import read_sensitivity_map

    if not Path(path).is_file():
        raise ValueError(f"latency-aware: sensitivity map {path} does not exist; write it with `prunebench "
                         "sensitivity SUITE` (it lands in <results>/sensitivity/<model>.<dataset>.json) or leave "
                         "`sensitivity` out for the L1 proxy")
    try:
        return read_sensitivity_map(Path(path))
    except ValueError as exc:
        raise ValueError(f"latency-aware: {exc}") from None


def training_data(model, ctx, batches: int) -> list:
    """`batches` training batches drawn by the cell's seed, checked against the model's classes first; a clear error
    when the cell has no dataset to differentiate on."""
    from prunebench.pruning import check_classes, training_batches

    if ctx.dataset is None or ctx.dataset.data_yaml is None:
        raise ValueError("latency-aware: cost taylor scores channels by the detection loss's gradients on a few "
                         "batches of the suite's TRAINING data, but this cell has no dataset (ctx.dataset is None); "
                         "run it from a suite with a dataset, or use cost: l1 (no data) or cost: sensitivity")
    device = next(model.parameters()).device
    loaded, info = training_batches(ctx.dataset.data_yaml, imgsz=ctx.imgsz, batch=ctx.batch, batches=batches,
                                    seed=ctx.seed, device=device)
    check_classes(model, info["classes"], ctx.dataset.data_yaml)
    return loaded
