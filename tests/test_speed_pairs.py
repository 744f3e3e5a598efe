"""Paired speed-ups with intervals (prunebench.measure.pairs), on fake timers and a fake clock: nothing here is
timed, so every assertion is deterministic."""

import numpy as np
import pytest
from scipy.stats import binom

from prunebench.measure.pairs import PairRule, median_interval, speedup_metrics, time_pairs


class FakeMachine:
    """Two models whose latencies are true_ms times a shared drift times independent per-timing noise; each
    timing advances a fake clock by its latency (seconds)."""

    def __init__(self, model_ms, reference_ms, noise, seed=0):
        self.rng = np.random.default_rng(seed)
        self.model_ms, self.reference_ms, self.noise = model_ms, reference_ms, noise
        self.now, self.calls = 0.0, 0

    def clock(self):
        return self.now

    def _time(self, true_ms):
        self.calls += 1
        drift = 1 + 0.3 * np.sin(self.calls / 200)  # the machine speeds up and slows down: pairs must cancel it
        ms = true_ms * drift * float(np.exp(self.rng.normal(0, self.noise)))
        self.now += ms / 1e3 * 100  # each timing is 100 calls
        return ms

    def model(self, label):
        return self._time(self.model_ms)

    def reference(self, label):
        return self._time(self.reference_ms)


def test_a_quiet_machine_stops_at_the_minimum_once_the_interval_is_narrow():
    machine = FakeMachine(20.0, 30.0, noise=0.002)
    found = time_pairs(machine.model, machine.reference, PairRule(min_pairs=15, halfwidth=0.03, cap_s=600),
                       clock=machine.clock)
    assert found.pairs == 15 and not found.capped
    assert found.low <= found.speedup <= found.high
    assert found.relative_halfwidth <= 0.03


def test_a_noisy_machine_times_more_pairs_until_the_width_is_reached():
    machine = FakeMachine(20.0, 30.0, noise=0.06)
    rule = PairRule(min_pairs=15, halfwidth=0.03, cap_s=10_000)
    found = time_pairs(machine.model, machine.reference, rule, clock=machine.clock)
    assert found.pairs > 15 and not found.capped
    assert found.low >= found.speedup * 0.97 and found.high <= found.speedup * 1.03
    # it stopped at the first pair count whose interval was narrow enough
    shorter = median_interval(list(found.per_pair[:-1]))
    middle = float(np.median(found.per_pair[:-1]))
    assert shorter is None or shorter[0] < middle * 0.97 or shorter[1] > middle * 1.03


def test_the_cap_stops_timing_and_says_so():
    machine = FakeMachine(20.0, 30.0, noise=0.5)  # far too noisy for ±3 % in 5 fake seconds
    found = time_pairs(machine.model, machine.reference, PairRule(min_pairs=15, halfwidth=0.03, cap_s=5.0),
                       clock=machine.clock)
    assert found.capped and found.pairs == 15  # the minimum is timed even past the cap
    assert found.relative_halfwidth > 0.03


def test_past_the_minimum_the_cap_stops_timing_within_a_pair():
    machine = FakeMachine(20.0, 30.0, noise=0.5)
    found = time_pairs(machine.model, machine.reference, PairRule(min_pairs=6, halfwidth=0.03, cap_s=200.0),
                       clock=machine.clock)
    assert found.capped and found.pairs > 6
    last_pair = found.model_ms[-1] / 10 + found.reference_ms[-1] / 10  # fake seconds of the last pair
    assert 200.0 <= machine.now < 200.0 + last_pair + 1e-9
    metrics = speedup_metrics(found, "speedup_vs_dense", "speedup_iqr")
    assert metrics["speedup_capped"] is True and metrics["speedup_pairs"] == found.pairs


def test_the_minimum_is_timed_even_when_the_interval_is_narrow_sooner():
    machine = FakeMachine(20.0, 30.0, noise=0.0)  # no noise but the slow drift: ratios within 0.5 %
    found = time_pairs(machine.model, machine.reference, PairRule(min_pairs=9, halfwidth=0.03, cap_s=600),
                       clock=machine.clock)
    assert found.pairs == 9 and found.low == pytest.approx(1.5, rel=0.01) and found.high == pytest.approx(1.5, rel=0.01)


def test_too_few_pairs_for_an_interval_keep_timing_until_there_are_enough():
    machine = FakeMachine(20.0, 30.0, noise=0.0)
    found = time_pairs(machine.model, machine.reference, PairRule(min_pairs=3, halfwidth=0.03, cap_s=600),
                       clock=machine.clock)
    assert found.pairs == 6  # no 95 % interval of a median from 5 values
    assert median_interval([1.0] * 5) is None


def test_the_interval_contains_the_true_ratio_about_95_percent_of_the_time():
    """Coverage on a synthetic timer with skewed (log-normal) per-timing noise and drift: the true ratio is 1.5."""
    covered = 0
    trials = 400
    for seed in range(trials):
        machine = FakeMachine(20.0, 30.0, noise=0.08, seed=seed)
        pairs_done = lambda: machine.calls / 2  # a clock in pairs: the cap stops it at exactly 15
        found = time_pairs(machine.model, machine.reference, PairRule(min_pairs=15, halfwidth=0.001, cap_s=15),
                           clock=pairs_done)
        assert found.pairs == 15
        covered += found.low <= 1.5 <= found.high
    assert covered / trials >= 0.93  # the order-statistic interval's nominal coverage is 96.5 % at 15 pairs


@pytest.mark.parametrize("n", [6, 7, 15, 16, 40, 101])
def test_the_order_statistic_interval_has_at_least_95_percent_coverage(n):
    low, high = median_interval(list(range(n)))
    k = low + 1  # values are 0..n-1: the k-th smallest is k-1
    assert high == n - k
    assert 1 - 2 * binom.cdf(k - 1, n, 0.5) >= 0.95  # coverage of (r_k, r_{n+1-k})
    assert 1 - 2 * binom.cdf(k, n, 0.5) < 0.95  # and k is the largest that has it


def test_the_metric_names_follow_the_per_runtime_naming():
    machine = FakeMachine(20.0, 30.0, noise=0.0)
    found = time_pairs(machine.model, machine.reference, PairRule(), clock=machine.clock)
    assert set(speedup_metrics(found, "speedup_vs_dense", "speedup_iqr", "_onnxruntime")) == {
        "speedup_vs_dense_onnxruntime", "speedup_iqr_onnxruntime", "speedup_low_onnxruntime",
        "speedup_high_onnxruntime", "speedup_pairs_onnxruntime", "speedup_capped_onnxruntime"}
    assert set(speedup_metrics(None, "speedup_vs_torch", "speedup_vs_torch_iqr")) == {
        "speedup_vs_torch", "speedup_vs_torch_iqr", "speedup_vs_torch_low", "speedup_vs_torch_high",
        "speedup_vs_torch_pairs", "speedup_vs_torch_capped"}


@pytest.mark.parametrize("bad", [dict(min_pairs=0), dict(halfwidth=0.0), dict(halfwidth=1.5), dict(cap_s=0)])
def test_a_rule_out_of_range_is_refused_naming_the_setting(bad):
    with pytest.raises(ValueError, match="evaluation.measure.speedup_"):
        PairRule(**bad)
