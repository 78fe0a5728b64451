"""ExtensionManager: load every plugin of a namespace; invoke and fan out asynchronously.

The lifecycle is a small state machine. Every public operation looks at ``_state`` and
does what this table (also in the docs) says; nothing else changes it::

                 construct (invoke_on_load=False) ─────────────────────────┐
                                                                           ▼
    construct ──► CREATED ──await / async with──► STARTING ──success──► READY
      (invoke)     ▲  │                             │  │                   │
                   │  │          failed or cancelled│  │aclose()           │aclose() /
                   │  │    (entered plugins exited) │  │(start abandoned,  │end of `async with`
                   └──┼─────────────────────────────┘  │ plugins exited)   ▼
                      │                                │               CLOSING: refuse new
                      │aclose()                        │               calls, wait for the
                      ▼                                ▼               calls in flight, exit
                   CLOSED ◄────────────────────────────┴────────────── every plugin, newest
                                                                       first

    operation         CREATED       STARTING           READY         CLOSING       CLOSED
    await mgr         start         wait, then again   return        RuntimeError  RuntimeError
    async with mgr    start+enter   wait, then again   return        RuntimeError  RuntimeError
    map / map_method  RuntimeError  RuntimeError       run           RuntimeError  RuntimeError
    aclose()          → CLOSED      abandon the start  → CLOSING     wait for it   return

* **One start, shared.** The caller that finds the manager *created* runs the start;
  concurrent callers wait for it and look again: *ready*, they return; *created* again
  (the start failed or its caller was cancelled), one of them starts afresh, entering
  async context manager plugins if it is an ``async with``.
* **A failed or cancelled start leaves nothing behind.** Its extensions are copies, so
  ``extensions`` goes back to the loaded, uninvoked set; every plugin it entered is
  exited, newest first, before the exception propagates.
* **Hosts.** Each async context manager plugin is entered and exited by its own host
  task (:meth:`ExtensionManager._host`), a task of the event loop's own rather than of
  a task group around the caller, so any task may leave the ``async with`` and no
  caller's cancellation tears a plugin down half-way; the manager waits for every host
  it started. The call that asked for the enter only *waits* for the host to report;
  if that call is cancelled (timeout, cancelled start) it abandons the host, which
  stops entering at its next checkpoint, or — if the enter completes anyway, say
  shielded — exits the plugin at once. Nobody ever waits on a task that waits on them,
  so no ``__aenter__``/``__aexit__`` can deadlock the manager.
* **Closing** exits the hosts one at a time, newest first, shielded from cancellation but
  bounded by the deadline in force when the close began (and by ``timeout`` per exit);
  a close that begins already cancelled gives the exits :data:`CANCELLED_CLOSE_GRACE`
  seconds in all. An abandoned exit is that plugin's ``TimeoutError``.
* **Re-entrancy.** Awaiting, entering or closing a manager from inside one of its own
  plugin calls would wait for itself: it raises ``RuntimeError`` instead (the fan-out
  marks its calls' context, see :func:`._fanout.inside_calls_of`).

Subclasses (the named, enabled, dispatch, driver and hook managers) change behaviour
through four hooks, all synchronous:

* :meth:`ExtensionManager._entry_points_to_load` chooses the entry points to import
  (named managers filter here, **before** anything is imported);
* :meth:`ExtensionManager._check_extension` decides whether a loaded extension is kept;
  it runs after import, or after invocation when the manager invokes (``check_func``);
* :meth:`ExtensionManager._load_failed` reports a load failure (drivers re-raise);
* :meth:`ExtensionManager._fan_out` runs any list of extensions through the engine
  (``_fanout``) with this manager's limits and error policy.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import math
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    ItemsView,
    Iterable,
    Iterator,
    Sequence,
)
from types import TracebackType
from typing import (
    Any,
    Concatenate,
    Generic,
    Literal,
    NamedTuple,
    ParamSpec,
    Self,
    TypeAlias,
    TypeVar,
    overload,
)

import anyio
import anyio.lowlevel

from . import _fanout
from ._cache import list_entry_points
from ._conflicts import ConflictResolver, ignore_conflicts
from ._entrypoints import EntryPoint
from ._extension import Extension
from ._instrument import InstrumentPhase, Observer
from ._report import LOG, describe, log_failure
from .exceptions import ExtensionErrorGroup, NoMatches, RequirementError

__all__ = ["ExtensionManager", "FailurePhase", "LoadFailure", "OnLoadFailureCallback"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

#: ``callback(manager, entry_point, exception)``, called for each plugin that failed to
#: import or to be invoked, with the original exception.
OnLoadFailureCallback: TypeAlias = Callable[["ExtensionManager[Any]", EntryPoint, Exception], None]

#: Where a plugin failed: checking its requirements, importing, invoking, entering (an
#: async context manager plugin), the ``check_func``, or exiting at close.
FailurePhase: TypeAlias = Literal["requirements", "import", "invoke", "enter", "check", "exit"]


class LoadFailure(NamedTuple):
    """An entry point that did not become an extension (or whose exit failed).

    ``entry_point`` is ``None`` only for an exit failure of an extension made by hand
    (``make_test_instance``); ``extension`` is set for exit failures.
    """

    entry_point: EntryPoint | None
    phase: FailurePhase
    exception: Exception
    extension: Extension[Any] | None = None

    @property
    def name(self) -> str:
        """The plugin's name."""
        if self.entry_point is not None:
            return self.entry_point.name
        return self.extension.name if self.extension is not None else "?"


# Threads a manager with run_sync_in_thread=True uses when max_concurrency is not set
# (anyio's own default).
_DEFAULT_THREADS = 40

#: Seconds the plugins' exits get, in all, when a close begins after its caller was
#: already cancelled (a deadline that passed, a cancelled scope): the deadline in force
#: has gone, and zero time would make every exit that awaits anything fail.
CANCELLED_CLOSE_GRACE = 1.0

#: Seconds a closer waits past an exit's deadline for the plugin to finish before it
#: gives up on it (a plugin that shields itself).
_GIVE_UP_AFTER = 0.05

CREATED = "created"
STARTING = "starting"
READY = "ready"
CLOSING = "closing"
CLOSED = "closed"


def _is_async_context_manager(obj: object) -> bool:
    cls = type(obj)
    return hasattr(cls, "__aenter__") and hasattr(cls, "__aexit__")


def _async_generator_error(ext: Extension[Any]) -> TypeError:
    return TypeError(
        f"{ext.entry_point_target} is an async generator function, which cannot be "
        "invoked as a plugin; to have it set up and torn down around the manager's "
        "lifetime, decorate it with @contextlib.asynccontextmanager and use "
        "`async with manager`"
    )


class _Host:
    """One async context manager plugin and the task that enters and exits it.

    The host sets ``settled`` once entering is over (entered, failed, or gave up after
    being abandoned) and ``done`` when it has nothing left to do. The closer sets
    ``exit_deadline`` then ``release``; the host exits the plugin and records how.
    """

    __slots__ = (
        "abandoned",
        "acm",
        "done",
        "entered",
        "error",
        "exit_deadline",
        "exit_error",
        "ext",
        "fatal",
        "given_up",
        "index",
        "obj",
        "release",
        "reported",
        "scope",
        "settled",
        "stopped",
    )

    def __init__(self, ext: Extension[Any], index: int, acm: Any) -> None:
        self.ext = ext
        self.index = index
        self.acm = acm
        self.settled = anyio.Event()
        self.release = anyio.Event()
        self.done = anyio.Event()
        self.scope: anyio.CancelScope | None = None
        self.abandoned = False
        self.entered = False
        self.obj: Any = None
        self.error: Exception | None = None  # entering failed
        self.fatal: BaseException | None = None  # entering or exiting raised KeyboardInterrupt…
        self.exit_error: Exception | None = None
        self.exit_deadline = math.inf
        self.stopped = False  # ended before it was released (see ExtensionManager._host)
        self.reported: BaseException | None = None  # the failure reported last
        self.given_up = False  # a closer stopped waiting for it

    def abandon(self) -> None:
        """The caller stopped waiting for the enter: stop it at its next checkpoint (a
        plugin already entered is not disturbed: it is exited at close)."""
        if self.entered:
            return
        self.abandoned = True
        if self.scope is not None:
            self.scope.cancel()


#: The host tasks running on asyncio (the loop itself keeps only weak references).
_ASYNCIO_HOSTS: set[asyncio.Task[None]] = set()


def _spawn_host(host: Callable[[_Host], Coroutine[Any, Any, None]], slot: _Host) -> None:
    """Start a host as a task of the event loop's own, in the current context.

    Not in a task group of the caller's: a task group would wrap the ``async with``
    body in a cancel scope of ours, and only the task that opened it could close it.
    The manager itself keeps the structure: every host is waited for (``done``)
    before the start that spawned it fails or the close that exits it returns.
    """
    loop = anyio.lowlevel.current_token().native_token
    if isinstance(loop, asyncio.AbstractEventLoop):
        task = loop.create_task(host(slot))
        _ASYNCIO_HOSTS.add(task)
        task.add_done_callback(_ASYNCIO_HOSTS.discard)
    else:
        import trio

        trio.lowlevel.spawn_system_task(host, slot, context=contextvars.copy_context())


class _Start:
    """One run of the start, shared by every caller that waits for it."""

    __slots__ = ("close_requested", "done", "hosts", "order", "phases", "scope")

    def __init__(self, extensions: list[Extension[Any]]) -> None:
        self.order = {id(ext): index for index, ext in enumerate(extensions)}
        self.done = anyio.Event()
        self.scope = anyio.CancelScope()
        self.close_requested = False
        self.hosts: list[_Host] = []
        self.phases: dict[int, FailurePhase] = {}  # id(extension) → "enter" once it got there


class _Invoke(_fanout.Call):
    """``ext.plugin(*args, **kwds)``, awaited, then entered if it is a context manager."""

    __slots__ = ("args", "enter", "kwds", "start")

    def __init__(
        self,
        args: tuple[Any, ...],
        kwds: dict[str, Any],
        start: _Start,
        enter: Callable[[_Start, Extension[Any], Any], Coroutine[Any, Any, Any]] | None,
    ) -> None:
        self.args = args
        self.kwds = kwds
        self.start = start
        self.enter = enter

    def target(self, ext: Extension[Any]) -> object:
        return ext.plugin

    def __call__(self, ext: Extension[Any], /, *args: Any, **kwds: Any) -> Any:
        if inspect.isasyncgenfunction(ext.plugin):
            raise _async_generator_error(ext)
        obj = ext.plugin(*self.args, **self.kwds)
        if self._must_enter(ext, obj):
            return self._enter(ext, obj)
        if _fanout.is_awaitable(obj):
            return self._settle(ext, obj)
        return obj

    async def _settle(self, ext: Extension[Any], awaitable: Awaitable[Any]) -> Any:
        obj = await awaitable
        if self._must_enter(ext, obj):
            return await self._enter(ext, obj)
        return obj

    async def _enter(self, ext: Extension[Any], acm: Any) -> Any:
        assert self.enter is not None
        self.start.phases[id(ext)] = "enter"
        return await self.enter(self.start, ext, acm)

    def _must_enter(self, ext: Extension[Any], obj: object) -> bool:
        if inspect.isasyncgen(obj):
            raise _async_generator_error(ext)
        if not _is_async_context_manager(obj):
            return False
        if self.enter is None:
            raise TypeError(
                f"{ext.entry_point_target} produced an async context manager "
                f"({type(obj).__qualname__}); use `async with manager` so that it is "
                "entered and exited with the manager (`await manager` cannot exit it)"
            )
        return True


def check_requirements(ep: EntryPoint) -> None:
    """Raise :class:`RequirementError` unless the distribution's requirements are met.

    Checks ``Requires-Dist`` and the requirements of the entry point's extras against the
    installed versions (pre-releases count as satisfying).
    """
    dist = ep.dist
    if dist is None:
        return
    import pathlib

    import importlib_metadata
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    found: importlib_metadata.Distribution | importlib_metadata.IDistribution
    if dist.path is not None:
        found = importlib_metadata.PathDistribution(pathlib.Path(dist.path))
    else:
        found = importlib_metadata.distribution(dist.name)
    environments = [{"extra": ""}] + [{"extra": canonicalize_name(e)} for e in ep.extras]
    for line in found.requires or ():
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise RequirementError(
                f"{dist.name} {dist.version} declares an invalid requirement {line!r}: {exc}",
                requirement=line,
                distribution=dist.name,
            ) from exc
        if req.marker is not None and not any(req.marker.evaluate(e) for e in environments):
            continue
        try:
            installed = importlib_metadata.version(req.name)
        except importlib_metadata.PackageNotFoundError:
            problem = "which is not installed"
        else:
            if req.specifier.contains(installed, prereleases=True):
                continue
            problem = f"but {installed} is installed"
        raise RequirementError(
            f"{dist.name} {dist.version} (entry point {ep.name!r} = {ep.value!r}) requires "
            f"{str(req)!r}, {problem}",
            requirement=str(req),
            distribution=dist.name,
        )


class ExtensionManager(Generic[T]):
    """Loads every plugin of a namespace, in discovery order.

    Construction is synchronous: it discovers the namespace's entry points and imports
    them (``ep.load()``). With ``invoke_on_load=True`` the plugins are then invoked, all
    at once, by ``await manager`` or ``async with manager``; without it the manager is
    ready straight away.

    Args:
        namespace: the entry point group.
        invoke_on_load: call each plugin as ``plugin(*invoke_args, **invoke_kwds)`` when
            the manager is awaited or entered; an awaitable result is awaited, and an
            async context manager is entered (``async with`` only) and exited when the
            manager closes. The result becomes ``ext.obj``.
        invoke_args: positional arguments for invoking.
        invoke_kwds: keyword arguments for invoking.
        propagate_map_exceptions: ``False``: a failing ``map`` call is logged at ERROR and
            left out of the results. ``True``: ``map`` raises an
            :class:`~longshoreman.ExtensionErrorGroup` if any call failed.
        on_load_failure_callback: ``callback(manager, entry_point, exception)`` for each
            plugin that fails to import, to pass ``verify_requirements`` or to be invoked;
            without it the failure is logged at ERROR with its traceback. Either way the
            plugin is dropped and the others are kept.
        verify_requirements: before importing a plugin, check that its distribution's
            requirements (and those of the entry point's extras) are installed at
            satisfying versions; if not, it fails with
            :class:`~longshoreman.RequirementError`.
        conflict_resolver: picks one of several extensions sharing the name asked for by
            ``manager[name]``; sees all of them, in discovery order.
        max_concurrency: at most this many plugin calls in flight (invoke and map).
        timeout: seconds each plugin call (invoke, map, and the exit of an async context
            manager plugin) may take; an overrun is that plugin's ``TimeoutError``. Only
            calls that await can be interrupted.
        fail_fast: with ``propagate_map_exceptions=True``, the first failing ``map`` call
            cancels the others.
        run_sync_in_thread: run synchronous plugin callables in worker threads (this
            manager's own limiter: ``max_concurrency`` threads, or 40) rather than on the
            event loop.
        instrument: an object with ``on_start(event)`` and/or ``on_end(event)``, told
            about every plugin load, invoke, enter, call and exit (see
            :class:`~longshoreman.PluginEvent`; :mod:`longshoreman.otel` makes spans).
    """

    namespace: str
    propagate_map_exceptions: bool
    #: Errors from loading or invoking that are raised rather than reported as load
    #: failures (stevedore's rule: a failing ``assert`` is a bug, not a missing plugin).
    #: Tools that must report everything (``longshoreman check``) override it with ``()``.
    _propagated: tuple[type[Exception], ...] = (AssertionError,)

    def __init__(
        self,
        namespace: str,
        invoke_on_load: bool = False,
        invoke_args: Iterable[Any] = (),
        invoke_kwds: dict[str, Any] | None = None,
        propagate_map_exceptions: bool = False,
        on_load_failure_callback: OnLoadFailureCallback | None = None,
        verify_requirements: bool = False,
        *,
        conflict_resolver: ConflictResolver = ignore_conflicts,
        max_concurrency: int | None = None,
        timeout: float | None = None,
        fail_fast: bool = False,
        run_sync_in_thread: bool = False,
        instrument: object | None = None,
    ) -> None:
        self._configure(
            namespace,
            propagate_map_exceptions=propagate_map_exceptions,
            on_load_failure_callback=on_load_failure_callback,
            conflict_resolver=conflict_resolver,
            max_concurrency=max_concurrency,
            timeout=timeout,
            fail_fast=fail_fast,
            run_sync_in_thread=run_sync_in_thread,
            instrument=instrument,
        )
        self._invoke_on_load = invoke_on_load
        self._invoke_args = tuple(invoke_args)
        self._invoke_kwds = dict(invoke_kwds or {})
        self._verify_requirements = verify_requirements
        self._loaded = self._load_plugins()
        self._load_failures = list(self.failures)
        self.extensions = list(self._loaded)
        self._state = CREATED if invoke_on_load else READY

    @classmethod
    def make_test_instance(
        cls,
        extensions: Iterable[Extension[T]],
        namespace: str = "TESTING",
        propagate_map_exceptions: bool = False,
        on_load_failure_callback: OnLoadFailureCallback | None = None,
        *,
        conflict_resolver: ConflictResolver = ignore_conflicts,
        max_concurrency: int | None = None,
        timeout: float | None = None,
        fail_fast: bool = False,
        run_sync_in_thread: bool = False,
        instrument: object | None = None,
    ) -> Self:
        """A ready manager over the given extensions, without discovery or invocation."""
        self = cls.__new__(cls)
        self._configure(
            namespace,
            propagate_map_exceptions=propagate_map_exceptions,
            on_load_failure_callback=on_load_failure_callback,
            conflict_resolver=conflict_resolver,
            max_concurrency=max_concurrency,
            timeout=timeout,
            fail_fast=fail_fast,
            run_sync_in_thread=run_sync_in_thread,
            instrument=instrument,
        )
        self._invoke_on_load = False
        self._invoke_args = ()
        self._invoke_kwds = {}
        self._verify_requirements = False
        self._loaded = list(extensions)
        self._load_failures = []
        self.extensions = list(self._loaded)
        self._state = READY
        return self

    def _configure(
        self,
        namespace: str,
        *,
        propagate_map_exceptions: bool,
        on_load_failure_callback: OnLoadFailureCallback | None,
        conflict_resolver: ConflictResolver,
        max_concurrency: int | None,
        timeout: float | None,
        fail_fast: bool,
        run_sync_in_thread: bool,
        instrument: object | None,
    ) -> None:
        if max_concurrency is not None and (
            isinstance(max_concurrency, bool)
            or not isinstance(max_concurrency, int)
            or max_concurrency < 1
        ):
            raise ValueError(f"max_concurrency must be a positive int, not {max_concurrency!r}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.namespace = namespace
        self.propagate_map_exceptions = propagate_map_exceptions
        self._on_load_failure_callback = on_load_failure_callback
        self._conflict_resolver = conflict_resolver
        self._max_concurrency = max_concurrency
        self._timeout = timeout
        self._fail_fast = fail_fast
        self._run_sync_in_thread = run_sync_in_thread
        self._observer = None if instrument is None else Observer(instrument, namespace)
        self._limiter: anyio.CapacityLimiter | None = None
        self._limiter_loop: object = None
        self._by_name: dict[str, list[Extension[T]]] | None = None
        self._resolved: dict[str, Extension[T]] = {}
        #: Every entry point that did not become an extension, and every failed exit.
        self.failures: list[LoadFailure] = []
        self._start: _Start | None = None  # the start in progress (STARTING)
        self._hosts: list[_Host] = []  # entered plugins of the ready manager
        self._in_async_with = False  # one `async with` at a time
        self._in_flight = 0
        self._idle: anyio.Event | None = None  # set when the last call in flight ends
        self._calls = _fanout.InFlight()  # the maps in flight, for a close to cut short
        self._exit_bound = math.inf  # the earliest deadline of those closing
        self._draining: anyio.CancelScope | None = None
        self._exiting: _Host | None = None  # the host being exited now
        self._fatal: BaseException | None = None  # a host's, for the next operation
        self._fatal_raised: BaseException | None = None  # ... once
        self._closed: anyio.Event | None = None  # set when a close has finished

    # -- loading (synchronous) ---------------------------------------------------------

    def _entry_points_to_load(self) -> Iterable[EntryPoint]:
        """The entry points to import, in the order the extensions should have.

        Subclasses that select plugins by name filter here, before importing anything.
        """
        return list_entry_points(self.namespace)

    def _check_extension(self, ext: Extension[T]) -> bool:
        """Whether to keep a loaded extension (after invocation, when invoking).

        An exception raised here is a load failure of that extension.
        """
        return True

    def _load_failed(
        self, entry_point: EntryPoint | None, exc: Exception, phase: FailurePhase
    ) -> None:
        """Record and report a plugin that failed to import, pass its checks or be
        invoked: to ``on_load_failure_callback``, else as one ERROR record."""
        self.failures.append(LoadFailure(entry_point, phase, exc))
        if self._on_load_failure_callback is not None and entry_point is not None:
            self._on_load_failure_callback(self, entry_point, exc)
            return
        log_failure(
            f"Could not load extension {describe(entry_point)} of {self.namespace!r} "
            f"({phase} failed)",
            exc,
        )

    def _load_one(self, entry_point: EntryPoint) -> Extension[T] | None:
        phase: FailurePhase = "requirements"
        observer = self._observer
        event = None if observer is None else observer.start("load", None, entry_point)
        try:
            if self._verify_requirements:
                check_requirements(entry_point)
            phase = "import"
            plugin = entry_point.load()
        except BaseException as exc:
            if observer is not None and event is not None:
                observer.end(event, "error", exc)
            if isinstance(exc, self._propagated) or not isinstance(exc, Exception):
                raise
            self._load_failed(entry_point, exc, phase)
            return None
        if observer is not None and event is not None:
            observer.end(event, "ok")
        return Extension(entry_point.name, entry_point, plugin, None)

    def _keep_checked(self, extensions: Iterable[Extension[T]]) -> list[Extension[T]]:
        kept = []
        for ext in extensions:
            try:
                keep = self._check_extension(ext)
            except self._propagated:
                raise
            except Exception as exc:
                self._load_failed(ext.entry_point, exc, "check")
                continue
            if keep:
                kept.append(ext)
        return kept

    def _load_plugins(self) -> list[Extension[T]]:
        extensions = []
        for entry_point in self._entry_points_to_load():
            LOG.debug("found extension %r", entry_point)
            ext = self._load_one(entry_point)
            if ext is not None:
                extensions.append(ext)
        if self._invoke_on_load:
            return extensions
        return self._keep_checked(extensions)

    # -- the lifecycle -----------------------------------------------------------------

    def _raise_pending(self) -> None:
        """Raise the KeyboardInterrupt (or other non-Exception) a plugin's host met
        while nobody was waiting for it, once."""
        fatal, self._fatal = self._fatal, None
        if fatal is not None:
            self._fatal_raised = fatal
            raise fatal

    def _refuse_reentry(self, what: str) -> None:
        if _fanout.inside_calls_of(self):
            raise RuntimeError(
                f"{what} {self!r} from inside one of its own plugin calls would wait for "
                "itself; do it outside the plugins"
            )

    def __await__(self) -> Generator[Any, None, Self]:
        return self._ready(enter=False).__await__()

    async def _ready(self, *, enter: bool) -> Self:
        """Return once the manager is ready: start it, or wait for the start under way."""
        self._refuse_reentry("entering" if enter else "awaiting")
        self._raise_pending()
        while True:
            state = self._state
            if state == READY:
                return self
            if state in (CLOSING, CLOSED):
                raise RuntimeError(f"{self!r} is closed")
            if self._start is not None:  # STARTING: share it, then look again
                await self._start.done.wait()
                continue
            await self._run_start(enter=enter)

    async def __aenter__(self) -> Self:
        if self._in_async_with:
            raise RuntimeError(f"{self!r} is already being used by an `async with`")
        self._in_async_with = True
        try:
            await self._ready(enter=True)
        except BaseException:
            self._in_async_with = False
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Any task may leave: the hosts belong to no task's cancel scopes.
        try:
            await self.aclose()
        finally:
            self._in_async_with = False

    async def aclose(self) -> None:
        """Close the manager: let calls in flight finish, then exit the async context
        manager plugins, newest first.

        Idempotent; every concurrent ``aclose()`` returns once every plugin has been
        exited. Errors from the plugins' ``__aexit__`` are raised together as an
        :class:`~longshoreman.ExtensionErrorGroup` (by the close that ran them).
        """
        self._refuse_reentry("closing")
        while self._state == STARTING and self._start is not None:
            start = self._start
            start.close_requested = True
            self._bound_exits(self._close_deadline())  # the undo honours our deadline too
            start.scope.cancel()
            with anyio.CancelScope(shield=True):
                await start.done.wait()
        if self._state == CLOSING:
            assert self._closed is not None
            self._bound_exits(self._close_deadline())
            with anyio.CancelScope(shield=True):  # bounded: by our deadline, among others
                await self._closed.wait()
            return
        if self._state == CLOSED:
            return
        if self._state == CREATED:
            self._state = CLOSED
            return
        self._state = CLOSING
        self._closed = closed = anyio.Event()
        hosts, self._hosts = self._hosts, []
        self._bound_exits(self._close_deadline())
        try:
            with anyio.CancelScope(shield=True):
                await self._drain()
            failures = await self._exit(hosts)
        finally:
            self._state = CLOSED
            closed.set()
        self._raise_pending()
        if failures:
            raise ExtensionErrorGroup.from_failures(
                f"{len(failures)} {self.namespace!r} extension(s) failed to exit", failures
            )

    async def _drain(self) -> None:
        """Wait for the calls in flight, until the close's bound; then cut them short."""
        with anyio.CancelScope(deadline=self._exit_bound) as scope:
            self._draining = scope
            while self._in_flight:
                self._idle = anyio.Event()
                await self._idle.wait()
        self._draining = None
        if self._in_flight:
            self._calls.cut_short()  # those maps raise RuntimeError: closed in flight
            while self._in_flight:
                self._idle = anyio.Event()
                await self._idle.wait()

    def _bound_exits(self, deadline: float) -> None:
        """Every closer's deadline bounds the close in progress (the earliest wins)."""
        if deadline >= self._exit_bound:
            return
        self._exit_bound = deadline
        if self._draining is not None:
            self._draining.deadline = deadline
        exiting = self._exiting
        if exiting is not None and exiting.scope is not None:
            exiting.scope.deadline = min(exiting.scope.deadline, deadline)

    async def _run_start(self, *, enter: bool) -> None:
        """CREATED → STARTING → READY, or back to CREATED (CLOSED if a close asked)."""
        extensions: list[Extension[T]] = [
            Extension(e.name, e.entry_point, e.plugin, None) for e in self._loaded
        ]
        start = self._start = _Start(extensions)
        self._state = STARTING
        self.failures = list(self._load_failures)
        outcome: _fanout.Outcome | None = None
        try:
            with start.scope:
                outcome = await self._call(
                    extensions,
                    _Invoke(
                        self._invoke_args,
                        self._invoke_kwds,
                        start,
                        self._enter_in_host if enter else None,
                    ),
                    (),
                    {},
                    fail_fast=False,
                    starting=True,
                )
            if start.close_requested:
                raise RuntimeError(f"{self!r} was closed while it was starting")
            assert outcome is not None  # only a close cancels start.scope
            for exc in outcome.errors.values():
                if isinstance(exc, self._propagated):
                    raise exc
            invoked: list[Extension[T]] = []
            for index, ext in enumerate(extensions):
                error = outcome.errors.get(index)
                if error is None:
                    ext.obj = outcome.values[index]
                    invoked.append(ext)
                else:
                    self._load_failed(ext.entry_point, error, start.phases.get(id(ext), "invoke"))
            kept = self._keep_checked(invoked)
        except BaseException:
            try:
                await self._undo(start)
            finally:
                self._state = CLOSED if start.close_requested else CREATED
            raise
        finally:
            self._start = None
            start.done.set()
        # A plugin that stopped on its own while the start went on is not kept.
        stopped = {id(host.ext) for host in start.hosts if host.stopped}
        self.extensions = [ext for ext in kept if id(ext) not in stopped]
        self._hosts = start.hosts
        self._state = READY

    async def _undo(self, start: _Start) -> None:
        """A start failed or was cancelled: exit what it entered."""
        self.extensions = list(self._loaded)
        hosts, start.hosts = start.hosts, []
        for host in hosts:
            host.abandon()
        self._bound_exits(self._close_deadline())
        try:
            for ext, exc in await self._exit(hosts):
                log_failure(f"error exiting {describe(ext)} after a failed start", exc)
        finally:
            self._exit_bound = math.inf  # the next start's close has a bound of its own

    # -- async context manager plugins -------------------------------------------------

    async def _enter_in_host(self, start: _Start, ext: Extension[Any], acm: Any) -> Any:
        """Have a host task enter ``acm``; wait (only) for it to report."""
        host = _Host(ext, start.order[id(ext)], acm)
        start.hosts.append(host)  # before starting it: never lose an entered plugin
        _spawn_host(self._host, host)
        try:
            await host.settled.wait()
        except BaseException:
            host.abandon()
            if host.done.is_set():  # it ended (and failed, perhaps) just as we gave up
                self._report_alone(host)
            raise
        if host.fatal is not None:
            raise host.fatal
        if host.error is not None:
            raise host.error
        return host.obj

    async def _host(self, host: _Host) -> None:
        """Enter ``host.acm``, wait to be released, exit it: all in this one task.

        The host is a task of the event loop's own (see :func:`_spawn_host`), under no
        caller's cancel scope: no caller's cancellation tears a plugin down half-way,
        and any task may close the manager. One cancel scope spans the plugin's whole
        life, because a plugin may open task groups and cancel scopes in ``__aenter__``
        that stay open until ``__aexit__``, and no other scope may begin or end inside
        that span. Before the plugin is entered, cancelling that scope abandons the
        enter; after, its deadline is the exit's bound (the closer sets it).

        Three ways out once entered: released by a close (``__aexit__(None, None,
        None)``); abandoned while entering (exited at once, under that cancellation:
        the scope is cancelled for good); or stopped before its manager closed
        (something in the plugin, say a task group whose child failed, or the event
        loop shutting down, cancelled the wait: exited with that exception, as ``async
        with`` would, reported and dropped from ``extensions``). A closer that stops
        waiting for a host (its deadline passed while the plugin shields itself) leaves
        it ``given_up``: whatever it does later, it reports alone. Never raises: what
        happens is recorded on ``host``.
        """
        acm, cls = host.acm, type(host.acm)
        try:
            if host.abandoned:  # given up before this task ran: never entered
                return
            with anyio.CancelScope() as scope:
                host.scope = scope
                try:
                    host.obj = await self._observed(host, "enter", cls.__aenter__, acm)
                finally:
                    host.settled.set()
                host.entered = True
                if host.abandoned:  # (it may have changed while the enter ran)
                    await self._observed(host, "exit", cls.__aexit__, acm, None, None, None)  # type: ignore[unreachable]
                    return
                try:
                    await host.release.wait()
                except BaseException as exc:  # not released: the plugin stopped first
                    host.stopped = True
                    host.exit_error = RuntimeError(
                        f"{host.ext.entry_point_target} stopped before its manager closed"
                    )
                    host.exit_error.__cause__ = exc
                    await self._observed(
                        host, "exit", cls.__aexit__, acm, type(exc), exc, exc.__traceback__
                    )
                    return
                scope.deadline = min(scope.deadline, host.exit_deadline)
                await self._observed(host, "exit", cls.__aexit__, acm, None, None, None)
            if scope.cancelled_caught and not host.abandoned and not host.stopped:
                host.exit_error = TimeoutError(
                    f"exiting {host.ext.entry_point_target} did not finish in time "
                    "(the close's deadline or the timeout passed)"
                )
        except BaseException as exc:
            if host.entered and isinstance(exc, anyio.get_cancelled_exc_class()):
                # Not our scope's (it caught its own): the plugin's, or the event loop's
                # at shutdown. Either way the plugin has stopped.
                host.exit_error = host.exit_error or RuntimeError(
                    f"{host.ext.entry_point_target} was cancelled while exiting"
                )
                if host.exit_error.__cause__ is None:
                    host.exit_error.__cause__ = exc
                return
            try:
                failure = _fanout.as_failure(exc)
            except BaseException:  # cancelled while entering: nobody waits for it any more
                return
            if not isinstance(failure, Exception):
                host.fatal = failure
                if host.stopped and host.exit_error is not None:
                    host.exit_error.__cause__ = failure
            elif host.entered:
                if host.stopped and host.exit_error is not None:
                    host.exit_error.__cause__ = failure  # what stopping it raised
                else:
                    host.exit_error = failure
            else:
                host.error = failure
        finally:
            host.settled.set()
            host.done.set()
            if host.stopped or host.given_up or host.abandoned:
                self._report_alone(host)

    async def _observed(self, host: _Host, phase: InstrumentPhase, method: Any, *args: Any) -> Any:
        """``await method(*args)``, told to the instrument (if any) as ``phase``."""
        observer = self._observer
        if observer is None:
            return await method(*args)
        event = observer.start(phase, host.ext)
        try:
            result = await method(*args)
        except BaseException as exc:
            cancelled = isinstance(exc, anyio.get_cancelled_exc_class())
            observer.end(event, "cancelled" if cancelled else "error", exc)
            raise
        observer.end(event, "ok")
        return result

    def _report_alone(self, host: _Host) -> None:
        """Report what no caller is waiting to hear: the failures of a plugin that
        stopped before its manager closed, of an enter that was abandoned, of a host a
        closer gave up on. (A close in progress gathers a stopped plugin's failure into
        its group instead.)"""
        if host.fatal is not None and self._fatal is None:
            # No caller may be waiting for this host: the next operation raises it.
            self._fatal = host.fatal
        if host.stopped:
            exc = host.exit_error
            assert exc is not None
            if any(ext is host.ext for ext in self._extensions):
                self.extensions = [ext for ext in self._extensions if ext is not host.ext]
            if exc is host.reported or (self._state == CLOSING and not host.given_up):
                return  # reported already, or _exit gathers it
            host.reported = exc
            self.failures.append(LoadFailure(host.ext.entry_point, "exit", exc, host.ext))
            log_failure(f"extension {describe(host.ext)} of {self.namespace!r} stopped", exc)
            return
        late = host.exit_error or host.error
        if late is None or late is host.reported:
            return
        if (host.abandoned or host.given_up) and host.done.is_set():
            host.reported = late
            if host.given_up and host.exit_error is not None:
                self.failures.append(LoadFailure(host.ext.entry_point, "exit", late, host.ext))
            log_failure(f"extension {describe(host.ext)} failed after it was given up", late)

    def _close_deadline(self) -> float:
        """The deadline in force for a close beginning now; if it has passed already
        (or the caller was cancelled), :data:`CANCELLED_CLOSE_GRACE` from now."""
        deadline = anyio.current_effective_deadline()
        now = anyio.current_time()
        return now + CANCELLED_CLOSE_GRACE if deadline <= now else deadline

    async def _exit(self, hosts: list[_Host]) -> list[tuple[Extension[Any], Exception]]:
        """Exit the hosts one at a time, newest first, within the close's bound; the
        failures, in discovery order.

        Waiting for a host is bounded too: a plugin that shields its enter or exit past
        the bound is given up (its ``TimeoutError`` is in the failures) and finishes on
        its own, reporting alone. A plugin that stopped on its own, or was exited as soon
        as an abandoned enter finished, was reported then.
        """
        failures: list[tuple[Extension[Any], Exception]] = []
        fatal: BaseException | None = None
        with anyio.CancelScope(shield=True):
            for host in sorted(hosts, key=lambda h: h.index, reverse=True):
                host.exit_deadline = self._exit_bound
                if self._timeout is not None:
                    own = anyio.current_time() + self._timeout
                    host.exit_deadline = min(host.exit_deadline, own)
                self._exiting = host
                host.release.set()
                try:
                    # The host's own scope has this deadline; a little more lets an exit
                    # cancelled right at it report how it ended.
                    with anyio.CancelScope(deadline=host.exit_deadline + _GIVE_UP_AFTER):
                        await host.done.wait()
                finally:
                    self._exiting = None
                if not host.done.is_set():
                    host.given_up = True
                    # An abandoned enter is a load failure already: only what it does
                    # later is news (reported alone). An extension's is this close's.
                    if host.exit_error is None and not host.abandoned:
                        host.exit_error = TimeoutError(
                            f"{host.ext.entry_point_target} did not finish "
                            f"{'exiting' if host.entered else 'entering'} by the close's "
                            "deadline (it shields itself); it was left to finish alone"
                        )
                error = host.exit_error
                if error is not None and error is not host.reported and not host.abandoned:
                    host.reported = error
                    _fanout.note(error, host.ext)
                    self.failures.append(LoadFailure(host.ext.entry_point, "exit", error, host.ext))
                    failures.append((host.ext, error))
                if host.fatal is not None and host.fatal is not self._fatal_raised:
                    fatal = fatal or host.fatal
        failures.reverse()
        if fatal is not None and fatal is self._fatal:
            self._fatal = None  # raised here rather than by the next operation
        if fatal is not None:
            for ext, exc in failures:  # raised over, so said here
                log_failure(f"error exiting {describe(ext)} of {self.namespace!r}", exc)
            raise fatal
        return failures

    # -- fan-out -----------------------------------------------------------------------

    def _thread_limiter(self) -> anyio.CapacityLimiter | None:
        if not self._run_sync_in_thread:
            return None
        if _fanout.inside_calls_of(self, thread=True):
            raise RuntimeError(
                f"a call of {self!r} from inside one of its own worker-thread plugin calls "
                "would wait for a thread slot that call holds"
            )
        loop = anyio.lowlevel.current_token().native_token
        if self._limiter is None or self._limiter_loop is not loop:
            if self._limiter is not None and self._limiter.borrowed_tokens:
                raise RuntimeError(f"{self!r} is in use in another event loop")
            self._limiter = anyio.CapacityLimiter(self._max_concurrency or _DEFAULT_THREADS)
            self._limiter_loop = loop
        return self._limiter

    def _require_ready(self) -> None:
        if self._state == READY and self._fatal is None:
            return
        self._raise_pending()
        if self._state == READY:
            return
        if self._state in (CLOSING, CLOSED):
            raise RuntimeError(f"{self!r} is closed")
        raise RuntimeError(
            f"{self!r} invokes its plugins on load: `await` it or use `async with` before "
            "calling map() or map_method()"
        )

    async def _call(
        self,
        extensions: Sequence[Extension[Any]],
        func: Callable[..., Any],
        args: Sequence[Any],
        kwds: dict[str, Any],
        *,
        fail_fast: bool,
        starting: bool = False,
    ) -> _fanout.Outcome:
        """Run calls through the engine with this manager's limits, as a call in flight
        (a close waits for it). Only a start may call while not ready."""
        if not starting:
            self._require_ready()
        self._in_flight += 1
        try:
            return await _fanout.run(
                extensions,
                func,
                args,
                kwds,
                max_concurrency=self._max_concurrency,
                call_timeout=self._timeout,
                fail_fast=fail_fast,
                limiter=self._thread_limiter(),
                owner=self,
                calls=None if starting else self._calls,
                observer=self._observer,
                phase="invoke" if starting else "call",
            )
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._idle is not None:
                self._idle.set()

    async def _fan_out(
        self,
        extensions: Sequence[Extension[T]],
        func: Callable[..., Any],
        args: Sequence[Any],
        kwds: dict[str, Any],
    ) -> list[Any]:
        """Call ``func(ext, *args, **kwds)`` for each of ``extensions`` under this
        manager's concurrency, timeout and error policy; values in extension order."""
        extensions = tuple(extensions)  # what a plugin does to `extensions` meanwhile
        outcome = await self._call(
            extensions,
            func,
            args,
            kwds,
            fail_fast=self._fail_fast and self.propagate_map_exceptions,
        )
        return _fanout.collect(
            outcome,
            extensions,
            namespace=self.namespace,
            propagate=self.propagate_map_exceptions,
        )

    def _no_extensions(self) -> NoMatches:
        failed = list(self.failures)
        if not failed:
            return NoMatches(f"No {self.namespace} extensions found", namespace=self.namespace)
        return NoMatches(
            f"No {self.namespace} extensions loaded: all {len(failed)} found failed to load "
            f"({', '.join(sorted({f.phase for f in failed}))}); see .failures",
            namespace=self.namespace,
            failures=failed,
        )

    @overload
    async def map(
        self,
        func: Callable[Concatenate[Extension[T], P], Awaitable[R]],
        *args: P.args,
        **kwds: P.kwargs,
    ) -> list[R]: ...

    @overload
    async def map(
        self,
        func: Callable[Concatenate[Extension[T], P], R],
        *args: P.args,
        **kwds: P.kwargs,
    ) -> list[R]: ...

    async def map(self, func: Callable[..., Any], *args: Any, **kwds: Any) -> list[Any]:
        """Call ``func(ext, *args, **kwds)`` for every extension, concurrently.

        ``func`` may be synchronous or return an awaitable (which is awaited). The
        results come back in extension order. Failures are logged and left out, or
        raised as an :class:`~longshoreman.ExtensionErrorGroup` with
        ``propagate_map_exceptions=True``.

        Raises:
            NoMatches: the manager has no extensions (saying so when every plugin
                found failed to load, with those failures as ``.failures``).
            RuntimeError: the manager still needs its ``await``, or is closed.
        """
        self._require_ready()
        if not self.extensions:
            raise self._no_extensions()
        return await self._fan_out(self.extensions, func, args, kwds)

    async def map_method(self, method_name: str, *args: Any, **kwds: Any) -> list[Any]:
        """Call ``ext.obj.<method_name>(*args, **kwds)`` for every extension, as ``map``."""
        self._require_ready()
        if not self.extensions:
            raise self._no_extensions()
        return await self._fan_out(self.extensions, _fanout.MethodCall(method_name), args, kwds)

    # -- container protocol ------------------------------------------------------------

    @property
    def extensions(self) -> list[Extension[T]]:
        """The loaded extensions, in discovery order."""
        return self._extensions

    @extensions.setter
    def extensions(self, value: list[Extension[T]]) -> None:
        self._extensions = value
        self._by_name = None
        self._resolved = {}

    def _same_named(self) -> dict[str, list[Extension[T]]]:
        """Every name, in order of first appearance, with all the extensions using it."""
        if self._by_name is None:
            groups: dict[str, list[Extension[T]]] = {}
            for ext in self._extensions:
                groups.setdefault(ext.name, []).append(ext)
            self._by_name = groups
        return self._by_name

    def _resolve(self, name: str) -> Extension[T]:
        """The extension called ``name``; a conflict is resolved once, on first use.

        Only that name's extensions are resolved: a conflict elsewhere does not matter.
        Raises ``KeyError`` for an unknown name.
        """
        ext = self._resolved.get(name)
        if ext is None:
            exts = self._same_named()[name]
            resolve = self._conflict_resolver
            ext = exts[0] if len(exts) == 1 else resolve(self.namespace, name, exts)
            self._resolved[name] = ext
        return ext

    def _extensions_by_name(self) -> dict[str, Extension[T]]:
        """Every name resolved to one extension (resolving every conflict)."""
        return {name: self._resolve(name) for name in self._same_named()}

    def list_entry_points(self) -> list[EntryPoint]:
        """Every entry point of the namespace (nothing is imported)."""
        return list(list_entry_points(self.namespace))

    def entry_points_names(self) -> list[str]:
        """The names of every entry point of the namespace."""
        return [ep.name for ep in list_entry_points(self.namespace)]

    def names(self) -> list[str]:
        """The names of the loaded extensions, in order."""
        return [ext.name for ext in self._extensions]

    def items(self) -> ItemsView[str, Extension[T]]:
        """``(name, extension)`` pairs, one per name (duplicates resolved)."""
        return self._extensions_by_name().items()

    def __getitem__(self, name: str) -> Extension[T]:
        """The extension called ``name``; several are resolved by ``conflict_resolver``."""
        return self._resolve(name)

    def __contains__(self, name: object) -> bool:
        return any(ext.name == name for ext in self._extensions)

    def __iter__(self) -> Iterator[Extension[T]]:
        return iter(self._extensions)

    def __len__(self) -> int:
        return len(self._extensions)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.namespace!r})"
