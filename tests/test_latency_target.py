"""Measured-latency targets ("2x@openvino-int8"): parsed once, validated against the runtimes a suite deploys to,
searched by timing each ratio on the runtime (run.latency_target), judged and shown with what was achieved."""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace

import pytest

from prunebench.config.suite import SuiteError, load_suite
from prunebench.records.latency_target import LatencyStep, LatencyTargetOutcome
from prunebench.records.record import Record
from prunebench.report import latency_targets
from prunebench.run.delivered import ModelSize, judge
from prunebench.run.latency_target import MAX_FRACTION, Trial, next_fraction, search
from prunebench.run.plan import build_plan
from prunebench.util.amount import Amount

# ---------------------------------------------------------------------- parsing


@pytest.mark.parametrize("written, label, asked, runtime", [
    ("2x@openvino-int8", "x2.00-openvino-int8", "2x@openvino-int8", "openvino-int8"),
    (" 1.5 X @ torch ", "x1.50-torch", "1.5x@torch", "torch"),
    ("1.25×@onnx", "x1.25-onnx", "1.25x@onnx", "onnx"),
])
def test_a_measured_target_names_its_runtime_and_reads_back_the_same(written, label, asked, runtime):
    amount = Amount.parse(written)
    assert (amount.label(), amount.asked(), amount.runtime, amount.is_latency_target) == (label, asked, runtime, True)
    assert Amount.parse(amount.suite_value()) == amount
    assert re.fullmatch(r"[A-Za-z0-9._-]+", amount.label())  # a cell name's part: no '@', no path characters
    assert Amount.of(None, amount.target, runtime) == amount  # as a record rebuilds it from its spec


def test_a_measured_target_is_another_amount_than_the_gflops_target_of_the_same_size():
    gflops, onnx, int8 = Amount.parse("2x"), Amount.parse("2x@onnx"), Amount.parse("2x@onnx-int8")
    assert len({gflops, onnx, int8}) == 3 and len({a.label() for a in (gflops, onnx, int8)}) == 3
    assert not gflops.is_latency_target and gflops.label() == "x2.00"


@pytest.mark.parametrize("bad, message", [
    ("2x@", "amount '2x@': after '@' comes the deploy runtime the speed-up is measured on, one of torch, onnx, "
            "onnx-int8, openvino, openvino-int8 (lower case, as `evaluation.deploy` spells it); got ''"),
    ("2x@ONNX", "amount '2x@ONNX': after '@' comes the deploy runtime the speed-up is measured on, one of torch, "
                "onnx, onnx-int8, openvino, openvino-int8 (lower case, as `evaluation.deploy` spells it); got 'ONNX'"),
    ("1x@onnx", "amount '1x@onnx' is neither a fraction in (0, 1) (0.3 = remove 30 %) nor a speed-up target above "
                "1x written like '2x' or '1.5x' (the pruned model's GFLOPs = dense / 2) or '2x@openvino-int8' "
                "(measured 2x faster than the dense model on that deploy runtime)"),
])
def test_a_badly_written_measured_target_is_refused_in_words(bad, message):
    with pytest.raises(ValueError) as info:
        Amount.parse(bad)
    assert str(info.value) == message


# ---------------------------------------------------------------------- suite validation
SUITE = """\
name: demo
models:
  - name: m1
    plugin: fake-model
datasets:
  - name: d1
    plugin: fake-data
strategies:
  - name: l1-channel
    amounts: AMOUNTS
seeds: [0]
evaluation: {imgsz: 320, device: cpu, deploy: [torch, onnx]}
"""


def _problems(tmp_path, registry, amounts, extra=""):
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(SUITE.replace("AMOUNTS", amounts) + extra))
    with pytest.raises(SuiteError) as info:
        load_suite(path, registry)
    return [p.replace(str(path), "suite.yaml") for p in info.value.problems]


CAN = ("This suite can time measured-latency targets on torch, onnx (its evaluation.deploy: the cell's final model is "
       "evaluated and timed on that runtime as a deployment variant)")


def test_a_runtime_the_suite_does_not_deploy_to_is_refused_naming_those_it_does(tmp_path, registry):
    assert _problems(tmp_path, registry, "[2x@openvino-int8]") == [
        "suite.yaml:10: strategies.0.amounts.0: '2x@openvino-int8' asks for a speed-up measured on 'openvino-int8', "
        f"which this suite does not deploy to. {CAN}: add 'openvino-int8' to evaluation.deploy (it needs the "
        "openvino extra: pip install \"prunebench[openvino]\") or name one of those."]


def test_an_unknown_runtime_gets_a_did_you_mean(tmp_path, registry):
    assert _problems(tmp_path, registry, "[0.3, 1.5x@onnxruntime]") == [
        "suite.yaml:10: strategies.0.amounts.1: '1.5x@onnxruntime': 'onnxruntime' is not a runtime prunebench "
        "deploys to (did you mean 'onnx-int8'?); those are torch, onnx, onnx-int8, openvino, openvino-int8. "
        f"{CAN}."]


def test_a_measured_target_with_an_iterative_schedule_or_an_unstructured_strategy_is_refused(tmp_path, registry):
    got = _problems(tmp_path, registry, "[2x@onnx]\n    schedule: {steps: 2, finetune_epochs_per_step: 1}")
    assert got == ["suite.yaml:11: strategies.0.schedule: measured-latency targets (such as '2x@onnx') are searched "
                   "in one shot, each step timed on the runtime; an iterative schedule is not supported with them: "
                   "remove `schedule:` or give GFLOPs targets such as '2x'"]
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE.replace("AMOUNTS", "[1.5x@torch]").replace("l1-channel", "l1-unstructured"))
    with pytest.raises(SuiteError, match="speed-up targets such as '1.5x@torch' need a channel strategy"):
        load_suite(path, registry)


def test_the_plan_names_the_runtime_and_keeps_gflops_targets_keys(tmp_path, registry):
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE.replace("AMOUNTS", "[2x, 2x@onnx]"))
    cells = {c.name: c for c in build_plan(load_suite(path, registry)) if not c.deploy}
    measured, gflops = cells["m1.d1.l1-channel.x2.00-onnx.s0"], cells["m1.d1.l1-channel.x2.00.s0"]
    assert measured.spec["target_runtime"] == "onnx" and measured.asked == Amount.parse("2x@onnx")
    assert "target_runtime" not in gflops.spec  # a GFLOPs target's spec, and so its key, is as it always was
    path.write_text(SUITE.replace("AMOUNTS", "[2x]"))
    alone = {c.name: c for c in build_plan(load_suite(path, registry))}
    assert alone["m1.d1.l1-channel.x2.00.s0"].key == gflops.key


# ---------------------------------------------------------------------- the search, on a known curve
def _curve(overhead: float):
    """A runtime whose fixed part is `overhead` of the dense time and whose rest shrinks with the channels kept
    squared (a conv's FLOPs): speed-up = 1 / (overhead + (1 - overhead) (1 - f)^2)."""
    def measure(fraction: float) -> Trial:
        speedup = 1 / (overhead + (1 - overhead) * (1 - fraction) ** 2)
        step = LatencyStep(fraction=fraction, gflops_ratio=round(1 / (1 - fraction) ** 2, 4), speedup=speedup,
                           low=speedup * 0.98, high=speedup * 1.02, pairs=15, capped=False)
        return Trial(step, model=f"pruned at {fraction:.4f}", report={"fraction": fraction})
    return measure


def test_the_search_corrects_a_gflops_prediction_that_falls_short_until_within_tolerance():
    target = 2.0
    first = 1 - (1 / target) ** 0.5  # the ratio whose GFLOPs ratio is 2x: measured, it falls short
    found = search(_curve(0.3), target, first, runtime="torch")
    assert found.steps[0].speedup < 0.9 * target  # the prediction alone would not have met it
    assert found.met and found.why is None and abs(found.kept.step.speedup / target - 1) <= 0.10
    assert 2 <= len(found.steps) <= 5
    assert found.kept.model == f"pruned at {found.kept.step.fraction:.4f}"  # the kept trial's own model
    assert found.kept.step == min(found.steps, key=lambda s: abs(s.speedup / target - 1))


def test_a_target_beyond_the_fixed_overhead_says_so_with_the_speed_up_at_the_highest_ratio():
    # overhead 0.6: even at the ceiling ratio the speed-up is 1 / (0.6 + 0.4 * 0.01) = 1.66x < 2x
    found = search(_curve(0.6), 2.0, 0.29, runtime="openvino-int8")
    assert not found.met
    highest = max(found.steps, key=lambda s: s.fraction)
    assert highest.fraction == pytest.approx(MAX_FRACTION) and highest.speedup < 2.0
    assert found.why.startswith(f"2x on openvino-int8 is beyond what pruning this model buys there: at the highest "
                                f"ratio tried ({MAX_FRACTION:.2f}: {highest.gflops_ratio:.2f}x fewer GFLOPs) "
                                f"openvino-int8 measured {highest.speedup:.2f}x, short of the target")
    assert found.kept.step is highest  # the closest it could get


def test_the_next_ratio_stays_inside_the_bracket_and_under_the_ceiling():
    inside = next_fraction([(0.0, 1.0), (0.3, 1.4), (0.6, 2.6)], 2.0)
    assert 0.3 < inside < 0.6
    assert next_fraction([(0.0, 1.0), (0.8, 1.1)], 5.0) == pytest.approx(MAX_FRACTION)


# ---------------------------------------------------------------------- judged and shown
def _outcome(speedup: float, met: bool) -> LatencyTargetOutcome:
    step = LatencyStep(fraction=0.4, gflops_ratio=1.9, speedup=speedup, low=speedup - 0.05, high=speedup + 0.05,
                       pairs=17, capped=False)
    first = replace(step, fraction=0.29, gflops_ratio=1.5, speedup=1.2)
    return LatencyTargetOutcome(target=1.5, runtime="onnx", tolerance=0.1, met=met,
                                why=None if met else "the step budget ran out", kept=step, steps=(first, step),
                                first_prediction="GFLOPs", timing="pairs")


def test_a_measured_target_is_delivered_when_its_search_met_it_and_flagged_with_why_when_not():
    dense = ModelSize(params=2_600_000, nonzero_params=2_590_000, prunable_weights=2_400_000, prunable_zeros=0,
                      conv_channels=5_000, prunable_channels=4_000, gflops=6.5)
    pruned = replace(dense, params=1_500_000, gflops=3.42)
    met = judge(dense, pruned, amount=None, target=1.5, structured=True, report={},
                measured_target=_outcome(1.46, True))
    assert not met.flagged and (met.measure, met.measured, met.expected) == ("measured_speedup", 1.46, 1.5)
    missed = judge(dense, pruned, amount=None, target=1.5, structured=True, report={},
                   measured_target=_outcome(1.2, False))
    assert missed.flagged and missed.why == ("asked 1.5x@onnx, delivered another amount (beyond 10% relative): "
                                             "measured 1.20x on onnx (1.90x fewer GFLOPs): the step budget ran out")


def _record(outcome: LatencyTargetOutcome | None, deploy: str | None = None, metrics: dict | None = None) -> Record:
    name = "m1.d1.l1-channel.x1.50-onnx.s0"
    spec = {"model": {"name": "m1"}, "dataset": {"name": "d1"},
            "strategy": {"name": "l1-channel", "label": "l1-channel", "structured": True},
            "amount": None, "target": 1.5, "target_runtime": "onnx", "seed": 0}
    if deploy is not None:  # the parent's deployment variant: carries its search, times the final model there
        spec["deploy"] = {"variant": deploy, "runtime": "onnxruntime", "imgsz": 320, "parent": {"name": name, "key": "k"}}
    data = {"schema_version": 2, "suite": "demo", "name": name + (f".{deploy}" if deploy else ""),
            "key": "v" if deploy else "k", "measure_key": "m", "status": "ok", "spec": spec, "metrics": metrics or {},
            "details": {} if outcome is None else {"latency_target": outcome.to_details()}}
    return Record.from_json(data)


def test_the_leaderboard_part_shows_asked_and_achieved_and_nothing_without_such_targets():
    record = _record(_outcome(1.46, True))
    assert LatencyTargetOutcome.from_record(record) == _outcome(1.46, True)  # the record's dict reads back typed
    assert record.asked.asked() == "1.5x@onnx"
    [row] = latency_targets.rows([record])
    assert row[3:] == ["1.5x@onnx (±10%)", "1.46x [1.41, 1.51] (17)", "1.90x", "0.400", "0.29: 1.20x, 0.40: 1.46x",
                       "yes", "—"]  # the onnx variant has not run yet
    variant = _record(_outcome(1.46, True), deploy="onnx",
                      metrics={"speedup_vs_dense": 1.44, "speedup_low": 1.4, "speedup_high": 1.5})
    other = _record(_outcome(1.46, True), deploy="onnx-int8", metrics={"speedup_vs_dense": 0.9})
    [row] = latency_targets.rows([other, variant, record])  # one row: variants carry the search, are not rows
    assert row[-1] == "1.44x [1.40, 1.50]"  # the final model timed on the target's runtime, not another
    text = latency_targets.leaderboard_text([record], "github")
    assert "## Measured-latency targets" in text and "| 1.5x@onnx (±10%) |" in text
    missed = latency_targets.rows([_record(_outcome(1.2, False))])
    assert missed[0][-2] == "no: the step budget ran out"
    assert latency_targets.leaderboard_text([_record(None)], "github") == ""  # no target: the page as before


def test_rows_and_compare_keep_a_measured_target_apart_from_the_gflops_target_of_the_same_size():
    from prunebench.report.compare import identity, row_identity
    from prunebench.report.rows import Entry, group_rows

    measured = _record(_outcome(1.46, True))
    gflops = Record.from_json({**measured.to_json(), "name": "m1.d1.l1-channel.x1.50.s0", "key": "g",
                               "spec": {k: v for k, v in measured.spec.items() if k != "target_runtime"},
                               "details": {}})
    entries = [Entry(measured, "cpu"), Entry(gflops, "cpu")]
    assert identity(entries[0]) != identity(entries[1]) and row_identity(entries[0]) != row_identity(entries[1])
    assert len(group_rows(entries)) == 2
