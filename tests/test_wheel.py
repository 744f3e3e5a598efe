"""The built wheel works outside the checkout: built from the sources, installed into a fresh virtualenv in a
temporary folder, and used from there the way a new user would: `new-strategy`, `validate`, `run` on a suite over a
dataset the test makes, `leaderboard` and `site`.

To stay quick, the fresh environment reuses the running environment's packages (torch, Ultralytics, ...) through
a `.pth` line instead of installing them again, the same as `python -m venv --system-site-packages` from an
interpreter that has them; prunebench itself comes only from the wheel (installed with --no-deps, run from a folder
outside the checkout, with the checkout's editable install not on the path). Slow: about 2 minutes on 2 cores,
most of it the tiny suite's two cells."""

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.tiny_study import make_suite

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(args, cwd, env=None, timeout=900):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel path, the fresh environment's bin folder, a user's working folder outside the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    # From a copy of what the wheel is made of, so the build writes nothing into the checkout (a stale build/ there
    # would put deleted modules into later wheels); as a user's pip builds it, in an isolated build environment.
    source = root / "source"
    for name in ("prunebench", "plugins"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(source)], cwd=root)
    (wheel,) = dist.glob("prunebench-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site_packages = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             cwd=root).stdout.strip())
    # The running environment's packages, after the fresh one's own: torch and the rest without reinstalling.
    # A path line in a .pth file adds the folder without running that folder's own .pth files, so the
    # checkout's editable install (a .pth finder there) stays out.
    shared = dict.fromkeys(p for p in sys.path if Path(p).name in ("site-packages", "dist-packages"))
    (site_packages / "zz_shared_packages.pth").write_text("\n".join(shared) + "\n")
    run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)], cwd=root)
    user = root / "user"
    user.mkdir()
    return wheel, env_dir / "bin", user


def test_the_wheel_holds_the_packages_and_their_data_and_nothing_of_the_checkout(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", "prunebench", "plugins"], cwd=REPO, capture_output=True,
                             text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout: the wheel's contents cannot be compared with the tracked files")
    for path in tracked:
        inside = path.replace("plugins/", "prunebench_builtins/", 1) if path.startswith("plugins/") else path
        if "/tests/" in path:
            continue
        assert inside in names, f"{path} is not in the wheel (package data: pyproject.toml [tool.setuptools])"
    assert not any(n.startswith(("tests/", "results/", "data/", "weights/", "suites/")) for n in names)


def test_a_user_outside_the_checkout_scaffolds_validates_runs_and_publishes(installed):
    _, bin_dir, user = installed
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": "",
           "PRUNEBENCH_CACHE": str(user / "cache")}
    env.pop("VIRTUAL_ENV", None)
    where = run([str(bin_dir / "python"), "-c", "import prunebench, prunebench_builtins; "
                 "print(prunebench.__file__); print(prunebench_builtins.__file__)"], cwd=user, env=env).stdout
    assert all(line.startswith(str(bin_dir.parent)) for line in where.split()), where  # the wheel's, not the checkout's
    suite = make_suite(user)  # the user's own data (made here) and model

    out = run(["prunebench", "new-strategy", "my-prune", "--dir", "my-prune", "--data",
               str(user / "my-data" / "data.yaml"), "--weights", str(REPO / "weights" / "yolo11n.pt")],
              cwd=user, env=env)
    assert (user / "my-prune" / "pyproject.toml").is_file() and "wrote prunebench-my-prune" in out.stdout
    assert "valid suite 'my-study': 2 cells" in run(["prunebench", "validate", suite.name], cwd=user, env=env).stdout

    run(["prunebench", "run", suite.name, "--no-leaderboard"], cwd=user, env=env)
    cells = sorted((user / "results" / "my-study" / "cells").glob("*.json"))
    records = [json.loads(p.read_text()) for p in cells]
    assert [r["status"] for r in records] == ["ok", "ok"]
    assert {r["environment"]["prunebench"] for r in records} == {"0.1.0"}

    run(["prunebench", "leaderboard", "results/my-study"], cwd=user, env=env)
    board = (user / "results" / "my-study" / "LEADERBOARD.md").read_text()
    assert board.startswith("# prunebench leaderboard: my-study") and "l1-unstructured" in board
    run(["prunebench", "site", "results/my-study", "-o", "site"], cwd=user, env=env)
    index = (user / "site" / "index.html").read_text()
    assert 'class="answer-sentence"' in index and '<svg class="chart"' in index
    assert (user / "site" / "style.css").read_text().count("first-screen") > 0
    assert len(list((user / "site" / "my-study" / "cells").glob("*.html"))) == 2
