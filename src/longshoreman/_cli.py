"""The ``longshoreman`` command: look at namespaces, check plugins, manage the disk cache.

Everything here runs on the synchronous discovery layer and never imports anyio, except
``check --invoke``, which needs the managers to invoke plugins concurrently. ``list``
imports no plugin code at all. User errors (bad arguments, an unknown namespace) are one
line on stderr and exit status 2, never a traceback; plugin failures found by ``check``
are its report, on stdout, and exit status 1. A long ``check`` shows its progress on
stderr when that is a terminal, on one line it erases before the report.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

from ._cache import cache_dir, cache_info, clear_disk_cache, entry_point_groups, list_entry_points

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence
    from types import TracebackType
    from typing import Any, TextIO

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


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Collection[int] = ()
) -> str:
    """Columns two spaces apart, left-aligned except those in ``right`` (numbers); the
    last column is not padded."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row[:-1], widths, strict=False))
        ]
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


def _record(ep: EntryPoint) -> dict[str, Any]:
    """The JSON record of one entry point (the keys SPEC §9 fixes)."""
    dist = ep.dist
    return {
        "name": ep.name,
        "value": ep.value,
        "group": ep.group,
        "dist": dist.name if dist is not None else None,
        "version": dist.version if dist is not None else None,
    }


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
    records = [_record(ep) for ep in _entry_points(args.namespace)]
    if args.json:
        _emit_json(records)
        return OK
    rows = [[r["name"], r["value"], r["dist"] or "-", r["version"] or "-"] for r in records]
    print(_table(["NAME", "TARGET", "DISTRIBUTION", "VERSION"], rows))
    return OK


# -- check ----------------------------------------------------------------------------

#: How a failure's phase (SPEC §12's vocabulary) reads in the text report.
_DOING = {"import": "importing", "invoke": "invoking", "enter": "entering", "exit": "exiting"}

#: The clock plugins are timed with. Tests replace it with one their plugins advance, so
#: that timings (and the order they sort in) are exact rather than measured.
_clock = time.perf_counter

#: Seconds a check runs before its progress line appears (only ever on a terminal).
PROGRESS_DELAY = 0.5
_PROGRESS_TICK = 0.1


class _Plugin:
    """What ``check`` learns about one entry point: its plugin, its fate, its timings."""

    __slots__ = (
        "entry_point",
        "error",
        "import_time",
        "invoke_time",
        "invoked",
        "phase",
        "plugin",
        "step",
        "waiting",
    )

    def __init__(self, entry_point: EntryPoint) -> None:
        self.entry_point = entry_point
        self.plugin: Any = None
        #: None: not asked to invoke (or the import failed); False: not callable.
        self.invoked: bool | None = None
        self.phase: str | None = None  # where it failed
        self.error: Exception | None = None
        #: import, invoke, enter, ready, exit, closed: where it is (for the progress line,
        #: and the phase of failures that the manager reports).
        self.step = "import"
        self.import_time: float | None = None
        self.invoke_time: float | None = None
        #: Where the plugin was when it was cancelled (by the timeout, normally).
        self.waiting: TracebackType | None = None

    @property
    def settled(self) -> bool:
        """Invoked (and entered), or failed trying."""
        return self.error is not None or self.step in ("ready", "exit", "closed")

    @property
    def status(self) -> str:
        if self.error is not None:
            return "failed"
        return "not invoked" if self.invoked is False else "ok"

    def fail(self, phase: str, exc: Exception) -> None:
        if self.error is None:  # the first failure is the cause; later ones follow from it
            self.phase, self.error = phase, exc

    def recorded(self, phase: str, exc: Exception) -> _Recorded:
        self.fail(phase, exc)
        return _Recorded()


class _Recorded(Exception):
    """What the manager sees in place of a plugin's error, which ``check`` has recorded.

    The manager drops the plugin as it drops any failing one; it never sees the error
    itself, so even an ``AssertionError`` (which a manager raises) is just reported.
    """


def _progress_stream() -> TextIO | None:
    """Where ``check`` shows its progress: stderr if that is a terminal, else nowhere.

    The one place the terminal test is made; tests replace this function to watch the
    progress line without a terminal.
    """
    stream = sys.stderr
    try:
        return stream if stream is not None and stream.isatty() else None
    except (AttributeError, ValueError):  # no isatty(), or a closed stream
        return None


class _Progress:
    """One status line on a terminal, rewritten in place with ``\\r``, erased at the end.

    Quick checks show nothing: the line appears once the check has run
    :data:`PROGRESS_DELAY` seconds. A thread redraws it every tick, so that a plugin
    that hangs in its import, or blocks the event loop, is named on screen while it
    hangs. ``status`` is a string or a function returning one, read at each redraw.
    """

    def __init__(self, stream: TextIO | None, prefix: str) -> None:
        import threading

        self._stream = stream
        self._prefix = prefix
        self._status: str | Callable[[], str] = ""
        self._shown = ""
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._width = 80
        self._thread: threading.Thread | None = None
        if stream is None:
            return
        try:
            # A terminal whose size was never set (a fresh pty) says 0 columns.
            self._width = os.get_terminal_size(stream.fileno()).columns or self._width
        except (AttributeError, OSError, ValueError):
            pass
        self._thread = threading.Thread(target=self._tick, name="longshoreman-progress")
        self._thread.daemon = True
        self._thread.start()

    def update(self, status: str | Callable[[], str]) -> None:
        self._status = status
        self.draw()

    def draw(self) -> None:
        if self._thread is None or time.monotonic() - self._start < PROGRESS_DELAY:
            return
        with self._lock:
            if self._stream is None:
                return
            status = self._status() if callable(self._status) else self._status
            line = f"{self._prefix}{status}"[: max(self._width - 1, 1)]
            if line != self._shown:
                self._write("\r" + line.ljust(len(self._shown)))
                self._shown = line

    def close(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        if self._shown and self._stream is not None:
            self._write("\r" + " " * len(self._shown) + "\r")
        self._stream = None

    def _tick(self) -> None:
        while not self._stop.wait(_PROGRESS_TICK):
            self.draw()

    def _write(self, text: str) -> None:
        """Write to the terminal (with the lock held, or the thread stopped)."""
        assert self._stream is not None
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # the terminal went away: progress is not essential
            self._stream = None


def _import_all(plugins: Sequence[_Plugin], progress: _Progress) -> None:
    """``ep.load()`` each plugin, one after another as a manager does, timing each."""
    for number, plugin in enumerate(plugins, 1):
        progress.update(f"importing {number}/{len(plugins)}: {plugin.entry_point.name}")
        start = _clock()
        try:
            plugin.plugin = plugin.entry_point.load()
        except Exception as exc:  # one plugin's fault is that plugin's result
            plugin.fail("import", exc)
        finally:
            plugin.import_time = _clock() - start


class _Entered:
    """A plugin's async context manager, entered and exited by the manager through this
    proxy, which times the entering and records errors with their phase."""

    __slots__ = ("_acm", "_plugin", "_start")

    def __init__(self, plugin: _Plugin, acm: Any, start: float) -> None:
        self._plugin = plugin
        self._acm = acm
        self._start = start

    async def __aenter__(self) -> Any:
        plugin = self._plugin
        plugin.step = "enter"
        try:
            obj = await _watched(plugin, "enter", type(self._acm).__aenter__(self._acm))
        finally:
            plugin.invoke_time = _clock() - self._start
        plugin.step = "ready"
        return obj

    async def __aexit__(self, *exc_info: Any) -> Any:
        self._plugin.step = "exit"
        try:
            exit_ = type(self._acm).__aexit__(self._acm, *exc_info)
            return await _watched(self._plugin, "exit", exit_)
        finally:
            self._plugin.step = "closed"


async def _watched(plugin: _Plugin, phase: str, awaitable: Any) -> Any:
    """Await what a plugin returned: its ``Exception`` is recorded with ``phase`` (the
    manager sees the stand-in); anything else keeps where the plugin was waiting."""
    try:
        return await awaitable
    except Exception as exc:
        raise plugin.recorded(phase, exc) from None
    except BaseException as exc:
        plugin.waiting = exc.__traceback__
        raise


def _instrumented(plugin: _Plugin) -> Callable[..., Any]:
    """``plugin.plugin`` as the manager is to invoke it: timed from the call until the
    plugin is ready (awaited, entered), every error recorded with its phase."""
    import inspect

    from ._manager import _is_async_context_manager  # the manager's rule, not a copy

    factory = plugin.plugin
    start = 0.0

    def ready(obj: Any) -> Any:
        if _is_async_context_manager(obj):
            return _Entered(plugin, obj, start)
        plugin.invoke_time = _clock() - start
        plugin.step = "ready"
        return obj

    async def settle(awaitable: Any) -> Any:
        try:
            obj = await _watched(plugin, "invoke", awaitable)
        finally:
            plugin.invoke_time = _clock() - start
        return ready(obj)

    def invoke(*args: Any, **kwds: Any) -> Any:
        nonlocal start
        plugin.step = "invoke"
        start = _clock()
        try:
            obj = factory(*args, **kwds)
        except Exception as exc:
            plugin.invoke_time = _clock() - start
            raise plugin.recorded("invoke", exc) from None
        return settle(obj) if inspect.isawaitable(obj) else ready(obj)

    # What the manager's own messages call it (e.g. "... is an async generator function").
    invoke.__module__ = plugin.entry_point.module
    invoke.__qualname__ = plugin.entry_point.attr or invoke.__qualname__
    return invoke


def _invoking(plugins: Sequence[_Plugin]) -> Callable[[], str]:
    def status() -> str:
        waiting = [p.entry_point.name for p in plugins if not p.settled]
        if waiting:
            done = len(plugins) - len(waiting)
            return f"invoking: {done}/{len(plugins)} ready, waiting for {', '.join(waiting)}"
        exiting = [p.entry_point.name for p in plugins if p.step == "exit"]
        return f"exiting: {', '.join(exiting)}" if exiting else "exiting"

    return status


def _invoke_all(
    namespace: str,
    plugins: Sequence[_Plugin],
    args: Sequence[Any],
    kwds: dict[str, Any],
    timeout: float | None,
    progress: _Progress,
) -> float | None:
    """Invoke every callable plugin through a manager, the way an application would.

    The plugins already imported are handed, instrumented, to an
    ``ExtensionManager(invoke_on_load=True)`` (as fake entry points of the namespace) and
    the manager is used with ``async with``, so plugins are invoked concurrently, awaited,
    entered and exited with the manager's own rules and timeout; an error on exit is a
    failure of the plugin it came from. Plugins that are not callable (modules,
    instances) are not invoked. Returns how long the manager took to be ready.
    """
    callables = []
    for plugin in plugins:
        if plugin.error is None:
            plugin.invoked = callable(plugin.plugin)
            if plugin.invoked:
                callables.append(plugin)
    if not callables:
        return None

    import anyio

    from ._manager import ExtensionManager
    from .exceptions import ExtensionErrorGroup
    from .testing import fake_entry_points

    factories = [(p.entry_point.name, _instrumented(p)) for p in callables]
    with fake_entry_points(namespace, factories, replace=True) as fakes:
        # The manager hands back the very entry point objects it was given.
        owners = {id(fake): plugin for fake, plugin in zip(fakes, callables, strict=True)}

        def failed(manager: object, entry_point: EntryPoint, exc: Exception) -> None:
            # Failures the manager itself found: a timeout, an async generator function.
            plugin = owners[id(entry_point)]
            if not isinstance(exc, _Recorded):
                plugin.fail(plugin.step if plugin.step == "enter" else "invoke", exc)

        manager: ExtensionManager[Any] = ExtensionManager(
            namespace,
            invoke_on_load=True,
            invoke_args=args,
            invoke_kwds=kwds,
            on_load_failure_callback=failed,
            timeout=timeout,
        )
        took: float | None = None

        async def run() -> None:
            nonlocal took
            start = _clock()
            try:
                async with manager:
                    took = _clock() - start
            except ExtensionErrorGroup as group:
                for ext, exc in group.failures:
                    if not isinstance(exc, _Recorded) and ext.entry_point is not None:
                        owners[id(ext.entry_point)].fail("exit", exc)

        progress.update(_invoking(callables))
        anyio.run(run)
    return took


def _invoke_options(args: argparse.Namespace) -> tuple[list[Any], dict[str, Any], float | None]:
    """``--invoke-args``, ``--invoke-kwds`` and ``--timeout``, checked: usage errors."""
    given = {
        "--invoke-args": args.invoke_args,
        "--invoke-kwds": args.invoke_kwds,
        "--timeout": args.timeout,
    }
    if not args.invoke:
        for option, value in given.items():
            if value is not None:
                raise UsageError(f"{option} needs --invoke")
    invoke_args = _json_option("--invoke-args", args.invoke_args, list)
    invoke_kwds = _json_option("--invoke-kwds", args.invoke_kwds, dict)
    timeout = None
    if args.timeout is not None:
        try:
            timeout = float(args.timeout)
        except ValueError:
            timeout = math.nan
        if not (0 < timeout < math.inf):
            raise UsageError(
                f"--timeout must be a positive number of seconds, not {args.timeout!r}"
            )
    return invoke_args, invoke_kwds, timeout


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _json_option(option: str, text: str | None, kind: type[Any]) -> Any:
    if text is None:
        return kind()
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{option} is not valid JSON: {exc}") from None
    if not isinstance(value, kind):
        found = "null" if value is None else _JSON_TYPES.get(type(value), "a number")
        raise UsageError(f"{option} must be a JSON {_JSON_TYPES[kind][3:]}, not {found}")
    return value


def _plugin_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback from the first frame of plugin code on: the frames of ``check``
    and of the import system that lead there only hide the plugin's own."""
    import importlib

    from . import _entrypoints

    ours = {__file__, _entrypoints.__file__, importlib.__file__}
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename not in ours and not filename.startswith("<frozen importlib"):
            break
        tb = tb.tb_next
    return tb


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a plugin's exception is untrusted, down to its __str__
        return "<exception str() failed>"  # what the traceback module prints


def _error(plugin: _Plugin) -> dict[str, str]:
    """The JSON record of a plugin's failure (every key always present)."""
    import traceback

    exc, phase = plugin.error, plugin.phase
    assert exc is not None
    assert phase is not None
    kind = type(exc)
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    lines = traceback.format_exception(kind, exc, _plugin_frames(exc.__traceback__))
    if isinstance(exc, TimeoutError) and plugin.waiting is not None:
        # The timeout's own traceback is the manager's; where the plugin hung is news.
        lines += ["\nThe plugin was cancelled while waiting here:\n"]
        lines += traceback.format_tb(_plugin_frames(plugin.waiting))
    return {
        "phase": phase,
        "exception": name,
        "message": _message(exc),
        "detail": "".join(traceback.format_exception_only(exc)).rstrip(),
        "traceback": "".join(lines).rstrip(),
    }


def _cmd_check(args: argparse.Namespace) -> int:
    import contextlib

    invoke_args, invoke_kwds, timeout = _invoke_options(args)
    plugins = [_Plugin(ep) for ep in _entry_points(args.namespace)]
    progress = _Progress(_progress_stream(), f"checking {args.namespace}: ")
    took = None
    try:
        # Plugins that print while being imported or invoked must not corrupt the report.
        with contextlib.redirect_stdout(sys.stderr):
            _import_all(plugins, progress)
            if args.invoke:
                took = _invoke_all(
                    args.namespace, plugins, invoke_args, invoke_kwds, timeout, progress
                )
    finally:
        progress.close()
    (_check_json if args.json else _check_text)(args, plugins, took)
    return FAILED if any(p.error is not None for p in plugins) else OK


def _check_text(args: argparse.Namespace, plugins: Sequence[_Plugin], took: float | None) -> None:
    headers = ["NAME", "TARGET", "DISTRIBUTION", "VERSION", "STATUS"]
    shown = plugins
    if args.timings:
        headers[4:4] = ["IMPORT", "INVOKE"] if args.invoke else ["IMPORT"]
        shown = sorted(plugins, key=lambda p: -((p.import_time or 0) + (p.invoke_time or 0)))
    rows = []
    for p in shown:
        record = _record(p.entry_point)
        row = [record["name"], record["value"], record["dist"] or "-", record["version"] or "-"]
        if args.timings:
            row += [_ms(p.import_time), _ms(p.invoke_time)] if args.invoke else [_ms(p.import_time)]
        row.append("not invoked (not callable)" if p.invoked is False else p.status)
        rows.append(row)
    print(_table(headers, rows, right=range(4, len(headers) - 1)))

    from ._report import describe

    failed = [p for p in plugins if p.error is not None]
    for p in failed:
        error = _error(p)
        print(f"\n{describe(p.entry_point)}, failed while {_DOING[error['phase']]}:")
        for line in error["traceback" if args.traceback else "detail"].splitlines():
            print(f"  {line}" if line else "")
    if args.timings:
        imports = sum(p.import_time or 0 for p in plugins)
        times = f"Imports took {_ms(imports)} in all, one after another"
        if took is not None:
            times += f"; invoking took {_ms(took)}, concurrently"
        print(f"\n{times}.")
    count = _plural(len(plugins), "plugin")
    skipped = sum(p.invoked is False for p in plugins)
    if failed:
        action = "load or invoke" if args.invoke else "load"
        summary = f"{len(failed)} of {count} failed to {action}"
    elif skipped:
        summary = f"All {count} loaded, {len(plugins) - skipped} invoked"
    else:
        summary = f"All {count} {'loaded and invoked' if args.invoke else 'loaded'}"
    if skipped:
        summary += f"; {skipped} not invoked (not callable)"
    print(f"\n{summary}.")


def _check_json(args: argparse.Namespace, plugins: Sequence[_Plugin], took: float | None) -> None:
    records = []
    for p in plugins:
        record = _record(p.entry_point)
        record["status"] = p.status
        record["error"] = None if p.error is None else _error(p)
        if args.timings:
            record["timings"] = {
                "import": _seconds(p.import_time),
                "invoke": _seconds(p.invoke_time),
            }
        records.append(record)
    data: dict[str, Any] = {
        "namespace": args.namespace,
        "invoke": args.invoke,
        "plugins": records,
        "failed": sum(p.error is not None for p in plugins),
        "not_invoked": sum(p.invoked is False for p in plugins),
    }
    if args.timings:
        imports = sum(p.import_time or 0 for p in plugins)
        data["timings"] = {"import": _seconds(imports), "invoke": _seconds(took)}
    _emit_json(data)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.1f} ms"


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


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
            "does (async context managers are entered and exited); plugins that are not "
            "callable (modules, instances) are not invoked"
        ),
    )
    check.add_argument(
        "--invoke-args",
        metavar="JSON",
        help="a JSON array: the positional arguments to invoke each plugin with (--invoke)",
    )
    check.add_argument(
        "--invoke-kwds",
        metavar="JSON",
        help="a JSON object: the keyword arguments to invoke each plugin with (--invoke)",
    )
    check.add_argument(
        "--timeout",
        metavar="SECONDS",
        help=(
            "fail a plugin whose invocation, or exit, takes longer than this (--invoke); "
            "only plugins that await can be interrupted"
        ),
    )
    check.add_argument(
        "--traceback",
        action="store_true",
        help="show each failure's full traceback (the JSON output always has it)",
    )
    check.add_argument(
        "--timings",
        action="store_true",
        help="time each plugin's import (and invocation), slowest first",
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
