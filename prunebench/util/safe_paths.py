"""Where a command may write: paths a user types, paths a record names, and the folders results and sites live in.

Three rules, each a function the commands call before they write anything:
  - a path a user gives has `~` expanded (`results: ~/x` must not create a folder literally named `~`);
  - a path read from a record resolves inside its results folder, or it is refused (a record copied from another
    machine may name an absolute path, and `export` writes next to the model it names);
  - a results folder holds only prunebench's own files unless the user says other files may stay there, and a
    site is never written into a folder that holds results (the site replaces its own figure folders).
Only os and pathlib.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

# What prunebench itself puts at the top of a results folder (records, kept models, figures, tables, published
# figures, locks and the temporary files of an atomic write, which start with a dot).
OWN_NAMES = frozenset({"cells", "models", "plots", "literature.json"})
_OWN_PATTERN = re.compile(r"^(LEADERBOARD(-full)?\.(md|csv|json|tex|html)|\..*)$")
ALLOW_FLAG = "--allow-other-files"


class OutsideFolder(ValueError):
    """A path that would lead out of the folder it must stay in."""


class ForeignFolder(ValueError):
    """A results folder (or site folder) that holds something prunebench must not overwrite."""


def user_path(text: str | os.PathLike) -> Path:
    """A path the user typed (command line or suite), with `~` expanded as a shell would."""
    return Path(os.fspath(text)).expanduser()


def inside(base: Path, relative: str | os.PathLike, *, what: str = "path") -> Path:
    """`base / relative`, resolved; OutsideFolder when it is absolute or leads out of `base` (`..`, a link)."""
    base = Path(base)
    text = os.fspath(relative)
    candidate = base / text
    try:
        candidate.resolve().relative_to(base.resolve())
    except ValueError:
        raise OutsideFolder(f"the {what} {text!r} leads outside {base} (it is absolute, climbs with `..` or goes "
                            "through a link): prunebench reads and writes only inside the results folder a record "
                            "belongs to; a folder copied from another machine keeps its files under models/ and "
                            "names them relative to the folder") from None
    if Path(text).is_absolute():
        raise OutsideFolder(f"the {what} {text!r} is absolute; a record names its files relative to its results "
                            f"folder ({base})")
    return candidate


def is_own_entry(name: str) -> bool:
    return name in OWN_NAMES or bool(_OWN_PATTERN.match(name))


def foreign_entries(results_dir: Path) -> list[str]:
    """The names at the top of `results_dir` that prunebench did not put there (empty when it does not exist)."""
    folder = Path(results_dir)
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in folder.iterdir() if not is_own_entry(entry.name))


def check_results_folder(results_dir: Path, *, allow_other_files: bool = False) -> None:
    """ForeignFolder when `results_dir` holds files prunebench did not write (a run would overwrite its
    LEADERBOARD*.md and plots/ and could remove its literature.json), unless the user allowed it."""
    if allow_other_files:
        return
    if not Path(results_dir).exists():
        return
    if not Path(results_dir).is_dir():
        raise ForeignFolder(f"the results folder {results_dir} is a file, not a folder: choose another `results:` "
                            "(or --results DIR)")
    found = foreign_entries(results_dir)
    if found:
        shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        raise ForeignFolder(f"the results folder {results_dir} already holds files prunebench did not write ({shown}); "
                            "a run writes LEADERBOARD.md, plots/ and literature.json there and would replace files "
                            f"of those names: choose an empty or new folder (`results:` or --results DIR), or pass "
                            f"{ALLOW_FLAG} if the folder is meant to be shared")


def holds_results(folder: Path) -> bool:
    """A folder with records in its cells/ (a site's own cells/ holds HTML pages only)."""
    cells = Path(folder) / "cells"
    return cells.is_dir() and any(cells.glob("*.json"))


def check_site_folder(site_dir: Path, results_dirs: Iterable[Path]) -> None:
    """ForeignFolder when the site would be written into a results folder, into a folder holding one of the
    given results folders, or into any folder holding records (the site replaces its own subfolders)."""
    site = Path(site_dir).resolve()
    for results in results_dirs:
        folder = Path(results).resolve()
        if folder == site or site in folder.parents:
            what = "is a results folder" if folder == site else f"holds the results folder {results}"
            raise ForeignFolder(f"the site folder {site_dir} {what}: a site replaces its own subfolders and would delete results; write it "
                                "to a folder of its own (-o SITE_DIR, e.g. site/)")
    if site.is_dir():
        held = [entry.name for entry in site.iterdir() if entry.is_dir() and holds_results(entry)]
        if holds_results(site) or held:
            where = f"holds records in {held[0]}/cells" if held else "holds records (cells/)"
            raise ForeignFolder(f"the site folder {site_dir} {where}: a site replaces its own subfolders and would "
                                "delete results; write it to a folder of its own (-o SITE_DIR, e.g. site/)")
