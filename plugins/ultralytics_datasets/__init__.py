"""The `ultralytics` dataset source: a detection dataset on disk, described by an Ultralytics data YAML.

No torch or ultralytics here: checking reads the YAML and the label files, fingerprinting hashes
the YAML, the images and the label files (prunebench.yolo.labels).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from prunebench import DatasetSource, Params, PreparedDataset, hookimpl
from prunebench.util import filehash
from prunebench.util.atomic import atomic_write_text
from prunebench.yolo import labels


class UltralyticsDatasetParams(Params):
    data: str = Field("", description=(
        "Path to the dataset's Ultralytics data YAML (keys `train`, `val`, `names`, optional `test` and `path`), relative to the suite file (or to where you run). "
        "Relative paths inside it resolve against `path:` (itself relative to the YAML's folder), "
        "else against the YAML's folder."))


class UltralyticsDataset(DatasetSource):
    name = "ultralytics"
    description = (
        "A detection dataset already on disk in Ultralytics (YOLO) format, named by its data YAML: images in "
        "`images/<split>` folders (or .txt lists), one label file per image in the matching `labels/<split>` "
        "folder with a line `class x_center y_center width height` (normalised 0-1) per object. `check` reads "
        "every train and val label file and reports bad lines by file and line number. `prepare` writes a copy "
        "of the YAML with absolute paths into the cache, so runs do not depend on the current folder. "
        "Ultralytics writes its `.cache` label cache files beside the label folders on first use.")
    Params = UltralyticsDatasetParams
    synthetic = False

    def _data(self) -> labels.DataYaml:
        if not self.params.data:
            raise ValueError("dataset plugin 'ultralytics' needs `data:`, the path of the dataset's data YAML; "
                             f"add `params: {{data: path/to/data.yaml}}` ({labels.FORMAT_HINT})")
        return labels.read_data_yaml(self.resolve_path(self.params.data))

    def fingerprint(self) -> dict[str, Any]:
        """The YAML's content hash, the class names, and per split a hash of every image's and label file's
        content (prunebench.yolo.labels.fingerprint; bytes are read again only for files whose stats changed)."""
        return labels.fingerprint(self._data())

    def check(self) -> None:
        labels.check_dataset(self._data())

    def prepare(self, cache_dir: Path) -> PreparedDataset:
        data = self._data()
        val_images = labels.list_split_images(data, "val")
        train_count = len(labels.list_split_images(data, "train"))
        folder = Path(cache_dir) / "datasets" / f"ultralytics-{self._cache_key(data)}"
        content = labels.resolved_yaml(data, folder)  # writes rewritten image lists there, atomically
        data_yaml = folder / "data.yaml"
        atomic_write_text(data_yaml, f"# resolved copy of {data.file}, written by prunebench\n"
                          + yaml.safe_dump(content, sort_keys=False, allow_unicode=True))
        classes = ", ".join(data.names.values())
        return PreparedDataset(
            data_yaml=data_yaml.resolve(), names=dict(data.names), synthetic=False,
            description=f"{data.file}: {train_count} train / {len(val_images)} val images; classes: {classes}",
            val_images=val_images, warnings=self._dropped(data))

    @staticmethod
    def _dropped(data: labels.DataYaml) -> list[str]:
        """One warning per split with images Ultralytics will drop as corrupt (it does so with no message)."""
        out = []
        for split in data.splits:
            bad = labels.unreadable_images(labels.list_split_images(data, split))
            if bad:
                shown = "; ".join(f"{path} ({why})" for path, why in bad[:5]) + (
                    f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
                out.append(f"dataset {data.file}: {len(bad)} image(s) of split `{split}` are corrupt and Ultralytics "
                           f"will leave them out of training and evaluation without a word: {shown}")
        return out

    @staticmethod
    def _cache_key(data: labels.DataYaml) -> str:
        identity = f"{data.file}\n{filehash.file_sha256(data.file)}"
        return hashlib.sha256(identity.encode()).hexdigest()[:16]


@hookimpl
def register_datasets(register):
    register(UltralyticsDataset)
