"""Per-image detection matches, as Ultralytics' validator computes them, and the bootstrap replicates of mAP
that follow from them.

`Matches` holds, for every evaluated image, what `DetectionValidator.update_metrics` hands to its metrics: the
true-positive flags of each prediction at the ten IoU thresholds 0.50:0.95, its confidence and class, and the
classes of the image's labelled objects. `ultralytics.utils.metrics.ap_per_class` over them gives the
validator's mAP50 and mAP50-95 exactly (tests/test_intervals.py). A record stores them compactly
(`encode` / `decode`: a compressed NumPy archive in base64, read back without pickle).

`replicates` resamples the images with replacement, B times with a fixed seed, and recomputes mAP50 and
mAP50-95 on each resample (the same algorithm as `ap_per_class`: precision envelope, 101-point COCO
interpolation). The resamples are drawn over the image NAMES in sorted order, so every record evaluated on
the same split with the same seed and B uses the very same resamples: the difference of two records'
replicates, index by index, is a paired bootstrap of their difference, in which the shared difficulty of the
images cancels. numpy only (no torch): reports read these too.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

IOU_THRESHOLDS = 10  # 0.50, 0.55, ..., 0.95
_AP_X = np.linspace(0, 1, 101)  # COCO's 101-point interpolation, as ultralytics.utils.metrics.compute_ap
_EPS = 1e-16
ENCODING = "npz-base64-v1"
MAX_ENCODED_CHARS = 48 * 1024 * 1024  # a guard when reading a record from elsewhere: far above a real split


@dataclass
class Matches:
    names: list[str]  # image file names, in the validator's order
    tp: np.ndarray  # (predictions, 10) bool
    conf: np.ndarray  # (predictions,) float32
    pred_cls: np.ndarray  # (predictions,) int
    pred_img: np.ndarray  # (predictions,) index into names
    target_cls: np.ndarray  # (targets,) int
    target_img: np.ndarray  # (targets,) index into names

    @classmethod
    def from_stats(cls, stats: Sequence[dict[str, Any]]) -> Matches:
        """From the per-image dicts the validator's metrics receive (tp, conf, pred_cls, target_cls, im_name)."""
        names, tp, conf, pred_cls, pred_img, target_cls, target_img = [], [], [], [], [], [], []
        for index, stat in enumerate(stats):
            names.append(str(stat.get("im_name", index)))
            t = np.asarray(stat["tp"], dtype=bool).reshape(-1, IOU_THRESHOLDS)
            tp.append(t)
            conf.append(np.asarray(stat["conf"], dtype=np.float32).reshape(-1))
            pred_cls.append(np.asarray(stat["pred_cls"]).reshape(-1).astype(np.int64))
            pred_img.append(np.full(len(t), index, dtype=np.int64))
            labels = np.asarray(stat["target_cls"]).reshape(-1).astype(np.int64)
            target_cls.append(labels)
            target_img.append(np.full(len(labels), index, dtype=np.int64))

        def cat(parts, dtype, shape=(0,)):
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype=dtype)

        return cls(names, cat(tp, bool, (0, IOU_THRESHOLDS)), cat(conf, np.float32), cat(pred_cls, np.int64),
                   cat(pred_img, np.int64), cat(target_cls, np.int64), cat(target_img, np.int64))

    @property
    def images(self) -> int:
        return len(self.names)

    def images_sha(self) -> str:
        """Identity of the evaluated image set (sorted names): replicates pair only across equal sets."""
        return hashlib.sha256("\n".join(sorted(self.names)).encode()).hexdigest()[:16]

    # ------------------------------------------------------------ mAP
    def replicates(self, resamples: int, seed: int) -> dict[str, Any]:
        """mAP50 and mAP50-95 on `resamples` bootstrap resamples of the images (see the module docstring)."""
        order = np.argsort(self.names, kind="stable")  # column j of the resamples is the j-th name in sorted order
        column = np.empty(self.images, dtype=np.int64)
        column[order] = np.arange(self.images)
        counts = resample_counts(self.images, resamples, seed)[:, column]  # (B, images) in the matches' order
        sorted_preds = np.argsort(-self.conf, kind="stable")
        tp, cls, img = self.tp[sorted_preds], self.pred_cls[sorted_preds], self.pred_img[sorted_preds]
        classes = np.unique(self.target_cls)
        labels_per_image = np.zeros((self.images, len(classes)), dtype=np.int64)
        if len(classes):
            np.add.at(labels_per_image, (self.target_img, np.searchsorted(classes, self.target_cls)), 1)
        map50, map50_95 = np.zeros(resamples), np.zeros(resamples)
        for b in range(resamples):
            take = np.repeat(np.arange(len(tp)), counts[b][img])
            ap50, ap = _mean_ap(tp[take], cls[take], classes, counts[b] @ labels_per_image)
            map50[b], map50_95[b] = ap50, ap
        return {"resamples": int(resamples), "seed": int(seed), "images": self.images,
                "images_sha": self.images_sha(), "map50": _rounded(map50), "map50_95": _rounded(map50_95)}

    # ------------------------------------------------------------ storage
    def encode(self) -> dict[str, Any]:
        buffer = io.BytesIO()
        small = np.uint16 if self.images < 2 ** 16 else np.uint32
        np.savez_compressed(buffer, tp=np.packbits(self.tp, axis=1), conf=self.conf.astype(np.float32),
                            pred_cls=self.pred_cls.astype(np.uint16), pred_img=self.pred_img.astype(small),
                            target_cls=self.target_cls.astype(np.uint16), target_img=self.target_img.astype(small))
        return {"encoding": ENCODING, "names": list(self.names), "predictions": int(len(self.conf)),
                "targets": int(len(self.target_cls)), "data": base64.b64encode(buffer.getvalue()).decode("ascii")}

    @classmethod
    def decode(cls, entry: Any) -> Matches:
        """Matches from a record's entry; ValueError (naming what is wrong) for anything else. Never unpickles."""
        if not isinstance(entry, dict) or entry.get("encoding") != ENCODING:
            raise ValueError(f"per-image matches: not in the {ENCODING} encoding")
        data, names = entry.get("data"), entry.get("names")
        if not isinstance(data, str) or not isinstance(names, list) or len(data) > MAX_ENCODED_CHARS:
            raise ValueError("per-image matches: no data, no names, or more data than any split holds")
        try:
            with np.load(io.BytesIO(base64.b64decode(data, validate=True)), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in ("tp", "conf", "pred_cls", "pred_img", "target_cls", "target_img")}
        except (ValueError, KeyError, OSError) as exc:
            raise ValueError(f"per-image matches: unreadable ({exc})") from None
        n = len(arrays["conf"])
        tp = np.unpackbits(arrays["tp"], axis=1, count=IOU_THRESHOLDS).astype(bool) if n else \
            np.zeros((0, IOU_THRESHOLDS), bool)
        matches = cls([str(x) for x in names], tp, arrays["conf"].astype(np.float32),
                      arrays["pred_cls"].astype(np.int64), arrays["pred_img"].astype(np.int64),
                      arrays["target_cls"].astype(np.int64), arrays["target_img"].astype(np.int64))
        if not (len(tp) == n == len(matches.pred_cls) == len(matches.pred_img)
                and len(matches.target_cls) == len(matches.target_img)
                and all(int(a.max(initial=-1)) < len(names) for a in (matches.pred_img, matches.target_img))):
            raise ValueError("per-image matches: arrays of unequal length or image indices out of range")
        return matches


def resample_counts(images: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, images): how often each image (in sorted-name order) is drawn in each resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, images, size=(resamples, images)) if images else np.zeros((resamples, 0), np.int64)
    counts = np.zeros((resamples, images), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(resamples), images), draws.reshape(-1)), 1)
    return counts


def _mean_ap(tp: np.ndarray, cls: np.ndarray, classes: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(mAP50, mAP50-95) over the classes that have labels, predictions sorted by confidence (ap_per_class)."""
    aps = []
    for c, n_l in zip(classes, labels):
        if n_l == 0:
            continue  # absent from this resample: not a class with labels
        hit = tp[cls == c]
        if not len(hit):
            aps.append(np.zeros(IOU_THRESHOLDS))
            continue
        tpc = hit.cumsum(0)
        fpc = (~hit).cumsum(0)
        aps.append(_ap_columns(tpc / (n_l + _EPS), tpc / (tpc + fpc)))
    if not aps:
        return 0.0, 0.0
    ap = np.array(aps)
    return float(ap[:, 0].mean()), float(ap.mean())


def _ap_columns(recall: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """ultralytics.utils.metrics.compute_ap for each of the (n, 10) columns at once: sentinels, the precision
    envelope, and the 101-point interpolation (np.interp per column, as compute_ap does)."""
    k = recall.shape[1]
    mrec = np.concatenate((np.zeros((1, k)), recall, recall[-1:], np.ones((1, k))))
    mpre = np.concatenate((np.ones((1, k)), precision, np.zeros((2, k))))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre, 0), axis=0), 0)
    curves = np.stack([np.interp(_AP_X, mrec[:, j], mpre[:, j]) for j in range(k)])
    return np.trapezoid(curves, _AP_X, axis=1)


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]
