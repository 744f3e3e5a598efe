"""Benchmark: building the static site for every shipped results folder (run with
`pytest tests/benchmarks/test_site_benchmark.py --benchmark-only -s`). Target < 30 s on the 2-core machine.

Two builds: as `prunebench site` runs by default (each results folder's plots/ copied), and with `--redraw`
(every figure drawn anew from the records). The medians are printed and written to results/benchmarks/site.json;
nothing is asserted about time (timed assertions do not belong in tests).
"""

import json
import os
import statistics
from pathlib import Path

import pytest

from prunebench.report import site

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "results" / "benchmarks" / "site.json"
SUITES = sorted(p.parent for p in (REPO / "results").glob("*/cells"))


def save(key, value):
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data[key] = dict(value, load_average_1m=round(os.getloadavg()[0], 2), cpu_count=os.cpu_count())
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize("redraw", [False, True], ids=["copy-plots", "redraw"])
def test_site_build(benchmark, tmp_path, redraw):
    assert SUITES, "no shipped results to build"
    pages = benchmark.pedantic(site.build, args=(SUITES, tmp_path / "site"), kwargs={"redraw": redraw},
                               rounds=3 if not redraw else 1, iterations=1)
    assert len(pages) > 60
    median = statistics.median(benchmark.stats.stats.data)
    records = sum(len(list((s / "cells").glob("*.json"))) for s in SUITES)
    save(f"site_build_{'redraw' if redraw else 'copy_plots'}",
         {"median_s": round(median, 3), "pages": len(pages), "suites": len(SUITES), "records": records,
          "target": "< 30 s"})
    print(f"\nsite build ({'redraw' if redraw else 'copy plots'}): {median:.2f} s for {len(SUITES)} suites, "
          f"{records} records, {len(pages)} pages")
