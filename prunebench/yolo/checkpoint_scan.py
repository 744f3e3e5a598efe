"""A checkpoint judged before it is unpickled at all: what its pickle would call and which storages it declares.

torch's weights-only unpickler is the gate for *which* names a checkpoint may use, but it calls allowed
constructors with the file's own arguments (a 1.3 KB file calling `torch.nn.Linear(31623, 31623)` took 4.4 GB;
one calling Ultralytics' `TorchVision("resnet18", "DEFAULT")` started a download). A genuine checkpoint never
calls a layer: torch pickles a module as `cls.__new__(cls)` plus its saved state, and calls only the functions
that rebuild tensors and plain containers. So the scan (prunebench.util.pickle_scan, no code run) refuses a call
to anything else, a storage larger than the bytes the archive holds for it, declared storages past
`MAX_TENSOR_BYTES` in all, and pickles torch never writes (protocol-0 persistent ids, an archive without
data.pkl). No torch import here.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from prunebench.util.pickle_scan import Call, PickleScanError, scan

MAX_TENSOR_BYTES = 2 * 1024 ** 3  # declared storages in all: ~40x YOLO11x in fp32, far above a detector
MAX_PICKLE_BYTES = 64 * 1024 * 1024  # data.pkl (the module tree, no weights): yolo11n's is ~0.5 MB
# The only callables a checkpoint written by torch.save (Ultralytics' trainer or prunebench) calls while loading.
CALLS_ALLOWED = frozenset({
    "collections.OrderedDict", "__builtin__.set", "builtins.set", "builtins.frozenset", "__builtin__.frozenset",
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
    "torch._tensor._rebuild_from_type_v2", "torch.Size", "torch.device", "torch.serialization._get_layout",
    "ultralytics.utils.IterableSimpleNamespace", "types.SimpleNamespace", "argparse.Namespace",
    "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.Path", "_codecs.encode",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype",
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "codecs.encode",
})
ITEM_BYTES = {"Double": 8, "Float": 4, "Half": 2, "BFloat16": 2, "Long": 8, "Int": 4, "Short": 2, "Char": 1,
              "Byte": 1, "Bool": 1, "ComplexFloat": 8, "ComplexDouble": 16, "Untyped": 1}


class CheckpointRefused(ValueError):
    """A checkpoint whose pickle would call or allocate what a detector checkpoint never does."""


def check_checkpoint(path: Path) -> None:
    """CheckpointRefused (one paragraph, naming the file and what it would do) unless `path` is a torch zip
    archive whose pickle only rebuilds modules, tensors and containers within its own bytes. A file that is not a
    zip archive at all (empty, truncated, not a checkpoint) is left to torch, which says so itself."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(2)
        if head[:1] == b"\x80" or head[:1] in (b"(", b"c", b"}", b"]"):
            _refuse(path, "it is a bare pickle (torch's legacy format or a hand-made file), which prunebench does not "
                          "read; re-save it with a current torch (`torch.save`) as a zip archive")
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            pickles = [name for name in members if name.endswith("/data.pkl") or name == "data.pkl"]
            if len(pickles) != 1:
                _refuse(path, f"it is a zip archive with {len(pickles)} data.pkl entries, not one as torch.save writes")
            info = members[pickles[0]]
            if info.file_size > MAX_PICKLE_BYTES:
                _refuse(path, f"its data.pkl is {info.file_size / 1e6:.0f} MB, more than any model's structure "
                              f"({MAX_PICKLE_BYTES / 1e6:.0f} MB)")
            prefix = pickles[0][:-len("data.pkl")]
            found = scan(archive.read(info))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        _refuse(path, f"its zip archive cannot be read ({exc})")
    except PickleScanError as exc:
        _refuse(path, f"its data.pkl is not a pickle torch.save writes ({exc})")
    for call in found.calls:
        if call.opcode in ("NEWOBJ", "NEWOBJ_EX"):
            continue  # cls.__new__(cls): how torch pickles a module; no __init__ runs
        if call.target not in CALLS_ALLOWED:
            _refuse(path, f"its pickle calls {_shown(call)}, which no torch.save checkpoint does (loading would run "
                          "it with the file's arguments)")
    total = 0
    for pid in found.persistent_ids:
        declared = _storage_bytes(path, pid)
        entry = members.get(f"{prefix}data/{pid[2]}")
        if entry is None or declared > entry.file_size:
            have = "no such entry" if entry is None else f"{entry.file_size:,} bytes"
            _refuse(path, f"it declares a tensor storage of {declared:,} bytes for entry data/{pid[2]} ({have})")
        total += declared
    if total > MAX_TENSOR_BYTES:
        _refuse(path, f"its tensors declare {total / 1e9:.1f} GB, more than the {MAX_TENSOR_BYTES / 1e9:.1f} GB bound "
                      "prunebench sets for a detector")


def _storage_bytes(path: Path, pid) -> int:
    """Bytes a persistent id ('storage', torch.<Type>Storage, key, location, numel) declares."""
    from prunebench.util.pickle_scan import Global

    ok = (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], Global)
          and isinstance(pid[2], str) and "/" not in pid[2] and isinstance(pid[4], int) and pid[4] >= 0)
    if not ok:
        _refuse(path, f"it refers to tensor data in a form torch.save never writes ({str(pid)[:80]})")
    kind = pid[1].name.removeprefix("torch.").removesuffix("Storage")
    if not pid[1].name.startswith("torch.") or kind not in ITEM_BYTES:
        _refuse(path, f"it declares a storage of type {pid[1].name[:60]}, not a torch storage")
    return pid[4] * ITEM_BYTES[kind]


def _shown(call: Call) -> str:
    args = call.args
    if isinstance(args, tuple):
        text = ", ".join(repr(a)[:30] for a in args[:4]) + (", ..." if len(args) > 4 else "")
        return f"{call.target}({text})"
    return f"{call.target}(...)"


def _refuse(path: Path, why: str):
    raise CheckpointRefused(f"{path} was not loaded: {why}; if you trust the file's source, rerun with "
                            "--trust-checkpoints")
