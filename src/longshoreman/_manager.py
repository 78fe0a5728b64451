"""ExtensionManager: load every plugin of a namespace; invoke and fan out asynchronously.

The life of a manager::

    constructed ──(invoke_on_load=False)──────────────────────────► ready
         │                                                            ▲
         └──(invoke_on_load=True)── await mgr / async with mgr ───────┘
    ready ── aclose() / end of ``async with`` ──► closed

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

import inspect
import logging
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
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeAlias, TypeVar, overload

import anyio
from anyio.abc import TaskGroup, TaskStatus

from . import _fanout
from ._cache import list_entry_points
from ._conflicts import ConflictResolver, ignore_conflicts
from ._entrypoints import EntryPoint
from ._extension import Extension
from .exceptions import ExtensionErrorGroup, NoMatches, RequirementError

__all__ = ["ExtensionManager", "OnLoadFailureCallback"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

LOG = logging.getLogger("longshoreman")

#: ``callback(manager, entry_point, exception)``, called for each plugin that failed to
#: import or to be invoked, with the original exception.
OnLoadFailureCallback: TypeAlias = Callable[["ExtensionManager[Any]", EntryPoint, Exception], None]

# Threads a manager with run_sync_in_thread=True uses when max_concurrency is not set
# (anyio's own default).
_DEFAULT_THREADS = 40

_READY = "ready"
_NEEDS_AWAIT = "needs await"
_LOADING = "loading"
_CLOSED = "closed"


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


class _Failed:
    """What a host task hands back when entering its context manager failed."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Exit:
    """One entered async context manager plugin, waiting in its host task."""

    __slots__ = ("done", "error", "fatal", "guard", "release")

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.done = anyio.Event()
        self.guard: anyio.CancelScope | None = None
        self.error: Exception | None = None
        self.fatal: BaseException | None = None


class _Invoke(_fanout.Call):
    """``ext.plugin(*args, **kwds)``, awaited, then entered if it is a context manager."""

    __slots__ = ("args", "enter", "kwds")

    def __init__(
        self,
        args: tuple[Any, ...],
        kwds: dict[str, Any],
        enter: Callable[[Extension[Any], Any], Coroutine[Any, Any, Any]] | None,
    ) -> None:
        self.args = args
        self.kwds = kwds
        self.enter = enter

    def target(self, ext: Extension[Any]) -> object:
        return ext.plugin

    def __call__(self, ext: Extension[Any], /, *args: Any, **kwds: Any) -> Any:
        if inspect.isasyncgenfunction(ext.plugin):
            raise _async_generator_error(ext)
        obj = ext.plugin(*self.args, **self.kwds)
        if self._must_enter(ext, obj):
            return self.enter(ext, obj)  # type: ignore[misc]
        if _fanout.is_awaitable(obj):
            return self._settle(ext, obj)
        return obj

    async def _settle(self, ext: Extension[Any], awaitable: Awaitable[Any]) -> Any:
        obj = await awaitable
        if self._must_enter(ext, obj):
            return await self.enter(ext, obj)  # type: ignore[misc]
        return obj

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
        )
        self._invoke_on_load = invoke_on_load
        self._invoke_args = tuple(invoke_args)
        self._invoke_kwds = dict(invoke_kwds or {})
        self._verify_requirements = verify_requirements
        self.extensions = self._load_plugins()
        self._state = _NEEDS_AWAIT if invoke_on_load else _READY

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
        )
        self._invoke_on_load = False
        self._invoke_args = ()
        self._invoke_kwds = {}
        self._verify_requirements = False
        self.extensions = list(extensions)
        self._state = _READY
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
        self._limiter: anyio.CapacityLimiter | None = None
        self._by_name: dict[str, list[Extension[T]]] | None = None
        self._resolved: dict[str, Extension[T]] = {}
        self._loading: anyio.Event | None = None
        self._lifetime: TaskGroup | None = None
        self._exits: dict[Extension[T], _Exit] = {}
        self._exit_order: list[Extension[T]] = []
        self._entered = False

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

    def _load_failed(self, entry_point: EntryPoint | None, exc: Exception) -> None:
        """Report a plugin that failed to import, pass its checks or be invoked."""
        if self._on_load_failure_callback is not None and entry_point is not None:
            self._on_load_failure_callback(self, entry_point, exc)
            return
        name, target = (
            (entry_point.name, entry_point.value) if entry_point is not None else ("?", "?")
        )
        LOG.error(
            "Could not load extension %r (%s) of %r: %s",
            name,
            target,
            self.namespace,
            exc,
            exc_info=exc,
        )

    def _load_one(self, entry_point: EntryPoint) -> Extension[T] | None:
        try:
            if self._verify_requirements:
                check_requirements(entry_point)
            plugin = entry_point.load()
        except self._propagated:
            raise
        except Exception as exc:
            self._load_failed(entry_point, exc)
            return None
        return Extension(entry_point.name, entry_point, plugin, None)

    def _keep_checked(self, extensions: Iterable[Extension[T]]) -> list[Extension[T]]:
        kept = []
        for ext in extensions:
            try:
                keep = self._check_extension(ext)
            except self._propagated:
                raise
            except Exception as exc:
                self._load_failed(ext.entry_point, exc)
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

    # -- invoking (asynchronous) -------------------------------------------------------

    def __await__(self) -> Generator[Any, None, Self]:
        return self._ready().__await__()

    async def _ready(self) -> Self:
        while self._state == _LOADING and self._loading is not None:
            await self._loading.wait()
        if self._state == _CLOSED:
            raise RuntimeError(f"{self!r} is closed")
        if self._state == _NEEDS_AWAIT:
            await self._invoke_all(enter=None)
        return self

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError(f"{self!r} is already being used by an `async with`")
        if self._state == _CLOSED:
            raise RuntimeError(f"{self!r} is closed")
        self._entered = True
        if self._state != _NEEDS_AWAIT:
            return await self._ready()
        lifetime = anyio.create_task_group()
        await lifetime.__aenter__()
        self._lifetime = lifetime
        try:
            await self._invoke_all(enter=self._enter)
        except BaseException:
            try:
                await self._release_all()
            except Exception:
                LOG.exception("error while closing %r after a failed start", self)
            finally:
                await self._end_lifetime()
                self._entered = False
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.aclose()
        finally:
            await self._end_lifetime()
            self._entered = False

    async def aclose(self) -> None:
        """Close the manager: exit the async context manager plugins, newest first.

        Idempotent. Errors from the plugins' ``__aexit__`` are raised together as an
        :class:`~longshoreman.ExtensionErrorGroup` once every plugin has been exited.
        """
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        await self._release_all()

    async def _invoke_all(
        self, enter: Callable[[Extension[Any], Any], Coroutine[Any, Any, Any]] | None
    ) -> None:
        self._state = _LOADING
        self._loading = anyio.Event()
        try:
            extensions = self.extensions
            self._exit_order = list(extensions)
            outcome = await _fanout.run(
                extensions,
                _Invoke(self._invoke_args, self._invoke_kwds, enter),
                max_concurrency=self._max_concurrency,
                call_timeout=self._timeout,
                limiter=self._thread_limiter(),
            )
        except BaseException:
            self._state = _NEEDS_AWAIT
            raise
        finally:
            self._loading.set()
            self._loading = None
        for exc in outcome.errors.values():
            if isinstance(exc, self._propagated):
                self._state = _NEEDS_AWAIT
                raise exc
        self._state = _READY
        invoked: list[Extension[T]] = []
        for index, ext in enumerate(extensions):
            error = outcome.errors.get(index)
            if error is None:
                ext.obj = outcome.values[index]
                invoked.append(ext)
            else:
                self._load_failed(ext.entry_point, error)
        self.extensions = self._keep_checked(invoked)

    # -- async context manager plugins -------------------------------------------------

    async def _enter(self, ext: Extension[Any], acm: Any) -> Any:
        assert self._lifetime is not None
        slot = self._exits[ext] = _Exit()  # before starting: never lose an entered plugin
        value = await self._lifetime.start(self._host, acm, slot)
        if isinstance(value, _Failed):
            raise value.exc
        return value

    async def _host(self, acm: Any, slot: _Exit, *, task_status: TaskStatus[Any]) -> None:
        """Enter ``acm``, wait for the manager to close, exit it: all in this one task."""
        entered = False
        try:
            with anyio.CancelScope() as guard:
                slot.guard = guard
                async with acm as obj:
                    entered = True
                    task_status.started(obj)
                    # From now on only the manager ends this plugin (or the plugin itself):
                    # its exit runs when the manager closes, in order, even if the code
                    # around the manager is being cancelled.
                    guard.shield = True
                    await slot.release.wait()
            if guard.cancelled_caught:
                raise TimeoutError(f"exiting did not finish within {self._timeout} s")
        except Exception as exc:
            if entered:
                slot.error = exc
            else:
                task_status.started(_Failed(exc))
        except anyio.get_cancelled_exc_class() as exc:
            if _fanout.really_cancelled():
                raise
            error = _fanout.spontaneous_cancellation(exc)
            if entered:
                slot.error = error
            else:
                task_status.started(_Failed(error))
        except BaseException as exc:  # re-raised, unwrapped, by the manager's task
            if entered:
                slot.fatal = exc
            else:
                task_status.started(_Failed(exc))
        finally:
            slot.done.set()

    async def _release_all(self) -> None:
        exits, self._exits = self._exits, {}
        if not exits:
            return
        failures: list[tuple[Extension[Any], Exception]] = []
        fatal: BaseException | None = None
        with anyio.CancelScope(shield=True):
            for ext in reversed(self._exit_order):
                slot = exits.get(ext)
                if slot is None:
                    continue
                if slot.guard is not None and self._timeout is not None:
                    slot.guard.deadline = anyio.current_time() + self._timeout
                slot.release.set()
                await slot.done.wait()
                if slot.error is not None:
                    _fanout.note(slot.error, ext)
                    failures.append((ext, slot.error))
                fatal = fatal or slot.fatal
        if fatal is not None:
            raise fatal
        if failures:
            failures.reverse()
            raise ExtensionErrorGroup.from_failures(
                f"{len(failures)} {self.namespace!r} extension(s) failed to exit", failures
            )

    async def _end_lifetime(self) -> None:
        lifetime, self._lifetime = self._lifetime, None
        if lifetime is not None:
            # Every host task has finished by now: this only closes the group.
            await lifetime.__aexit__(None, None, None)

    # -- fan-out -----------------------------------------------------------------------

    def _thread_limiter(self) -> anyio.CapacityLimiter | None:
        if not self._run_sync_in_thread:
            return None
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._max_concurrency or _DEFAULT_THREADS)
        return self._limiter

    def _require_ready(self) -> None:
        if self._state == _READY:
            return
        if self._state == _CLOSED:
            raise RuntimeError(f"{self!r} is closed")
        raise RuntimeError(
            f"{self!r} invokes its plugins on load: `await` it or use `async with` before "
            "calling map() or map_method()"
        )

    async def _fan_out(
        self,
        extensions: Sequence[Extension[T]],
        func: Callable[..., Any],
        args: Sequence[Any],
        kwds: dict[str, Any],
    ) -> list[Any]:
        """Call ``func(ext, *args, **kwds)`` for each of ``extensions`` under this
        manager's concurrency, timeout and error policy; values in extension order."""
        outcome = await _fanout.run(
            extensions,
            func,
            args,
            kwds,
            max_concurrency=self._max_concurrency,
            call_timeout=self._timeout,
            fail_fast=self._fail_fast and self.propagate_map_exceptions,
            limiter=self._thread_limiter(),
        )
        return _fanout.collect(
            outcome,
            extensions,
            namespace=self.namespace,
            propagate=self.propagate_map_exceptions,
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
            NoMatches: the manager has no extensions.
            RuntimeError: the manager still needs its ``await``, or is closed.
        """
        self._require_ready()
        if not self.extensions:
            raise NoMatches(f"No {self.namespace} extensions found", namespace=self.namespace)
        return await self._fan_out(self.extensions, func, args, kwds)

    async def map_method(self, method_name: str, *args: Any, **kwds: Any) -> list[Any]:
        """Call ``ext.obj.<method_name>(*args, **kwds)`` for every extension, as ``map``."""
        self._require_ready()
        if not self.extensions:
            raise NoMatches(f"No {self.namespace} extensions found", namespace=self.namespace)
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
