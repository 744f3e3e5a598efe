"""Export a kept checkpoint to a deployment format through Ultralytics' own exporter, offline.

`export_checkpoint(path, "onnx", imgsz=640)` runs `YOLO(path).export(format="onnx", imgsz=640,
simplify=True)`: the file a user gets is the file `yolo export` would write, channel-pruned shapes
and unstructured zeros included. Formats: onnx and torchscript (both installed with prunebench),
openvino (the `openvino` extra: `pip install "prunebench[openvino]"`).

Offline and without side effects:
- Ultralytics would pip-install a missing exporter package at export time. prunebench checks the
  packages itself first and refuses with the package's name (`ExportUnavailable`), so Ultralytics
  never gets there (and YOLO_OFFLINE, set by `prunebench.yolo.env`, forbids its installs anyway).
- The exporter writes next to the checkpoint it loaded; we hand it a hard link (or copy) of the
  checkpoint in a staging folder inside `out_dir`, then rename the result into place: a reader never
  sees half a file, the current folder gets nothing, and two exports of one checkpoint do not collide.
- ONNX Runtime writes a device id and an event database under $XDG_CACHE_HOME (default ~/.cache)
  when it is imported; `import_onnxruntime()` imports it with that folder pointed at prunebench's cache
  and turns its telemetry events off. OpenVINO's converter sends opt-out telemetry and writes ~/intel;
  during an OpenVINO export its converter gets OpenVINO's own no-op telemetry stub instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from prunebench.yolo.env import default_cache_dir, import_ultralytics


@dataclass(frozen=True)
class ExportFormat:
    name: str
    suffix: str  # what replaces the checkpoint's ".pt": a file suffix, or a folder's name ending
    modules: tuple[tuple[str, str], ...]  # (importable module, pip package that provides it)
    install: str  # how to get the packages
    onnx_args: bool = False  # takes simplify / opset


FORMATS: dict[str, ExportFormat] = {
    "onnx": ExportFormat("onnx", ".onnx", (("onnx", "onnx"), ("onnxslim", "onnxslim"), ("onnxruntime", "onnxruntime")),
                         'pip install "prunebench" (they are among its dependencies), or pip install onnx onnxslim '
                         "onnxruntime", onnx_args=True),
    "torchscript": ExportFormat("torchscript", ".torchscript", (), "nothing (torch is enough)"),
    "openvino": ExportFormat("openvino", "_openvino_model", (("openvino", "openvino"),),
                             'pip install "prunebench[openvino]" (or pip install openvino)'),
}
# INT8 (`quantize=8`): ONNX through ONNX Runtime's static quantizer (among prunebench's dependencies), OpenVINO
# through NNCF, which the exporter would otherwise try to pip-install.
INT8_MODULES: dict[str, tuple[tuple[str, str], ...]] = {
    "onnx": (), "openvino": (("nncf", "nncf"),)}
INT8_INSTALL = {"openvino": 'pip install "prunebench[openvino]" (or pip install openvino nncf)'}


class ExportUnavailable(ValueError):
    """An unknown format, or one whose packages are not installed: the message says what to install."""


def check_format(fmt: str, int8: bool = False) -> ExportFormat:
    """The format's description; ExportUnavailable naming the missing packages when it cannot run here."""
    if fmt not in FORMATS or (int8 and fmt not in INT8_MODULES):
        known = ", ".join(INT8_MODULES if int8 else FORMATS)
        raise ExportUnavailable(f"{'INT8 ' if int8 else ''}export format {fmt!r} is not one prunebench exports; "
                                f"choose one of {known} (other Ultralytics formats: run `yolo export model=<kept .pt> "
                                f"format=...` on the kept model yourself)")
    spec = FORMATS[fmt]
    modules = spec.modules + (INT8_MODULES[fmt] if int8 else ())
    missing = [package for module, package in modules if importlib.util.find_spec(module) is None]
    if missing:
        install = INT8_INSTALL.get(fmt, spec.install) if int8 else spec.install
        raise ExportUnavailable(f"{fmt}{' INT8' if int8 else ''} export needs the Python package"
                                f"{'s' * (len(missing) > 1)} {', '.join(missing)}, not installed in this environment "
                                f"({_python()}); install: {install}. prunebench exports offline and never lets "
                                "Ultralytics install packages at export time.")
    return spec


def export_path(checkpoint: Path, fmt: str, out_dir: Path | None = None, int8: bool = False) -> Path:
    """Where `export_checkpoint` puts the export of `checkpoint` (a file, or a folder for openvino); INT8 exports
    are named as Ultralytics names them (`<stem>_int8.onnx`, `<stem>_int8_openvino_model`)."""
    checkpoint = Path(checkpoint)
    suffix = FORMATS[fmt].suffix if fmt in FORMATS else f".{fmt}"
    if int8:
        suffix = f"_int8{suffix}"
    return Path(out_dir if out_dir is not None else checkpoint.parent) / f"{_stem(checkpoint)}{suffix}"


def export_checkpoint(path: Path, fmt: str = "onnx", imgsz: int = 640, out_dir: Path | None = None, *,
                      simplify: bool = True, opset: int | None = None, calibration=None) -> Path:
    """Export the Ultralytics checkpoint at `path` with `YOLO(path).export(format=fmt, imgsz=imgsz, ...)`,
    on the CPU, batch 1, static shapes; returns the export's path (see `export_path`).

    float32, unless `calibration` (a prunebench.yolo.calibration.Calibration) is given: then INT8 with
    `quantize=8, data=calibration.data_yaml, split="val", fraction=1.0`, i.e. Ultralytics' static INT8
    (ONNX Runtime's quantizer for onnx, NNCF for openvino) calibrated on exactly the calibration's images.
    The export goes to `out_dir` (default: the checkpoint's folder), replacing an older one atomically.
    ExportUnavailable when the format's packages are missing; ValueError for a checkpoint that is not a
    detection model; RuntimeError when Ultralytics' exporter fails."""
    from prunebench.yolo.checkpoints import load_yolo

    int8 = calibration is not None
    spec = check_format(fmt, int8=int8)
    path = Path(path).expanduser().resolve()
    if imgsz < 32:
        raise ValueError(f"export: imgsz {imgsz} is too small; a YOLO detector needs at least 32 pixels (its stride)")
    final = export_path(path, fmt, out_dir, int8=int8)
    final.parent.mkdir(parents=True, exist_ok=True)
    import_ultralytics()
    if fmt == "onnx":
        import_onnxruntime()  # before the exporter's onnxslim does, so its cache files land in prunebench's cache
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=final.parent))
    try:
        staged = staging / path.name
        _link_or_copy(path, staged)
        yolo = load_yolo(staged)
        # float32 (no `quantize`), static shapes, batch 1, Ultralytics' default NMS handling (outside the graph).
        kwargs: dict[str, Any] = dict(format=fmt, imgsz=imgsz, device="cpu", dynamic=False, batch=1)
        if spec.onnx_args:
            kwargs.update(simplify=simplify, opset=opset)
        if int8:
            # split="val" on a YAML whose val IS the calibration list: the exporter reads those images only.
            kwargs.update(quantize=8, data=str(calibration.data_yaml), split="val", fraction=1.0)
        import torch

        threads = torch.get_num_threads()
        try:
            with _no_openvino_telemetry(fmt == "openvino"):
                written = yolo.export(**kwargs)
        finally:
            # Ultralytics' select_device("cpu") sets torch's thread count to cpu_count - 1 for the whole process.
            torch.set_num_threads(threads)
        if not written or not Path(written).exists():
            raise RuntimeError(f"Ultralytics' {fmt} export of {path} wrote nothing (it returned {written!r}); rerun "
                               "with --verbose to see its log")
        _replace(Path(written), final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def import_onnxruntime():
    """`import onnxruntime` with its device-id and telemetry files sent to prunebench's cache (not
    ~/.cache/Microsoft) and its telemetry events off; returns the module. ExportUnavailable if missing."""
    if importlib.util.find_spec("onnxruntime") is None:
        raise ExportUnavailable(
            "timing or exporting with ONNX Runtime needs the Python package onnxruntime (or onnxruntime-gpu on a "
            f"CUDA machine), not installed in this environment ({_python()}); install: pip install onnxruntime")
    import sys

    if "onnxruntime" not in sys.modules:
        folder = default_cache_dir() / "onnxruntime"
        folder.mkdir(parents=True, exist_ok=True)
        before = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = str(folder)
        try:
            importlib.import_module("onnxruntime")
        finally:
            if before is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = before
    ort = sys.modules["onnxruntime"]
    disable = getattr(ort, "disable_telemetry_events", None)
    if callable(disable):
        disable()
    return ort


@contextmanager
def runtime_for(export: Path) -> Iterator[None]:
    """Import the runtime an export runs in the way prunebench imports it (ONNX Runtime with its cache files in
    prunebench's cache, OpenVINO without telemetry) before Ultralytics' AutoBackend does."""
    if Path(export).suffix == ".onnx":
        import_onnxruntime()
        yield
        return
    with _no_openvino_telemetry(True):
        yield


@contextmanager
def _no_openvino_telemetry(active: bool) -> Iterator[None]:
    """OpenVINO with its bundled no-op telemetry (openvino.tools.ovc.telemetry_stub) in place of
    openvino_telemetry, which sends opt-out events and writes ~/intel (already on `import openvino`)."""
    if not active:
        yield
        return
    import sys

    if "openvino" not in sys.modules:
        # OpenVINO's converter falls back to its stub when openvino_telemetry cannot be imported: make it so while
        # openvino is imported (a None entry in sys.modules makes that import fail), then put things back.
        blocked = {name: sys.modules.get(name) for name in ("openvino_telemetry", "openvino_telemetry.backend")}
        sys.modules.update(dict.fromkeys(blocked))
        try:
            importlib.import_module("openvino")
        finally:
            for name, module in blocked.items():
                if module is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = module
    # Imported earlier by someone else, with telemetry: at least this conversion sends nothing.
    stub = importlib.import_module("openvino.tools.ovc.telemetry_stub")
    saved = []
    for name in ("openvino.tools.ovc.convert_impl", "openvino.tools.ovc.telemetry_utils", "openvino.tools.ovc.utils"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "tm", stub) is not stub:
            saved.append((module, module.tm))
            module.tm = stub
    try:
        yield
    finally:
        for module, original in saved:
            module.tm = original


def _stem(checkpoint: Path) -> str:
    return checkpoint.name[:-len(checkpoint.suffix)] if checkpoint.suffix else checkpoint.name


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or links not allowed
        shutil.copy2(source, target)


def _replace(written: Path, final: Path) -> None:
    """Move the export into place: a file by an atomic rename; a folder (openvino) by renaming the old one
    aside first, so the name never points at a half-moved folder."""
    if written.is_dir():
        old = None
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}-{time.monotonic_ns()}")
            os.replace(final, old)
        os.replace(written, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(written, final)


def _python() -> str:
    import sys

    return sys.executable
