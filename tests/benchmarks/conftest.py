"""Benchmarks run only when asked for: `pytest tests/benchmarks --benchmark-only`.

The normal test run (`python -m pytest`) does not collect this folder: its benchmarks take
minutes, measure the machine as much as the code, and assert nothing about time.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path, config):
    if config.getoption("benchmark_only", default=False):
        return None
    path = Path(collection_path).resolve()
    if path != HERE and HERE in path.parents and path.name.startswith("test_"):
        return True
    return None
