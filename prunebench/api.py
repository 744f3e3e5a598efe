"""prunebench as a library: run a suite, load its records, render a leaderboard or a site.

The `prunebench` command is a thin shell over these functions (it parses arguments and prints); a notebook or a
training script calls them directly and gets typed values back:

    import prunebench
    outcome = prunebench.run_suite("suites/smoke.yaml", device="cpu")   # a path, a `Suite`, a `LoadedSuite` or a dict
    results = prunebench.load_results("results/smoke")             # `Results`: a sequence of `Record`s
    frame = results.to_pandas()                                     # needs pandas (optional)
    prunebench.leaderboard("results/smoke")                         # -> the LEADERBOARD.md path
    prunebench.site(["results/smoke"], "site/")                     # -> the pages written

Mistakes a caller can fix raise `SuiteError` (a suite's problems, each with file:line) or `UsageError` (anything
else), both `ValueError`s with a one-paragraph message. Heavy modules (torch, Ultralytics) are imported only by
`run_suite` and only when a cell has to run.

(Not `run`: `prunebench.run` is the package of the runner, and importing it would shadow a function of that name.)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, Union

from prunebench.config.suite import LoadedSuite, Suite, SuiteError
from prunebench.util.safe_paths import check_results_folder, user_path

__all__ = ["RunOutcome", "Results", "SuiteLike", "UsageError", "SuiteError", "load_suite", "plan", "run_suite",
           "load_results", "leaderboard", "site"]

PathLike = Union[str, Path]
SuiteLike = Union[PathLike, Suite, LoadedSuite, Mapping[str, Any]]
Log = Callable[[str], None]


class UsageError(ValueError):
    """A mistake the caller can fix (no records, a folder that is not there, an unknown format)."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


# ---------------------------------------------------------------- suites
def _plugins(plugins_dir: PathLike | None, log: Log):
    from prunebench.plugin.loader import load_plugins

    try:
        plugins = load_plugins(user_path(plugins_dir) if plugins_dir else None)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for info in plugins.broken:
        log(f"prunebench: warning: plugin {info.name!r} ({info.source}, {info.location}) failed to load: {info.error}")
    return plugins


def load_suite(suite: SuiteLike, *, plugins_dir: PathLike | None = None, check_inputs: bool = True,
               log: Log = _stderr) -> LoadedSuite:
    """A suite validated against the installed plugins: from a YAML path, a `Suite`, a plain dict, or already loaded.

    Relative paths in a suite file resolve against the file's folder; in a `Suite` or a dict, against the current
    directory. With `check_inputs`, each model's and dataset's plugin checks its inputs (weights there, data YAML
    readable) before anything runs; a `LoadedSuite` is returned as it is. Raises `SuiteError` listing every problem.
    """
    from prunebench.config.suite import load_suite as load_file
    from prunebench.config.suite import validate_suite

    if isinstance(suite, LoadedSuite):
        loaded = suite
    else:
        plugins = _plugins(plugins_dir, log)
        broken = [i.name for i in plugins.broken]
        if isinstance(suite, (str, Path)):
            loaded = load_file(user_path(suite), plugins.registry, broken)
        else:
            data = suite.model_dump(mode="json", exclude_unset=True) if isinstance(suite, Suite) else dict(suite)
            loaded = validate_suite(data, plugins.registry, broken_plugins=broken)
        if check_inputs:
            _check_inputs(loaded)
    return loaded


def _check_inputs(loaded: LoadedSuite) -> None:
    """Plugins' own checks of their inputs (missing weights, broken data YAML): before any work."""
    problems = []
    for kind, entries in (("models", loaded.models), ("datasets", loaded.datasets)):
        for index, (name, resolved) in enumerate(entries.items()):
            try:
                resolved.instance().check()
            except ValueError as exc:
                where = f"{loaded.path}: {kind}.{index} ({name})" if loaded.path else f"{kind}.{index} ({name})"
                first, *rest = str(exc).splitlines() or [""]
                problems += [f"{where}: {first}", *rest]  # each listed line its own problem: none cut mid-path
    if problems:
        raise SuiteError(problems)


def plan(suite: SuiteLike, *, plugins_dir: PathLike | None = None, log: Log = _stderr) -> list:
    """The cells a suite expands into (`prunebench validate`'s count): `prunebench.run.plan.Cell` values."""
    from prunebench.run.plan import build_plan

    return build_plan(load_suite(suite, plugins_dir=plugins_dir, log=log))


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class Results(Sequence):
    """The records of one or more results folders, in file order: a sequence of `prunebench.records.record.Record`.

    `paths[i]` is the file `records[i]` was read from. Unreadable files are skipped with a warning, as every
    command does.
    """

    records: tuple = ()
    paths: tuple = ()

    def __getitem__(self, index):
        return self.records[index]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator:
        return iter(self.records)

    def ok(self) -> "Results":
        """Only the cells whose record says ok."""
        kept = [(p, r) for p, r in zip(self.paths, self.records) if r.ok]
        return Results(tuple(r for _, r in kept), tuple(p for p, _ in kept))

    def by_name(self) -> dict[str, Any]:
        return {record.name: record for record in self.records}

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per record: identity, spec, status, every scalar metric, the machine (what `to_pandas` shows).

        Read from each record's JSON form (`Record.to_json`), the versioned interface that stays put when the
        record's Python interior changes."""
        return [_flat_row(record.to_json(), path) for path, record in zip(self.paths, self.records)]

    def to_pandas(self):
        """The records as a pandas DataFrame, one row per cell (pandas is optional: `pip install pandas`)."""
        try:
            import pandas
        except ImportError:
            raise UsageError("Results.to_pandas() needs pandas, which prunebench does not install: "
                             "`pip install pandas`, or use Results.rows() for plain dicts") from None
        return pandas.DataFrame(self.rows())


def _flat_row(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    spec = data.get("spec") or {}
    strategy = spec.get("strategy") or {}
    row: dict[str, Any] = {
        "name": data.get("name"), "key": data.get("key"), "suite": data.get("suite"), "status": data.get("status"),
        "model": (spec.get("model") or {}).get("name"), "dataset": (spec.get("dataset") or {}).get("name"),
        "strategy": strategy.get("label") or strategy.get("name"), "amount": spec.get("amount"),
        "target": spec.get("target"), "seed": spec.get("seed"),
        "variant": (spec.get("deploy") or {}).get("variant") or "torch", "imgsz": (spec.get("evaluation") or {}).get("imgsz"),
    }
    for name, value in (data.get("metrics") or {}).items():
        if value is None or isinstance(value, (bool, int, float, str)):
            row[name] = value
    environment = data.get("environment") or {}
    for name in ("device", "device_name", "torch", "ultralytics", "torch_pruning", "prunebench", "hostname"):
        row[f"env.{name}"] = environment.get(name)
    error = data.get("error") or {}
    row["error"] = error.get("message") if isinstance(error, dict) else None
    row["file"] = str(path)
    return row


def load_results(*results_dirs: PathLike, warn: bool = True) -> Results:
    """Every record in the given results folders (each holds `cells/*.json`)."""
    from prunebench.records.store import iter_records

    dirs = _existing(results_dirs)
    found = list(iter_records(dirs, warn=warn))
    return Results(tuple(r for _, r in found), tuple(p for p, _ in found))


def _existing(results_dirs: Iterable[PathLike]) -> list[Path]:
    dirs = [user_path(d) for d in results_dirs]
    missing = [str(d) for d in dirs if not d.is_dir()]
    if missing:
        raise UsageError(f"no results folder at {', '.join(missing)}; run the suite first (`prunebench run SUITE`)")
    return dirs


# ---------------------------------------------------------------- running
@dataclass(frozen=True)
class RunOutcome:
    """What `run` did: the results folder, the driver's summary (ran, failed, cached...), the records now there."""

    results_dir: Path
    summary: Any  # prunebench.run.driver.RunSummary
    records: Results
    leaderboard: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.summary.interrupted and not self.summary.any_failed


@dataclass
class _Progress:
    """A tqdm bar over the cells to run, with log lines written above it."""

    todo: int
    bar: Any = field(default=None)

    def __post_init__(self) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.todo, desc="cells", unit="cell", file=sys.stderr, dynamic_ncols=True,
                        disable=self.todo == 0 or None)

    def log(self, message: str) -> None:
        from tqdm.auto import tqdm

        tqdm.write(message, file=sys.stderr)


def decisions(suite: SuiteLike, *, results: PathLike | None = None, only: Iterable[str] = (), force: bool = False,
              retry_failed: bool = False, keep_stale_plugin_results: bool = False,
              plugins_dir: PathLike | None = None, allow_other_files: bool = False, log: Log = _stderr):
    """(loaded suite, results folder, every cell in the plan, what `run_suite` would do with each selected cell).

    A results folder that holds files prunebench did not write is refused unless `allow_other_files` (a run would
    replace its LEADERBOARD*.md, plots/ and literature.json)."""
    from prunebench.run.driver import decide
    from prunebench.run.plan import build_plan, select

    loaded = load_suite(suite, plugins_dir=plugins_dir, log=log)
    results_dir = user_path(results) if results else loaded.results_dir
    try:
        check_results_folder(results_dir, allow_other_files=allow_other_files)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    cells = build_plan(loaded)
    only = list(only or [])
    chosen = select(cells, only)
    if not chosen:
        raise UsageError(f"--only {' '.join(only)} matches no cell; `prunebench run SUITE --dry-run` lists them")
    return loaded, results_dir, cells, decide(chosen, results_dir, force=force, retry_failed=retry_failed,
                                              keep_stale_plugin_results=keep_stale_plugin_results)


def run_suite(suite: SuiteLike, *, results: PathLike | None = None, only: Iterable[str] = (), force: bool = False,
        retry_failed: bool = False, keep_stale_plugin_results: bool = False, device: str | None = None,
        cache_dir: PathLike | None = None, executor: str | None = None, address: str | None = None,
        verbose: bool = False, leaderboard: bool = True, trust_checkpoints: bool = False,
        plugins_dir: PathLike | None = None, progress: bool = True, allow_other_files: bool = False,
        log: Log | None = None) -> RunOutcome:
    """Run a suite's cells (those without an ok record) and return the records: `prunebench run`.

    Every keyword is the CLI option of the same name (`results` is `--results`, `only` one or more `--only`
    patterns, `leaderboard=False` is `--no-leaderboard`). A Ctrl-C stops cleanly: every finished cell is saved and
    the outcome says `summary.interrupted`.
    """
    if trust_checkpoints:
        from prunebench.yolo.env import trust_checkpoints as trust

        trust(True)
    say = log or _stderr
    loaded, results_dir, cells, chosen = decisions(
        suite, results=results, only=only, force=force, retry_failed=retry_failed,
        keep_stale_plugin_results=keep_stale_plugin_results, plugins_dir=plugins_dir,
        allow_other_files=allow_other_files, log=say)
    write_literature(results_dir, loaded.suite.literature)
    from prunebench.run.driver import RunSummary, SKIP_FAILED, plural, run_decisions

    if not any(d.will_run for d in chosen):  # a resume with nothing to do imports no torch
        summary = RunSummary(cached=sum(d.action != SKIP_FAILED for d in chosen),
                             kept_failed=sum(d.action == SKIP_FAILED for d in chosen))
        board = None
        if leaderboard and _leaderboard_missing(results_dir):  # a run killed while it rendered
            board = render_leaderboard([results_dir], plots=True, log=say)
        return RunOutcome(results_dir, summary, _records_if_any(results_dir), board)

    from prunebench.records.environment import Environment
    from prunebench.records.store import MODELS_DIRNAME, cells_dir
    from prunebench.run.runner import CellRunner, RunSettings
    from prunebench.util import leftovers
    from prunebench.util.environment import environment, resolve_device, timing_threads
    from prunebench.yolo.env import configure, default_cache_dir

    configure(verbose=verbose)
    requested = device or loaded.suite.evaluation.device
    executor_name = executor or loaded.suite.executor.name
    plugins = _plugins(plugins_dir, lambda message: None)  # warnings were given when the suite loaded
    executor_cls = plugins.registry.get("executors", executor_name)
    try:
        resolved_device = resolve_device(requested)
    except ValueError as exc:
        if not getattr(executor_cls, "resolves_device_on_workers", False):
            raise UsageError(str(exc)) from None
        resolved_device = "cpu"  # this machine only prepares inputs; each worker resolves `requested` itself
    executor_params = dict(loaded.suite.executor.params) if executor_name == loaded.suite.executor.name else {}
    if address:
        executor_params["address"] = address
    chosen_executor = executor_cls(executor_cls.Params.model_validate(executor_params))
    cache = (user_path(cache_dir) if cache_dir else default_cache_dir()).resolve()
    todo = sum(d.will_run for d in chosen)
    bar = _Progress(todo if progress else 0)
    say = log or bar.log
    where = (f"{requested} (resolved on each worker)" if getattr(executor_cls, "resolves_device_on_workers", False)
             else resolved_device)
    say(f"prunebench: suite {loaded.suite.name!r}, {plural(len(chosen), 'cell')}, {todo} to run on "
        f"{where}, {len(chosen) - todo} cached or kept -> {results_dir}")
    if text := plugin_changes_text(chosen):
        say(text)
    env = Environment.from_json(environment(
        resolved_device, timing_threads=timing_threads(resolved_device, loaded.suite.evaluation.measure.threads)))
    settings = RunSettings(device=resolved_device, cache_dir=cache, verbose=verbose, log=say, environment=env,
                           results_dir=results_dir.resolve(), force=force, suite_cells=len(cells),
                           requested_device=requested)
    removed = leftovers.clean([cache / "scratch", cache, results_dir, cells_dir(results_dir),
                               results_dir / MODELS_DIRNAME, results_dir / "plots"])
    if removed:
        say(f"removed {len(removed)} scratch folder(s) and temporary file(s) an earlier run of this machine left "
            f"when it was killed (e.g. {removed[0]})")
    try:
        # The executor prepares datasets and baselines (trained or adapted once) and checks what every cell of a
        # model would fail on before any cell: a ValueError there is the caller's to fix, and nothing is written.
        summary = run_decisions(chosen, results_dir, chosen_executor, lambda: CellRunner(loaded, settings),
                                progress=bar.bar, log=say)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    finally:
        bar.bar.close()
    board = None
    if leaderboard and not summary.interrupted and (summary.ran or _leaderboard_missing(results_dir)):
        board = render_leaderboard([results_dir], plots=True, log=say)
    return RunOutcome(results_dir, summary, _records_if_any(results_dir), board)


def _leaderboard_missing(results_dir: Path) -> bool:
    """No LEADERBOARD.md beside records: the run that wrote them was stopped before it rendered one."""
    from prunebench.records.store import record_files

    return not (Path(results_dir) / "LEADERBOARD.md").is_file() and bool(record_files(Path(results_dir)))


def _records_if_any(results_dir: Path) -> Results:
    return load_results(results_dir) if Path(results_dir).is_dir() else Results()


def plugin_changes_text(decided) -> str:
    """Each cell whose earlier result came from another version of its strategy's plugin, and what is done."""
    from prunebench.run.driver import KEPT_OTHER_PLUGIN, PLUGIN_CHANGED, plural

    rerun = [d for d in decided if d.action == PLUGIN_CHANGED]
    kept = [d for d in decided if d.action == KEPT_OTHER_PLUGIN]
    lines = []
    if rerun:
        lines.append(f"{plural(len(rerun), 'cell')} will run again because the strategy's plugin changed "
                     "(--keep-stale-plugin-results keeps their results instead):")
        lines += [f"  {d.cell.name}: {d.note}" for d in rerun]
    if kept:
        lines.append(f"{plural(len(kept), 'cell')} kept from another plugin version (--keep-stale-plugin-results):")
        lines += [f"  {d.cell.name}: {d.note}" for d in kept]
    return "\n".join(lines)


def write_literature(results_dir: Path, declared) -> None:
    """A suite's published figures into its results folder, where `leaderboard RESULTS_DIR` finds them."""
    from prunebench.records import literature

    if declared or (Path(results_dir) / literature.FILENAME).is_file():
        literature.write(Path(results_dir), [literature.Figure(**f.model_dump()) for f in declared])


# ---------------------------------------------------------------- reports
def render_leaderboard(results_dirs: Sequence[PathLike], *, fmt: str = "github", output: PathLike | None = None,
                       plots: bool = True, log: Log = _stderr) -> Path:
    from prunebench.report import leaderboard as board
    from prunebench.report import screen

    dirs = [Path(d) for d in results_dirs]
    out = user_path(output) if output else None
    if out is not None and (out.is_dir() or not out.suffix):  # output=DIR: the leaderboard goes into that folder
        out = out / f"LEADERBOARD{board.EXTENSIONS.get(fmt, '.md')}"
    try:  # a record whose fields cannot be read is named and skipped; the others render
        path = screen.tolerant(lambda: board.write(dirs, out, fmt=fmt, plots=plots), dirs,
                               lambda one: board.write([one], fmt=fmt, plots=False), what="leaderboard")
    except ValueError as exc:  # no records, an unknown format
        raise UsageError(str(exc)) from None
    log(f"leaderboard: {path}")
    return path


def leaderboard(*results_dirs: PathLike, fmt: str = "github", output: PathLike | None = None, plots: bool = True,
                log: Log = _stderr) -> Path:
    """Render LEADERBOARD.<ext> (and plots/) from the records of one or more results folders; several merge.

    `fmt` is github (Markdown), csv, json, latex or html; the file goes to `output` or the first folder."""
    return render_leaderboard(_existing(results_dirs), fmt=fmt, output=output, plots=plots, log=log)


def site(results_dirs: Sequence[PathLike] | PathLike, output: PathLike, *, redraw: bool = False) -> list[Path]:
    """Write the results as a static HTML site into `output`; returns the pages written (the index first)."""
    from prunebench.report import screen
    from prunebench.report import site as pages

    dirs = _existing([results_dirs] if isinstance(results_dirs, (str, Path)) else list(results_dirs))
    try:  # a record whose fields cannot be read is named and skipped; the others render
        return screen.tolerant(lambda: pages.build(dirs, user_path(output), redraw=redraw), dirs, _site_probe,
                               what="site")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _site_probe(folder: Path) -> None:
    """The site of one record, in a scratch folder (a stand-in figure: drawing is not what is probed)."""
    from prunebench.report import site as pages

    (folder / "plots").mkdir(exist_ok=True)
    (folder / "plots" / "probe.png").write_bytes(b"")
    pages.build([folder], folder.parent / "site")
