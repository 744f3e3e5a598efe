"""The leaderboard's "Measured-latency targets" part: for each cell asked for a speed-up on a runtime ("2x@onnx"),
what was asked, what its search measured there (with the 95 % interval and pairs), the GFLOPs ratio that bought it,
the steps it took, and why a target was not met.

Read from each record's details.latency_target (records.latency_target); one row per cell, seeds apart, because
each seed's search times its own ratios. Nothing at all when no record has such a target, so leaderboards without
one render byte for byte as before.
"""

from __future__ import annotations

import html
from typing import Sequence

from prunebench.records.latency_target import LatencyStep, LatencyTargetOutcome
from prunebench.records.record import Record

TITLE = "Measured-latency targets"
HEADERS = ["Model × dataset", "Strategy", "Seed", "Asked", "Achieved [95% CI] (pairs)", "GFLOPs ratio", "Ratio",
           "Steps (ratio: speed-up)", "Met", "Final model [95% CI]"]
INTRO = ("Each target is a speed-up over the dense model measured on the named runtime, timed in alternating pairs "
         "while the pruning ratio was searched (before fine-tuning, which keeps the shapes); met = within the "
         "tolerance. Final model: the fine-tuned model's speed-up on that runtime as its own cell timed it (the "
         "deployment variant's, for an export: its real calibration); — until that cell has run. "
         "docs/latency-targets.md says how.")


def _interval(step: LatencyStep) -> str:
    spread = f" [{step.low:.2f}, {step.high:.2f}]" if step.low is not None and step.high is not None else ""
    return f"{step.speedup:.2f}x{spread} ({step.pairs}{', capped' if step.capped else ''})"


def final_speedup(record: Record, runtime: str, variants: dict[tuple[str, str], Record]) -> str:
    """The speed-up over dense that the cell timing the final model on `runtime` recorded: the record itself for
    torch, else its deployment variant of that runtime; "—" when there is none (yet)."""
    timed = record if runtime == "torch" else variants.get((record.key, runtime))
    speedup = timed.metric("speedup_vs_dense") if timed is not None else None
    if speedup is None:
        return "—"
    low, high = timed.metric("speedup_low"), timed.metric("speedup_high")
    return f"{speedup:.2f}x" + (f" [{low:.2f}, {high:.2f}]" if low is not None and high is not None else "")


def rows(records: Sequence[Record]) -> list[list[str]]:
    """One row per ok record with a measured-latency target, in name order (deployment variants left out: they
    carry their parent's search)."""
    found = []
    variants = {(str(parent.get("key")), r.variant): r for r in records
                if r.ok and isinstance(parent := (r.deploy or {}).get("parent"), dict)}
    for record in sorted(records, key=lambda r: r.name):
        outcome = LatencyTargetOutcome.from_record(record) if record.ok else None
        if outcome is None or record.is_variant:
            continue
        steps = ", ".join(f"{s.fraction:.2f}: {s.speedup:.2f}x" for s in outcome.steps)
        met = "yes" if outcome.met else f"no: {outcome.why}"
        found.append([f"{record.model_name} × {record.dataset_name}", record.strategy_label, str(record.seed),
                      f"{outcome.target:g}x@{outcome.runtime} (±{outcome.tolerance:.0%})", _interval(outcome.kept),
                      f"{outcome.kept.gflops_ratio:.2f}x", f"{outcome.kept.fraction:.3f}", steps, met,
                      final_speedup(record, outcome.runtime, variants)])
    return found


def leaderboard_text(records: Sequence[Record], fmt: str) -> str:
    """The part in `fmt` (github or html; "" for the other formats, whose rows carry the record's fields, and when
    no record has a measured-latency target)."""
    table = rows(records)
    if not table or fmt not in ("github", "html"):
        return ""
    if fmt == "html":
        head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
        body = "\n".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table)
        return (f"<h2>{TITLE}</h2>\n<p>{html.escape(INTRO)}</p>\n<table>\n<tr>{head}</tr>\n{body}\n</table>\n")
    from tabulate import tabulate

    from prunebench.report.escape import markdown_cell

    cells = [[markdown_cell(c) for c in row] for row in table]
    return f"\n## {TITLE}\n\n{INTRO}\n\n" + tabulate(cells, HEADERS, tablefmt="github", disable_numparse=True) + "\n"


__all__ = ["HEADERS", "TITLE", "leaderboard_text", "rows"]
