"""Benchmarks of the reports (run with `pytest tests/benchmarks --benchmark-only`).

- leaderboard with intervals: reading the largest published results folder and rendering its compact and full
  leaderboards, every row's 95 % interval, every paired Δ, ★, rank and "Dominated by" decided from the
  bootstrap replicates the records hold. Target < 10 s on a 2-core CPU.
The figures are printed and written to results/benchmarks/reports.json; nothing is asserted about time.
"""

import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "results" / "benchmarks" / "reports.json"


def _largest_results_folder() -> tuple[Path, int]:
    folders = [(p.parent, len(list(p.glob("*.json")))) for p in (REPO / "results").glob("*/cells")]
    return max(folders, key=lambda f: f[1])


def _save(name: str, figures: dict) -> None:
    found = json.loads(OUT.read_text()) if OUT.is_file() else {}
    found[name] = figures
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")


def test_rendering_the_largest_leaderboard_with_intervals(benchmark):
    from prunebench.records.store import iter_records
    from prunebench.report.leaderboard import render
    from prunebench.report.rows import build_sections

    folder, count = _largest_results_folder()

    def once():
        records = [r for _, r in iter_records([folder])]
        return render(records), render(records, full=True), records

    started = time.perf_counter()
    compact, full, records = benchmark.pedantic(once, rounds=3, iterations=1)
    seconds = (time.perf_counter() - started) / 3
    sections = build_sections(records)
    with_intervals = sum(1 for s in sections for r in s.rows if r.accuracy.get("map50_95") is not None
                         and r.accuracy["map50_95"].replicates is not None)
    figures = {"folder": str(folder.relative_to(REPO)), "records": count, "rows": sum(len(s.rows) for s in sections),
               "rows_with_intervals": with_intervals, "seconds_per_render": round(seconds, 3), "target_s": 10}
    print(f"\nleaderboard with intervals: {figures}")
    _save("leaderboard_render", figures)
