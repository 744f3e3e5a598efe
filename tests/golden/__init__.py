"""Golden files: expected outputs stored as text. `PRUNEBENCH_UPDATE_GOLDEN=1 pytest ...` rewrites them
(then read the diff before committing: a golden is only as right as the last person who looked at it)."""

import difflib
import os
from pathlib import Path

GOLDEN = Path(__file__).parent


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("PRUNEBENCH_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"no golden file {path}: create it with PRUNEBENCH_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = difflib.unified_diff(expected.splitlines(), text.splitlines(), f"golden/{name}", "rendered",
                                    lineterm="")
        raise AssertionError(f"output differs from {path} (if intended, rerun with PRUNEBENCH_UPDATE_GOLDEN=1 "
                             "and review the diff):\n" + "\n".join(list(diff)[:80]))
