"""The `ultralytics` dataset plugin and prunebench.yolo.labels: resolving, checking and fingerprinting a data YAML.

Each bad input a user can write gets its exact message; tiny datasets are written into tmp_path.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from prunebench_builtins.ultralytics_datasets import UltralyticsDataset
from prunebench.yolo import labels
from prunebench.yolo.labels import FORMAT_HINT, IMAGE_SUFFIXES

BOX = "0 0.5 0.5 0.2 0.3\n"
SUFFIXES = ", ".join(sorted(IMAGE_SUFFIXES))


def write_image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((32, 32, 3), 90, np.uint8))


def make_dataset(root: Path, train: dict[str, str] | None = None, val: dict[str, str] | None = None,
                 yaml_text: str = "train: images/train\nval: images/val\nnames: {0: bud}\n") -> Path:
    """images/<split>/<stem>.png with labels/<split>/<stem>.txt holding the given text; returns data.yaml."""
    for split, files in (("train", train or {"a": BOX, "b": BOX}), ("val", val or {"c": BOX})):
        for stem, text in files.items():
            write_image(root / "images" / split / f"{stem}.png")
            if text is not None:
                (root / "labels" / split).mkdir(parents=True, exist_ok=True)
                (root / "labels" / split / f"{stem}.txt").write_text(text)
    (root / "data.yaml").write_text(yaml_text)
    return root / "data.yaml"


def source(data: Path | str) -> UltralyticsDataset:
    return UltralyticsDataset(UltralyticsDataset.Params(data=str(data)))


def check_message(data: Path | str) -> str:
    with pytest.raises(ValueError) as info:
        source(data).check()
    return str(info.value)


# ---------------------------------------------------------------- a good dataset
def test_prepare_writes_a_resolved_yaml_that_works_from_any_folder(tmp_path, monkeypatch):
    data = make_dataset(tmp_path / "ds", val={"c": BOX, "d": "", "e": None})  # d: no objects, e: no label file
    source(data).check()
    prepared = source(data).prepare(tmp_path / "cache")

    assert prepared.data_yaml.is_absolute() and prepared.data_yaml.parent.parent == tmp_path / "cache" / "datasets"
    assert prepared.names == {0: "bud"} and prepared.synthetic is False
    assert prepared.val_images == [(tmp_path / "ds" / "images" / "val" / f"{s}.png").resolve() for s in "cde"]
    assert "2 train / 3 val images; classes: bud" in prepared.description
    written = yaml.safe_load(prepared.data_yaml.read_text())
    assert written == {"train": str((tmp_path / "ds/images/train").resolve()),
                       "val": str((tmp_path / "ds/images/val").resolve()),
                       "path": str((tmp_path / "ds").resolve()), "names": {0: "bud"}}
    monkeypatch.chdir(tmp_path / "cache")  # nothing may depend on the current folder
    assert labels.read_data_yaml(prepared.data_yaml).splits == labels.read_data_yaml(data).splits


def test_path_key_is_relative_to_the_yaml_and_download_scripts_are_dropped(tmp_path):
    make_dataset(tmp_path / "ds")
    data = tmp_path / "configs" / "buds.yaml"
    data.parent.mkdir()
    data.write_text("path: ../ds\ntrain: images/train\nval: images/val\nnames: [bud]\n"
                    "download: python -c 'import os; os.remove(\"everything\")'\n")
    source(data).check()
    written = yaml.safe_load(source(data).prepare(tmp_path / "cache").data_yaml.read_text())
    assert written["path"] == str((tmp_path / "ds").resolve())
    assert written["train"] == str((tmp_path / "ds" / "images" / "train").resolve())
    assert "download" not in written and "test" not in written
    # A test split the YAML names but that is not on disk is an error: it would be the headline split.
    data.write_text(data.read_text() + "test: images/test\n")
    with pytest.raises(ValueError, match=r"`test: images/test` points to .*which does not exist"):
        source(data).check()


def test_image_lists_are_rewritten_with_absolute_paths(tmp_path):
    data = make_dataset(tmp_path / "ds", yaml_text="train: train.txt\nval: images/val\nnames: [bud]\n")
    (tmp_path / "ds" / "train.txt").write_text("./images/train/a.png\nimages/train/b.png\n")
    source(data).check()
    written = yaml.safe_load(source(data).prepare(tmp_path / "cache").data_yaml.read_text())
    listed = Path(written["train"])
    assert listed.parent == (tmp_path / "cache" / "datasets").resolve() / listed.parent.name
    assert listed.read_text().splitlines() == [str((tmp_path / "ds/images/train" / n).resolve())
                                               for n in ("a.png", "b.png")]


def test_ultralytics_accepts_the_prepared_synthetic_dataset(tmp_path, monkeypatch):
    """The generator's output, read back through this plugin and then by Ultralytics' own dataset check."""
    from prunebench_builtins.synthetic_buds import SyntheticBuds

    synthetic = SyntheticBuds(SyntheticBuds.Params(train=4, val=3, imgsz=64)).prepare(tmp_path / "cache")
    plugin = source(synthetic.data_yaml)
    plugin.check()
    prepared = plugin.prepare(tmp_path / "cache")
    assert prepared.val_images == synthetic.val_images and prepared.names == {0: "bud"}

    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.data.utils import check_det_dataset, img2label_paths, verify_image_label

    monkeypatch.chdir(tmp_path)
    resolved = check_det_dataset(str(prepared.data_yaml), autodownload=False)
    assert Path(resolved["val"]) == synthetic.val_images[0].parent and resolved["names"] == {0: "bud"}
    for image, label in zip(prepared.val_images, img2label_paths([str(p) for p in prepared.val_images])):
        *_, corrupt, message = verify_image_label((str(image), label, "", False, 1, 0, 0, False))
        assert corrupt == 0, message


# ---------------------------------------------------------------- bad inputs, each with its message
def test_no_data_param():
    with pytest.raises(ValueError) as info:
        UltralyticsDataset().check()
    assert str(info.value) == ("dataset plugin 'ultralytics' needs `data:`, the path of the dataset's data YAML; "
                               f"add `params: {{data: path/to/data.yaml}}` ({FORMAT_HINT})")


def test_missing_yaml(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert check_message(missing) == (f"data YAML {missing} does not exist; set `data:` to the path of your "
                                      f"dataset's data YAML ({FORMAT_HINT})")
    assert check_message(tmp_path) == (f"data YAML {tmp_path} is a folder, not a file; set `data:` to the path of "
                                       f"your dataset's data YAML ({FORMAT_HINT})")


def test_yaml_syntax_error_names_the_line(tmp_path):
    data = make_dataset(tmp_path, yaml_text="train: images/train\nval: images/val\n  names: [bud]\n")
    assert check_message(data) == (f"data YAML {data}:3: not valid YAML (mapping values are not allowed here); fix "
                                   "the syntax there (indentation, a missing `:` or an unclosed quote or bracket)")


def test_yaml_that_is_not_a_mapping(tmp_path):
    data = make_dataset(tmp_path, yaml_text="- images/train\n- images/val\n")
    assert check_message(data) == f"data YAML {data} is not a mapping of keys to values (it holds list); {FORMAT_HINT}"


@pytest.mark.parametrize("key", ["train", "val", "names"])
def test_missing_key(tmp_path, key):
    lines = {"train": "train: images/train", "val": "val: images/val", "names": "names: [bud]"}
    data = make_dataset(tmp_path, yaml_text="\n".join(v for k, v in lines.items() if k != key) + "\n")
    assert check_message(data) == f"data YAML {data} has no `{key}:` key (or it is empty); {FORMAT_HINT}"


def test_empty_names(tmp_path):
    data = make_dataset(tmp_path, yaml_text="train: images/train\nval: images/val\nnames: {}\n")
    assert check_message(data) == f"data YAML {data} has no `names:` key (or it is empty); {FORMAT_HINT}"


def test_names_and_nc_disagree(tmp_path):
    data = make_dataset(tmp_path, yaml_text="train: images/train\nval: images/val\nnc: 2\nnames: [bud]\n")
    assert check_message(data) == (f"data YAML {data}: `nc: 2` does not match the 1 classes in `names:`; remove "
                                   "`nc:` or make them agree")


def test_names_with_a_gap(tmp_path):
    data = make_dataset(tmp_path, yaml_text="train: images/train\nval: images/val\nnames: {0: bud, 2: leaf}\n")
    assert check_message(data) == f"data YAML {data}: `names:` class ids must be 0..1 without gaps; got [0, 2]"


def test_split_path_that_does_not_exist(tmp_path):
    data = make_dataset(tmp_path, yaml_text="train: images/train\nval: images/valid\nnames: [bud]\n")
    root = tmp_path.resolve()
    assert check_message(data) == (
        f"data YAML {data}: `val: images/valid` points to {root / 'images' / 'valid'}, which does not exist; paths "
        f"resolve against the dataset root {root} (the `path:` key, else the YAML's folder): fix the path or move "
        "the images there")


def test_path_key_that_is_not_a_folder(tmp_path):
    data = make_dataset(tmp_path, yaml_text="path: elsewhere\ntrain: images/train\nval: images/val\nnames: [bud]\n")
    assert check_message(data) == (
        f"data YAML {data}: `path: elsewhere` points to {tmp_path.resolve() / 'elsewhere'}, which is not a folder; "
        "set `path:` to the dataset's root folder (relative paths resolve against the YAML's folder) or remove it "
        "to use the YAML's folder")


def test_empty_split(tmp_path):
    data = make_dataset(tmp_path)
    (tmp_path / "images" / "empty").mkdir()
    (tmp_path / "images" / "empty" / "notes.txt").write_text("not an image")
    data.write_text("train: images/train\nval: images/empty\nnames: [bud]\n")
    assert check_message(data) == (
        f"data YAML {data}: split `val` ({tmp_path.resolve() / 'images' / 'empty'}) holds no images (looked for "
        f"{SUFFIXES}); put the split's images there or fix the path")


def test_image_list_naming_a_missing_image(tmp_path):
    data = make_dataset(tmp_path, yaml_text="train: train.txt\nval: images/val\nnames: [bud]\n")
    (tmp_path / "train.txt").write_text("./images/train/a.png\n./images/train/gone.png\n./images/train/gone2.png\n")
    assert check_message(data) == (
        f"data YAML {data}: split `train` lists {tmp_path.resolve() / 'images/train/gone.png'} and 1 more, which "
        "does not exist; fix the image list (relative lines resolve against the list's folder)")


def test_split_without_any_label_file(tmp_path):
    data = make_dataset(tmp_path, val={"c": None, "d": None})
    expected_label = tmp_path.resolve() / "labels" / "val" / "c.txt"
    assert check_message(data) == (
        f"data YAML {data}: none of the 2 images of split `val` has a label file (expected e.g. {expected_label}); "
        "Ultralytics reads labels from a `labels` folder beside `images`, one .txt per image")


LABEL_RULES = ("(one object per line: `class x_center y_center width height`, normalised to 0-1, class in 0-0); "
               "fix or remove them:")


def test_out_of_range_class_and_malformed_lines_name_file_and_line(tmp_path):
    data = make_dataset(tmp_path, train={"a": BOX + "3 0.5 0.5 0.1 0.1\n", "b": "\n0 0.5 0.5 0.1\n"},
                        val={"c": "0 x 0.5 0.1 0.1\n0 50 60 10 10\n0 0.5 0.5 0 0.1\n1.5 0.5 0.5 0.1 0.1\n"})
    lab = tmp_path.resolve() / "labels"
    assert check_message(data) == (
        f"data YAML {data}: 6 bad lines in label files {LABEL_RULES}\n"
        f"  {lab}/train/a.txt:2: class id 3 out of range: names has 1 class (ids 0-0): '3 0.5 0.5 0.1 0.1'\n"
        f"  {lab}/train/b.txt:2: expected 5 values (class x_center y_center width height) or a polygon (class and 3 "
        "or more x y pairs), got 4: '0 0.5 0.5 0.1'\n"
        f"  {lab}/val/c.txt:1: not a number: x: '0 x 0.5 0.1 0.1'\n"
        f"  {lab}/val/c.txt:2: coordinates must be normalised to 0-1 (divide pixels by the image width and height): "
        "'0 50 60 10 10'\n"
        f"  {lab}/val/c.txt:3: width and height must be positive: '0 0.5 0.5 0 0.1'\n"
        "  ... and 1 more problem")


def test_many_bad_lines_are_counted_not_listed(tmp_path):
    data = make_dataset(tmp_path, train={"a": "7 0.5 0.5 0.1 0.1\n" * 12})
    message = check_message(data)
    assert message.startswith(f"data YAML {data}: 12 bad lines in label files")
    assert message.count("class id 7 out of range") == 5 and message.endswith("  ... and 7 more problems")


def test_nan_is_not_a_number(tmp_path):
    data = make_dataset(tmp_path, val={"c": "nan 0.5 0.5 0.1 0.1\n"})
    assert check_message(data).endswith(f"  {tmp_path.resolve()}/labels/val/c.txt:1: not a number: nan: "
                                        "'nan 0.5 0.5 0.1 0.1'")


def test_hidden_files_are_not_images(tmp_path):
    """macOS `._name.jpg` files and hidden folders are skipped, as Ultralytics' glob skips them."""
    data = make_dataset(tmp_path)
    (tmp_path / "images" / "val" / "._c.png").write_bytes(b"resource fork")
    write_image(tmp_path / "images" / "val" / ".thumbs" / "x.png")
    assert labels.list_split_images(labels.read_data_yaml(data), "val") == [tmp_path.resolve() / "images/val/c.png"]


def test_polygons_and_ultralytics_tolerance_are_accepted(tmp_path):
    data = make_dataset(tmp_path, train={"a": "0 0.1 0.1 0.9 0.1 0.5 0.9\n", "b": "0 1.005 0.5 0.2 0.2\n"})
    source(data).check()


# ---------------------------------------------------------------- identity
def test_fingerprint_follows_yaml_and_label_files(tmp_path):
    data = make_dataset(tmp_path)
    first = source(data).fingerprint()
    assert first == source(data).fingerprint()
    assert first["train"]["images"] == 2 and first["train"]["label_files"] == 2 and first["val"]["images"] == 1

    (tmp_path / "labels" / "train.cache").write_bytes(b"Ultralytics writes this on first use")
    assert source(data).fingerprint() == first

    (tmp_path / "labels" / "train" / "a.txt").write_text(BOX + BOX)  # same name, new size
    grown = source(data).fingerprint()
    assert grown["train"]["labels_sha256"] != first["train"]["labels_sha256"]
    assert grown["val"] == first["val"] and grown["data_yaml_sha256"] == first["data_yaml_sha256"]

    data.write_text(data.read_text() + "# a comment changes the content hash\n")
    assert source(data).fingerprint()["data_yaml_sha256"] != grown["data_yaml_sha256"]


def test_fingerprint_does_not_depend_on_where_the_dataset_lives(tmp_path):
    a, b = make_dataset(tmp_path / "a"), make_dataset(tmp_path / "b")
    assert source(a).fingerprint() == source(b).fingerprint()


def test_fingerprint_of_a_missing_yaml_is_the_same_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist; set `data:`"):
        source(tmp_path / "nope.yaml").fingerprint()


# ---------------------------------------------------------------- the real data this repository ships
REPO_DATA = Path(__file__).resolve().parents[1] / "data"
SHIPPED = {  # folder -> class names (None: the 80 COCO classes), images and boxes per split (data/*/NOTICE.md)
    "tea_bud": ({0: "good", 1: "bad", 2: "more_than_two"}, {"train": 24, "val": 8, "test": 9},
                {"train": 321, "val": 108, "test": 124}),
    "coco128": (None, {"train": 96, "val": 32}, {"train": 717, "val": 212}),
    "bccd": ({0: "RBC", 1: "WBC", 2: "Platelets"}, {"train": 205, "val": 87, "test": 72},
             {"train": 2804, "val": 1137, "test": 945}),
}
BOXES_PER_CLASS = {"bccd": {"val": {0: 967, 1: 87, 2: 83}, "test": {0: 805, 1: 71, 2: 69}}}  # data/SOURCES.md
BACKGROUND = {"coco128": {"000000000250", "000000000508"}}  # images with no objects, so no label file


def _objects(label_file: Path) -> int:
    return sum(1 for line in label_file.read_text().splitlines() if line.strip()) if label_file.is_file() else 0


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_datasets_load_and_their_labels_are_valid(name):
    names, counts, boxes = SHIPPED[name]
    data = labels.read_data_yaml(REPO_DATA / name / "data.yaml")
    images = labels.check_dataset(data)  # train and val: images present, every label line well formed
    if "test" in counts:
        images["test"] = labels.list_split_images(data, "test")
        assert labels.check_split_labels(data, "test", images["test"]) == []
    assert {split: len(found) for split, found in images.items()} == counts
    unlabelled = {image.stem for found in images.values() for image in found if not labels.label_path(image).is_file()}
    assert unlabelled == BACKGROUND.get(name, set())
    objects = {split: sum(_objects(labels.label_path(image)) for image in found) for split, found in images.items()}
    assert objects == boxes
    per_class = {split: Counter(int(line.split()[0]) for image in images[split] if labels.label_path(image).is_file()
                                for line in labels.label_path(image).read_text().splitlines() if line.strip())
                 for split in BOXES_PER_CLASS.get(name, {})}
    assert per_class == BOXES_PER_CLASS.get(name, {})
    if names is not None:
        assert data.names == names
    else:
        assert len(data.names) == 80 and data.names[0] == "person" and data.names[79] == "toothbrush"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_datasets_are_valid_through_the_plugin(name, tmp_path):
    plugin = source(REPO_DATA / name / "data.yaml")
    plugin.check()
    prepared = plugin.prepare(tmp_path)
    assert len(prepared.val_images) == SHIPPED[name][1]["val"] and all(p.is_file() for p in prepared.val_images)
    assert prepared.names == labels.read_data_yaml(REPO_DATA / name / "data.yaml").names
    assert os.path.isfile(prepared.data_yaml) and prepared.synthetic is False
