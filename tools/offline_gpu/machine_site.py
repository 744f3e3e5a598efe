"""Fill a fresh site-packages folder with links to exactly the packages the offline GPU machine has.

    python tools/offline_gpu/machine_site.py DEST [--packages machine_packages.txt]

Run with the Python whose site-packages the links point into (CI's venv). The CPU rehearsal of the kit points a
fresh venv's site-packages here, so what the kit imports comes from the machine's package list or from the wheels
it installs itself, never from anything else the CI venv holds (ultralytics, pydantic, ray, polars...). Linking
takes seconds where reinstalling torch would copy gigabytes.

Which paths to link comes from each distribution's RECORD: a folder is linked whole when no excluded distribution
owns a file under it (`nvidia/` holds a dozen CUDA wheels, all on the list), else its entries one by one.
"""

from __future__ import annotations

import argparse
import re
import sys
import sysconfig
from importlib import metadata
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(normalise(line))
    return names


def installed(site: Path) -> dict[str, list[PurePosixPath]]:
    """distribution name -> its files relative to `site` (files outside it, e.g. bin/ scripts, left out)."""
    found: dict[str, list[PurePosixPath]] = {}
    for dist in metadata.distributions(path=[str(site)]):
        files = [PurePosixPath(str(f)) for f in dist.files or []]
        found[normalise(dist.metadata["Name"])] = [f for f in files if f.parts and f.parts[0] != ".."
                                                   and "__pycache__" not in f.parts]
    return found


def links_for(kept: list[PurePosixPath], excluded: list[PurePosixPath]) -> set[PurePosixPath]:
    """The shortest path prefixes of the kept files under which no excluded file lies."""
    blocked = {PurePosixPath(*f.parts[:i]) for f in excluded for i in range(1, len(f.parts) + 1)}
    links = set()
    for f in kept:
        for i in range(1, len(f.parts) + 1):
            prefix = PurePosixPath(*f.parts[:i])
            if prefix not in blocked:
                links.add(prefix)
                break
    return links


def build(dest: Path, wanted: set[str], site: Path) -> tuple[list[str], int]:
    dists = installed(site)
    kept = [f for name, files in dists.items() if name in wanted for f in files]
    excluded = [f for name, files in dists.items() if name not in wanted for f in files]
    links = links_for(kept, excluded)
    dest.mkdir(parents=True, exist_ok=True)
    for link in sorted(links, key=lambda p: len(p.parts)):
        target = dest / link
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(site / link)
    return sorted(name for name in dists if name in wanted), len(links)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="an empty site-packages folder (a fresh venv's)")
    parser.add_argument("--packages", type=Path, default=HERE / "machine_packages.txt")
    args = parser.parse_args(argv)
    if args.dest.exists() and any(p.suffix != ".pth" for p in args.dest.iterdir()):
        parser.error(f"{args.dest} is not empty: give a fresh venv's site-packages")
    site = Path(sysconfig.get_paths()["purelib"])
    linked, count = build(args.dest, read_names(args.packages), site)
    print(f"machine_site: {len(linked)} of the machine's packages found in {site}, {count} links in {args.dest}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
