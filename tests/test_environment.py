"""prunebench.util.environment: the thread count a record states is the one latency was timed with, and the git sha
is prunebench's own, whatever folder or repository the run starts from."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from prunebench.util.environment import environment, source_git, timing_threads

REPO = Path(__file__).resolve().parents[1]


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", *args],
                          cwd=cwd, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def repo_with_package(root: Path, package: str = "prunebench") -> Path:
    """A git repository holding <root>/<package>/__init__.py, committed; returns the package folder."""
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("x = 1\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root / package


# ---------------------------------------------------------------- threads
@pytest.fixture
def torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_timing_threads_defaults_and_requests(torch_threads):
    torch.set_num_threads(3)
    assert timing_threads("cpu", None) == 1, "one thread on the CPU unless asked"
    assert timing_threads("cpu", 2) == 2 and timing_threads("cuda:0", 4) == 4
    assert timing_threads("cuda:0", None) == 3, "torch's own count on an accelerator"
    with pytest.raises(ValueError, match="at least 1"):
        timing_threads("cpu", 0)


@pytest.mark.parametrize("requested", [None, 2])
def test_recorded_threads_are_the_ones_latency_is_timed_with(torch_threads, tmp_path, requested):
    """The header used to say torch's count when the record was started (2 here) while latency ran on 1."""
    import cv2
    import numpy as np

    from prunebench.measure.cell import measure
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()  # before any ultralytics import: its settings go to prunebench's cache
    from ultralytics.nn.tasks import DetectionModel

    torch.set_num_threads(3)  # torch's count when the run starts
    threads = timing_threads("cpu", requested)
    env = environment("cpu", timing_threads=threads)
    torch.set_num_threads(5)  # what Ultralytics' select_device does before timing (NUM_THREADS)

    torch.manual_seed(0)
    model = DetectionModel("yolov8n.yaml", verbose=False)
    image = tmp_path / "a.jpg"
    cv2.imwrite(str(image), np.zeros((64, 64, 3), np.uint8))
    details = measure(model, imgsz=64, device="cpu", images=[image], threads=threads, batch_throughput=1,
                      min_run_time=0.01).details
    assert env["threads"] == details["latency"]["threads"] == (requested or 1)
    assert env["torch_threads_default"] == 3


def test_environment_without_a_thread_count_records_the_default_for_the_device(torch_threads):
    torch.set_num_threads(3)
    assert environment("cpu")["threads"] == 1


# ---------------------------------------------------------------- git
def test_git_sha_is_prunebenchs_own_even_when_run_from_another_repository(tmp_path, monkeypatch):
    other = tmp_path / "elsewhere"
    repo_with_package(other, package="theirs")
    monkeypatch.chdir(other)
    env = environment("cpu")
    if not (REPO / ".git").exists():
        pytest.skip("prunebench is not run from a git checkout here")
    assert env["git_sha"] == git(REPO, "rev-parse", "HEAD") != git(other, "rev-parse", "HEAD")
    assert isinstance(env["git_dirty"], bool)


def test_package_outside_any_repository_has_no_sha(tmp_path):
    package = tmp_path / "site-packages" / "prunebench"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    assert source_git(package) == (None, None)


def test_package_installed_into_a_venv_inside_someone_elses_repository_has_no_sha(tmp_path):
    repo_with_package(tmp_path / "project", package="src")
    package = tmp_path / "project" / ".venv" / "lib" / "site-packages" / "prunebench"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    assert source_git(package) == (None, None), "the enclosing repository is not prunebench's"


def test_dirty_means_tracked_files_changed(tmp_path):
    package = repo_with_package(tmp_path / "checkout")
    sha = git(tmp_path / "checkout", "rev-parse", "HEAD")
    assert source_git(package) == (sha, False)
    (tmp_path / "checkout" / "notes.txt").write_text("untracked files do not count")
    assert source_git(package) == (sha, False)
    (tmp_path / "checkout" / "results" / "s" / "cells").mkdir(parents=True)  # tracked records that a run rewrites
    record = tmp_path / "checkout" / "results" / "s" / "cells" / "c.json"
    record.write_text("{}")
    git(tmp_path / "checkout", "add", ".")
    git(tmp_path / "checkout", "commit", "-q", "-m", "records")
    sha = git(tmp_path / "checkout", "rev-parse", "HEAD")
    record.write_text('{"rerun": true}')
    assert source_git(package) == (sha, False), "records are not code"
    (package / "__init__.py").write_text("x = 2\n")
    assert source_git(package) == (sha, True)
