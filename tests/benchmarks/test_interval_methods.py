"""How the accuracy intervals' methods behave (`pytest tests/benchmarks --benchmark-only -k interval -s`).

- draws: on the published BCCD records (results/bccd), how far the 95 % interval's endpoints move between two
  draws of the bootstrap resamples, per method (percentile, basic, bias-corrected) and per number of resamples.
  Each record's per-image matches are resampled 4,000 times with a seed other than the published one; the draws
  compared are disjoint slices (8 of 500, 4 of 1,000, 2 of 2,000), combined over seeds exactly as the
  leaderboard combines them (prunebench.report.intervals.combine), for the fine-tuned dense control, LAMP 2x
  (the widest Δ interval on BCCD) and their difference. Sized for a shared 2-core machine (about 5 minutes of
  CPU): the Monte Carlo error of an endpoint falls as 1/sqrt(B), so larger B follow from these. Written to results/benchmarks/interval_draws.json.
- coverage: a small simulation with a known truth. A population of 20,000 synthetic images (one class, 0-4
  objects and 0-6 scored detections each) has a mAP50-95 computed on all of it; samples of 72 images (BCCD's
  test split) are drawn, each gets a 500-resample bootstrap, and the share of intervals that contain the
  population's figure is counted per method, with the mean offset of the replicates from the sample's figure.
  Written to results/benchmarks/interval_coverage.json.
Nothing is asserted: these are measurements for docs/speed-measurement.md.
"""

import json
import statistics
import time
from pathlib import Path

import numpy as np

from prunebench.records.matches import IOU_THRESHOLDS, Matches
from prunebench.records.store import load_record
from prunebench.report.intervals import METHODS, combine, interval_of

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "results" / "benchmarks"
ROWS = ("dense-ft.a0.00", "lamp.x2.00")
REFERENCE = "dense-ft.a0.00"
DRAW_SEED, TOTAL = 1, 4000
SIZES = (500, 1000, 2000)


def _records():
    found = {}
    for path in sorted((REPO / "results" / "bccd" / "cells").glob("*.json")):
        record = load_record(path)
        label = record.name.split(".", 2)[2].rsplit(".s", 1)[0]  # "dense-ft.a0.00"
        if label in ROWS:
            found.setdefault(label, []).append(record)
    return found


def _movement(draws):
    """|endpoint of draw i - endpoint of draw i+1| over disjoint pairs of draws, both ends, in points."""
    moved = []
    for a, b in zip(draws[0::2], draws[1::2]):
        moved += [abs(a[0] - b[0]) * 100, abs(a[1] - b[1]) * 100]
    return moved


def test_interval_endpoints_between_draws_on_bccd(benchmark):
    records = _records()
    started = time.time()
    replicates = {label: [np.asarray(Matches.decode(r.details["per_image"]).replicates(TOTAL, DRAW_SEED)["map50_95"])
                          for r in rs] for label, rs in records.items()}
    seconds = time.time() - started

    def estimates(size, j, method):
        rows = {}
        for label, rs in records.items():
            parts = [rep[j * size:(j + 1) * size] for rep in replicates[label]]
            rows[label] = combine([r.metric("map50_95") for r in rs], parts, [("bccd", size, DRAW_SEED)] * len(rs),
                                  [r.spec["seed"] for r in rs], method)
        return rows

    def measure():
        out = {}
        for method in METHODS:
            for size in SIZES:
                draws = [estimates(size, j, method) for j in range(TOTAL // size)]
                intervals = {label: [(d[label].low, d[label].high) for d in draws] for label in records}
                intervals.update({f"{label} - {REFERENCE}": [(d[label].minus(d[REFERENCE]).low,
                                                              d[label].minus(d[REFERENCE]).high) for d in draws]
                                  for label in records if label != REFERENCE})
                moved = [m for ends in intervals.values() for m in _movement(ends)]
                out[f"{method}, B={size}"] = {"median_points": round(statistics.median(moved), 3),
                                              "max_points": round(max(moved), 3), "compared_endpoints": len(moved)}
        offsets = {label: round(100 * (statistics.fmean(float(np.mean(rep)) for rep in reps)
                                       - statistics.fmean(r.metric("map50_95") for r in records[label])), 3)
                   for label, reps in replicates.items()}
        return out, offsets

    movement, offsets = benchmark.pedantic(measure, rounds=1, iterations=1)
    result = {"records": {label: [r.name for r in rs] for label, rs in records.items()}, "metric": "map50_95",
              "draw_seed": DRAW_SEED, "resamples_drawn": TOTAL, "seconds_resampling": round(seconds, 1),
              "endpoint_movement": movement, "mean_replicate_minus_value_points": offsets,
              "how": "disjoint slices of one 4,000-resample draw, compared in pairs; rows combined over their 3 "
                     "seeds with the leaderboard's fixed seed draws; movement in mAP50-95 points"}
    for key, value in movement.items():
        print(f"{key}: median {value['median_points']} max {value['max_points']} points")
    (OUT / "interval_draws.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")


def _population(images, rng):
    """Synthetic matches: per image 0-4 objects, detections whose scores and IoUs are better for true objects."""
    stats = []
    for i in range(images):
        objects = int(rng.integers(0, 5))
        found = [o for o in range(objects) if rng.random() < 0.8]
        false = int(rng.integers(0, 3))
        iou = np.concatenate([rng.uniform(0.45, 0.97, len(found)), np.zeros(false)])
        conf = np.concatenate([rng.beta(5, 2, len(found)), rng.beta(2, 4, false)])
        tp = iou[:, None] >= np.linspace(0.5, 0.95, IOU_THRESHOLDS)[None, :]
        stats.append({"tp": tp, "conf": conf, "pred_cls": np.zeros(len(conf)), "target_cls": np.zeros(objects),
                      "im_name": f"{i:06d}.jpg"})
    return stats


def test_interval_coverage_on_a_synthetic_population(benchmark):
    rng = np.random.default_rng(0)
    population = _population(20_000, rng)

    def map50_95(matches):
        """mAP50-95 on all of `matches`' images: Ultralytics' ap_per_class, which the replicates reproduce."""
        from ultralytics.utils.metrics import ap_per_class

        return float(ap_per_class(matches.tp, matches.conf, matches.pred_cls, matches.target_cls)[5].mean())

    true_value = map50_95(Matches.from_stats(population))

    def simulate(trials=1000, n=72, resamples=500):
        hits = {method: 0 for method in METHODS}
        offsets = []
        for t in range(trials):
            pick = rng.integers(0, len(population), n)
            sample = Matches.from_stats([dict(population[i], im_name=f"{k:03d}.jpg") for k, i in enumerate(pick)])
            value = map50_95(sample)
            reps = np.asarray(sample.replicates(resamples, t)["map50_95"])
            offsets.append(float(reps.mean()) - value)
            for method in METHODS:
                low, high = interval_of(value, reps, method)
                hits[method] += low <= true_value <= high
        return {method: hits[method] / trials for method in METHODS}, statistics.fmean(offsets), trials

    coverage, offset, trials = benchmark.pedantic(simulate, rounds=1, iterations=1)
    result = {"population_images": len(population), "true_map50_95": round(true_value, 4), "sample_images": 72,
              "resamples": 500, "trials": trials, "coverage_at_95": coverage,
              "mean_replicate_minus_sample_value_points": round(100 * offset, 3)}
    print(result)
    (OUT / "interval_coverage.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
