"""A checkpoint is an Ultralytics detector of plausible size or a one-paragraph refusal: its pickle is read (not run)
before torch's weights-only unpickler calls any allowed constructor with the file's own arguments."""

import io
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY_MODEL_AND_DATA, run_cli

YOLO11N = REPO / "weights" / "yolo11n.pt"


def torch_like_zip(path: Path, data_pkl: bytes, storages: dict[str, bytes] | None = None) -> Path:
    """A zip archive laid out as torch.save writes one, around a data.pkl made by hand."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "little")
        for key, blob in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", blob)
        archive.writestr("archive/version", "3\n")
    return path


class _Call:
    """Pickles as `target(*args)`: what a hostile file would make the unpickler call (never called here)."""

    def __init__(self, target, args):
        self.target, self.args = target, args

    def __reduce__(self):
        return self.target, self.args


def calling(tmp_path: Path, target, args) -> Path:
    return torch_like_zip(tmp_path / "calls.pt", pickle.dumps({"model": _Call(target, args)}, protocol=2))


def test_a_checkpoint_calling_a_layer_constructor_is_refused_before_anything_is_built(tmp_path):
    import torch

    from prunebench.yolo.checkpoints import UntrustedCheckpoint, load_yolo

    evil = calling(tmp_path, torch.nn.Linear, (31623, 31623))  # 4 GB of weights if the constructor ran
    with pytest.raises(UntrustedCheckpoint) as error:
        load_yolo(evil)
    message = str(error.value)
    assert message.startswith(f"{evil} was not loaded: its pickle calls torch.nn.modules.linear.Linear(31623, 31623)")
    assert "--trust-checkpoints" in message and "\n" not in message


def test_a_checkpoint_asking_ultralytics_to_download_is_refused_and_nothing_is_fetched(tmp_path, monkeypatch):
    from ultralytics.nn.modules.block import TorchVision

    from prunebench.yolo.checkpoints import UntrustedCheckpoint, load_yolo

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    evil = calling(tmp_path, TorchVision, ("resnet18", "DEFAULT"))
    with pytest.raises(UntrustedCheckpoint, match=r"TorchVision\('resnet18', 'DEFAULT'\)"):
        load_yolo(evil)
    assert not (tmp_path / "torch-home").exists()


def test_a_storage_larger_than_its_bytes_is_refused(tmp_path):
    """A declared tensor size is checked against the bytes the archive holds for it, before any allocation."""
    import torch

    from prunebench.yolo.checkpoints import UntrustedCheckpoint, load_yolo

    marker = object()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if obj is marker:
                return ("storage", torch.FloatStorage, "0", "cpu", 10 ** 10)  # 40 GB declared
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump({"model": marker})
    evil = torch_like_zip(tmp_path / "big.pt", buffer.getvalue(), {"0": b"\0" * 16})
    with pytest.raises(UntrustedCheckpoint, match="declares a tensor storage of 40,000,000,000 bytes for entry "
                                                  r"data/0 \(16 bytes\)"):
        load_yolo(evil)


@pytest.mark.parametrize("how", ["protocol-0 data.pkl", "bare pickle"])
def test_hand_made_pickles_are_refused_in_one_paragraph(tmp_path, how):
    from prunebench.yolo.checkpoints import UntrustedCheckpoint, load_yolo

    payload = pickle.dumps({"model": {"a": (1, 2)}, "x": 1.5}, protocol=0)
    if how == "bare pickle":
        evil = tmp_path / "bare.pt"
        evil.write_bytes(pickle.dumps({"model": None}, protocol=2))
    else:
        evil = torch_like_zip(tmp_path / "p0.pt", payload.replace(b"(dp0", b"(dp0\nP0\n", 1))  # PERSID: torch never
    with pytest.raises(UntrustedCheckpoint) as error:
        load_yolo(evil)
    assert str(error.value).startswith(f"{evil} was not loaded: ") and "\n" not in str(error.value)


def test_genuine_checkpoints_pass_the_scan(tmp_path):
    from prunebench.yolo.checkpoint_scan import check_checkpoint

    for name in ("yolo11n.pt", "yolov8n.pt", "yolo26n.pt"):
        check_checkpoint(REPO / "weights" / name)


def test_a_poisoned_checkpoint_as_a_baseline_is_refused_by_validate_and_run(tmp_path):
    """`weights:` + `baseline:` hands the file to Ultralytics' trainer, which unpickles it itself: the check comes
    first, in the model plugin's own check, before any cell."""
    import torch

    marker = tmp_path / "PWNED"
    evil = calling(tmp_path, os.system, (f"touch {marker}",))
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: poisoned\n" + TINY_MODEL_AND_DATA.replace(
        f"params: {{weights: {YOLO11N}}}", f"params: {{weights: {evil}, baseline: {{epochs: 1, imgsz: 64}}}}")
                     + "strategies:\n  - name: l1-unstructured\n    amounts: [0.3]\n")
    for command in ("validate", "run"):
        proc = run_cli(command, str(suite), "--results", str(tmp_path / "r"), cwd=tmp_path) if command == "run" \
            else run_cli(command, str(suite), cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr and "its pickle calls posix.system" in proc.stderr, proc.stderr
    assert not marker.exists() and not (tmp_path / "r" / "cells").exists()


def test_a_corrupt_stream_that_torch_trips_over_is_one_paragraph(tmp_path):
    """Found by the hostile-input test: one byte (a PROTO opcode) written into yolov8n's data.pkl made torch's
    weights-only unpickler raise IndexError."""
    from prunebench.yolo.checkpoints import load_yolo

    with zipfile.ZipFile(REPO / "weights" / "yolov8n.pt") as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    name = next(n for n in entries if n.endswith("data.pkl"))
    data = bytearray(entries[name])
    at = int(0.3761263533636273 * (len(data) - 1))
    data[at:at + 1] = b"\x80"
    entries[name] = bytes(data)
    path = tmp_path / "corrupt.pt"
    with zipfile.ZipFile(path, "w") as archive:
        for entry, blob in entries.items():
            archive.writestr(entry, blob)
    with pytest.raises(ValueError) as error:
        load_yolo(path)
    assert str(error.value).startswith(f"{path}") and "\n" not in str(error.value)
