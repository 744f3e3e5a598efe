"""Every write stays in its place: a site never deletes results, a run never takes over a folder of other files,
a path a record names never leads out of its results folder, renders are replaced whole, `~` is expanded, and
Ultralytics' label caches never land in a user's dataset folder."""

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY_MODEL_AND_DATA, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "records" / "cpu"
STRATEGY = "strategies:\n  - name: l1-unstructured\n    amounts: [0.3]\n"


@pytest.fixture
def results(tmp_path) -> Path:
    """A copy of a small results folder (records only) as results/x, with one figure of its own in plots/."""
    folder = tmp_path / "results" / "x"
    shutil.copytree(FIXTURES / "cells", folder / "cells")
    (folder / "plots").mkdir()
    (folder / "plots" / "mine.png").write_bytes(b"\x89PNG figure")
    return folder


def test_a_site_written_into_the_results_folders_parent_is_refused_and_deletes_nothing(results, tmp_path):
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "results").rglob("*"))
    for site in (results.parent, results, tmp_path):  # the parent holding results, the folder itself, above both
        proc = run_cli("site", str(results), "-o", str(site), cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr and "would delete results" in proc.stderr, proc.stderr
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "results").rglob("*")) == before


def test_a_site_folder_holding_another_results_folder_is_refused(results, tmp_path):
    from prunebench.util.safe_paths import ForeignFolder, check_site_folder

    other = tmp_path / "site" / "y"
    shutil.copytree(FIXTURES / "cells", other / "cells")
    with pytest.raises(ForeignFolder, match="holds records in y/cells"):
        check_site_folder(tmp_path / "site", [results])
    check_site_folder(tmp_path / "elsewhere", [results])  # a fresh folder is fine


def test_a_site_replaces_its_figures_whole(results, tmp_path, monkeypatch):
    """The site's figure folder is built aside and swapped in: an error half-way leaves the previous figures."""
    from prunebench.report import site

    out = tmp_path / "site"
    site.build([results], out)
    assert (out / "x" / "plots" / "mine.png").read_bytes() == b"\x89PNG figure"
    (results / "plots" / "mine.png").write_bytes(b"\x89PNG new")

    def broken_copy(src, dst, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(site.shutil, "copyfile", broken_copy)
    with pytest.raises(OSError):
        site.build([results], out)
    assert (out / "x" / "plots" / "mine.png").read_bytes() == b"\x89PNG figure"
    assert not [p for p in (out / "x").iterdir() if p.name.startswith(".")]  # no scratch left behind


def test_a_run_into_a_folder_of_other_files_is_refused_unless_allowed(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.md").write_text("my own notes")
    (folder / "LEADERBOARD.md").write_text("my own table")
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: mine\nresults: {folder}\n" + TINY_MODEL_AND_DATA
                     + STRATEGY)
    proc = run_cli("run", str(suite), "--dry-run", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "already holds files prunebench did not write (thesis.md)" in proc.stderr
    assert "--allow-other-files" in proc.stderr
    assert (folder / "LEADERBOARD.md").read_text() == "my own table"
    proc = run_cli("run", str(suite), "--dry-run", "--allow-other-files", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_prunebenchs_own_files_and_temporaries_are_not_foreign(tmp_path):
    from prunebench.util.safe_paths import foreign_entries

    for name in ("cells", "models", "plots"):
        (tmp_path / name).mkdir()
    for name in ("LEADERBOARD.md", "LEADERBOARD-full.md", "LEADERBOARD.csv", "literature.json",
                 ".LEADERBOARD.md.pb-host-1-x.tmp"):
        (tmp_path / name).write_text("")
    assert foreign_entries(tmp_path) == []
    (tmp_path / "data.csv").write_text("")
    assert foreign_entries(tmp_path) == ["data.csv"]


@pytest.mark.parametrize("named", ["/etc/passwd", "../../outside.pt", "models/../../outside.pt"])
def test_a_record_naming_a_model_outside_its_folder_is_refused(results, tmp_path, named):
    from prunebench.records.kept import NoKeptModel, has_kept_model, kept_model
    from prunebench.records.store import read_record

    outside = tmp_path / "outside.pt"
    outside.write_bytes(b"a user's file")
    path = next((results / "cells").glob("*l1-channel.a0.30.s0*.json"))
    data = json.loads(path.read_text())
    data.setdefault("details", {})["model_file"] = {"path": named, "sha256": None, "bytes": 13}
    path.write_text(json.dumps(data))
    record = read_record(path)
    with pytest.raises(NoKeptModel, match="leads outside"):
        kept_model(record, results)
    assert not has_kept_model(record, results)
    proc = run_cli("export", str(results), "--only", record.name, cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "kept no model file" in proc.stderr, proc.stderr
    proc = run_cli("show", record.name, "--results", str(results), cwd=tmp_path)
    assert proc.returncode == 0 and "model: refused" in proc.stdout, proc.stderr
    assert outside.read_bytes() == b"a user's file"


def test_plots_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    """A figure interrupted while saving leaves the previous file, not half a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from prunebench.report import plots

    figure = Figure()
    figure.add_subplot().plot([0, 1], [0, 1])
    stem = tmp_path / "plots" / "fig"
    plots._save(figure, stem)
    before = (tmp_path / "plots" / "fig.png").read_bytes()

    original = Figure.savefig

    def interrupted(self, target, **kwargs):
        target.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", interrupted)
    with pytest.raises(KeyboardInterrupt):
        plots._save(figure, stem)
    monkeypatch.setattr(Figure, "savefig", original)
    assert (tmp_path / "plots" / "fig.png").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["fig.png", "fig.svg"]


def test_a_resumed_run_with_nothing_to_run_writes_a_missing_leaderboard(tmp_path):
    """A run killed while rendering leaves no LEADERBOARD.md; the resume ("0 to run") writes it."""
    results = tmp_path / "results"
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: resumed\nresults: {results}\n" + TINY_MODEL_AND_DATA
                     + STRATEGY)
    plan = run_cli("run", str(suite), "--dry-run", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    # Every planned cell already has an ok record (copied from the fixtures under the planned names and keys).
    from prunebench.config.suite import load_suite
    from prunebench.plugin.loader import load_plugins
    from prunebench.records.store import read_record, write_record
    from prunebench.run.plan import build_plan

    cells = build_plan(load_suite(suite, load_plugins().registry))
    template = read_record(next((FIXTURES / "cells").glob("*l1-channel.a0.30.s0*.json")))
    for cell in cells:
        data = template.to_json()
        data.update(key=cell.key, name=cell.name, measure_key=cell.measure_key, spec=cell.spec, suite=cell.suite)
        write_record(results, cell.filename, data)
    proc = run_cli("run", str(suite), "--device", "cpu", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (results / "LEADERBOARD.md").is_file(), proc.stderr


def test_a_tilde_in_a_results_path_means_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: tilde\nresults: ~/x\n" + TINY_MODEL_AND_DATA
                     + STRATEGY)
    proc = run_cli("run", str(suite), "--dry-run", cwd=tmp_path, env={**os.environ, "HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    assert f"{home}/x/cells" in proc.stdout
    assert not (tmp_path / "~").exists()


def test_ultralytics_label_caches_never_land_in_the_users_dataset(tmp_path):
    """Ultralytics writes `<labels folder>.cache` beside a split's labels; prunebench keeps it in its own cache."""
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = tmp_path / "coco128"
    shutil.copytree(REPO / "data" / "coco128", data)
    info = check_det_dataset(str(data / "data.yaml"))
    before = sorted(p for p in data.rglob("*"))
    for _ in range(2):  # written once, then read back from prunebench's cache
        dataset = YOLODataset(img_path=info["val"], data=info, imgsz=64, augment=False)
        assert len(dataset.labels) > 0
    assert sorted(p for p in data.rglob("*")) == before
    assert not list(data.rglob("*.cache"))


def test_a_folder_that_cannot_be_written_is_one_paragraph_not_a_traceback(results, monkeypatch, capsys):
    """(Tests run as root here, where chmod does not stop writes: the write itself is made to fail.)"""
    from prunebench.cli import main
    from prunebench.util import atomic

    def refuse(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(atomic, "atomic_write_bytes", refuse)
    before = sorted(p.name for p in (results / "cells").iterdir())
    assert main(["leaderboard", str(results), "--no-plots"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("prunebench: error: cannot write ") and "permission denied" in err
    assert sorted(p.name for p in (results / "cells").iterdir()) == before
