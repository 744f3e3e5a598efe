"""Per-image matches as Ultralytics' validator computes them, their bootstrap replicates, and intervals that
pair two models image by image and seed by seed."""

import numpy as np
import pytest

from prunebench.records.matches import Matches, resample_counts
from prunebench.report.intervals import BETTER, TIE, WORSE, Estimate, combine, seed_draws, verdict


def image(name, hits, misses, labels, cls=0, conf_hit=0.9, conf_miss=0.3):
    """One image's stats: `hits` true positives (at every IoU threshold), `misses` false positives, `labels`
    labelled objects, all of class `cls`."""
    tp = np.array([[True] * 10] * hits + [[False] * 10] * misses, dtype=bool).reshape(-1, 10)
    conf = np.array([conf_hit - 0.01 * i for i in range(hits)] + [conf_miss - 0.01 * i for i in range(misses)])
    return {"tp": tp, "conf": conf, "pred_cls": np.full(hits + misses, cls), "target_cls": np.full(labels, cls),
            "im_name": name}


def ultralytics_map(matches: Matches) -> tuple[float, float]:
    from ultralytics.utils.metrics import ap_per_class

    ap = ap_per_class(matches.tp, matches.conf, matches.pred_cls, matches.target_cls)[5]
    return float(ap[:, 0].mean()), float(ap.mean())


def test_matches_round_trip_without_pickle_and_refuse_garbage():
    stats = [image("a.jpg", 2, 1, 3), image("b.jpg", 0, 2, 1, cls=1), image("c.jpg", 1, 0, 1)]
    matches = Matches.from_stats(stats)
    back = Matches.decode(matches.encode())
    assert back.names == ["a.jpg", "b.jpg", "c.jpg"]
    for field in ("tp", "conf", "pred_cls", "pred_img", "target_cls", "target_img"):
        assert np.array_equal(getattr(back, field), getattr(matches, field)), field
    assert ultralytics_map(back) == ultralytics_map(matches)
    with pytest.raises(ValueError, match="not in the npz-base64-v1 encoding"):
        Matches.decode({"encoding": "pickle", "data": ""})
    with pytest.raises(ValueError, match="unreadable"):
        Matches.decode({"encoding": "npz-base64-v1", "names": ["a"], "data": "bm90IGFuIG56"})


def test_replicates_with_every_image_once_equal_ultralytics_ap_per_class(monkeypatch):
    """The bootstrap's own AP code is Ultralytics' algorithm: on the sample itself it gives ap_per_class's mAP."""
    rng = np.random.default_rng(3)
    stats = []
    for i in range(12):
        hits, misses = int(rng.integers(0, 4)), int(rng.integers(0, 5))
        stats.append(image(f"{i:02d}.jpg", hits, misses, hits + int(rng.integers(0, 3)), cls=i % 3,
                           conf_hit=0.95 - 0.03 * i, conf_miss=0.5 - 0.02 * i))
    matches = Matches.from_stats(stats)
    from prunebench.records import matches as module

    monkeypatch.setattr(module, "resample_counts", lambda n, b, s: np.ones((b, n), dtype=np.int64))
    once = matches.replicates(1, 0)
    map50, map50_95 = ultralytics_map(matches)
    assert once["map50"][0] == pytest.approx(map50, abs=1e-6) and once["map50_95"][0] == pytest.approx(map50_95, abs=1e-6)


def test_resamples_are_drawn_over_sorted_names_so_records_share_them():
    counts = resample_counts(5, 50, seed=7)
    assert counts.shape == (50, 5) and (counts.sum(axis=1) == 5).all()
    assert np.array_equal(counts, resample_counts(5, 50, seed=7)) and not np.array_equal(counts, resample_counts(5, 50, 8))
    # Two records whose validator saw the images in another order resample the same images together.
    forward = [image(f"{n}.jpg", 1, 0, 1) for n in "abcde"]
    backward = list(reversed(forward))
    a, b = Matches.from_stats(forward).replicates(30, 0), Matches.from_stats(backward).replicates(30, 0)
    assert a["map50_95"] == b["map50_95"] and a["images_sha"] == b["images_sha"]


def test_a_paired_bootstrap_decides_what_two_separate_intervals_cannot():
    """Two models on 24 images of very different difficulty, identical except on 6 images where the second finds
    one more object each. Each model's own interval is wide (the images' difficulty) and the two overlap; the
    paired difference cancels the shared difficulty and excludes 0."""
    rng = np.random.default_rng(0)
    first, second = [], []
    for i in range(24):
        labels = int(rng.integers(2, 7))
        hits = int(rng.integers(0, labels + 1))  # easy and hard images
        misses = int(rng.integers(0, 3))
        first.append(image(f"{i:02d}.jpg", hits, misses, labels))
        better = hits + 1 if i in (1, 3, 8, 11, 17, 20) and hits < labels else hits
        second.append(image(f"{i:02d}.jpg", better, misses, labels))
    a, b = (Matches.from_stats(s).replicates(400, 0) for s in (first, second))
    pairing = (a["images_sha"], 400, 0)
    ea = Estimate(ultralytics_map(Matches.from_stats(first))[1], np.array(a["map50_95"]), pairing)
    eb = Estimate(ultralytics_map(Matches.from_stats(second))[1], np.array(b["map50_95"]), pairing)
    assert eb.value > ea.value
    assert eb.low < ea.high, "the separate intervals overlap: on their own they decide nothing"
    difference = eb.minus(ea)
    assert verdict(difference) == BETTER and difference.low > 0
    assert difference.half_width < ea.half_width / 3
    # Unpaired (another seed of resamples for one side), the same difference is a tie.
    shuffled = Estimate(eb.value, np.array(Matches.from_stats(second).replicates(400, 1)["map50_95"]), pairing)
    assert verdict(shuffled.minus(ea)) == TIE
    assert verdict(ea.minus(eb)) == WORSE


def test_without_replicates_on_both_sides_nothing_is_decided():
    with_reps = Estimate(0.5, np.full(10, 0.5), ("x", 10, 0))
    assert verdict(with_reps.minus(Estimate(0.2))) is None
    assert verdict(with_reps.minus(Estimate(0.2, np.full(10, 0.2), ("other images", 10, 0)))) is None


def test_seeds_are_resampled_with_the_images_and_paired_by_position():
    draws = seed_draws(3, 500)
    assert draws.shape == (500, 3) and set(np.unique(draws)) == {0, 1, 2}
    assert np.array_equal(draws, seed_draws(3, 500)), "every row of three seeds draws the same positions"
    images = np.linspace(-0.02, 0.02, 500)
    seeds = [0.40, 0.50, 0.45]  # the seeds disagree by 10 points: the interval must show it
    row = combine(seeds, [list(s + images) for s in seeds], [("i", 500, 0)] * 3, [2, 0, 1])
    assert row.value == pytest.approx(0.45)
    assert row.high - row.low > 0.04, "wider than the images' own spread: the seeds' spread is in it"
    one_seed = combine([0.45], [list(0.45 + images)], [("i", 500, 0)], [0])
    assert one_seed.high - one_seed.low < row.high - row.low
    # Two rows with the same seeds: the seeds' spread cancels in their difference.
    other = combine([s + 0.01 for s in seeds], [list(s + 0.01 + images) for s in seeds], [("i", 500, 0)] * 3,
                    [2, 0, 1])
    assert np.allclose(other.minus(row).replicates, 0.01)


def test_the_default_interval_is_the_percentile_one_and_the_bias_correcting_methods_move_it():
    from prunebench.report.intervals import BASIC, BC, PERCENTILE, Estimate, combine

    rng = np.random.default_rng(0)
    replicates = 0.50 + 0.005 + rng.normal(0, 0.01, 4000)  # resamples sit above the figure, as mAP's do
    plain = Estimate(0.50, replicates)
    assert plain.method == PERCENTILE
    assert (plain.low, plain.high) == (np.percentile(replicates, 2.5), np.percentile(replicates, 97.5))
    assert plain.high - 0.50 > 0.50 - plain.low  # the offset puts the percentile interval off-centre, upwards
    basic = Estimate(0.50, replicates, method=BASIC)
    assert basic.low == pytest.approx(2 * 0.50 - plain.high) and basic.high == pytest.approx(2 * 0.50 - plain.low)
    bc = Estimate(0.50, replicates, method=BC)
    assert bc.low < 0.50 < bc.high and bc.low < plain.low and bc.high < plain.high  # moved down by the offset
    centred = Estimate(float(np.median(replicates)), replicates, method=BC)  # no offset: no correction
    assert (centred.low, centred.high) == pytest.approx((plain.low, plain.high), abs=1e-4)
    # carried through a difference and a row's combination
    assert plain.minus(Estimate(0.4, replicates)).method == PERCENTILE
    assert basic.minus(Estimate(0.4, replicates, method=BASIC)).method == BASIC
    row = combine([0.5, 0.51], [replicates, replicates + 0.01], [("x", 4000, 0)] * 2, [0, 1], method=BC)
    assert row.method == BC and row.low is not None
    with pytest.raises(ValueError, match="interval method 'bca'"):
        Estimate(0.5, replicates, method="bca")
