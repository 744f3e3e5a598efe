"""Ultralytics' side effects stay out of the user's way: no font download, no settings file of theirs."""

import os


def test_checking_a_dataset_never_fetches_a_font(tmp_path, monkeypatch):
    from prunebench.yolo.env import import_ultralytics
    from tests.test_training import write_tiny_dataset

    import_ultralytics()
    import ultralytics.utils.downloads as downloads
    from ultralytics.data.utils import check_det_dataset

    def no_network(*args, **kwargs):
        raise AssertionError(f"Ultralytics tried the network: {args}")

    monkeypatch.setattr(downloads, "is_url", no_network)
    monkeypatch.setattr(downloads, "safe_download", no_network)
    data = check_det_dataset(str(write_tiny_dataset(tmp_path)))
    assert data["nc"] >= 1
    assert os.environ["YOLO_OFFLINE"] == "1"
