"""The per-group latency table (PyTorch) on a constructed detector whose one wide group dominates the compute.

No time is asserted here (the machine is shared): the table is built with a deterministic stand-in clock whose
"milliseconds" are the model's multiply-accumulates, so what is checked is the table's own work (groups found,
each pruned alone at each step, savings put in the right row, the cache). The real clock's version of the same
check lives in tests/benchmarks/test_group_latency_benchmark.py."""

import pytest

# 3 -> 8 (3x3, stride 2) -> 256 (3x3) -> 8 (3x3) -> 16 (3x3, stride 2) -> Detect. Halving a group halves the conv that
# writes it and the one that reads it: the 256-wide group halves both 8x256x9 convs, any other group only one.
WIDE_IN_THE_MIDDLE = {
    "nc": 1,
    "backbone": [[-1, 1, "Conv", [8, 3, 2]], [-1, 1, "Conv", [256, 3, 1]], [-1, 1, "Conv", [8, 3, 1]],
                 [-1, 1, "Conv", [16, 3, 2]]],
    "head": [[[3], 1, "Detect", ["nc"]]],
}


def wide_in_the_middle(config=WIDE_IN_THE_MIDDLE):
    from prunebench.yolo.env import import_ultralytics

    import_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    return DetectionModel(config, nc=1, verbose=False).eval()


def macs_clock(calls):
    """A stand-in for latency.paired_speedup: 'ms' = millions of MACs at imgsz, the same in every pair."""
    from prunebench.yolo.prunable import count_macs_and_params

    def timer(model, reference, images, *, imgsz, pairs, **_):
        calls.append(imgsz)
        m, r = (count_macs_and_params(net, imgsz)[0] / 1e6 for net in (model, reference))
        return {"speedup": r / m, "model_ms": [m] * pairs, "reference_ms": [r] * pairs}

    return timer


def test_the_widest_group_saves_the_most_and_a_second_call_is_cached(tmp_path):
    from prunebench.measure import group_latency

    model = wide_in_the_middle()
    calls, lines = [], []
    build = dict(imgsz=128, cache_dir=tmp_path, steps=(0.25, 0.5), pairs=3, log=lines.append, timer=macs_clock(calls))
    table = group_latency.group_latency_table(model, **build)
    assert [g.channels for g in table.groups] == [8, 256, 8, 16]
    assert table.widest_saving().channels == 256, table.saved_ms
    wide = table.saved_ms[1]
    assert wide[1] > wide[0] > 0  # removing more of it saves more
    assert all(s[1] < wide[1] for i, s in enumerate(table.saved_ms) if i != 1)
    assert len(calls) == 8 and len(lines) == 4 and table.runtime == "torch" and table.cpu
    again = group_latency.group_latency_table(model, **build)
    assert again == table and len(calls) == 8  # read from the cache: nothing timed again
    assert group_latency.LatencyTable.from_json(table.to_json()) == table


def test_bad_steps_and_runtimes_are_refused(tmp_path):
    from prunebench.measure import group_latency

    with pytest.raises(ValueError, match="width steps must be fractions"):
        group_latency.group_latency_table(wide_in_the_middle(), imgsz=64, cache_dir=tmp_path, steps=(1.0,))
    with pytest.raises(ValueError, match="built for torch and onnxruntime so far, not 'openvino-int8'"):
        group_latency.group_latency_table(wide_in_the_middle(), imgsz=64, cache_dir=tmp_path, runtime="openvino-int8")


@pytest.mark.slow
def test_an_onnxruntime_table_exports_and_times_each_pruned_model(tmp_path):
    """Real exports and sessions (nothing asserted about time): each entry a pruned model of its own in ONNX Runtime."""
    from prunebench.measure import group_latency

    table = group_latency.group_latency_table(wide_in_the_middle(), imgsz=64, cache_dir=tmp_path, runtime="onnxruntime",
                                              steps=(0.5,), pairs=1, min_run_time=0.01,
                                              groups=("model.1.conv", "model.2.conv"))
    assert table.runtime == "onnxruntime" and [g.channels for g in table.groups] == [256, 8]
    assert all(row[0] is not None and row[0] == row[0] for row in table.saved_ms)  # measured, finite
    assert all(s[0] > 0 for s in table.speedup) and table.dense_ms > 0
