"""Deployment variants: the cells that deploy another cell's kept model, without training anything.

For each cell of a suite (dense, control or pruned) and each export in `evaluation.deploy`, a variant cell
exports the cell's kept checkpoint with Ultralytics' exporter, validates the exported file and times it in
its own runtime; for each plain dense cell and each size in `evaluation.smaller_inputs`, a variant cell
evaluates and times the same checkpoint at that smaller input. A variant cell is a record of its own:
same model, dataset, strategy label, amount and seed as its parent, `spec.deploy` saying how it deploys,
and a name with the variant appended (`yolo11n.bccd.l1-channel.x2.00.s0.onnx-int8`, `....dense.a0.00.s0.i320`).
Its key hashes the parent's key and `spec.deploy`, so the parent's cell keeps its key (and its record), and a
retrained parent gives its variants new keys. The driver runs every parent before any variant (two waves).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from prunebench.records.record import DENSE
from prunebench.util.canonical import short_hash

TORCH = "torch"


@dataclass(frozen=True)
class Variant:
    name: str
    format: str | None  # Ultralytics export format; None for torch
    int8: bool
    runtime: str  # where it is validated and timed

    @property
    def precision(self) -> str:
        return "int8" if self.int8 else "fp32"


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant(TORCH, None, False, "torch"),
    Variant("onnx", "onnx", False, "onnxruntime"),
    Variant("onnx-int8", "onnx", True, "onnxruntime"),
    Variant("openvino", "openvino", False, "openvino"),
    Variant("openvino-int8", "openvino", True, "openvino"),
)}


def deploy_spec(variant: Variant, imgsz: int, parent) -> dict[str, Any]:
    return {"variant": variant.name, "format": variant.format, "precision": variant.precision,
            "runtime": variant.runtime, "imgsz": int(imgsz), "parent": {"name": parent.name, "key": parent.key}}


def variant_cell(parent, variant: Variant, imgsz: int, suffix: str):
    spec = dict(parent.spec, deploy=deploy_spec(variant, imgsz, parent))
    key = short_hash({"parent": parent.key, "deploy": {k: v for k, v in spec["deploy"].items() if k != "parent"}})
    return replace(parent, spec=spec, key=key, suffix=suffix)


def variant_cells(cells: list, evaluation) -> list:
    """The variant cells of `cells` (torch cells of a plan) for the suite's evaluation settings."""
    out = []
    for cell in cells:
        for name in evaluation.exports:
            out.append(variant_cell(cell, VARIANTS[name], evaluation.imgsz, name))
        if cell.is_dense and cell.strategy == DENSE:
            for size in evaluation.smaller_inputs:
                out.append(variant_cell(cell, VARIANTS[TORCH], size, f"i{size}"))
    return out


def is_variant(cell) -> bool:
    return bool(cell.spec.get("deploy"))


__all__ = ["TORCH", "VARIANTS", "Variant", "deploy_spec", "is_variant", "variant_cell", "variant_cells"]
