"""The ``longshoreman`` command: look at namespaces, check plugins, manage the disk cache.

Everything here runs on the synchronous discovery layer and never imports anyio, except
``check --invoke``, which needs the managers to invoke plugins concurrently. ``list``
imports no plugin code at all. User errors (bad arguments, an unknown namespace) are one
line on stderr and exit status 2, never a traceback; plugin failures found by ``check``
are its report, on stdout, and exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._cache import cache_dir, cache_info, clear_disk_cache, entry_point_groups, list_entry_points

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from ._entrypoints import EntryPoint

__all__ = ["main"]

PROG = "longshoreman"
#: Exit statuses, as the help text states them.
OK, FAILED, USAGE = 0, 1, 2

_EPILOG = """\
exit status:
  0  success
  1  check: at least one plugin failed to load (or, with --invoke, to be invoked)
  2  bad arguments, or a namespace with no plugins in this environment
"""


class UsageError(Exception):
    """A mistake on the command line: reported as one line, exit status 2."""


# -- output helpers -------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart; the last column is not padded."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]))
    return "\n".join(lines)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _size(count: int) -> str:
    if count < 1024:
        return _plural(count, "byte")
    value = count / 1024
    unit = "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


def _emit_json(data: object) -> None:
    import json

    print(json.dumps(data, indent=2, ensure_ascii=False))


def _describe(ep: EntryPoint) -> dict[str, Any]:
    """The JSON record of one entry point (the keys SPEC §9 fixes)."""
    dist = ep.dist
    return {
        "name": ep.name,
        "value": ep.value,
        "group": ep.group,
        "dist": dist.name if dist is not None else None,
        "version": dist.version if dist is not None else None,
    }


def _origin(record: dict[str, Any]) -> str:
    if record["dist"] is None:
        return "an unknown distribution"
    return f"{record['dist']} {record['version']}"


def _entry_points(namespace: str) -> tuple[EntryPoint, ...]:
    """The namespace's entry points; none at all is a usage error."""
    found = list_entry_points(namespace)
    if found:
        return found
    message = f"no plugins in namespace {namespace!r} in this environment"
    import difflib

    close = difflib.get_close_matches(namespace, list(entry_point_groups()), n=3)
    if close:
        message += " (did you mean " + " or ".join(map(repr, close)) + "?)"
    raise UsageError(message)


# -- list -----------------------------------------------------------------------------


def _cmd_list(args: argparse.Namespace) -> int:
    if args.namespace is None:
        groups = sorted(entry_point_groups().items())
        if args.json:
            _emit_json([{"namespace": group, "plugins": count} for group, count in groups])
        else:
            print(_table(["NAMESPACE", "PLUGINS"], [[g, str(n)] for g, n in groups]))
        return OK
    if args.json and not list_entry_points(args.namespace):
        _emit_json([])  # still the array §9 promises, for whoever parses stdout
    records = [_describe(ep) for ep in _entry_points(args.namespace)]
    if args.json:
        _emit_json(records)
        return OK
    rows = [[r["name"], r["value"], r["dist"] or "-", r["version"] or "-"] for r in records]
    print(_table(["NAME", "TARGET", "DISTRIBUTION", "VERSION"], rows))
    return OK


# -- check ----------------------------------------------------------------------------


def _load_all(eps: Sequence[EntryPoint]) -> dict[EntryPoint, Exception]:
    failures: dict[EntryPoint, Exception] = {}
    for ep in eps:
        try:
            ep.load()
        except Exception as exc:  # one plugin's fault is that plugin's result
            failures[ep] = exc
    return failures


def _invoke_all(namespace: str) -> dict[EntryPoint, Exception]:
    """Import and invoke every plugin through a manager, the way an application would.

    ``async with`` rather than ``await``, so async context manager plugins are entered
    and exited too; errors on exit are failures of the plugins they came from.
    """
    import anyio

    from ._manager import ExtensionManager
    from .exceptions import ExtensionErrorGroup

    class _CheckingManager(ExtensionManager[object]):
        _propagated = ()  # a failing assert is reported like any other failure

    failures: dict[EntryPoint, Exception] = {}

    def record(manager: object, ep: EntryPoint, exc: Exception) -> None:
        failures.setdefault(ep, exc)

    async def run() -> None:
        try:
            async with _CheckingManager(
                namespace, invoke_on_load=True, on_load_failure_callback=record
            ):
                pass
        except ExtensionErrorGroup as group:
            for ext, exc in group.failures:
                if ext.entry_point is not None:
                    failures.setdefault(ext.entry_point, exc)

    anyio.run(run)
    return failures


def _error(exc: Exception) -> dict[str, str]:
    import traceback

    kind = type(exc)
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    detail = "".join(traceback.format_exception_only(exc)).rstrip()
    return {"type": name, "message": str(exc), "detail": detail}


def _cmd_check(args: argparse.Namespace) -> int:
    import contextlib

    eps = _entry_points(args.namespace)
    # Plugins that print while being imported or invoked must not corrupt the report.
    with contextlib.redirect_stdout(sys.stderr):
        failures = _invoke_all(args.namespace) if args.invoke else _load_all(eps)
    records = []
    for ep in eps:
        record = _describe(ep)
        exc = failures.get(ep)
        record["status"] = "ok" if exc is None else "failed"
        record["error"] = None if exc is None else _error(exc)
        records.append(record)
    failed = [r for r in records if r["error"] is not None]
    if args.json:
        _emit_json(
            {
                "namespace": args.namespace,
                "invoke": args.invoke,
                "plugins": records,
                "failed": len(failed),
            }
        )
        return FAILED if failed else OK
    rows = [
        [r["name"], r["value"], r["dist"] or "-", r["version"] or "-", r["status"]] for r in records
    ]
    print(_table(["NAME", "TARGET", "DISTRIBUTION", "VERSION", "STATUS"], rows))
    for r in failed:
        print(f"\n{r['name']} ({r['value']}) from {_origin(r)}:")
        for line in r["error"]["detail"].splitlines():
            print(f"  {line}")
    done = "loaded and invoked" if args.invoke else "loaded"
    if failed:
        action = "load or invoke" if args.invoke else "load"
        print(f"\n{len(failed)} of {_plural(len(records), 'plugin')} failed to {action}.")
        return FAILED
    print(f"\nAll {_plural(len(records), 'plugin')} {done}.")
    return OK


# -- cache ----------------------------------------------------------------------------


def _cmd_cache_info(args: argparse.Namespace) -> int:
    info = cache_info()
    directory, source = cache_dir()
    enabled = bool(info["enabled"])
    reason: str | None = None if enabled else str(info["reason"])
    files: list[dict[str, Any]] = info["files"]  # type: ignore[assignment]
    total = sum(int(f["size"]) for f in files)
    if args.json:
        _emit_json(
            {
                "directory": directory,
                "source": source if directory is not None else None,
                "enabled": enabled,
                "reason": reason,
                "files": files,
                "total_size": total,
            }
        )
        return OK
    where = f"{directory} (from {source})" if directory is not None else "none"
    if directory is not None and not os.path.lexists(directory):
        where += ", not created yet"
    print(f"directory:   {where}")
    print(f"disk cache:  {'on' if enabled else f'off: {reason}'}")
    print(f"files:       {_plural(len(files), 'file')}, {_size(total)}")
    if files:
        rows = [
            [f["name"], str(f["size"]), "this environment" if f["current"] else "other"]
            for f in files
        ]
        print()
        print(_table(["FILE", "BYTES", "FOR"], rows))
    return OK


def _cmd_cache_clear(args: argparse.Namespace) -> int:
    directory, reason = cache_dir()
    removed = clear_disk_cache()
    if args.json:
        _emit_json({"directory": directory, "removed": removed})
    elif directory is None:
        print(f"No disk cache ({reason}); nothing to remove.")
    else:
        print(f"Removed {_plural(removed, 'cache file')} from {directory}.")
    return OK


# -- the parser -----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    # --json is accepted before and after the subcommand; SUPPRESS keeps a subcommand's
    # default from overwriting a --json given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print machine-readable JSON instead of columns",
    )
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Inspect plugin namespaces and longshoreman's entry point cache.",
        epilog=_EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser(
        "list",
        parents=[common],
        help="list namespaces, or the plugins of one namespace (imports nothing)",
        description=(
            "Without NAMESPACE: every namespace in this environment with its number of "
            "plugins. With NAMESPACE: its plugins (name, target, distribution, version) in "
            "discovery order. Never imports plugin code."
        ),
        epilog=_EPILOG,
        formatter_class=formatter,
    )
    listing.add_argument("namespace", nargs="?", metavar="NAMESPACE")
    listing.set_defaults(handler=_cmd_list)

    check = commands.add_parser(
        "check",
        parents=[common],
        help="import (and with --invoke, invoke) every plugin of a namespace",
        description=(
            "Import every plugin of NAMESPACE and report each failure with its exception "
            "and the distribution it came from."
        ),
        epilog=_EPILOG,
        formatter_class=formatter,
    )
    check.add_argument("namespace", metavar="NAMESPACE")
    check.add_argument(
        "--invoke",
        action="store_true",
        help=(
            "also call every plugin, concurrently, as ExtensionManager(invoke_on_load=True) "
            "does (async context managers are entered and exited)"
        ),
    )
    check.set_defaults(handler=_cmd_check)

    cache = commands.add_parser(
        "cache",
        parents=[common],
        help="show or clear the on-disk entry point cache",
        description="Show or clear the on-disk entry point cache.",
    )
    cache_commands = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    info = cache_commands.add_parser(
        "info",
        parents=[common],
        help="where the cache is, whether it is on (and why not), its files and sizes",
    )
    info.set_defaults(handler=_cmd_cache_info)
    clear = cache_commands.add_parser(
        "clear", parents=[common], help="remove every environment's cache files"
    )
    clear.set_defaults(handler=_cmd_cache_clear)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage error or the help
        code = exit_.code
        return code if isinstance(code, int) else (OK if code is None else USAGE)
    try:
        status: int = args.handler(args)
        sys.stdout.flush()
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`longshoreman list | head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return FAILED
    return status
