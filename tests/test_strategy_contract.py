"""docs/strategy-contract.md is the contract: it lists exactly the public helpers (prunebench.pruning.__all__) with
their real signatures, documents every CellContext field, and `list strategies` shows a Literal param's values."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from prunebench import Params
from prunebench.config.suite import describe_params, type_text

REPO = Path(__file__).resolve().parents[1]
CONTRACT = REPO / "docs" / "strategy-contract.md"


def signature_text(obj) -> str:
    """inspect.signature as the doc writes it: annotations unquoted (they are strings under `from __future__
    import annotations`), a builtin default by its name."""
    text = str(inspect.signature(obj))
    text = re.sub(r"(: |-> )'([^']*)'", r"\1\2", text)
    return re.sub(r"<built-in function (\w+)>", r"\1", text)


def documented() -> dict[str, str]:
    """name -> signature text of every `#### `name(...)`` heading of the contract."""
    found = {}
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"#### `(\w+)(\(.*)`", line):
            assert match.group(1) not in found, f"{match.group(1)} is documented twice"
            found[match.group(1)] = match.group(2)
    return found


def test_the_contract_lists_exactly_the_public_helpers_with_their_signatures():
    pruning = pytest.importorskip("prunebench.pruning")
    docs = documented()
    assert sorted(docs) == sorted(pruning.__all__), "docs/strategy-contract.md and prunebench.pruning.__all__ differ"
    wrong = {name: (docs[name], signature_text(getattr(pruning, name))) for name in pruning.__all__
             if docs[name] != signature_text(getattr(pruning, name))}
    assert not wrong, "signatures in docs/strategy-contract.md that are not the code's (doc, code):\n" + \
        "\n".join(f"{name}: {doc}\n  {code}" for name, (doc, code) in wrong.items())


def test_the_contract_documents_every_field_of_the_context():
    from prunebench import CellContext

    text = CONTRACT.read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `(\w+)`", text, flags=re.M))
    fields = {f.name for f in dataclasses.fields(CellContext)}
    assert fields <= rows | {"imgsz", "batch"}, fields - rows
    assert "| `imgsz`, `batch` |" in text


def test_the_plugin_guide_points_to_the_contract():
    guide = (REPO / "docs" / "writing-a-strategy-plugin.md").read_text(encoding="utf-8")
    assert "strategy-contract.md" in guide


class LiteralParams(Params):
    mode: Literal["mean", "first"] = Field("mean", description="How.")
    maybe: Literal["a", "b"] | None = None
    round_to: int | None = None
    pair: tuple[int, int] = (1, 3)


def test_a_literal_param_shows_its_allowed_values():
    rows = {name: kind for name, kind, _, _ in describe_params(LiteralParams)}
    assert rows == {"mode": "one of 'mean', 'first'", "maybe": "one of 'a', 'b' or None", "round_to": "int or None",
                    "pair": "tuple[int, int]"}
    assert type_text(bool) == "bool"


def test_list_strategies_prints_the_values_of_literal_params(capsys):
    from prunebench.cli import main

    assert main(["list", "strategies"]) == 0
    out = capsys.readouterr().out
    assert "Literal" not in out
    assert "one of 'l1', 'l2', 'lamp', 'taylor', 'hessian', 'bn-scale', 'group-norm', 'fpgm', 'random'" in out
    assert "one of 'mean', 'first'" in out
