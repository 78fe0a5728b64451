"""The fan-out engine: the one place where plugin calls run concurrently.

Every manager hands its calls here: ``invoke_on_load``, ``map``, ``map_method``, the
dispatching variants and a driver's call. :func:`run` calls ``func(ext, *args, **kwds)``
for each extension and records, per extension index, either a value or an exception;
:func:`collect` turns that record into what ``map`` returns, logs or raises.

How a call runs (:meth:`_Run.advance` is the one loop that makes calls, for every shape):

* Unbounded (``max_concurrency=None``): ``func`` is called inline in the caller's task, in
  extension order, so a synchronous callable costs a function call and nothing more. When
  the result is awaitable, a small task awaits it; all of them run in one task group,
  created only when the first awaitable appears. Every map passes one real checkpoint.
* ``max_concurrency=k``: ``k`` worker tasks pull ``(index, extension)`` pairs from one
  shared iterator, so memory is O(k) whatever the number of extensions.
* ``limiter`` given (``run_sync_in_thread``): a call whose target is not a coroutine
  function runs in a worker thread under that limiter; an awaitable it returns is then
  awaited on the event loop.
* The tasks are the backend's own (the group shapes, at the end): on asyncio plain
  tasks, recorded in anyio's cancel-scope tree only once that matters, and started
  eagerly on 3.12+ when they can be, up to 1,000 per fan-out (:class:`_AsyncioTasks`);
  on trio a nursery. anyio's
  task group is the reference shape (``LONGSHOREMAN_FANOUT=generic``).

What happens to errors (:func:`as_failure` sorts them, for the engine and the manager):

* ``Exception``: recorded for that extension; with ``fail_fast`` the first one cancels
  the remaining calls (they are listed as cancelled).
* ``call_timeout``: a call still running that many seconds after it *started running*
  (waiting for a worker or a thread slot does not count) is cancelled and recorded as a
  ``TimeoutError``; a synchronous call (inline or in a thread) cannot be interrupted, but
  one that ran too long is recorded as a ``TimeoutError`` all the same.
* A cancellation exception raised by a plugin that was *not* cancelled is recorded as a
  ``RuntimeError`` (caused by it): exception groups only hold ``Exception``s.
* Other ``BaseException``s (``KeyboardInterrupt``, ``SystemExit``): the sibling calls are
  cancelled and that very exception is re-raised from :func:`run`, never wrapped.
* Cancellation of the caller propagates after every call has been cancelled; failures
  recorded before it are logged, never dropped.
* A call whose task code outside the fan-out cancelled natively (``Task.cancel()``)
  before it could start is recorded as a ``RuntimeError`` saying so: no call ends
  without a value or a failure.

Nothing is retained: when :func:`run` returns, its state no longer refers to values or
exceptions, so a traceback that reaches the state's frames keeps no results alive.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import itertools
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from types import CoroutineType, GeneratorType
from typing import Any, Final, Protocol, cast

import anyio
import anyio.lowlevel

from ._extension import Extension
from ._instrument import InstrumentPhase, Observer
from ._report import describe, log_failure
from .exceptions import ExtensionErrorGroup

__all__ = [
    "Call",
    "MethodCall",
    "Outcome",
    "as_failure",
    "collect",
    "inside_calls_of",
    "note",
    "run",
]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"


#: The value slot of a call that produced no value (it failed or was cancelled).
MISSING: Final = _Missing()

#: The owners (managers) whose plugin calls the current context is inside of, and those
#: whose calls it runs in a worker thread for. Set by :func:`run`; inherited by the tasks
#: and threads it starts, and by ``from_thread`` calls made from those threads.
_CALLING: contextvars.ContextVar[tuple[object, ...]] = contextvars.ContextVar(
    "longshoreman_calling", default=()
)
_IN_THREAD: contextvars.ContextVar[tuple[object, ...]] = contextvars.ContextVar(
    "longshoreman_in_thread", default=()
)


def inside_calls_of(owner: object, *, thread: bool = False) -> bool:
    """Whether the current code runs inside one of ``owner``'s plugin calls (in one of
    its worker threads, with ``thread=True``)."""
    return any(o is owner for o in (_IN_THREAD if thread else _CALLING).get())


class Call:
    """A fan-out callable that can say which plugin callable it will end up calling.

    Only used to pick the fast path of ``run_sync_in_thread``: a call whose target is a
    coroutine function is made on the event loop instead of in a thread.
    """

    __slots__ = ()

    def __call__(self, ext: Extension[Any], /, *args: Any, **kwds: Any) -> Any:
        raise NotImplementedError

    def target(self, ext: Extension[Any]) -> object:
        raise NotImplementedError


class MethodCall(Call):
    """``ext.obj.<name>(*args, **kwds)``: what ``map_method`` fans out."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, ext: Extension[Any], /, *args: Any, **kwds: Any) -> Any:
        return getattr(ext.obj, self.name)(*args, **kwds)

    def target(self, ext: Extension[Any]) -> object:
        return getattr(ext.obj, self.name)


def is_awaitable(value: object) -> bool:
    # The common case first: inspect.isawaitable ends in a slow ABC check.
    return type(value) is CoroutineType or inspect.isawaitable(value)


def really_cancelled() -> bool:
    """Whether the current task is inside a cancelled scope (not a stray exception)."""
    return anyio.current_effective_deadline() == -math.inf


def as_failure(exc: BaseException, *, cancelled: bool | None = None) -> BaseException:
    """Sort what plugin code raised; the one place that does it.

    Returns the ``Exception`` to record as that plugin's failure (a cancellation nobody
    asked for becomes a ``RuntimeError`` caused by it), or a non-``Exception`` that must
    reach the caller as itself (``KeyboardInterrupt``, ``SystemExit``). A real
    cancellation of the current task is re-raised; ``cancelled`` says whether there is
    one, when the caller knows better than the current task's scopes.
    """
    if isinstance(exc, Exception):
        return exc
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        if really_cancelled() if cancelled is None else cancelled:
            raise exc
        error = RuntimeError(
            f"the plugin raised {type(exc).__name__} although it was not cancelled"
        )
        error.__cause__ = exc
        return error
    return exc


#: What thread calls produced, by call key, until the event loop picks them up. Not
#: returned through the thread machinery: a failing call's traceback links, through the
#: frames that called the plugin, to the worker's record of its return value; if that
#: record held the exception, the two would form a cycle that keeps the exception (and
#: every frame and local it holds) alive until the cyclic collector runs.
_THREAD_RESULTS: dict[int, tuple[bool, Any, float]] = {}
_thread_keys = itertools.count()


def _in_thread(
    key: int, owner: object, func: Callable[..., Any], ext: Extension[Any], args: Any, kwds: Any
) -> None:
    # Runs in the worker thread. Boxed both ways: trio refuses a thread's result that is
    # a coroutine (we await it on the loop), and an exception crossing the thread
    # boundary as itself could be changed on the way (StopIteration becomes
    # RuntimeError): it is carried back as a value and raised on the loop.
    token = _IN_THREAD.set((*_IN_THREAD.get(), owner))
    began = time.monotonic()
    try:
        _THREAD_RESULTS[key] = (True, func(ext, *args, **kwds), time.monotonic() - began)
    except BaseException as exc:
        _THREAD_RESULTS[key] = (False, exc, time.monotonic() - began)
    finally:
        _IN_THREAD.reset(token)


class Cancellable(Protocol):
    """What cancels the tasks of one fan-out: an anyio cancel scope, or the native
    asyncio shape's group of tasks (which joins its tasks to anyio's scope tree first)."""

    @property
    def cancel_called(self) -> bool: ...

    def cancel(self) -> None: ...


class InFlight:
    """A manager's runs in flight, so that a closing manager can cut them short: what
    cancels the tasks of each, and ``cut``, which a run about to start its calls
    checks."""

    __slots__ = ("cut", "scopes")

    def __init__(self) -> None:
        self.scopes: set[Cancellable] = set()
        self.cut = False

    def cut_short(self) -> None:
        self.cut = True
        for scope in list(self.scopes):
            scope.cancel()


class Outcome:
    """What a fan-out produced, by extension index.

    ``values[i]`` is the value of call ``i`` or :data:`MISSING`; ``errors`` maps an index
    to the exception of a failed call; ``cancelled`` lists, in order, the indices of
    calls that ``fail_fast`` cancelled or never started.
    """

    __slots__ = ("cancelled", "errors", "values")

    def __init__(self, values: list[Any], errors: dict[int, Exception], cancelled: list[int]):
        self.values = values
        self.errors = errors
        self.cancelled = cancelled


#: What a call left to finish in a task: ``(coroutine function, *its arguments)``.
Pending = tuple[Any, ...]


class _Run:
    """The state of one fan-out; its methods are the tasks' bodies."""

    __slots__ = (
        "args",
        "errors",
        "extensions",
        "fail_fast",
        "fatal",
        "fatal_index",
        "func",
        "halted",
        "kwds",
        "limiter",
        "method",
        "observer",
        "owner",
        "phase",
        "scope",
        "timeout",
        "values",
    )

    def __init__(
        self,
        extensions: Sequence[Extension[Any]],
        func: Callable[..., Any],
        args: Sequence[Any],
        kwds: Mapping[str, Any],
        timeout: float | None,
        fail_fast: bool,
        limiter: anyio.CapacityLimiter | None,
        owner: object,
    ) -> None:
        self.extensions = extensions
        self.values: list[Any] = [MISSING] * len(extensions)
        self.errors: dict[int, Exception] = {}
        self.func = func
        self.args = args
        self.kwds = kwds
        # map_method without arguments, the typical hook call: the calling loops call
        # that method of each plugin directly, without MethodCall's detour.
        self.method = func.name if type(func) is MethodCall and not (args or kwds) else None
        self.timeout = timeout
        self.fail_fast = fail_fast
        self.limiter = limiter
        self.owner = owner
        self.observer: Observer | None = None
        self.phase: InstrumentPhase = "call"
        self.fatal: BaseException | None = None
        self.fatal_index = -1
        self.halted = False
        self.scope: Cancellable | None = None  # of the tasks awaiting calls, once open

    # -- recording -------------------------------------------------------------------

    def failed(self, index: int, exc: BaseException) -> None:
        """Record what call ``index`` raised (re-raising a real cancellation)."""
        exc = as_failure(exc)
        if isinstance(exc, Exception):
            self.errors[index] = exc
            if self.fail_fast:
                self.halt()
        else:
            # Not swallowed: run() re-raises it, unwrapped, once the siblings are cancelled.
            if self.fatal is None:
                self.fatal, self.fatal_index = exc, index
            self.halt()

    def halt(self) -> None:
        if not self.halted:
            self.halted = True
            if self.scope is not None:
                self.scope.cancel()

    def overrun(self) -> TimeoutError:
        return TimeoutError(f"the call did not finish within {self.timeout} s")

    # -- making calls ----------------------------------------------------------------

    def advance(
        self,
        items: Iterator[tuple[int, Extension[Any]]],
        spawn: Spawn | None,
        observer: Observer | None = None,
    ) -> Any:
        """Make the calls ``items`` yields, in turn; the one loop that calls plugins.

        A synchronous result is recorded at once. What needs awaiting (an awaitable
        result, or a call to run in a thread) is started as a task by ``spawn``; without
        ``spawn`` the
        loop stops there and returns it as a :data:`Pending` for the caller to finish
        (a worker awaits it itself; an unbounded run then opens its task group). Returns
        ``None`` once ``items`` is exhausted or the run halted. With an ``observer``,
        every call is made by :meth:`observed`, in a task of its own.
        """
        # SPEC §10: a sync callable costs ≤ 1 µs more than calling it, so this loop is
        # flat, and the common cases (a plain value, a coroutine to spawn) take
        # no detour. It never awaits: `halted` can only change when a call raised.
        func, args, kwds, values = self.func, self.args, self.kwds, self.values
        timeout, limiter, finish = self.timeout, self.limiter, self.finish
        method = self.method
        plain: set[type] = set()  # result types known not to be awaitable
        for index, ext in items:
            pending: Pending
            if observer is not None:
                pending = (self.counted, self.observe, index, ext)
            elif limiter is not None and self.wants_thread(ext):
                pending = (self.counted, self.in_thread, index, ext)
            else:
                began = 0.0 if timeout is None else time.monotonic()
                try:
                    if method is not None:
                        result = getattr(ext.obj, method)()
                    else:
                        result = func(ext, *args, **kwds)
                except BaseException as exc:  # sorted out (and re-raised if need be) there
                    self.failed(index, exc)
                    if self.halted:
                        return None
                    continue
                cls = type(result)
                if cls in plain:
                    if timeout is not None and time.monotonic() - began > timeout:
                        self.failed(index, self.overrun())
                    else:
                        values[index] = result
                    continue
                if cls is CoroutineType or inspect.isawaitable(result):
                    if timeout is None:
                        if spawn is not None:
                            spawn(finish, index, result)
                            continue
                        return (finish, index, result)
                    pending = (finish, index, result, time.monotonic() - began)
                else:
                    if cls is not GeneratorType:  # a generator's awaitability is per object
                        plain.add(cls)
                    if timeout is not None and time.monotonic() - began > timeout:
                        self.failed(index, self.overrun())
                    else:
                        values[index] = result
                    continue
            if spawn is None:
                return pending
            spawn(*pending)
        return None

    def wants_thread(self, ext: Extension[Any]) -> bool:
        func = self.func
        try:
            target = func.target(ext) if isinstance(func, Call) else func
        except Exception:  # the call itself will raise it again, and record it
            return True
        return not inspect.iscoroutinefunction(target)

    # The task bodies: `finish`, `counted` and `worker`. Each is also
    # awaited inside another one; spawned as a task of the native asyncio shape, it is
    # given that shape's `group`, which it tells when it ends (the shape joins its tasks
    # by counting those ends, see _AsyncioTasks). `ok` is False when it ends raising.

    async def finish(
        self,
        index: int,
        awaitable: Awaitable[Any],
        spent: float = 0.0,
        group: _AsyncioTasks | None = None,
    ) -> None:
        """Await the rest of call ``index`` and record the result.

        ``spent`` is how long its synchronous part already ran: the timeout clock counts
        from when the call started running, not from when it was scheduled.
        """
        ok = False
        try:
            try:
                if self.timeout is None:
                    value = await awaitable
                else:
                    value = await self.bounded(awaitable, self.timeout - spent)
            except BaseException as exc:  # sorted out (and re-raised if need be) there
                self.failed(index, exc)
            else:
                self.values[index] = value
            ok = True
        finally:
            # A coroutine cancelled before its first step would warn "never awaited".
            if type(awaitable) is CoroutineType:
                awaitable.close()
            if group is not None:
                group.ended(ok)

    async def bounded(self, awaitable: Awaitable[Any], budget: float) -> Any:
        value: Any = MISSING
        with anyio.CancelScope(deadline=anyio.current_time() + budget):
            value = await awaitable
        if value is MISSING:  # cancelled at its deadline
            raise self.overrun()
        return value

    async def counted(
        self,
        work: Callable[[int, Extension[Any]], Awaitable[None]],
        index: int,
        ext: Extension[Any],
        group: _AsyncioTasks | None = None,
    ) -> None:
        """Make call ``index`` by ``work``: :meth:`in_thread` or :meth:`observe`."""
        ok = False
        try:
            await work(index, ext)
            ok = True
        finally:
            if group is not None:
                group.ended(ok)

    async def in_thread(self, index: int, ext: Extension[Any]) -> None:
        """Run call ``index`` in a worker thread (timed from when the thread starts it)."""
        key = next(_thread_keys)
        call = functools.partial(_in_thread, key, self.owner, self.func, ext, self.args, self.kwds)
        try:
            await anyio.to_thread.run_sync(call, limiter=self.limiter)
        except BaseException as exc:  # the caller's cancellation
            late = _THREAD_RESULTS.pop(key, None)  # the thread may have finished all the same
            if late is not None and type(late[1]) is CoroutineType:
                late[1].close()
            self.failed(index, exc)
            return
        ok, result, spent = _THREAD_RESULTS.pop(key)
        if not ok:  # recorded without raising it here: no frame of ours keeps it alive
            self.failed(index, result)
            return
        if self.timeout is not None and spent > self.timeout:
            if type(result) is CoroutineType:
                result.close()  # dropped on purpose: no "never awaited" warning
            self.failed(index, self.overrun())
            return
        if is_awaitable(result):
            await self.finish(index, result, spent)
        else:
            self.values[index] = result

    async def observe(self, index: int, ext: Extension[Any]) -> None:
        """Make call ``index`` (as :meth:`advance` would), told to the observer."""
        observer = self.observer
        assert observer is not None
        try:  # an instrument's Exception is logged there; anything else is fatal here
            event = observer.start(self.phase, ext)
        except BaseException as exc:
            self.failed(index, exc)
            return
        try:
            pending = self.advance(iter(((index, ext),)), None)
            if pending is not None:
                await pending[0](*pending[1:])
        finally:
            try:
                if index in self.errors:
                    observer.end(event, "error", self.errors[index])
                elif self.values[index] is not MISSING:
                    observer.end(event, "ok")
                elif self.fatal_index == index:
                    observer.end(event, "error", self.fatal)
                else:
                    observer.end(event, "cancelled")
            except BaseException as exc:
                self.failed(index, exc)

    async def worker(
        self, items: Iterator[tuple[int, Extension[Any]]], group: _AsyncioTasks | None = None
    ) -> None:
        """One of ``max_concurrency`` workers: make calls from ``items`` until none is left.

        Commonly (no timeout, threads or observer) each call is made and awaited right
        here, what ``advance`` and ``finish`` do, in one flat loop: SPEC §10 wants a pool
        at the cost of plain workers.
        """
        ok = False
        try:
            if self.observer is None and self.limiter is None and self.timeout is None:
                func, args, kwds, values = self.func, self.args, self.kwds, self.values
                method = self.method
                plain: set[type] = set()  # result types known not to be awaitable
                for index, ext in items:
                    if self.halted:  # a call failed with fail_fast: this one is cancelled
                        break
                    try:
                        if method is not None:
                            result = getattr(ext.obj, method)()
                        else:
                            result = func(ext, *args, **kwds)
                        cls = type(result)
                        if cls is CoroutineType or (
                            cls not in plain and inspect.isawaitable(result)
                        ):
                            result = await result  # started at once: never left un-awaited
                        elif cls is not GeneratorType:
                            plain.add(cls)
                    except BaseException as exc:  # sorted out (and re-raised if need be)
                        self.failed(index, exc)
                        continue
                    values[index] = result
            else:
                while not self.halted:
                    pending = self.advance(items, None, self.observer)
                    if pending is None:
                        break
                    await pending[0](*pending[1:])
            ok = True
        finally:
            if group is not None:
                group.ended(ok)

    def account_for_lost(self) -> None:
        """Record a failure for each call that ended with neither a value nor an error:
        its task was cancelled natively (``Task.cancel()``, by code outside the fan-out)
        before it started, so none of the fan-out's code ran in it."""
        values, errors = self.values, self.errors
        for index, value in enumerate(values):
            if value is MISSING and index not in errors:
                errors[index] = RuntimeError(
                    "the call's task was cancelled natively (Task.cancel() from outside the "
                    "fan-out), or together with one that was, before it could finish"
                )

    # -- ending ----------------------------------------------------------------------

    def release(self) -> Outcome:
        """Hand the results over and forget them (see "Nothing is retained")."""
        values, errors = self.values, self.errors
        cancelled: list[int] = []
        if self.halted:
            cancelled = [i for i, v in enumerate(values) if v is MISSING and i not in errors]
        self.values, self.errors = [], {}
        return Outcome(values, dict(sorted(errors.items())), cancelled)

    def drop(self, reason: BaseException) -> None:
        """The run ends with ``reason`` propagating: log what would be lost with it."""
        errors, self.values, self.errors = self.errors, [], {}
        for index, exc in sorted(errors.items()):
            log_failure(
                f"extension {describe(self.extensions[index])} failed while the fan-out "
                f"was ending with {type(reason).__name__}",
                exc,
            )


#: ``spawn(async_fn, *args)``: start ``async_fn(*args)`` as a task of the fan-out.
Spawn = Callable[..., object]

#: What a group shape does once its tasks can be spawned: start the first tasks.
Start = Callable[[Spawn], None]


# -- the task groups: one generic (anyio's), one native per backend ----------------------
#
# Each opens an anyio cancel scope in the caller's task (what `halt` and a closing
# manager cancel, what `scopes` holds), runs `start(spawn)`, and returns only once every
# task it spawned has finished. The generic one is the reference; the native ones must
# behave the same, only with fewer objects and frames per task.


def _use_native() -> bool:
    return os.environ.get("LONGSHOREMAN_FANOUT", "native") != "generic"


#: Whether calls run in the backend's native tasks (see :func:`_native_group`). Read
#: from ``LONGSHOREMAN_FANOUT`` (``generic`` forces anyio's task group) at import; the
#: tests switch it to cover both paths.
NATIVE: bool = _use_native()


async def _generic_group(state: _Run, start: Start, scopes: Scopes) -> None:
    """The reference: an anyio task group."""
    async with anyio.create_task_group() as tg:
        state.scope = tg.cancel_scope
        if scopes is not None:
            scopes.add(tg.cancel_scope)
        start(tg.start_soon)


async def _trio_group(state: _Run, start: Start, scopes: Scopes) -> None:
    """A trio nursery: anyio's cancel scopes are trio's, so it needs nothing else; the
    nursery's own cancel scope is the fan-out's (a scope more would cost a third of a
    map over 10 plugins).

    The tasks only ever raise the cancellation that reaches them; the nursery groups
    those, and the group of nothing but cancellations leaves as one ``Cancelled`` (as
    from anyio's task group), so that code above sees the backend's cancellation.
    """
    trio = _trio or _import_trio()
    leaf: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            state.scope = scope = nursery.cancel_scope
            if scopes is not None:
                scopes.add(scope)
            start(nursery.start_soon)
    except BaseExceptionGroup as group:
        if group.split(trio.Cancelled)[1] is not None:
            raise
        leaf = _a_leaf(group)
    if leaf is not None:
        # Raised outside the handler: a leaf whose context is its own group would be
        # a cycle, kept until the collector.
        raise leaf


_trio: Any = None


def _import_trio() -> Any:
    global _trio  # noqa: PLW0603 - imported on first use: never by an asyncio program
    import trio

    _trio = trio
    return trio


def _a_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _a_leaf(first) if isinstance(first, BaseExceptionGroup) else first


class _AsyncioTasks:
    """The tasks of one fan-out on asyncio: a plain task per call, nothing per task but
    the task (SPEC §10: the cost of an ``asyncio.TaskGroup``).

    Joining: each task body tells :meth:`ended` when it ends (as its very last step);
    the group counts those, so it needs no done callback per task, and the caller
    resumes in the loop pass after the last call ended. A task cancelled natively before
    its first step never runs its body: :class:`_FanoutTask` counts it instead.

    Cancellation: anyio delivers a cancel scope's cancellation to the tasks its tree
    records, honouring their shields, and ``current_effective_deadline`` reads that tree.
    Recording every task costs more than the rest of it, so a task is recorded as a child
    of the fan-out's scope (exactly what anyio's task group records for the tasks it
    starts) only once it matters: at once when a scope around the caller has a deadline
    (plugins see it), else the moment the fan-out is cancelled -- by ``fail_fast``, a
    closing manager, or the caller's cancellation reaching the waiting caller -- before
    anyio delivers it. A plugin that opened cancel scopes of its own meanwhile has them
    hung under the fan-out's scope, as they would have been.
    """

    __slots__ = (
        "broken",
        "deferred",
        "eager",
        "host",
        "live",
        "loop",
        "lost",
        "lost_any",
        "parent_id",
        "scope",
        "start",
        "stepping",
        "tasks",
        "waiter",
    )

    def __init__(self, scope: Any, threads: bool, calls: int) -> None:
        self.scope = scope
        self.loop = asyncio.get_running_loop()
        self.host: asyncio.Task[Any] = scope._host_task  # the caller's task
        self.parent_id = id(self.host)
        self.tasks: list[asyncio.Task[None]] = []
        self.live = 0  # tasks whose end is not counted yet
        self.waiter: asyncio.Future[None] | None = None
        self.broken = False  # a body ended raising: look for what it raised
        self.stepping = False  # a task's eager first step is running (in spawn)
        self.deferred = False  # ... and cancelled the fan-out
        # Tasks cancelled before their first step, with their plugins' coroutines.
        self.lost: dict[asyncio.Task[None], list[CoroutineType[Any, Any, Any]]] = {}
        self.lost_any = False  # one of them ended without running its body
        # Record tasks as they start: under a deadline (plugins see it), and for calls in
        # worker threads (anyio gives a thread the cancel scope around the call as it
        # starts it: an unrecorded task would give it none, and the thread would never
        # see the fan-out's cancellation in `from_thread.check_cancelled()`).
        self.eager = threads or _sees_a_deadline(scope._parent_scope)
        # Eager start pays for itself on the fan-outs hooks make (0.85-0.9x a TaskGroup
        # on 3.12, N <= 1000) but not at N=10000 (1.2-1.4x, against 1.04x without).
        self.start = _EAGER_START if calls <= _EAGER_UP_TO else _LOOP_START

    @property
    def cancel_called(self) -> bool:
        return bool(self.scope.cancel_called)

    def spawn(self, func: Callable[..., Any], /, *args: Any) -> None:
        body = func(*args, group=self)
        self.live += 1  # before the task: it may end within its constructor
        if self.eager or not self.start:
            task = _FanoutTask(body, loop=self.loop)
            task.group = self
            self.tasks.append(task)
            if self.eager:
                self.record(task)
            return
        # Unrecorded, on 3.12+, the task's first step runs right here (a call that does
        # not suspend costs no scheduling at all), before anyio could know of it.
        host = self.host
        requests = host.cancelling()
        self.stepping = True
        try:
            task = _FanoutTask(body, loop=self.loop, **self.start)
        finally:
            self.stepping = False
        task.group = self
        self.tasks.append(task)
        if self.deferred:  # the fan-out was cancelled in that step: now, from the caller
            self.deferred = False
            self.cancel()
        elif host.cancelling() != requests:
            # That step cancelled a scope around the caller (or the caller itself): anyio
            # delivered it to the caller alone, the calls being unrecorded. Recorded now,
            # they get it too, before their next step; and later ones are recorded first.
            self.record_all()

    def ended(self, ok: bool) -> None:
        if not ok:
            self.broken = True
        if self.lost:  # a task given up as lost whose body ran after all (uncancel())
            self.lost.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
        self.live -= 1
        waiter = self.waiter
        if not self.live and waiter is not None and not waiter.done():
            waiter.set_result(None)

    def lose(self, task: asyncio.Task[None], body: Any) -> None:
        """``task`` was cancelled before its first step: its body will most likely never
        run, and then its end is counted when the task is done."""
        coroutines = [
            value
            for value in inspect.getcoroutinelocals(body).values()
            if type(value) is CoroutineType
        ]
        self.lost[task] = coroutines
        task.add_done_callback(self.lost_ended)

    def lost_ended(self, task: asyncio.Task[None]) -> None:
        coroutines = self.lost.pop(task, None)
        if coroutines is not None:  # its body never ran, nor counted its end
            for coroutine in coroutines:  # a plugin's, never to be awaited now
                coroutine.close()
            self.lost_any = True
            self.ended(True)

    def cancel(self) -> None:
        if self.stepping:
            # Inside a task's eager first step, the caller is running but is not the
            # current task: anyio would deliver the cancellation to it as to a waiting
            # task, a Task.cancel() that nothing awaits to absorb (the caller's next
            # await would raise it). Done once the step is over, in the caller.
            self.deferred = True
            return
        self.record_all()
        self.scope.cancel()

    def record_all(self) -> None:
        if not self.eager:
            self.eager = True
            for task in self.tasks:
                if not task.done():
                    self.record(task)

    def record(self, task: asyncio.Task[None]) -> None:
        """Record ``task`` in anyio's tree as a child of the fan-out's scope."""
        scope = self.scope
        state = _TASK_STATES.get(task)
        if state is None:
            _TASK_STATES[task] = _TaskState(self.parent_id, scope)
            scope._tasks.add(task)
            return
        # The plugin opened cancel scopes: hang the outermost under the fan-out's.
        state.parent_id = self.parent_id
        inner = state.cancel_scope
        if inner is None:  # ... and closed them all
            state.cancel_scope = scope
            scope._tasks.add(task)
            return
        while inner._parent_scope is not None:
            inner = inner._parent_scope
        inner._parent_scope = scope
        scope._child_scopes.add(inner)

    def forget(self) -> None:
        """Take the (finished) tasks out of anyio's tree: its record of a task refers to
        the scope, which refers to the task: kept, they would keep each other alive."""
        if self.eager:
            scope = self.scope
            for task in self.tasks:
                state = _TASK_STATES.pop(task, None)
                if state is not None and state.cancel_scope is not None:
                    state.cancel_scope._tasks.discard(task)
                scope._tasks.discard(task)
        self.tasks = []

    def failures(self) -> list[BaseException]:
        """What the bodies raised other than a cancellation: only a bug's."""
        errors = []
        for task in self.tasks:
            if task.done() and not task.cancelled():
                exc = task.exception()
                if exc is not None:
                    errors.append(exc)
        return errors

    async def join(self) -> BaseException | None:
        """Wait for every task; the caller's cancellation, if it came meanwhile.

        Cancelled while waiting: the tasks are cancelled (through the scope, so their
        shields hold) and still awaited, in a shielded scope so that repeated
        deliveries to this task stop (anyio's task group does the same).
        """
        cancelled: BaseException | None = None
        loop = self.loop
        try:
            if not self.live:  # every call ended in its eager first step: still, a map
                await asyncio.sleep(0)  # passes one real checkpoint (what anyio's is)
            while self.live:
                self.waiter = loop.create_future()
                await self.waiter
        except asyncio.CancelledError as exc:
            cancelled = exc
            self.cancel()
        finally:
            self.waiter = None
        if self.live:
            with _AsyncioCancelScope(shield=True):
                while self.live:
                    self.waiter = loop.create_future()
                    try:
                        await self.waiter
                    except asyncio.CancelledError as exc:  # a native cancel: kept for later
                        cancelled = exc
                    finally:
                        self.waiter = None
        return cancelled


def _sees_a_deadline(scope: Any) -> bool:
    """Whether a task in ``scope`` sees a deadline (``current_effective_deadline``)."""
    while scope is not None:
        if scope._deadline != math.inf:
            return True
        if scope._shield:
            return False
        scope = scope._parent_scope
    return False


#: How a call's task starts when it need not be recorded in anyio's tree first: eagerly
#: where asyncio can (3.12's ``eager_start``, what ``asyncio.eager_task_factory`` does).
_EAGER_START: Final[dict[str, Any]] = {"eager_start": True} if sys.version_info >= (3, 12) else {}
_EAGER_UP_TO: Final = 1000  # calls in one fan-out (see _AsyncioTasks.__init__)
_LOOP_START: Final[dict[str, Any]] = {}  # the task starts in the loop, as usual


class _FanoutTask(asyncio.Task):  # type: ignore[type-arg]
    """A call's task on asyncio; told apart only when cancelled before its first step
    (by code outside the fan-out: anyio never cancels a task that has not started),
    which its group then counts as ended, for the body never will."""

    __slots__ = ("group",)

    group: _AsyncioTasks | None

    def cancel(self, msg: Any = None) -> bool:
        # Unset while the constructor runs the task's first step (and it cancels itself).
        group = getattr(self, "group", None)
        self.group = None
        if group is not None and not self.done():
            body = cast("CoroutineType[Any, Any, None]", self.get_coro())
            if inspect.getcoroutinestate(body) == inspect.CORO_CREATED:
                group.lose(self, body)
        return super().cancel(msg)


async def _asyncio_group(state: _Run, start: Start, scopes: Scopes) -> None:
    """Native asyncio tasks (see :class:`_AsyncioTasks`)."""
    scope = _AsyncioCancelScope()
    with scope:
        tasks = _AsyncioTasks(scope, state.limiter is not None, len(state.extensions))
        state.scope = tasks
        if scopes is not None:
            scopes.add(tasks)
        try:
            try:
                start(tasks.spawn)
            except BaseException:
                tasks.cancel()
                await tasks.join()
                raise
            cancelled = await tasks.join()
            errors = tasks.failures() if tasks.broken else []
        finally:
            tasks.forget()
        if tasks.lost_any and not state.halted:
            state.account_for_lost()
        if errors:
            raise BaseExceptionGroup("unhandled errors in a fan-out", errors)
        if cancelled is not None:
            raise cancelled  # the scope swallows it if it is its own cancellation


Scopes = set[Cancellable] | None
GroupShape = Callable[[_Run, Start, Scopes], Awaitable[None]]


def _native_group() -> GroupShape:
    """The native shape for the running backend, or the generic one."""
    if NATIVE:
        library = _current_library()
        if library == "asyncio":
            # A task factory (3.12's eager one, say) may run a task's first step inside
            # create_task, before the task is registered in anyio's scope tree: such a
            # loop gets anyio's own task group, which copes with it.
            if asyncio.get_running_loop().get_task_factory() is None and _asyncio_ready():
                return _asyncio_group
        elif library == "trio":
            return _trio_group
    return _generic_group


try:  # anyio's own backend detection (sniffio's answer when installed)
    from anyio._core._eventloop import current_async_library as _current_library
except ImportError:  # pragma: no cover - an anyio that moved it: ask for the token

    def _current_library() -> str | None:
        token = anyio.lowlevel.current_token().native_token
        return "asyncio" if isinstance(token, asyncio.AbstractEventLoop) else "trio"


# What the native asyncio shape needs from anyio: how it records a task's cancel scope.
# Imported on first use (not by `import longshoreman` nor by a trio program) and checked
# once; an anyio without them gets the generic shape.
_AsyncioCancelScope: Any = None
_TaskState: Any = None
_TASK_STATES: Any = None
_ASYNCIO_OK: bool | None = None


def _asyncio_ready() -> bool:
    global _AsyncioCancelScope, _TaskState, _TASK_STATES, _ASYNCIO_OK  # noqa: PLW0603
    if _ASYNCIO_OK is None:
        try:
            from anyio._backends import _asyncio as backend

            scope, state = backend.CancelScope, backend.TaskState
            _ASYNCIO_OK = (
                "_tasks" in scope.__slots__
                and "_host_task" in scope.__slots__
                and {"parent_id", "cancel_scope"} <= set(state.__slots__)
            )
            _AsyncioCancelScope, _TaskState = scope, state
            _TASK_STATES = backend._task_states
        except (ImportError, AttributeError, TypeError):  # pragma: no cover - another anyio
            _ASYNCIO_OK = False
    return _ASYNCIO_OK


async def run(
    extensions: Sequence[Extension[Any]],
    func: Callable[..., Any],
    args: Sequence[Any] = (),
    kwds: Mapping[str, Any] | None = None,
    *,
    max_concurrency: int | None = None,
    call_timeout: float | None = None,
    fail_fast: bool = False,
    limiter: anyio.CapacityLimiter | None = None,
    owner: object = None,
    calls: InFlight | None = None,
    observer: Observer | None = None,
    phase: InstrumentPhase = "call",
) -> Outcome:
    """Call ``func(ext, *args, **kwds)`` for every extension, concurrently.

    Returns the :class:`Outcome`; raises only what must not be turned into a per-plugin
    failure: the caller's cancellation, and ``KeyboardInterrupt``/``SystemExit`` (or any
    other non-``Exception``) from a plugin, as itself. ``owner`` (the manager) is what
    :func:`inside_calls_of` recognises in the plugins' code. While calls are awaited,
    their tasks' cancel scope is in ``calls``: a closing manager that cuts its calls
    short (:meth:`InFlight.cut_short`) makes :func:`run` raise ``RuntimeError``.
    """
    state = _Run(extensions, func, args, kwds or {}, call_timeout, fail_fast, limiter, owner)
    if observer is not None:
        state.observer, state.phase = observer, phase
    token = _CALLING.set((*_CALLING.get(), owner))
    items = enumerate(extensions)
    scopes = calls.scopes if calls is not None else None
    try:
        # One real checkpoint per map, even over sync callables (a loop of maps can
        # always be cancelled, and other tasks get to run), in its two halves: a
        # cancelled caller calls no plugin; then the wait for the calls' tasks or, when
        # every call was synchronous, one checkpoint after them (a cancellation there
        # drops their values, as at any await; their failures are logged). One event-
        # loop pass fewer than a checkpoint before the calls, and no task group (nor
        # the choice of one) for a map that needs none.
        await anyio.lowlevel.checkpoint_if_cancelled()
        if calls is not None and calls.cut:
            raise _closed_in_flight(owner)
        if max_concurrency is not None and max_concurrency < len(extensions):
            k = max_concurrency

            def start(spawn: Spawn) -> None:
                for _ in range(k):
                    spawn(state.worker, items)

            await _native_group()(state, start, scopes)
        else:
            pending = state.advance(items, None, observer)
            if pending is None:
                await anyio.lowlevel.checkpoint()
            else:

                def start(spawn: Spawn) -> None:
                    spawn(*pending)
                    state.advance(items, spawn, observer)

                await _native_group()(state, start, scopes)
        scope = state.scope
        if scope is not None and scope.cancel_called and not state.halted:
            if calls is not None and calls.cut:
                raise _closed_in_flight(owner)
            # Nor was it the caller's cancellation (it would be propagating): anyio's task
            # group cancels its other tasks when one was cancelled natively.
            state.account_for_lost()
    except BaseException as exc:
        state.drop(exc)
        raise
    finally:
        if scopes is not None and state.scope is not None:
            scopes.discard(state.scope)
        _CALLING.reset(token)
        fatal, state.fatal = state.fatal, None
        if fatal is not None:
            state.drop(fatal)
            raise fatal
    return state.release()


def _closed_in_flight(owner: object) -> RuntimeError:
    return RuntimeError(
        f"{owner!r} was closed while this call was in flight: its plugin calls were cancelled"
    )


def note(exc: BaseException, ext: Extension[Any]) -> None:
    """Name the extension an exception came from (once, however often it is reported)."""
    text = f"raised by extension {ext.name!r} ({ext.entry_point_target})"
    if text not in getattr(exc, "__notes__", ()):
        exc.add_note(text)


def collect(
    outcome: Outcome,
    extensions: Sequence[Extension[Any]],
    *,
    namespace: str,
    propagate: bool,
) -> list[Any]:
    """Turn a map's outcome into its result list, logging or raising the failures.

    ``propagate=False``: each failure is logged once at ERROR with its traceback; the
    values of the successful calls come back in extension order.
    ``propagate=True``: any failure raises an :class:`ExtensionErrorGroup`.
    """
    values = outcome.values
    if not outcome.errors and not outcome.cancelled:
        return values
    if not propagate:
        for index, exc in outcome.errors.items():
            log_failure(
                f"error calling extension {describe(extensions[index])} of {namespace!r}", exc
            )
        return [value for value in values if value is not MISSING]
    failures = [(extensions[i], exc) for i, exc in outcome.errors.items()]
    for ext, exc in failures:
        note(exc, ext)
    results = [(ext, v) for ext, v in zip(extensions, values, strict=True) if v is not MISSING]
    cancelled = [extensions[i] for i in outcome.cancelled]
    detail = f", {len(cancelled)} cancelled" if cancelled else ""
    raise ExtensionErrorGroup.from_failures(
        f"{len(failures)} of {len(extensions)} calls to {namespace!r} extensions failed{detail}",
        failures,
        results=results,
        cancelled=cancelled,
    )
