"""Read and check Ultralytics-format detection datasets: the data YAML, its splits, the label files.

Pure Python + PyYAML (no torch, no Ultralytics), so `prunebench validate` can check a dataset
in a fraction of a second. Every problem a user can cause becomes a ValueError that names the
file (and line), what is wrong and how to fix it.

Path rules, as in Ultralytics, except that nothing depends on the current directory:
  - the dataset root is the `path:` key (relative to the YAML's folder), else the YAML's folder;
  - `train:` / `val:` / `test:` are a folder, an image file, a .txt list of images, or a list
    of those, relative to the root (Ultralytics' `../` fallback included);
  - relative lines of a .txt list resolve against the .txt's folder;
  - an image's labels are at the same path with the last `images` folder replaced by `labels`
    and the extension by `.txt`; a missing label file means an image without objects.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from prunebench.util import filehash, safe_yaml
from prunebench.util.atomic import atomic_write_text

# Ultralytics' IMG_FORMATS (ultralytics.data.utils), copied so this module needs no ultralytics import.
IMAGE_SUFFIXES = frozenset({"bmp", "dng", "heic", "heif", "avif", "jp2", "jpeg", "jpg", "mpo", "png", "tif",
                            "tiff", "webp"})
SPLITS = ("train", "val")
MAX_REPORTED_PROBLEMS = 5
FORMAT_HINT = ("an Ultralytics data YAML needs `train:`, `val:` and `names:`, e.g. "
               "`path: .`, `train: images/train`, `val: images/val`, `names: {0: bud}`")


@dataclass(frozen=True)
class LabelProblem:
    """One bad line of a label file (line 0: the file itself could not be read)."""

    file: Path
    line: int
    content: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.reason}: {self.content!r}" if self.content else f"{where}: {self.reason}"


@dataclass
class DataYaml:
    """A parsed data YAML with every path resolved to an absolute one."""

    file: Path  # the YAML, absolute
    raw: dict[str, Any]  # as written
    root: Path  # the dataset root (`path:` key, else the YAML's folder)
    names: dict[int, str]
    splits: dict[str, list[Path]] = field(default_factory=dict)  # split -> its sources (folders, files, lists)

    @property
    def nc(self) -> int:
        return len(self.names)


# ---------------------------------------------------------------- the YAML
def read_data_yaml(path: str | os.PathLike) -> DataYaml:
    """Parse a data YAML and resolve its paths; ValueError if it is missing, malformed or incomplete.

    Checks that the split paths exist, not what they hold: see `list_split_images`."""
    file = Path(path).expanduser()
    if not file.is_file():
        what = "is a folder, not a file" if file.is_dir() else "does not exist"
        raise ValueError(f"data YAML {file} {what}; set `data:` to the path of your dataset's data YAML "
                         f"({FORMAT_HINT})")
    file = file.resolve()
    raw = _load_yaml(file)
    for key in ("train", "val", "names"):
        if not raw.get(key):
            raise ValueError(f"data YAML {file} has no `{key}:` key (or it is empty); {FORMAT_HINT}")
    names = parse_names(raw["names"], file, raw.get("nc"))
    root = _resolve_root(raw, file)
    splits = {split: _resolve_sources(raw, split, root, file) for split in SPLITS}
    # `test:` is optional, but when the YAML names it, it is the headline split: a path that does not exist is an
    # error (a typo must not silently move the headline to val).
    if raw.get("test"):
        splits["test"] = _resolve_sources(raw, "test", root, file)
    return DataYaml(file=file, raw=raw, root=root, names=names, splits=splits)


def _load_yaml(file: Path) -> dict[str, Any]:
    try:
        text = safe_yaml.read_text(file)
    except safe_yaml.UnsafeYamlError as exc:
        raise ValueError(f"data YAML {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"data YAML {file} cannot be read ({exc}); check its permissions and that it is "
                         "UTF-8 text") from None
    try:
        raw = safe_yaml.load_text(text.removeprefix("\ufeff"), str(file))
    except safe_yaml.UnsafeYamlError as exc:
        raise ValueError(f"data YAML {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark is not None else str(file)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"data YAML {where}: not valid YAML ({problem}); fix the syntax there "
                         "(indentation, a missing `:` or an unclosed quote or bracket)") from None
    if not isinstance(raw, dict):
        raise ValueError(f"data YAML {file} is not a mapping of keys to values (it holds "
                         f"{type(raw).__name__}); {FORMAT_HINT}")
    return raw


def parse_names(names: Any, file: Path, nc: Any = None) -> dict[int, str]:
    """`names:` as a list or a {id: name} mapping -> {0: 'bud', ...}; ids must be 0..n-1."""
    if isinstance(names, list):
        parsed = dict(enumerate(names))
    elif isinstance(names, dict):
        try:
            parsed = {int(k): v for k, v in names.items()}
        except (TypeError, ValueError):
            raise ValueError(f"data YAML {file}: `names:` keys must be class ids 0, 1, ...; got "
                             f"{list(names)!r}") from None
    else:
        raise ValueError(f"data YAML {file}: `names:` must be a list of class names or a mapping "
                         f"{{0: name, ...}}, not {type(names).__name__} {names!r}")
    if sorted(parsed) != list(range(len(parsed))):
        raise ValueError(f"data YAML {file}: `names:` class ids must be 0..{len(parsed) - 1} without gaps; "
                         f"got {sorted(parsed)}")
    if nc is not None and nc != len(parsed):
        raise ValueError(f"data YAML {file}: `nc: {nc}` does not match the {len(parsed)} classes in `names:`; "
                         "remove `nc:` or make them agree")
    return {k: str(parsed[k]) for k in sorted(parsed)}


def _resolve_root(raw: dict[str, Any], file: Path) -> Path:
    declared = raw.get("path")
    if declared in (None, ""):
        return file.parent
    root = Path(str(declared)).expanduser()
    root = (root if root.is_absolute() else file.parent / root).resolve()
    if not root.is_dir():
        raise ValueError(f"data YAML {file}: `path: {declared}` points to {root}, which is not a folder; "
                         "set `path:` to the dataset's root folder (relative paths resolve against the YAML's "
                         "folder) or remove it to use the YAML's folder")
    return root


def _resolve_sources(raw: dict[str, Any], split: str, root: Path, file: Path) -> list[Path]:
    value = raw[split]
    entries = value if isinstance(value, list) else [value]
    sources = []
    for entry in entries:
        if not isinstance(entry, str):
            raise ValueError(f"data YAML {file}: `{split}:` must be a path or a list of paths, not "
                             f"{type(entry).__name__} {entry!r}")
        path = (root / Path(entry).expanduser()).resolve()
        if not path.exists() and entry.startswith("../"):  # Ultralytics' fallback for YOLOv5-style YAMLs
            path = (root / entry[3:]).resolve()
        if not path.exists():
            raise ValueError(f"data YAML {file}: `{split}: {entry}` points to {path}, which does not exist; "
                             f"paths resolve against the dataset root {root} (the `path:` key, else the YAML's "
                             "folder): fix the path or move the images there")
        sources.append(path)
    return sources


# ---------------------------------------------------------------- images and labels
def is_image(path: str | os.PathLike) -> bool:
    return str(path).rpartition(".")[-1].lower() in IMAGE_SUFFIXES


def list_images(source: Path) -> list[Path]:
    """Images under a folder (recursively), a single image, or listed in a .txt file; sorted."""
    if source.is_dir():
        found = []
        for dirpath, dirnames, names in os.walk(source):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # as Ultralytics' glob: no hidden files
            found += [Path(dirpath) / name for name in names if is_image(name) and not name.startswith(".")]
    elif source.suffix.lower() == ".txt":
        found = []
        for line in source.read_text(encoding="utf-8-sig").splitlines():
            line = line.strip()
            if line and is_image(line):
                listed = Path(line).expanduser()
                found.append(listed if listed.is_absolute() else (source.parent / listed).resolve())
    else:
        found = [source] if is_image(source) else []
    return sorted(found)


def list_split_images(data: DataYaml, split: str) -> list[Path]:
    """Every image of a split, sorted; ValueError if there are none or a listed one is missing."""
    images = sorted({image for source in data.splits[split] for image in list_images(source)})
    if not images:
        sources = ", ".join(str(s) for s in data.splits[split])
        raise ValueError(f"data YAML {data.file}: split `{split}` ({sources}) holds no images "
                         f"(looked for {', '.join(sorted(IMAGE_SUFFIXES))}); put the split's images there "
                         "or fix the path")
    missing = [image for image in images if not image.is_file()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ValueError(f"data YAML {data.file}: split `{split}` lists {missing[0]}{more}, which does not exist; "
                         "fix the image list (relative lines resolve against the list's folder)")
    return images


def label_path(image: Path) -> Path:
    """Where Ultralytics looks for an image's labels: last `images` folder -> `labels`, extension -> .txt."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return Path(sb.join(str(image).rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt")


def check_label_file(path: Path, nc: int) -> list[LabelProblem]:
    """Problems in one label file: each line is `class x_center y_center width height` (normalised to 0-1)
    or a polygon `class x1 y1 x2 y2 x3 y3 ...`, with class an integer in 0..nc-1."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [LabelProblem(path, 0, "", f"cannot be read as UTF-8 text ({exc})")]
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and (reason := _line_problem(line.split(), nc)):
            problems.append(LabelProblem(path, number, line.strip(), reason))
    return problems


def _line_problem(fields: list[str], nc: int) -> str | None:
    if len(fields) != 5 and (len(fields) < 7 or len(fields) % 2 == 0):
        return (f"expected 5 values (class x_center y_center width height) or a polygon (class and 3 or more "
                f"x y pairs), got {len(fields)}")
    bad = next((f for f in fields if not _is_finite_number(f)), None)
    if bad is not None:
        return f"not a number: {bad}"
    values = [float(f) for f in fields]
    cls = values[0]
    if cls != int(cls):
        return f"class id {fields[0]} is not an integer"
    if not 0 <= cls < nc:
        return f"class id {int(cls)} out of range: names has {nc} class{'es' if nc != 1 else ''} (ids 0-{nc - 1})"
    coords = values[1:]
    # Ultralytics' own tolerance: up to 1 % outside the image is accepted and clipped.
    if any(not -0.01 <= v <= 1.01 for v in coords):
        return "coordinates must be normalised to 0-1 (divide pixels by the image width and height)"
    if len(fields) == 5 and (values[3] <= 0 or values[4] <= 0):
        return "width and height must be positive"
    return None


def _is_finite_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def check_split_labels(data: DataYaml, split: str, images: list[Path]) -> list[LabelProblem]:
    """Every problem in the label files of a split's images (missing files are not problems)."""
    problems = []
    for image in images:
        path = label_path(image)
        if path.is_file():
            problems.extend(check_label_file(path, data.nc))
    return problems


def format_label_problems(data: DataYaml, problems: list[LabelProblem]) -> str:
    shown = "\n".join(f"  {p}" for p in problems[:MAX_REPORTED_PROBLEMS])
    more = len(problems) - MAX_REPORTED_PROBLEMS
    tail = f"\n  ... and {more} more problem{'s' if more != 1 else ''}" if more > 0 else ""
    return (f"data YAML {data.file}: {len(problems)} bad line{'s' if len(problems) != 1 else ''} in label files "
            f"(one object per line: `class x_center y_center width height`, normalised to 0-1, class in "
            f"0-{data.nc - 1}); fix or remove them:\n{shown}{tail}")


def unreadable_images(images: list[Path]) -> list[tuple[Path, str]]:
    """The images Ultralytics would drop as corrupt when it builds its dataset (ultralytics.data.utils.
    verify_image_label: PIL opens and verifies the file, which must be at least 10 x 10 pixels), with why."""
    from PIL import Image

    found = []
    for image in images:
        try:
            with Image.open(image) as im:
                im.verify()
                size = im.size
            if size[0] < 10 or size[1] < 10:
                found.append((image, f"{size[0]} x {size[1]} pixels, under 10"))
        except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for a broken file; each is "corrupt"
            found.append((image, f"{type(exc).__name__}: {str(exc)[:80]}"))
    return found


def check_dataset(data: DataYaml) -> dict[str, list[Path]]:
    """Check train, val and test when it has one (images present, labels well formed); return their images.
    ValueError on the first kind of problem found, label problems gathered across the splits."""
    images = {split: list_split_images(data, split) for split in (*SPLITS, *(["test"] if "test" in data.splits
                                                                              else []))}
    for split in images:
        if not any(label_path(image).is_file() for image in images[split]):
            raise ValueError(f"data YAML {data.file}: none of the {len(images[split])} images of split `{split}` "
                             f"has a label file (expected e.g. {label_path(images[split][0])}); Ultralytics reads "
                             "labels from a `labels` folder beside `images`, one .txt per image")
    problems = [p for split in images for p in check_split_labels(data, split, images[split])]
    if problems:
        raise ValueError(format_label_problems(data, problems))
    for split in images:
        if not any(_has_objects(label_path(image)) for image in images[split]):
            raise ValueError(f"data YAML {data.file}: every label file of split `{split}` ({len(images[split])} "
                             "images) is empty, so there is nothing to detect and every mAP would be 0; put the "
                             "objects in the label files (one `class x_center y_center width height` per line) or "
                             "point the split at the right folder")
    from prunebench.yolo.image_check import undecodable

    reported = "test" if "test" in images else "val"  # the split a leaderboard's headline figures come from
    bad = undecodable(images[reported])
    if bad:
        shown = "\n".join(f"  {path}: {why}" for path, why in bad[:MAX_REPORTED_PROBLEMS])
        more = f"\n  ... and {len(bad) - MAX_REPORTED_PROBLEMS} more" if len(bad) > MAX_REPORTED_PROBLEMS else ""
        raise ValueError(f"data YAML {data.file}: {len(bad)} image(s) of split `{reported}` do not decode, and "
                         f"Ultralytics would leave them out of the reported figures without a word; replace or "
                         f"remove them:\n{shown}{more}")
    return images


def _has_objects(path: Path) -> bool:
    try:
        return path.is_file() and any(line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines())
    except (OSError, UnicodeDecodeError):
        return False


# ---------------------------------------------------------------- identity
def fingerprint(data: DataYaml) -> dict[str, Any]:
    """The dataset's content identity, for cell keys and cached baselines: the data YAML's content hash, the
    class names and, per split (train, val, and test when it resolves), the image and label file counts and a
    hash of every image's and every label file's path (relative to the root) and content hash.

    Content, not names and sizes: a class id edited inside a label file or a photo replaced by another of the
    same size must re-run the cells. The bytes are read once; later plans find the digests in the stat cache
    (prunebench.util.filehash), so a touched file (mtime only) is read again but changes nothing."""
    files: dict[str, tuple[list[Path], list[Path]]] = {}
    for split in data.splits:
        images = sorted({image for source in data.splits[split] for image in list_images(source)})
        files[split] = (images, [p for p in map(label_path, images) if p.is_file()])
    paths = [data.file] + [p for images, label_files in files.values() for p in images + label_files]
    digests = dict(zip(paths, filehash.file_sha256s(paths)))
    out: dict[str, Any] = {"data_yaml_sha256": digests[data.file], "names": data.names}
    for split, (images, label_files) in files.items():
        out[split] = {"images": len(images), "label_files": len(label_files),
                      "images_sha256": _listing_sha256(images, digests, data.root),
                      "labels_sha256": _listing_sha256(label_files, digests, data.root)}
    return out


def _listing_sha256(paths: list[Path], digests: dict[Path, str], root: Path) -> str:
    # Paths relative to the root, so that a dataset moved elsewhere keeps its identity.
    listing = "".join(f"{_relative(path, root)}\t{digests[path]}\n" for path in paths)
    return hashlib.sha256(listing.encode()).hexdigest()


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def resolved_yaml(data: DataYaml, list_dir: Path) -> dict[str, Any]:
    """A copy of the data YAML that Ultralytics can use from any folder: absolute paths, no `download:`
    (a benchmark never runs a dataset's download script). Image lists (.txt) are rewritten into
    `list_dir` with absolute paths, because Ultralytics resolves their relative lines against the
    current directory."""
    out = {k: v for k, v in data.raw.items() if k not in {"download", "path", "nc", "yaml_file", "test"}}
    out["path"] = str(data.root)
    out["names"] = dict(data.names)
    for split, sources in data.splits.items():
        resolved = []
        for index, source in enumerate(sources):
            if source.is_file() and source.suffix.lower() == ".txt":
                listed = list_dir / f"{split}-{index}.txt"
                atomic_write_text(listed, "".join(f"{p}\n" for p in list_images(source)))
                source = listed
            resolved.append(str(source))
        out[split] = resolved[0] if len(resolved) == 1 else resolved
    return out
