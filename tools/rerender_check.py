"""Re-render every published results folder from its records, with this checkout's code and with a base
revision's, and compare the two byte for byte (LEADERBOARD.md, LEADERBOARD-full.md, plots/). Run after any change
to prunebench/report/ or to how records are read:

    python tools/rerender_check.py [--base REV] [FOLDER...]

Default base: `git merge-base HEAD main`; default folders: every results/* with a LEADERBOARD.md. The base's
renders are kept in /tmp (keyed by its commit), so a second check renders only the new code. It also says which
rendered files differ from the committed ones (some were published by older code; see the report). Exit 1 when the
new code renders anything the base does not."""

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RENDER = """
import shutil, sys
from pathlib import Path
from prunebench.report import leaderboard
folder, copy = Path(sys.argv[1]), Path(sys.argv[2])
shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("LEADERBOARD*", "plots", "models"))
leaderboard.write([copy])
"""


def published_folders(names: list[str]) -> list[Path]:
    if names:
        return [Path(n).resolve() if Path(n).is_dir() else REPO / "results" / n for n in names]
    return sorted(p.parent for p in (REPO / "results").glob("*/LEADERBOARD.md"))


def rendered_files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()
            and (p.name.startswith("LEADERBOARD") or "plots" in p.relative_to(folder).parts)}


def render(folder: Path, into: Path, source: Path) -> None:
    """Render `folder`'s records into `into` with the prunebench found under `source` (the column notes are linked
    when `into` lies in that checkout, as deep as results/<name>: else written under the tables)."""
    env = dict(os.environ, PYTHONPATH=str(source))
    subprocess.run([sys.executable, "-c", RENDER, str(folder), str(into)], check=True, env=env, cwd=tempfile.gettempdir())


def compare(a: Path, b: Path, name: str, what: str) -> list[str]:
    fa, fb = rendered_files(a), rendered_files(b)
    out = [f"{name}/{p}: only in {what}'s first side" for p in sorted(fa - fb)]
    out += [f"{name}/{p}: only in {what}'s second side" for p in sorted(fb - fa)]
    out += [f"{name}/{p}: differs ({what})" for p in sorted(fa & fb) if not filecmp.cmp(a / p, b / p, shallow=False)]
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default=None)
    parser.add_argument("folders", nargs="*")
    args = parser.parse_args(argv)
    base = args.base or subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=REPO, capture_output=True,
                                       text=True, check=True).stdout.strip()
    base = subprocess.run(["git", "rev-parse", base], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    cache = Path(tempfile.gettempdir()) / f"prunebench-rerender-{base[:12]}"
    scratch = Path(tempfile.mkdtemp(prefix="prunebench-rerender-new-"))
    changed: list[str] = []
    try:
        base_source = cache / "source"
        if not base_source.is_dir():
            base_source.mkdir(parents=True)
            archive = subprocess.run(["git", "archive", base, "prunebench", "docs"], cwd=REPO, capture_output=True,
                                     check=True)
            subprocess.run(["tar", "-x", "-C", str(base_source)], input=archive.stdout, check=True)
        # this checkout's code copied first, so editing the tree while a check runs changes nothing in it
        snapshot = scratch / "source"
        for part in ("prunebench", "docs"):
            shutil.copytree(REPO / part, snapshot / part, ignore=shutil.ignore_patterns("__pycache__"))
        for folder in published_folders(args.folders):
            started = time.perf_counter()
            old = base_source / "results" / folder.name  # each render as deep below its checkout as results/<name>
            if not old.is_dir():  # rendered beside, then renamed: an interrupted check leaves no half render
                partial = base_source / "results.partial" / folder.name
                shutil.rmtree(partial, ignore_errors=True)
                render(folder, partial, base_source)
                old.parent.mkdir(exist_ok=True)
                partial.rename(old)
            new = snapshot / "results" / folder.name
            render(folder, new, snapshot)
            found = compare(old, new, folder.name, "base vs this checkout")
            stale = compare(folder, old, folder.name, "committed vs base")
            print(f"{folder.name}: {'identical to the base' if not found else f'{len(found)} differ from the base'}"
                  f"; {len(stale)} committed file(s) differ from the base's render ({time.perf_counter() - started:.0f} s)",
                  flush=True)
            changed += found
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n".join(changed) if changed else f"every published folder re-renders byte-identical to {base[:10]}'s render")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
