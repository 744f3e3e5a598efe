"""Names a user or a plugin may not give a strategy: the ones prunebench's own rows carry, and any that would
read as a path. The dense model as loaded is "dense" and the fine-tuned dense controls "dense-ft" or
"dense-ft-<hex>" (prunebench.records.record.DENSE / DENSE_FT): a strategy labelled so would have its pruned rows
shown, and answered, as the dense model."""

from __future__ import annotations

import re

RESERVED = ("dense", "dense-ft")
_CONTROL = re.compile(r"^dense-ft(-[0-9a-f]+)?$", re.IGNORECASE)


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a strategy (or label a suite's strategy entry), or None."""
    if name.lower() == "dense" or _CONTROL.match(name):
        return (f"{name!r} is reserved: prunebench names its own dense rows {', '.join(map(repr, RESERVED))} "
                "(and 'dense-ft-<hex>'), and a strategy so named would be shown as the dense model; choose another")
    if "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        return f"{name!r} holds a path separator (or is . or ..), and names become parts of file names; choose another"
    return None
