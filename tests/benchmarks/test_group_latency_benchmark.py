"""The per-group latency table on the real clock (`pytest tests/benchmarks -k group_latency -s`): on a constructed
detector whose 1024-channel group carries most of the compute, removing half of that group should save the most
time in PyTorch on this CPU. Printed, with the dense model's IQR and the load average beside it; nothing is asserted
about time (as for every benchmark here): on a loaded, shared machine the entries are noisy."""

import copy

from tests.test_group_latency import WIDE_IN_THE_MIDDLE, wide_in_the_middle

VERY_WIDE = copy.deepcopy(WIDE_IN_THE_MIDDLE)
VERY_WIDE["backbone"][1] = [-1, 1, "Conv", [1024, 3, 1]]


def test_the_widest_group_saves_the_most_on_the_real_clock(benchmark, tmp_path):
    from prunebench.measure import group_latency

    model = wide_in_the_middle(VERY_WIDE)
    table = benchmark.pedantic(lambda: group_latency.group_latency_table(
        model, imgsz=128, cache_dir=tmp_path, steps=(0.5,), pairs=5, min_run_time=0.2), rounds=1, iterations=1)
    print(f"\ndense {table.dense_ms:.1f} ms (IQR {table.provenance['dense_iqr_ms']} ms, load average "
          f"{table.provenance['load_average_at_end']}), {table.cpu}; saved at 0.5:",
          {g.label: row[0] for g, row in zip(table.groups, table.saved_ms)})
    print("the widest group saves the most:", "yes" if table.widest_saving().channels == 1024 else "NO")
    assert [g.channels for g in table.groups] == [8, 1024, 8, 16]
