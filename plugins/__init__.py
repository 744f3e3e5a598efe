"""prunebench's built-in plugins, installed as `prunebench_builtins`.

Each subpackage is registered through the `prunebench` entry point group in pyproject.toml,
exactly as a third party's plugin is; nothing in `prunebench` imports them directly.
"""
