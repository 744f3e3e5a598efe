"""Print the recipe experiments' val figures, one line per cell (docs/finetune-recipe.md).

Reads only the val split (`details.metrics_by_split.val`) and timings from the records: the test
split takes no part in choosing the fine-tuning recipe, so this script never prints it.

    python suites/experiments/summarize_val.py RESULTS_DIR [RESULTS_DIR ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def recipe_of(record: dict) -> str:
    runs = (record["details"].get("finetune") or {}).get("runs") or []
    if not runs:
        return "-"
    run = runs[-1]  # what Ultralytics really used (auto resolves to an optimizer and lr0)
    return f"{run['optimizer']} lr0 {run['lr0']:g} wu {run['warmup_epochs']:g}"


def line(record: dict) -> str:
    details = record["details"]
    val = details["metrics_by_split"]["val"]
    before = details.get("metrics_before_finetune") if details.get("metrics_before_finetune_split") == "val" else None
    steps = (details.get("finetune") or {}).get("steps", 0)
    return (f"{record['spec']['strategy']['label'] or record['spec']['strategy']['name']:<24} s{record['spec']['seed']} "
            f"{recipe_of(record):<28} steps {steps:>4}  val mAP50-95 {100 * val['map50_95']:5.1f}  "
            f"mAP50 {100 * val['map50']:5.1f}  before-ft {100 * before['map50_95'] if before else float('nan'):5.1f}  "
            f"finetune {record['timings'].get('finetune', 0):6.0f} s  total {record['timings']['total']:6.0f} s")


def main(folders: list[str]) -> None:
    for folder in folders:
        print(f"== {folder}")
        for path in sorted(Path(folder, "cells").glob("*.json")):
            record = json.loads(path.read_text())
            if record["status"] != "ok":
                print(f"{path.name}: {record['status']}")
                continue
            if record["details"]["eval_split"] != "val":
                raise SystemExit(f"{path}: headline split is {record['details']['eval_split']}, not val; "
                                 "run the experiment suites with `evaluation: {split: val}`")
            print(line(record))


if __name__ == "__main__":
    main(sys.argv[1:])
