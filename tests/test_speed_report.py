"""A speed-up as the reports read it (prunebench.report.speed): its interval, the interval of two speed-ups' ratio,
the stand-in for records timed before intervals, and how it is printed."""

import pytest

from prunebench.report.show import _speedup
from prunebench.report.speed import CI, EXACT, IQR, ONE, Speed, product, ratio, speed_text


def test_the_ratio_of_two_speed_ups_has_the_endpoints_interval_and_holds_every_ratio_both_allow():
    a, b = Speed(2.0, 1.9, 2.1, 31), Speed(1.6, 1.5, 1.7, 31)
    found = ratio(a, b)
    assert found.value == pytest.approx(1.25) and found.kind == CI
    assert found.bounds() == pytest.approx((1.9 / 1.7, 2.1 / 1.5))
    grid = [x / y for x in (1.9, 2.0, 2.1) for y in (1.5, 1.6, 1.7)]
    assert found.bounds()[0] <= min(grid) and max(grid) <= found.bounds()[1]
    assert ratio(a, ONE).bounds() == (1.9, 2.1)  # against the exact dense row: its own interval
    assert product(a, b.inverse()).bounds() == pytest.approx(found.bounds())


def test_a_record_before_intervals_stands_on_median_plus_minus_iqr_and_no_spread_decides_nothing():
    old = Speed(1.16, iqr=0.19)
    assert not old.has_interval and old.kind == IQR and old.bounds() == pytest.approx((0.97, 1.35))
    assert not old.excludes_one()  # 1.16x with an IQR of 0.19: not measurably faster
    assert Speed(1.4, iqr=0.05).excludes_one()
    assert ratio(Speed(1.5, 1.45, 1.55), old).kind == IQR  # the weaker spread names the derived one
    assert Speed(1.5).bounds() is None and ratio(Speed(1.5), ONE).bounds() is None
    assert ratio(ONE, ONE).kind == EXACT


def test_a_speed_up_prints_its_interval_pairs_and_cap_and_an_old_one_says_it_has_none():
    assert speed_text(Speed(1.3412, 1.2921, 1.4012, 31)) == "1.34x [1.29, 1.40] ·31p"
    assert speed_text(Speed(1.34, 1.25, 1.45, 40, capped=True)) == "1.34x [1.25, 1.45] ·40p capped"
    assert speed_text(Speed(1.34, iqr=0.05)) == "1.34x (no CI; IQR 0.05)"
    assert speed_text(Speed(1.34, iqr=0.05, pairs=5)) == "1.34x (no CI; IQR 0.05) ·5p"
    assert speed_text(ONE) == "1.00x" and speed_text(None) == "—"
    # a ratio derived from an IQR band is for verdicts only: never printed as a 95 % interval
    assert "[" not in speed_text(ratio(Speed(1.5, iqr=0.1), Speed(1.2, 1.1, 1.3)))


def test_show_prints_the_interval_and_the_pairs_of_a_record():
    metrics = {"speedup_vs_dense": 1.3412, "speedup_iqr": 0.05, "speedup_low": 1.29, "speedup_high": 1.401,
               "speedup_pairs": 31, "speedup_capped": True}
    assert _speedup(metrics) == ("1.341x [1.290, 1.401], 31 pairs, time cap hit before the asked width "
                                 "(IQR 0.050)")
    assert _speedup({"speedup_vs_dense_onnxruntime": 1.2, "speedup_iqr_onnxruntime": 0.04}, "_onnxruntime") == \
        "1.200x (no 95 % interval) (IQR 0.040)"
