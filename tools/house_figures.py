"""Figures on the shape of prunebench/: `.get(` calls, the largest function and class, and import cycles
between its modules and plugins/ (every import counted, those inside functions too; tests/test_layers.py). Run: python tools/house_figures.py"""

import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "prunebench"
sys.path.insert(0, str(REPO))
from tests.test_layers import cycles, import_graph  # noqa: E402  (one reading of imports: the test's)


def largest(kind) -> tuple[int, str]:
    best = (0, "")
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, kind):
                size = node.end_lineno - node.lineno + 1
                best = max(best, (size, f"{path.relative_to(REPO)}:{node.lineno} {node.name}"))
    return best


def main():
    gets = sum(len(re.findall(r"\.get\(", p.read_text())) for p in PACKAGE.rglob("*.py"))
    print(f".get( calls in prunebench/: {gets}")
    print("largest function: %d lines, %s" % largest((ast.FunctionDef, ast.AsyncFunctionDef)))
    print("largest class: %d lines, %s" % largest(ast.ClassDef))
    found = cycles(import_graph())
    print(f"import cycles: {len(found)}")
    for component in found:
        print("  " + " <-> ".join(component))


if __name__ == "__main__":
    main()
