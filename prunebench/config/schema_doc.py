"""The suite reference in markdown, generated from the suite's JSON Schema."""

from __future__ import annotations

import json
from typing import Any

from tabulate import tabulate

from prunebench.config.suite import suite_json_schema

INTRO = """# Suite reference

Generated from the suite's JSON Schema by `prunebench schema --markdown` (a test keeps this file
in step with the code). Unknown keys are errors everywhere. The `params` of each model, dataset
and strategy entry are validated by that plugin's own params: `prunebench list strategies`
(and `models`, `datasets`, `executors`) shows them with their defaults.
"""


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return f"[{prop['$ref'].split('/')[-1]}](#{prop['$ref'].split('/')[-1].lower()})"
    if "anyOf" in prop:
        return " or ".join(_type(p) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return f"list of {_type(prop.get('items', {}))}"
    return prop.get("type", "any")


def _constraints(prop: dict[str, Any]) -> str:
    keys = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<",
            "minItems": "at least items:", "pattern": "matches"}
    parts = [f"{label} `{prop[key]}`" for key, label in keys.items() if key in prop]
    for sub in prop.get("anyOf", []):
        parts += [f"{label} `{sub[key]}`" for key, label in keys.items() if key in sub]
    return ", ".join(parts)


def _table(schema: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        default = "required" if name in required else json.dumps(prop.get("default")) if "default" in prop else ""
        rows.append((f"`{name}`", _type(prop), default, _constraints(prop), prop.get("description", "")))
    return tabulate(rows, headers=("key", "type", "default", "constraints", "description"), tablefmt="github")


def suite_reference_markdown() -> str:
    schema = suite_json_schema()
    sections = [INTRO, "## Suite\n\nThe top level of a suite file.\n\n" + _table(schema)]
    for name, definition in sorted(schema.get("$defs", {}).items()):
        doc = definition.get("description", "")
        sections.append(f"## {name}\n\n{doc + chr(10) + chr(10) if doc else ''}{_table(definition)}")
    return "\n\n".join(sections) + "\n"
