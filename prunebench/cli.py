"""The `prunebench` command: argument handling only; the work lives in the modules it calls."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path

from prunebench import __version__
from prunebench.report.escape import terminal
from prunebench.util.safe_paths import user_path

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


class UserError(Exception):
    """A mistake the user can fix: printed as one paragraph, no traceback."""


def _err(message: str) -> None:
    print(f"prunebench: error: {message}", file=sys.stderr)


def _load_plugins(args):
    from prunebench.plugin.loader import load_plugins

    try:
        plugins = load_plugins(user_path(args.plugins_dir) if args.plugins_dir else None)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    for info in plugins.broken:
        print(f"prunebench: warning: plugin {info.name!r} ({info.source}, {info.location}) failed to load: "
              f"{info.error}", file=sys.stderr)
    return plugins


TRUST_HELP = ("load checkpoints by full unpickling, which runs any code a .pt file holds: only for files whose "
              "source you trust (by default every checkpoint is loaded weights-only and such a file is refused)")


# ---------------------------------------------------------------- commands
def cmd_validate(args) -> int:
    from prunebench import api

    loaded = api.load_suite(args.suite, plugins_dir=args.plugins_dir)
    cells = api.plan(loaded)
    variants = sum(bool(c.deploy) for c in cells)
    trained = [c for c in cells if not c.deploy]
    controls = sum(c.is_control for c in trained)
    dense = sum(c.is_dense for c in trained) - controls
    from prunebench.run.driver import plural

    deployed = f" + {plural(variants, 'deployment variant')} (exports, smaller inputs)" if variants else ""
    print(f"{args.suite}: valid suite {loaded.suite.name!r}: {plural(len(cells), 'cell')} "
          f"({plural(dense, 'dense baseline')} + {plural(controls, 'fine-tuned dense control')} + "
          f"{len(trained) - dense - controls} pruned{deployed}) -> {loaded.results_dir}")
    return EXIT_OK


def cmd_plugins(args) -> int:
    from tabulate import tabulate

    plugins = _load_plugins(args)
    registered = plugins.registry.by_plugin()
    rows = []
    for info in plugins.infos:
        names = registered.get(info.name, {})
        what = "; ".join(f"{kind}: {', '.join(v)}" for kind, v in sorted(names.items())) or "-"
        status = f"BROKEN: {info.error}" if info.error else what
        rows.append((info.name, info.version or "-", info.source, info.location, status))
    if args.json:
        print(json.dumps([dict(zip(("name", "version", "source", "location", "registered"), r)) for r in rows], indent=1))
    else:
        print(tabulate(rows, headers=("plugin", "version", "source", "module", "registered"), tablefmt="github"))
    return EXIT_OK


def cmd_list(args) -> int:
    from tabulate import tabulate

    from prunebench.config.suite import describe_params

    plugins = _load_plugins(args)
    registry = plugins.registry
    kind = args.kind
    if kind is None:
        return _list_kinds(registry)
    for name in registry.names(kind):
        cls = registry.get(kind, name)
        print(f"## {name}  (plugin: {registry.owner(kind, name)})")
        description = " ".join((getattr(cls, "description", "") or (cls.__doc__ or "")).split())
        if description:
            print(description)
        rows = describe_params(cls.Params)
        if rows:
            print(tabulate(rows, headers=("param", "type", "default", "description"), tablefmt="github"))
        else:
            print("(no params)")
        print()
    return EXIT_OK


LIST_KINDS = {
    "strategies": "pruning methods a suite names under `strategies:`",
    "models": "where a suite's models come from (a checkpoint, or an architecture trained as a baseline)",
    "datasets": "where a suite's datasets come from (an Ultralytics data YAML, the synthetic generator)",
    "executors": "how the cells of a run are executed (in this process, or spread over a cluster)",
}


def _list_kinds(registry) -> int:
    """`prunebench list` without a kind: each kind, what it is, and what is registered under it."""
    for kind, what in LIST_KINDS.items():
        names = registry.names(kind)
        print(f"{kind}: {what}\n  {', '.join(names) if names else '(none registered)'}")
    print("\n`prunebench list KIND` shows each one's description and params.")
    return EXIT_OK


def cmd_new_strategy(args) -> int:
    from prunebench.plugin.scaffold import Names, ScaffoldError, write_package

    try:
        names = Names.of(args.name)
    except ScaffoldError as exc:
        raise UserError(str(exc)) from None
    registry = _load_plugins(args).registry
    if names.strategy in registry.names("strategies"):
        raise UserError(f"a strategy named {names.strategy!r} is already registered (by plugin "
                        f"{registry.owner('strategies', names.strategy)!r}); two plugins cannot register one name: "
                        "choose another")
    checkout = Path(__file__).resolve().parents[1]  # the shipped material sits beside prunebench/ in a checkout
    data = user_path(args.data) if args.data else checkout / "data" / "coco128" / "data.yaml"
    weights = user_path(args.weights) if args.weights else checkout / "weights" / "yolo11n.pt"
    missing = [f"{flag} {path}" for flag, path in (("--data", data), ("--weights", weights)) if not path.is_file()]
    if missing:
        raise UserError(f"the scaffold's suite runs yolo11n on coco128, but {' and '.join(missing)} "
                        f"{'does' if len(missing) == 1 else 'do'} not exist (prunebench installed from a wheel ships "
                        "without them): give --data DATA_YAML and --weights CHECKPOINT.pt")
    folder = user_path(args.dir) if args.dir else Path(names.distribution)
    try:
        written = write_package(names.strategy, folder, structured=args.structured, data_yaml=str(data.resolve()),
                                weights=str(weights.resolve()))
    except ScaffoldError as exc:
        raise UserError(str(exc)) from None
    print(f"wrote {names.distribution} ({'structured' if args.structured else 'unstructured'} strategy "
          f"{names.strategy!r}) in {folder}:")
    for path in written:
        print(f"  {path.relative_to(folder)}")
    print(f"next: pip install -e {folder} && pytest {folder} -m 'not slow'")
    return EXIT_OK


def cmd_schema(args) -> int:
    if args.markdown:
        from prunebench.config.schema_doc import suite_reference_markdown

        print(suite_reference_markdown(), end="")
        return EXIT_OK
    from prunebench.config.suite import suite_json_schema

    print(json.dumps(suite_json_schema(), indent=2))
    return EXIT_OK


def cmd_run(args) -> int:
    from prunebench import api

    options = dict(results=args.results, only=args.only or [], force=args.force, retry_failed=args.retry_failed,
                   keep_stale_plugin_results=args.keep_stale_plugin_results, plugins_dir=args.plugins_dir,
                   allow_other_files=args.allow_other_files)
    if args.dry_run:
        loaded, results_dir, _, decisions = api.decisions(args.suite, **options)
        return _print_plan(decisions, results_dir, loaded.suite.name)
    outcome = api.run_suite(args.suite, device=args.device, cache_dir=args.cache_dir, executor=args.executor,
                      address=args.address, verbose=args.verbose, leaderboard=not args.no_leaderboard, **options)
    _print_summary(outcome.summary, outcome.results_dir)
    if outcome.summary.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if outcome.summary.any_failed else EXIT_OK


def _suite_literature(path: Path, data: dict) -> list:
    """A suite's `literature:` for `prunebench leaderboard SUITE`, validated on its own (no plugins needed)."""
    from pydantic import TypeAdapter, ValidationError

    from prunebench.config.suite import LiteratureFigure

    try:
        return TypeAdapter(list[LiteratureFigure]).validate_python(data.get("literature") or [])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in ("literature", *first["loc"]))
        raise UserError(f"{path}: {where}: {first['msg']} (`prunebench validate {path}` lists every problem)") \
            from None


def _print_plan(decisions, results_dir: Path, suite: str) -> int:
    from tabulate import tabulate

    from prunebench.run.driver import estimate, plural

    guess = estimate(decisions, results_dir, suite)
    rows = [(d.cell.name, d.cell.key, d.action, _duration(guess.per_cell[d.cell.name]) if d.cell.name in guess.per_cell
             else "") for d in decisions]
    print(tabulate(rows, headers=("cell", "key", "action", "estimate"), tablefmt="github"))
    todo = sum(d.will_run for d in decisions)
    print(f"\n{plural(len(decisions), 'cell')}: {todo} will run, {len(decisions) - todo} cached or kept; "
          f"records in {results_dir}/cells")
    if text := _plugin_changes_text(decisions):
        print(text)
    if todo:
        print(_estimate_text(guess, todo, suite, results_dir))
    return EXIT_OK


def _plugin_changes_text(decisions) -> str:
    from prunebench.api import plugin_changes_text

    return plugin_changes_text(decisions)


def _estimate_text(guess, todo: int, suite: str, results_dir: Path) -> str:
    from prunebench.run.driver import plural

    if guess.seconds is None:
        return (f"no estimate: {results_dir}/cells holds no finished record of suite {suite!r} with a timing to base "
                "one on")
    how = []
    if guess.from_label:
        how.append(f"{plural(guess.from_label, 'cell')} from the median time of earlier cells of the same strategy")
    if guess.from_suite:
        how.append(f"{plural(guess.from_suite, 'cell')} from the median of all of them (none of that strategy)")
    return (f"estimate: about {_duration(guess.seconds)} for {plural(todo, 'cell')} to run, from how long earlier "
            f"cells took where they ran ({'; '.join(how)}; {plural(guess.records, 'earlier record')} of suite "
            f"{suite!r} in {results_dir}/cells)")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {round(seconds % 3600 / 60):02d} min"


def _print_summary(summary, results_dir: Path) -> None:
    out = sys.stderr
    from prunebench.run.driver import plural, ran_on

    print(f"\nran {plural(len(summary.ran), 'cell')} in {summary.wall_s:.1f} s: "
          f"{len(summary.ran) - len(summary.failed)} ok, {len(summary.failed)} failed; {summary.cached} cached; "
          f"records in {results_dir}/cells", file=out)
    if len(summary.where) > 1:
        print(f"  {ran_on(summary.where)}", file=out)
    for name, reason in summary.failed:
        print(f"  failed: {name}: {reason}", file=out)
    if summary.kept_failed:
        was = "was" if summary.kept_failed == 1 else "were"
        print(f"  {plural(summary.kept_failed, 'cell')} failed in an earlier run and {was} kept; rerun with "
              "--retry-failed", file=out)
    if summary.busy:
        was = "was" if len(summary.busy) == 1 else "were"
        print(f"  {plural(len(summary.busy), 'cell')} {was} being run by another prunebench process and skipped "
              "here", file=out)
    if summary.interrupted:
        print("interrupted: every finished cell is saved; run the same command again to resume", file=out)


def _results_dirs(targets: list[str]) -> list[Path]:
    """Each target is a results folder or a suite YAML (whose results folder is used)."""
    return [folder for folder, _ in _results_targets(targets)]


def _results_targets(targets: list[str]) -> list[tuple[Path, dict | None]]:
    """(results folder, the suite's parsed YAML or None) for each target: a results folder or a suite YAML."""
    found: list[tuple[Path, dict | None]] = []
    for target in targets:
        path = user_path(target)
        if path.suffix in (".yaml", ".yml") and path.is_file():
            from prunebench.config.yaml_lines import YamlError, load_with_lines

            try:
                data, _ = load_with_lines(path)
            except YamlError as exc:
                raise UserError(f"{exc}; give a results folder instead, or fix the suite") from None
            data = data if isinstance(data, dict) else {}
            results, name = data.get("results"), data.get("name")
            if results is not None and not isinstance(results, str):
                raise UserError(f"{path}: `results: {str(results)[:60]}` is not a folder path; give the results "
                                "folder itself, or fix the suite's `results:`")
            if results is None and not isinstance(name, str):
                raise UserError(f"{path}: the suite has no `name:` (nor `results:`) to find its results folder by; "
                                "give the results folder itself")
            found.append((user_path(results or f"results/{name}"), data))
        else:
            found.append((path, None))
    missing = [str(d) for d, _ in found if not d.is_dir()]
    if missing:
        raise UserError(f"no results folder at {', '.join(missing)}; run the suite first (`prunebench run SUITE`)")
    return found


def cmd_leaderboard(args) -> int:
    targets = _results_targets(args.targets)
    for target, (folder, suite) in zip(args.targets, targets):  # a suite given by its file: its published figures
        if suite is not None:
            from prunebench.api import write_literature

            write_literature(folder, _suite_literature(Path(target), suite))
    from prunebench import api

    path = api.leaderboard(*[folder for folder, _ in targets], fmt=args.format, output=args.output,
                           plots=not args.no_plots)
    if args.print:
        print(terminal(path.read_text(encoding="utf-8")))
    return EXIT_OK


def cmd_site(args) -> int:
    from prunebench import api

    pages = api.site(_results_dirs(args.targets), args.output, redraw=args.redraw)
    print(f"site: {pages[0]} ({len(pages)} pages)", file=sys.stderr)
    return EXIT_OK


def cmd_compare(args) -> int:
    from prunebench.report import compare, screen

    a, b = _results_dirs([args.a, args.b])
    try:
        text = screen.tolerant(lambda: compare.compare(a, b, threshold=args.threshold, fmt=args.format), [a, b],
                               lambda one: compare.compare(one, one, fmt=args.format), what="compare")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(terminal(text), end="" if text.endswith("\n") else "\n")  # record strings: no escape sequences
    return EXIT_OK


def cmd_export(args) -> int:
    from prunebench.run.export import export_results

    (results_dir,) = _results_dirs([args.results_dir])
    try:
        done = export_results(results_dir, args.format, patterns=args.only or [], imgsz=args.imgsz,
                              log=lambda message: print(message, file=sys.stderr))
    except (ValueError, RuntimeError) as exc:  # no kept model, a missing package, Ultralytics' exporter failing
        raise UserError(str(exc)) from None
    for exported in done:
        print(exported.path)
    return EXIT_OK


def cmd_measure(args) -> int:
    from prunebench.run.remeasure import check_overrides, remeasure_folder, summary_error, table
    from prunebench.yolo.env import configure, default_cache_dir

    (results_dir,) = _results_dirs([args.results_dir])
    try:
        overrides = check_overrides(runtimes=args.runtimes, threads=args.threads, min_run_time=args.min_run_time,
                                    speedup_pairs=args.pairs)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    configure(verbose=args.verbose)
    plugins = _load_plugins(args)
    cache_dir = (user_path(args.cache_dir) if args.cache_dir else default_cache_dir()).resolve()
    try:
        rows = remeasure_folder(results_dir, patterns=args.only or [], overrides=overrides, device=args.device,
                                cache_dir=cache_dir, plugins=plugins, log=lambda m: print(m, file=sys.stderr))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(table(rows))
    if error := summary_error(rows):
        raise UserError(error)
    return EXIT_OK


def cmd_show(args) -> int:
    from prunebench.report.show import find_record, render

    dirs = _results_dirs(args.results) if args.results else None
    try:
        path, record, results_dir = find_record(args.cell, dirs)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from prunebench.report.screen import READ_ERRORS

    try:
        text = render(record, path, results_dir)
    except READ_ERRORS as exc:
        raise UserError(f"{path} cannot be shown: a field holds a value prunebench does not write "
                        f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]}); rerun the cell, or remove the "
                        "record if it was copied from elsewhere") from None
    print(terminal(text), end="")
    return EXIT_OK


# ---------------------------------------------------------------- parser
def cmd_sensitivity(args) -> int:
    """Per-layer sensitivity of a suite's baseline(s): each channel group pruned alone, val mAP50-95 drop, heatmap."""
    from prunebench.run import sensitivity

    from prunebench import api

    loaded = api.load_suite(args.suite, plugins_dir=args.plugins_dir)
    ev = loaded.suite.evaluation
    try:
        pairs = sensitivity.suite_pairs(loaded, args.model or [], args.dataset or [])
        settings_of = dict(imgsz=args.imgsz or ev.imgsz, batch=ev.batch, conf=ev.conf, iou=ev.iou,
                           rect=False if ev.exports else None, ratios=tuple(args.ratios),
                           groups=tuple(args.groups or ()))
        sensitivity.SensitivitySettings(**settings_of, device="cpu")  # bad ratios fail here, before any loading
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from prunebench.records import sensitivity as sensitivity_file
    from prunebench.report.sensitivity import write_heatmap
    from prunebench.util.environment import resolve_device
    from prunebench.yolo.env import configure, default_cache_dir

    configure(verbose=args.verbose)
    try:
        device = resolve_device(args.device or ev.device)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    cache_dir = (user_path(args.cache_dir) if args.cache_dir else default_cache_dir()).resolve()
    out = (user_path(args.results) if args.results else loaded.results_dir) / sensitivity_file.DIRNAME
    settings = sensitivity.SensitivitySettings(**settings_of, device=device)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log(f"prunebench {__version__}: per-layer sensitivity of suite {loaded.suite.name!r}, "
        f"{len(pairs)} model × dataset pair(s), ratios {', '.join(f'{r:g}' for r in settings.ratios)}, val split, "
        f"on {device} -> {out}")
    for model, dataset in pairs:
        try:
            base = sensitivity.suite_baseline(loaded, model, dataset, cache_dir=cache_dir, device=device,
                                              verbose=args.verbose, log=log)
            value = sensitivity.measure(base.checkpoint, base.data_yaml, settings, model=model, dataset=dataset,
                                        cache_dir=cache_dir, data_fingerprint=base.data_fingerprint, log=log,
                                        force=args.force)
        except ValueError as exc:
            raise UserError(f"{model} × {dataset}: {exc}") from None
        written = sensitivity_file.write(out / f"{value.stem}.json", value)
        png = write_heatmap(value, written.with_suffix(".png"))
        least = value.least_sensitive()
        log(f"sensitivity {model} × {dataset}: {written} and {png} (least sensitive group: {least.label})")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prunebench", description="Benchmark pruning strategies on YOLO detectors.")
    parser.add_argument("--version", action="version", version=f"prunebench {__version__}")
    parser.add_argument("--plugins-dir", metavar="DIR", help="also load every *.py plugin file in DIR")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run a suite's cells and write one record per cell")
    p.add_argument("suite", metavar="SUITE", help="the suite YAML to run (e.g. suites/smoke.yaml); cells with an ok "
                   "record in its results folder are skipped")
    p.add_argument("--force", action="store_true", help="rerun every cell, even those with an ok record")
    p.add_argument("--retry-failed", action="store_true", help="rerun cells whose record says failed")
    p.add_argument("--keep-stale-plugin-results", action="store_true",
                   help="keep the results of cells that differ only in their strategy plugin's version (by default "
                        "they run again; --dry-run lists them with both versions)")
    p.add_argument("--only", action="append", metavar="PATTERN", help="run cells whose name matches (glob or substring)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (cached / will run) and stop")
    p.add_argument("--verbose", "-v", action="store_true", help="show Ultralytics' own output")
    p.add_argument("--results", metavar="DIR", help="results folder (default: the suite's, results/<name>)")
    p.add_argument("--device", help="override evaluation.device (auto, cpu, cuda, cuda:N)")
    p.add_argument("--cache-dir", metavar="DIR", help="datasets and baselines cache (default ~/.cache/prunebench)")
    p.add_argument("--executor", help="executor plugin (default: the suite's, local)")
    p.add_argument("--address", help="cluster address for the executor (e.g. ray: auto)")
    p.add_argument("--no-leaderboard", action="store_true", help="do not render the leaderboard at the end")
    p.add_argument("--trust-checkpoints", action="store_true", help=TRUST_HELP)
    p.add_argument("--allow-other-files", action="store_true",
                   help="let the results folder hold files prunebench did not write (by default such a folder is "
                        "refused: a run replaces LEADERBOARD*.md, plots/ and literature.json in it)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a suite: schema, plugin names, inputs, planned cells")
    p.add_argument("suite", metavar="SUITE", help="the suite YAML to check (nothing is run or written)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plugins", help="list loaded plugins, their versions and what they registered")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("list", help="list strategies, models, datasets or executors with their params")
    p.add_argument("kind", nargs="?", choices=tuple(LIST_KINDS), metavar="KIND",
                   help=f"one of {', '.join(LIST_KINDS)}; without it, the kinds and what each holds")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("new-strategy", help="write a strategy plugin package (entry point, Params, tests, suite)")
    p.add_argument("name", metavar="NAME", help="the strategy's name, as suites will write it (e.g. taylor-unstructured)")
    p.add_argument("--structured", action="store_true", help="a channel-pruning strategy (default: unstructured)")
    p.add_argument("--dir", metavar="DIR", help="the package's folder, new or empty (default: ./prunebench-NAME)")
    p.add_argument("--data", metavar="DATA_YAML", help="the suite's dataset (default: the shipped coco128)")
    p.add_argument("--weights", metavar="PT", help="the suite's model (default: the shipped yolo11n.pt)")
    p.set_defaults(func=cmd_new_strategy)

    p = sub.add_parser("schema", help="print the JSON Schema of a suite (for editor completion)")
    p.add_argument("--markdown", action="store_true", help="print the suite reference (docs/suite-reference.md)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("leaderboard", help="render LEADERBOARD.md and plots from records (several folders merge)")
    p.add_argument("targets", nargs="+", metavar="SUITE_OR_RESULTS_DIR",
                   help="results folders, or suite YAMLs whose results folder is used; several merge into one table")
    p.add_argument("--format", default="github", choices=("github", "csv", "json", "latex", "html"))
    p.add_argument("--output", "-o", help="a file, or a folder to write LEADERBOARD.<ext> (and plots/) into, instead "
                                          "of <results dir>/LEADERBOARD.<ext>; required with several results folders, "
                                          "and outside all of them")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--print", action="store_true", help="also print the rendered leaderboard")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("site", help="write the results as a static HTML site (index, leaderboards, cells)")
    p.add_argument("targets", nargs="+", metavar="SUITE_OR_RESULTS_DIR",
                   help="results folders, or suite YAMLs whose results folder is used; one leaderboard page each")
    p.add_argument("--output", "-o", required=True, metavar="SITE_DIR", help="the folder to write the site into")
    p.add_argument("--redraw", action="store_true", help="draw the figures anew instead of copying each results "
                   "folder's plots/")
    p.set_defaults(func=cmd_site)

    p = sub.add_parser("compare", help="compare two results folders cell by cell")
    p.add_argument("a", metavar="A", help="the results folder (or suite YAML) to compare from, e.g. ours")
    p.add_argument("b", metavar="B", help="the results folder (or suite YAML) to compare with it, e.g. yours")
    p.add_argument("--threshold", type=float, default=0.01, help="hide changes smaller than this (default 0.01)")
    p.add_argument("--format", default="github", choices=("github", "csv", "json"))
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("export", help="export kept models (onnx, torchscript, openvino) next to them, offline")
    p.add_argument("results_dir", metavar="RESULTS_DIR", help="a results folder whose models/ holds the kept models")
    p.add_argument("--only", action="append", metavar="PATTERN", help="cells whose name matches (glob or substring)")
    p.add_argument("--format", default="onnx", help="onnx (default), torchscript or openvino")
    p.add_argument("--imgsz", type=int, help="export image size (default: each record's evaluation.imgsz)")
    p.add_argument("--trust-checkpoints", action="store_true", help=TRUST_HELP)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("measure", help="re-time kept models (torch and/or ONNX Runtime) without retraining")
    p.add_argument("results_dir", metavar="RESULTS_DIR", help="a results folder whose records are re-timed from "
                   "their kept models (the records are rewritten)")
    p.add_argument("--only", action="append", metavar="PATTERN", help="cells whose name matches (glob or substring)")
    p.add_argument("--runtimes", help="comma-separated: torch, onnxruntime (default: each record's own)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: the device each record was timed on)")
    p.add_argument("--threads", type=int, help="timing threads (default: each record's own, else 1 on CPU)")
    p.add_argument("--min-run-time", type=float, help="seconds of timed runs per figure (default: each record's own)")
    p.add_argument("--pairs", type=int, help="alternating dense/pruned pairs for the speed-up (default: the record's)")
    p.add_argument("--trust-checkpoints", action="store_true", help=TRUST_HELP)
    p.add_argument("--cache-dir", metavar="DIR", help="datasets cache (default ~/.cache/prunebench)")
    p.add_argument("--verbose", "-v", action="store_true", help="show Ultralytics' own output")
    p.set_defaults(func=cmd_measure)

    p = sub.add_parser("sensitivity", help="per-layer sensitivity of a suite's baseline(s): each channel group "
                       "pruned alone, the val mAP50-95 drop, a heatmap (docs/sensitivity.md)")
    p.add_argument("suite", metavar="SUITE", help="the suite YAML whose models and datasets are measured (its "
                   "baselines, adapted as the suite adapts them)")
    p.add_argument("--model", action="append", metavar="M", help="only this model of the suite (repeatable; "
                   "default: its study models)")
    p.add_argument("--dataset", action="append", metavar="D", help="only this dataset of the suite (repeatable)")
    p.add_argument("--ratios", type=float, nargs="+", default=[0.1, 0.3, 0.5], metavar="R",
                   help="fractions of a group's channels to remove (default: 0.1 0.3 0.5)")
    p.add_argument("--groups", action="append", metavar="PATTERN", help="only groups whose name or label matches "
                   "(glob or substring, repeatable), e.g. 'model.2.*'")
    p.add_argument("--imgsz", type=int, help="validation image size (default: the suite's evaluation.imgsz)")
    p.add_argument("--results", metavar="DIR", help="results folder to write sensitivity/ into (default: the suite's)")
    p.add_argument("--device", help="override evaluation.device (auto, cpu, cuda, cuda:N)")
    p.add_argument("--cache-dir", metavar="DIR", help="datasets, baselines and sensitivity cache (default "
                   "~/.cache/prunebench)")
    p.add_argument("--force", action="store_true", help="measure again even when the cache holds this map")
    p.add_argument("--verbose", "-v", action="store_true", help="show Ultralytics' own output")
    p.add_argument("--trust-checkpoints", action="store_true", help=TRUST_HELP)
    p.set_defaults(func=cmd_sensitivity)

    p = sub.add_parser("show", help="print one cell's record: spec, metrics, timings, kept model and exports")
    p.add_argument("cell", metavar="CELL", help="a cell name, a key prefix or a record file")
    p.add_argument("--results", action="append", metavar="DIR", help="results folder(s) to look in (default: results/*)")
    p.set_defaults(func=cmd_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    from prunebench.api import UsageError
    from prunebench.config.suite import SuiteError

    args = build_parser().parse_args(argv)
    if getattr(args, "trust_checkpoints", False):  # run, export, measure
        from prunebench.yolo.env import trust_checkpoints

        trust_checkpoints(True)
    try:
        return args.func(args)
    except SuiteError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_FAILED
    except (UserError, UsageError) as exc:
        _err(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        where = exc.filename or "a file"
        _err(f"cannot write {where}: {exc.strerror.lower() if exc.strerror else exc} (a read-only folder?); nothing "
             "already written was changed: point the command at a folder you can write (e.g. copy the results "
             "folder, or use -o / --results)")
        return EXIT_FAILED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
