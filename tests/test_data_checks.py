"""Data checked as Ultralytics will use it: every image of the reported split decoded in full (a truncated JPEG
passes PIL's verify() and Ultralytics drops it silently), a split whose label files are all empty is an error, and
bad label lines are all listed (up to a limit, with a count), each on its own line."""

from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli


def tiny_dataset(root: Path, *, test_labels: str = "0 0.5 0.5 0.2 0.2\n") -> Path:
    from PIL import Image

    for split in ("train", "val", "test"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for index in range(3):
            noise = Image.frombytes("RGB", (64, 64), bytes((i * 37 + index * 11) % 251 for i in range(64 * 64 * 3)))
            noise.save(root / "images" / split / f"{index}.jpg", quality=95)
            text = test_labels if split == "test" else "0 0.5 0.5 0.2 0.2\n"
            (root / "labels" / split / f"{index}.txt").write_text(text)
    data = root / "data.yaml"
    data.write_text("path: .\ntrain: images/train\nval: images/val\ntest: images/test\nnames: {0: thing}\n")
    return data


def test_a_truncated_jpeg_in_the_reported_split_is_an_error_naming_it(tmp_path):
    from PIL import Image

    from prunebench.yolo import labels

    data = tiny_dataset(tmp_path / "d")
    broken = tmp_path / "d" / "images" / "test" / "1.jpg"
    broken.write_bytes(broken.read_bytes()[:len(broken.read_bytes()) * 2 // 3])  # headers whole, data cut
    with Image.open(broken) as im:
        im.verify()  # what Ultralytics' own check runs: it passes
    with pytest.raises(ValueError, match=r"1 image\(s\) of split `test` do not decode") as error:
        labels.check_dataset(labels.read_data_yaml(data))
    assert str(broken) in str(error.value)


def test_decoded_images_are_remembered_by_content(tmp_path, monkeypatch):
    from prunebench.yolo import image_check, labels

    data = tiny_dataset(tmp_path / "d")
    labels.check_dataset(labels.read_data_yaml(data))
    opened = []
    import PIL.Image

    original = PIL.Image.open
    monkeypatch.setattr(PIL.Image, "open", lambda *a, **k: opened.append(a[0]) or original(*a, **k))
    images = sorted((tmp_path / "d" / "images" / "test").glob("*.jpg"))
    assert image_check.undecodable(images) == [] and opened == []


def test_a_split_whose_label_files_are_all_empty_is_an_error(tmp_path):
    from prunebench.yolo import labels

    data = tiny_dataset(tmp_path / "d", test_labels="\n")
    with pytest.raises(ValueError, match=r"every label file of split `test` \(3 images\) is empty"):
        labels.check_dataset(labels.read_data_yaml(data))


def test_bad_label_lines_are_listed_whole_one_per_line_up_to_the_limit(tmp_path):
    data = tiny_dataset(tmp_path / "d", test_labels="".join(f"7 0.5 0.5 0.2 0.{i}\n" for i in range(1, 9)))
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: s\nmodels:\n  - name: m\n    params: {{weights: {REPO / 'weights' / 'yolo11n.pt'}}}\n"
                     f"datasets:\n  - name: d\n    plugin: ultralytics\n    params: {{data: {data}}}\n"
                     "strategies:\n  - name: l1-unstructured\n    amounts: [0.3]\n")
    proc = run_cli("validate", str(suite), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "24 bad lines in label files" in proc.stderr
    listed = [line for line in proc.stderr.splitlines() if "class id 7 out of range" in line]
    assert len(listed) == 5 and "... and 19 more problems" in proc.stderr
    assert all(line.strip().startswith(str(tmp_path)) and line.endswith("'") for line in listed)


def test_a_count_of_evaluated_images_other_than_the_splits_fails(tmp_path):
    from prunebench.yolo.evaluate import check_all_evaluated

    data = tiny_dataset(tmp_path / "d")
    check_all_evaluated(data, "test", 3)
    with pytest.raises(ValueError, match=r"Ultralytics evaluated 2 of the 3 images of split `test`"):
        check_all_evaluated(data, "test", 2)


@pytest.mark.slow
def test_a_real_evaluation_passes_the_count_check(tmp_path):
    from prunebench.yolo.evaluate import evaluate

    result = evaluate(REPO / "weights" / "yolo11n.pt", REPO / "data" / "coco128" / "data.yaml", split="val",
                      imgsz=64, batch=16, device="cpu", work_dir=tmp_path)
    assert len(result["per_image"]) > 0
