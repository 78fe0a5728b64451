"""The fan-out engine: the one place where plugin calls run concurrently.

Every manager hands its calls here: ``invoke_on_load``, ``map``, ``map_method`` and the
dispatching variants. :func:`run` calls ``func(ext, *args, **kwds)`` for each extension
and records, per extension index, either a value or an exception; :func:`collect` turns
that record into what ``map`` returns, logs or raises.

How a call runs:

* Unbounded (``max_concurrency=None``): ``func`` is called inline in the caller's task, in
  extension order, so a synchronous callable costs a function call and nothing more. When
  the result is awaitable, a small task awaits it; all of them run in one task group.
* ``max_concurrency=k``: ``k`` worker tasks pull ``(index, extension)`` pairs from one
  shared iterator, so memory is O(k) whatever the number of extensions.
* ``limiter`` given (``run_sync_in_thread``): a call whose target is not a coroutine
  function runs in a worker thread under that limiter; an awaitable it returns is then
  awaited on the event loop.

What happens to errors:

* ``Exception``: recorded for that extension; with ``fail_fast`` the first one cancels
  the remaining calls (they are listed as cancelled).
* ``call_timeout``: a call still running after that many seconds is cancelled and recorded
  as a ``TimeoutError``; a synchronous call (inline or in a thread) cannot be interrupted,
  but one that returns late is recorded as a ``TimeoutError`` all the same.
* A cancellation exception raised by a plugin that was *not* cancelled is recorded as a
  ``RuntimeError`` (caused by it): exception groups only hold ``Exception``s.
* Other ``BaseException``s (``KeyboardInterrupt``, ``SystemExit``): the sibling calls are
  cancelled and that very exception is re-raised from :func:`run`, never wrapped.
* Cancellation of the caller propagates after every call has been cancelled.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from types import CoroutineType, GeneratorType
from typing import Any, Final

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from ._extension import Extension
from .exceptions import ExtensionErrorGroup

__all__ = ["Call", "MethodCall", "Outcome", "collect", "note", "run"]

LOG = logging.getLogger("longshoreman")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"


#: The value slot of a call that produced no value (it failed or was cancelled).
MISSING: Final = _Missing()


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


def spontaneous_cancellation(exc: BaseException) -> RuntimeError:
    """The failure recorded for a plugin that raised a cancellation nobody asked for."""
    error = RuntimeError(f"the plugin raised {type(exc).__name__} although it was not cancelled")
    error.__cause__ = exc
    return error


def really_cancelled() -> bool:
    """Whether the current task is inside a cancelled scope (not a stray exception)."""
    return anyio.current_effective_deadline() == -math.inf


def _boxed(
    func: Callable[..., Any], ext: Extension[Any], args: Sequence[Any], kwds: Mapping[str, Any]
) -> tuple[Any]:
    # Boxed: trio refuses a thread's result that is a coroutine; we await it on the loop.
    return (func(ext, *args, **kwds),)


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


class _Run:
    """The state of one fan-out; its methods are the tasks' bodies."""

    __slots__ = (
        "args",
        "errors",
        "fail_fast",
        "fatal",
        "func",
        "halted",
        "kwds",
        "limiter",
        "pending",
        "tg",
        "timeout",
        "values",
    )

    def __init__(
        self,
        size: int,
        func: Callable[..., Any],
        args: Sequence[Any],
        kwds: Mapping[str, Any],
        timeout: float | None,
        fail_fast: bool,
        limiter: anyio.CapacityLimiter | None,
    ) -> None:
        self.values: list[Any] = [MISSING] * size
        self.errors: dict[int, Exception] = {}
        self.func = func
        self.args = args
        self.kwds = kwds
        self.timeout = timeout
        self.fail_fast = fail_fast
        self.limiter = limiter
        self.fatal: BaseException | None = None
        self.halted = False
        self.tg: TaskGroup | None = None
        self.pending: tuple[int, Awaitable[Any]] | None = None

    # -- recording -------------------------------------------------------------------

    def fail(self, index: int, exc: Exception) -> None:
        self.errors[index] = exc
        if self.fail_fast and not self.halted:
            self.halted = True
            if self.tg is not None:
                self.tg.cancel_scope.cancel()

    def abort(self, exc: BaseException) -> None:
        # Not swallowed: run() re-raises it, unwrapped, once the siblings are cancelled.
        if self.fatal is None:
            self.fatal = exc
        self.halted = True
        if self.tg is not None:
            self.tg.cancel_scope.cancel()

    # -- one call ----------------------------------------------------------------------

    def call_failed(self, index: int, exc: BaseException) -> None:
        """Record what ``func`` raised when called; re-raise a real cancellation."""
        if isinstance(exc, Exception):
            self.fail(index, exc)
        elif isinstance(exc, anyio.get_cancelled_exc_class()):
            if really_cancelled():
                raise exc
            self.fail(index, spontaneous_cancellation(exc))
        else:
            self.abort(exc)

    def start(
        self, index: int, ext: Extension[Any], deadline: float = math.inf
    ) -> Awaitable[Any] | None:
        """Make call ``index``; return what is left to await, or ``None`` if it is over.

        A synchronous call cannot be interrupted; if it returns after ``deadline`` its
        value is dropped and the call is recorded as a ``TimeoutError``.
        """
        try:
            if self.limiter is not None:
                func = self.func
                target = func.target(ext) if isinstance(func, Call) else func
                if not inspect.iscoroutinefunction(target):
                    return self.in_thread(ext)
            result = self.func(ext, *self.args, **self.kwds)
        except BaseException as exc:  # sorted out (and re-raised if need be) by call_failed
            self.call_failed(index, exc)
            return None
        if is_awaitable(result):
            return result  # type: ignore[no-any-return]
        if deadline != math.inf and anyio.current_time() > deadline:
            self.fail(index, self.overrun())
            return None
        self.values[index] = result
        return None

    def overrun(self) -> TimeoutError:
        return TimeoutError(f"the call did not finish within {self.timeout} s")

    async def in_thread(self, ext: Extension[Any]) -> Any:
        call = functools.partial(_boxed, self.func, ext, self.args, self.kwds)
        (result,) = await anyio.to_thread.run_sync(call, limiter=self.limiter)
        if is_awaitable(result):
            result = await result
        return result

    async def finish(self, index: int, awaitable: Awaitable[Any], deadline: float) -> None:
        """Await the rest of call ``index`` (within its deadline) and record the result."""
        try:
            if deadline == math.inf:
                value = await awaitable
            else:
                value = MISSING
                with anyio.CancelScope(deadline=deadline):
                    value = await awaitable
                # Cancelled at the deadline, or (a thread, which cannot be interrupted)
                # finished after it: either way an overrun.
                if value is MISSING or anyio.current_time() > deadline:
                    raise self.overrun()
        except Exception as exc:
            self.fail(index, exc)
        except anyio.get_cancelled_exc_class() as exc:
            if really_cancelled():
                raise
            self.fail(index, spontaneous_cancellation(exc))
        except BaseException as exc:  # carried to the caller by run()
            self.abort(exc)
        else:
            self.values[index] = value
        finally:
            # A coroutine cancelled before its first step would warn "never awaited".
            if type(awaitable) is CoroutineType:
                awaitable.close()

    def deadline(self) -> float:
        return math.inf if self.timeout is None else anyio.current_time() + self.timeout

    # -- the two shapes ----------------------------------------------------------------

    def spawn_all(self, extensions: Sequence[Extension[Any]], tg: TaskGroup) -> None:
        """Make every call in turn; a task awaits each awaitable result."""
        for index, ext in enumerate(extensions):
            deadline = self.deadline()
            awaitable = self.start(index, ext, deadline)
            if awaitable is not None:
                tg.start_soon(self.finish, index, awaitable, deadline)
            if self.halted:
                break

    def call_inline(self, extensions: Sequence[Extension[Any]], begin: int) -> int:
        """The hot path of ``spawn_all`` (no thread, no timeout), from index ``begin``.

        Without a task group yet (``self.tg`` is ``None``) it stops at the first call
        that returns an awaitable, leaves it in ``self.pending`` and returns the index to
        resume from; a map over sync callables thus never creates a task group. Returns
        ``len(extensions)`` when every call has been made.
        """
        # SPEC §10: a sync callable costs ≤ 1 µs more than calling it, so start() is
        # inlined. Nothing else runs during this loop (it never awaits): `halted` can only
        # change when a call raised.
        tg = self.tg
        finish = self.finish
        func, args, kwds, values = self.func, self.args, self.kwds, self.values
        plain: set[type] = set()  # result types known not to be awaitable
        for index in range(begin, len(extensions)):
            try:
                result = func(extensions[index], *args, **kwds)
            except BaseException as exc:  # sorted out (and re-raised if need be) by call_failed
                self.call_failed(index, exc)
                if self.halted:
                    break
                continue
            cls = type(result)
            if cls in plain:
                values[index] = result
            elif cls is CoroutineType or inspect.isawaitable(result):
                if tg is None:
                    self.pending = (index, result)
                    return index + 1
                tg.start_soon(finish, index, result, math.inf)
            else:
                values[index] = result
                if cls is not GeneratorType:  # a generator's awaitability is per object
                    plain.add(cls)
        return len(extensions)

    async def worker(self, items: Iterator[tuple[int, Extension[Any]]]) -> None:
        for index, ext in items:
            if self.halted:
                return
            deadline = self.deadline()
            awaitable = self.start(index, ext, deadline)
            if awaitable is not None:
                await self.finish(index, awaitable, deadline)


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
) -> Outcome:
    """Call ``func(ext, *args, **kwds)`` for every extension, concurrently.

    Returns the :class:`Outcome`; raises only what must not be turned into a per-plugin
    failure: the caller's cancellation, and ``KeyboardInterrupt``/``SystemExit`` (or any
    other non-``Exception``) from a plugin, as itself.
    """
    state = _Run(len(extensions), func, args, kwds or {}, call_timeout, fail_fast, limiter)
    size = len(extensions)
    try:
        if max_concurrency is not None and max_concurrency < size:
            async with anyio.create_task_group() as tg:
                state.tg = tg
                items = iter(enumerate(extensions))
                for _ in range(max_concurrency):
                    tg.start_soon(state.worker, items)
        elif limiter is not None or call_timeout is not None:
            async with anyio.create_task_group() as tg:
                state.tg = tg
                state.spawn_all(extensions, tg)
        else:
            await anyio.lowlevel.checkpoint_if_cancelled()
            resume = state.call_inline(extensions, 0)
            if state.pending is not None:
                async with anyio.create_task_group() as tg:
                    state.tg = tg
                    tg.start_soon(state.finish, *state.pending, math.inf)
                    state.pending = None
                    state.call_inline(extensions, resume)
    finally:
        fatal, state.fatal = state.fatal, None
        if fatal is not None:
            raise fatal
    values, errors = state.values, state.errors
    cancelled: list[int] = []
    if state.halted:
        cancelled = [i for i, v in enumerate(values) if v is MISSING and i not in errors]
    return Outcome(values, dict(sorted(errors.items())), cancelled)


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
            ext = extensions[index]
            LOG.error(
                "error calling extension %r (%s) of %r: %s",
                ext.name,
                ext.entry_point_target,
                namespace,
                exc,
                exc_info=exc,
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
