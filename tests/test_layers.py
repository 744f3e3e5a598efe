"""The folders are layers: each may import only the layers below it (docs/source-tree.md). Read from the
source with ast, every import counted (module level and inside functions), so a lazy import cannot hide a leak."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# layer -> the prunebench layers it may import (besides itself). "prunebench" is the package's face
# (prunebench/__init__.py); "faces" are the other public modules at the top (pruning, structured, testing).
ALLOWED = {
    "util": set(),
    "plugin": {"util"},
    "config": {"plugin", "util"},
    "records": {"util"},
    "yolo": {"util"},
    "measure": {"yolo", "util"},
    "report": {"records", "util"},
    "run": {"config", "records", "plugin", "yolo", "measure", "util"},
    "prunebench": {"plugin", "api"},
    # the library's functions (run, load_results, leaderboard, site): everything the CLI composes
    "api": {"plugin", "config", "records", "run", "report", "util", "yolo"},
    # the face also hands strategies the per-group latency table (measure) and the sensitivity map (records)
    "pruning": {"plugin", "yolo", "measure", "records"},
    "structured": {"plugin", "yolo", "pruning"},
    "testing": {"prunebench", "plugin", "pruning", "yolo", "measure", "util"},
    "cli": {"prunebench", "api", "plugin", "config", "records", "run", "report", "util", "yolo"},
    "__main__": {"cli"},
    # built-in plugins: the public faces, and the Ultralytics glue and utilities model and dataset sources need
    "plugins": {"prunebench", "pruning", "structured", "testing", "yolo", "util"},
}
LAYER_OF_TOP = {"__init__": "prunebench", "api": "api", "pruning": "pruning", "structured": "structured", "testing": "testing",
                "cli": "cli", "__main__": "__main__"}


def layer_of_file(path: Path) -> str:
    rel = path.relative_to(REPO)
    if rel.parts[0] == "plugins":
        return "plugins"
    assert rel.parts[0] == "prunebench"
    if len(rel.parts) == 2:
        return LAYER_OF_TOP[rel.stem]
    return rel.parts[1]


def layer_of_module(module: str) -> str | None:
    """The layer a `prunebench...` module belongs to (None for other packages)."""
    parts = module.split(".")
    if parts[0] == "prunebench_builtins":
        return "plugins"
    if parts[0] != "prunebench":
        return None
    if len(parts) == 1:
        return "prunebench"
    return LAYER_OF_TOP.get(parts[1], parts[1])


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of the file, except those only type checkers run (`if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and getattr(block.test, "id", getattr(block.test, "attr", None)) == "TYPE_CHECKING"
                   for stmt in block.body for n in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "prunebench":  # `from prunebench import pruning` names a module, not the face
                for alias in node.names:
                    sub = f"prunebench.{alias.name}"
                    known = (REPO / "prunebench" / alias.name).is_dir() or (REPO / "prunebench" / f"{alias.name}.py").is_file()
                    found.append((node.lineno, sub if known else "prunebench"))
            else:
                found.append((node.lineno, node.module))
    return found


def sources():
    return sorted([*REPO.glob("prunebench/**/*.py"), *REPO.glob("plugins/**/*.py")])


def test_every_folder_has_a_rule():
    layers = {layer_of_file(p) for p in sources()}
    assert layers <= set(ALLOWED), f"no rule for {layers - set(ALLOWED)}: add it to ALLOWED and docs/source-tree.md"


def test_no_import_crosses_a_layer_the_wrong_way():
    wrong = []
    for path in sources():
        layer = layer_of_file(path)
        for line, module in imports(path):
            target = layer_of_module(module)
            if target is None or target == layer:
                continue
            if target not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(REPO)}:{line}: {layer} imports {module} ({target})")
    assert not wrong, "imports against the layer rules:\n" + "\n".join(wrong)


def test_the_top_of_the_package_holds_only_its_faces():
    top = sorted(p.name for p in (REPO / "prunebench").glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "api.py", "cli.py", "pruning.py", "structured.py"]
    # and the conformance kit, a face with a few modules of its own (the pytest plugin is its __init__)
    assert (REPO / "prunebench" / "testing" / "__init__.py").is_file()


@pytest.mark.parametrize("layer", ["util", "records", "report", "config", "plugin"])
def test_torch_free_layers_import_no_torch(layer):
    """Every command that only reads suites or records (validate, list, leaderboard, show) starts fast."""
    leaks = [f"{p.relative_to(REPO)}:{line}: {module}" for p in sources() if layer_of_file(p) == layer
             for line, module in imports(p) if module.split(".")[0] in ("torch", "ultralytics", "torch_pruning")
             and p.name != "environment.py"]  # util.environment resolves devices: torch is its subject
    assert not leaks, "\n".join(leaks)


def module_of_file(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[0] == "plugins":  # installed as prunebench_builtins
        parts = ["prunebench_builtins", *parts[1:]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the prunebench modules it imports anywhere (inside functions too); `from a import b` counts a.b
    where b is a module."""
    files = sources()
    known = {module_of_file(p) for p in files}
    graph = {}
    for path in files:
        here = module_of_file(path)
        tree = ast.parse(path.read_text(), str(path))
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", getattr(block.test, "attr", None)) == "TYPE_CHECKING"
                       for stmt in block.body for n in ast.walk(stmt)}
        edges = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                assert node.level == 0, f"{path}:{node.lineno}: relative import; write the absolute module"
                edges |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                          for a in node.names}
        graph[here] = {m for m in edges if m in known and m != here}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (each is at least one import cycle)."""
    order, low, stack, found = {}, {}, [], []

    def visit(module):
        order[module] = low[module] = len(order)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in order:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], order[other])
        if low[module] == order[module]:
            group = stack[stack.index(module):]
            del stack[stack.index(module):]
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return found


def test_no_module_imports_itself_back():
    """Inside a folder too, lazily or not: two modules that need each other need a third that both read
    (imports under `if TYPE_CHECKING:` never run and do not count)."""
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(group) for group in found)


def test_the_cycle_finder_sees_a_lazy_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
