"""The fan-out engine, through ``map``/``map_method`` of test-instance managers.

Concurrency is shown structurally (every call reaches a barrier before any returns; an
in-flight counter), never with wall-clock measurements. The ``fail_after`` guards only
turn a deadlock into a failure.
"""

from __future__ import annotations

import functools
import gc
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from longshoreman import Extension, ExtensionErrorGroup, ExtensionManager, NoMatches

from .conftest import FANOUT_PATHS

# The engine's both task shapes: the backend's native tasks and anyio's task group.
pytestmark = pytest.mark.parametrize("fanout_path", FANOUT_PATHS, indirect=True)

GUARD = 5  # seconds before a deadlocked test fails instead of hanging


def make(n: int, **options: Any) -> ExtensionManager[Any]:
    exts: list[Extension[Any]] = [Extension(f"e{i}", None, object, i) for i in range(n)]
    return ExtensionManager.make_test_instance(exts, namespace="fan.ns", **options)


def idx(ext: Extension[Any]) -> int:
    return int(ext.name[1:])


class Barrier:
    """Every caller waits until ``n`` callers have arrived."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.arrived = 0
        self.event = anyio.Event()

    async def wait(self) -> None:
        self.arrived += 1
        if self.arrived == self.n:
            self.event.set()
        await self.event.wait()


class InFlight:
    """Counts calls that have started and not finished; remembers the maximum."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.calls = 0

    def enter(self) -> None:
        self.now += 1
        self.calls += 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        self.now -= 1


class Awaitable42:
    """An awaitable that is neither a coroutine nor produced by an ``async def``."""

    def __await__(self) -> Generator[Any, None, int]:
        yield from anyio.lowlevel.checkpoint().__await__()
        return 42


# -- concurrency and order ---------------------------------------------------------------


async def test_all_calls_run_concurrently() -> None:
    mgr = make(20)
    barrier = Barrier(20)

    async def call(ext: Extension[Any]) -> int:
        await barrier.wait()  # a sequential map would deadlock here
        return idx(ext)

    with anyio.fail_after(GUARD):
        assert await mgr.map(call) == list(range(20))


async def test_results_come_back_in_extension_order_not_completion_order() -> None:
    mgr = make(5)
    finished: list[int] = []
    done = {i: anyio.Event() for i in range(6)}
    done[5].set()

    async def call(ext: Extension[Any]) -> str:
        i = idx(ext)
        await done[i + 1].wait()  # the last extension finishes first
        finished.append(i)
        done[i].set()
        return f"r{i}"

    with anyio.fail_after(GUARD):
        assert await mgr.map(call) == ["r0", "r1", "r2", "r3", "r4"]
    assert finished == [4, 3, 2, 1, 0]


async def test_arguments_are_passed_to_every_call() -> None:
    mgr = make(3)

    async def call(ext: Extension[Any], a: int, *, b: int) -> int:
        return idx(ext) * 100 + a * 10 + b

    assert await mgr.map(call, 1, b=2) == [12, 112, 212]


async def test_sync_callables_run_inline_in_the_callers_task() -> None:
    mgr = make(3)
    me = anyio.get_current_task().id
    seen: list[tuple[int, int]] = []

    def call(ext: Extension[Any]) -> int:
        seen.append((anyio.get_current_task().id, threading.get_ident()))
        return idx(ext) + 1

    assert await mgr.map(call) == [1, 2, 3]
    assert seen == [(me, threading.get_ident())] * 3


async def test_awaitables_are_recognised_without_iscoroutinefunction() -> None:
    class ReturnsCoroutine:
        def __call__(self, ext: Extension[Any]) -> Awaitable[str]:
            return self.run(ext)

        async def run(self, ext: Extension[Any]) -> str:
            await anyio.lowlevel.checkpoint()
            return f"obj{ext.obj}"

    async def base(ext: Extension[Any], suffix: str) -> str:
        return f"{ext.obj}{suffix}"

    mgr = make(2)
    assert await mgr.map(ReturnsCoroutine()) == ["obj0", "obj1"]
    assert await mgr.map(functools.partial(base, suffix="!")) == ["0!", "1!"]
    assert await mgr.map(lambda ext: Awaitable42()) == [42, 42]


async def test_map_method_calls_sync_and_async_methods() -> None:
    class Sync:
        def hello(self, who: str) -> str:
            return f"sync {who}"

    class Async:
        async def hello(self, who: str) -> str:
            await anyio.lowlevel.checkpoint()
            return f"async {who}"

    mgr = ExtensionManager[Any].make_test_instance(
        [Extension("s", None, Sync, Sync()), Extension("a", None, Async, Async())]
    )
    assert await mgr.map_method("hello", "you") == ["sync you", "async you"]


async def test_no_extensions_raises_no_matches() -> None:
    mgr = make(0)
    with pytest.raises(NoMatches, match=r"^No fan\.ns extensions found$"):
        await mgr.map(lambda ext: None)
    with pytest.raises(NoMatches, match=r"No fan\.ns extensions found"):
        await mgr.map_method("anything")


# -- max_concurrency ---------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 7])
async def test_max_concurrency_bounds_calls_in_flight(limit: int) -> None:
    mgr = make(25, max_concurrency=limit)
    flight = InFlight()

    class Call:
        # The synchronous part counts: a call only exists once a worker asked for it,
        # so this also shows that no coroutine is created ahead of its turn.
        def __call__(self, ext: Extension[Any]) -> Awaitable[int]:
            flight.enter()
            return self.body(ext)

        async def body(self, ext: Extension[Any]) -> int:
            try:
                for _ in range(3):
                    await anyio.lowlevel.checkpoint()
                return idx(ext)
            finally:
                flight.leave()

    assert await mgr.map(Call()) == list(range(25))
    assert flight.peak == limit
    assert flight.calls == 25


async def test_max_concurrency_larger_than_extensions_is_unbounded() -> None:
    mgr = make(4, max_concurrency=10)
    barrier = Barrier(4)

    async def call(ext: Extension[Any]) -> int:
        await barrier.wait()
        return idx(ext)

    with anyio.fail_after(GUARD):
        assert await mgr.map(call) == [0, 1, 2, 3]


async def test_max_concurrency_with_sync_callables() -> None:
    mgr = make(10, max_concurrency=3)
    assert await mgr.map(lambda ext: idx(ext) * 2) == [i * 2 for i in range(10)]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_invalid_max_concurrency_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_concurrency must be a positive int"):
        make(1, max_concurrency=bad)


@pytest.mark.parametrize("bad", [0, -2.0])
def test_invalid_timeout_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        make(1, timeout=bad)


# -- timeout -----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [None, 1])
async def test_timeout_is_that_plugins_timeout_error(limit: int | None) -> None:
    mgr = make(3, timeout=0.02, propagate_map_exceptions=True, max_concurrency=limit)
    cancelled: list[int] = []

    async def call(ext: Extension[Any]) -> int:
        if ext.obj == 1:
            try:
                await anyio.sleep_forever()
            finally:
                cancelled.append(1)
        return idx(ext)

    with anyio.fail_after(GUARD), pytest.raises(ExtensionErrorGroup) as info:
        await mgr.map(call)
    group = info.value
    assert [(ext.name, type(exc)) for ext, exc in group.failures] == [("e1", TimeoutError)]
    assert str(group.failures[0][1]) == "the call did not finish within 0.02 s"
    assert [(ext.name, value) for ext, value in group.results] == [("e0", 0), ("e2", 2)]
    assert group.cancelled == []
    assert cancelled == [1]


@pytest.mark.parametrize(
    ("options", "where"),
    [({}, "inline"), ({"max_concurrency": 1}, "inline"), ({"run_sync_in_thread": True}, "thread")],
)
async def test_sync_call_that_overruns_is_a_timeout(options: dict[str, Any], where: str) -> None:
    """A sync call cannot be interrupted, but returning late is still an overrun."""
    # The limit leaves the quick call (e0, possibly in a thread that must first start)
    # a wide margin on a loaded machine; 10 ms was overrun in CI now and then.
    mgr = make(2, timeout=0.1, propagate_map_exceptions=True, **options)
    threads: set[str] = set()

    def call(ext: Extension[Any]) -> int:
        threads.add(threading.current_thread().name)
        if ext.obj == 1:
            time.sleep(0.3)  # three times the limit
        return idx(ext)

    with anyio.fail_after(GUARD), pytest.raises(ExtensionErrorGroup) as info:
        await mgr.map(call)
    group = info.value
    assert [(ext.name, type(exc)) for ext, exc in group.failures] == [("e1", TimeoutError)]
    assert [(ext.name, value) for ext, value in group.results] == [("e0", 0)]
    on_loop = threads == {threading.current_thread().name}
    assert on_loop == (where == "inline")


async def test_timeout_logged_without_propagation(caplog: pytest.LogCaptureFixture) -> None:
    mgr = make(2, timeout=0.02)

    async def call(ext: Extension[Any]) -> int:
        if ext.obj == 0:
            await anyio.sleep_forever()
        return idx(ext)

    with anyio.fail_after(GUARD):
        assert await mgr.map(call) == [1]
    [record] = caplog.records
    assert record.exc_info is not None
    assert record.exc_info[0] is TimeoutError


# -- errors: logging, groups, notes ------------------------------------------------------


async def test_failures_are_logged_once_and_left_out(caplog: pytest.LogCaptureFixture) -> None:
    mgr = make(4)

    async def call(ext: Extension[Any]) -> int:
        if ext.obj in (1, 3):
            raise ValueError(f"bad {ext.obj}")
        return idx(ext)

    with caplog.at_level(logging.ERROR, logger="longshoreman"):
        assert await mgr.map(call) == [0, 2]
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]
    assert [r.getMessage() for r in caplog.records] == [
        "error calling extension 'e1' (builtins:object) of 'fan.ns': ValueError: bad 1",
        "error calling extension 'e3' (builtins:object) of 'fan.ns': ValueError: bad 3",
    ]
    for record in caplog.records:
        assert record.exc_info is not None
        assert record.exc_info[0] is ValueError
        assert record.exc_info[2] is not None  # the traceback


async def test_a_single_failure_is_still_a_group() -> None:
    mgr = make(3, propagate_map_exceptions=True)

    def call(ext: Extension[Any]) -> int:
        if ext.obj == 1:
            raise KeyError("missing")
        return idx(ext)

    with pytest.RaisesGroup(pytest.RaisesExc(KeyError, match="missing")) as info:
        await mgr.map(call)
    group = info.value
    assert isinstance(group, ExtensionErrorGroup)
    assert str(group) == "1 of 3 calls to 'fan.ns' extensions failed (1 sub-exception)"
    assert [(ext.name, exc) for ext, exc in group.failures] == [("e1", group.exceptions[0])]
    assert [(ext.name, value) for ext, value in group.results] == [("e0", 0), ("e2", 2)]
    assert group.cancelled == []


async def test_group_members_are_in_extension_order_with_notes() -> None:
    class Plugin:
        pass

    exts: list[Extension[Any]] = [Extension(f"p{i}", None, Plugin, i) for i in range(4)]
    mgr = ExtensionManager.make_test_instance(exts, "ns", propagate_map_exceptions=True)
    gate = anyio.Event()

    async def call(ext: Extension[Any]) -> None:
        if ext.obj == 0:
            await gate.wait()  # fails last, is still reported first
            raise ValueError("zero")
        if ext.obj == 2:
            gate.set()
            raise OSError("two")

    with pytest.raises(ExtensionErrorGroup) as info:
        await mgr.map(call)
    group = info.value
    assert [ext.name for ext, _ in group.failures] == ["p0", "p2"]
    assert [type(exc) for exc in group.exceptions] == [ValueError, OSError]
    target = f"{__name__}:test_group_members_are_in_extension_order_with_notes.<locals>.Plugin"
    assert group.exceptions[0].__notes__ == [f"raised by extension 'p0' ({target})"]
    assert group.exceptions[1].__notes__ == [f"raised by extension 'p2' ({target})"]


async def test_except_star_keeps_the_subclass_and_its_failures() -> None:
    mgr = make(3, propagate_map_exceptions=True)

    def call(ext: Extension[Any]) -> int:
        if ext.obj == 0:
            raise ValueError("v")
        if ext.obj == 1:
            raise KeyError("k")
        return 7

    caught: list[BaseException] = []
    try:
        await mgr.map(call)
    except* ValueError as eg:
        caught.append(eg)
    except* KeyError as eg:
        caught.append(eg)
    values, keys = caught
    assert isinstance(values, ExtensionErrorGroup)
    assert isinstance(keys, ExtensionErrorGroup)
    assert [(ext.name, type(exc)) for ext, exc in values.failures] == [("e0", ValueError)]
    assert [(ext.name, type(exc)) for ext, exc in keys.failures] == [("e1", KeyError)]
    assert [ext.name for ext, _ in values.results] == ["e2"]


async def test_fail_fast_cancels_the_remaining_calls() -> None:
    mgr = make(4, propagate_map_exceptions=True, fail_fast=True)
    started = Barrier(3)
    cancelled: list[str] = []

    async def call(ext: Extension[Any]) -> str:
        if ext.obj == 3:
            return "quick"
        if ext.obj == 1:
            await started.wait()
            raise ValueError("first failure")
        try:
            await started.wait()
            await anyio.sleep_forever()
        finally:
            cancelled.append(ext.name)
        raise AssertionError("unreachable")

    with anyio.fail_after(GUARD), pytest.raises(ExtensionErrorGroup) as info:
        await mgr.map(call)
    group = info.value
    assert [(ext.name, str(exc)) for ext, exc in group.failures] == [("e1", "first failure")]
    assert [ext.name for ext in group.cancelled] == ["e0", "e2"]
    assert sorted(cancelled) == ["e0", "e2"]
    assert [(ext.name, value) for ext, value in group.results] == [("e3", "quick")]
    assert str(group) == "1 of 4 calls to 'fan.ns' extensions failed, 2 cancelled (1 sub-exception)"


async def test_fail_fast_stops_calls_that_have_not_started() -> None:
    mgr = make(5, propagate_map_exceptions=True, fail_fast=True, max_concurrency=1)
    called: list[int] = []

    async def call(ext: Extension[Any]) -> int:
        called.append(idx(ext))
        if ext.obj == 1:
            raise ValueError("stop")
        return idx(ext)

    with pytest.raises(ExtensionErrorGroup) as info:
        await mgr.map(call)
    assert called == [0, 1]
    assert [ext.name for ext in info.value.cancelled] == ["e2", "e3", "e4"]
    assert [ext.name for ext, _ in info.value.results] == ["e0"]


async def test_fail_fast_after_an_inline_sync_failure_calls_nothing_more() -> None:
    mgr = make(3, propagate_map_exceptions=True, fail_fast=True)
    called: list[int] = []

    def call(ext: Extension[Any]) -> Any:
        called.append(idx(ext))
        if ext.obj == 0:
            return anyio.sleep_forever()  # a coroutine, created and then cancelled
        raise ValueError("sync failure")

    with pytest.raises(ExtensionErrorGroup) as info:
        await mgr.map(call)
    gc.collect()  # a coroutine left unawaited would warn now (warnings are errors)
    assert called == [0, 1]
    assert [ext.name for ext in info.value.cancelled] == ["e0", "e2"]


async def test_without_fail_fast_every_call_runs_to_the_end() -> None:
    mgr = make(3, propagate_map_exceptions=True)
    failed = anyio.Event()

    async def call(ext: Extension[Any]) -> int:
        if ext.obj == 0:
            failed.set()
            raise ValueError("early")
        await failed.wait()
        await anyio.lowlevel.checkpoint()
        return idx(ext)

    with pytest.raises(ExtensionErrorGroup) as info:
        await mgr.map(call)
    assert [(ext.name, v) for ext, v in info.value.results] == [("e1", 1), ("e2", 2)]
    assert info.value.cancelled == []


async def test_fail_fast_needs_propagation(caplog: pytest.LogCaptureFixture) -> None:
    mgr = make(3, fail_fast=True)

    async def call(ext: Extension[Any]) -> int:
        if ext.obj == 0:
            raise ValueError("logged, not fatal")
        await anyio.lowlevel.checkpoint()
        return idx(ext)

    assert await mgr.map(call) == [1, 2]
    assert len(caplog.records) == 1


# -- run_sync_in_thread ------------------------------------------------------------------


async def test_run_sync_in_thread_runs_sync_callables_in_workers() -> None:
    mgr = make(3, run_sync_in_thread=True)
    loop_thread = threading.get_ident()
    threads: list[int] = []
    gate = threading.Barrier(3, timeout=GUARD)  # the three calls overlap

    def call(ext: Extension[Any]) -> int:
        threads.append(threading.get_ident())
        gate.wait()
        return idx(ext)

    assert await mgr.map(call) == [0, 1, 2]
    assert loop_thread not in threads


async def test_run_sync_in_thread_keeps_coroutine_functions_on_the_loop() -> None:
    mgr = make(2, run_sync_in_thread=True)
    loop_thread = threading.get_ident()

    async def call(ext: Extension[Any]) -> int:
        assert threading.get_ident() == loop_thread
        return idx(ext)

    class Obj:
        async def method(self) -> int:
            assert threading.get_ident() == loop_thread
            return 5

    assert await mgr.map(call) == [0, 1]
    other = ExtensionManager[Any].make_test_instance(
        [Extension("o", None, Obj, Obj())], run_sync_in_thread=True
    )
    assert await other.map_method("method") == [5]


async def test_run_sync_in_thread_awaits_what_the_thread_returned_on_the_loop() -> None:
    mgr = make(2, run_sync_in_thread=True)
    loop_thread = threading.get_ident()
    where: list[tuple[str, bool]] = []

    async def later(value: int) -> int:
        where.append(("await", threading.get_ident() == loop_thread))
        return value * 10

    def call(ext: Extension[Any]) -> Awaitable[int]:
        where.append(("call", threading.get_ident() == loop_thread))
        return later(idx(ext))

    assert await mgr.map(call) == [0, 10]
    assert sorted(where) == [("await", True), ("await", True), ("call", False), ("call", False)]


async def test_run_sync_in_thread_uses_the_managers_own_limiter() -> None:
    # anyio's default limiter is squeezed to one thread; the manager's is not affected.
    default = anyio.to_thread.current_default_thread_limiter()
    before = default.total_tokens
    default.total_tokens = 1
    try:
        mgr = make(4, run_sync_in_thread=True)
        gate = threading.Barrier(4, timeout=GUARD)

        def call(ext: Extension[Any]) -> int:
            gate.wait()
            return idx(ext)

        assert await mgr.map(call) == [0, 1, 2, 3]
    finally:
        default.total_tokens = before


async def test_run_sync_in_thread_respects_max_concurrency() -> None:
    mgr = make(12, run_sync_in_thread=True, max_concurrency=3)
    lock = threading.Lock()
    flight = InFlight()

    def call(ext: Extension[Any]) -> int:
        with lock:
            flight.enter()
        threading.Event().wait(0.001)
        with lock:
            flight.leave()
        return idx(ext)

    assert await mgr.map(call) == list(range(12))
    assert 1 <= flight.peak <= 3


async def test_run_sync_in_thread_failures_are_recorded() -> None:
    mgr = make(2, run_sync_in_thread=True, propagate_map_exceptions=True)

    def call(ext: Extension[Any]) -> int:
        if ext.obj == 1:
            raise ValueError("in a thread")
        return 0

    with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="in a thread")):
        await mgr.map(call)
    missing = pytest.RaisesExc(AttributeError, match="no_such_method")
    with pytest.RaisesGroup(missing, missing):
        await mgr.map_method("no_such_method")


# -- BaseException and cancellation ------------------------------------------------------


@pytest.mark.parametrize("fatal", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("where", ["async", "sync", "thread", "bounded"])
def test_keyboard_interrupt_and_system_exit_propagate_unwrapped(
    anyio_backend: str, fatal: type[BaseException], where: str
) -> None:
    cancelled: list[str] = []
    raised = fatal("stop")

    async def main() -> None:
        mgr = make(
            3,
            propagate_map_exceptions=True,
            run_sync_in_thread=where == "thread",
            max_concurrency=2 if where == "bounded" else None,
        )
        sibling_started = anyio.Event()

        async def sibling(name: str) -> None:
            sibling_started.set()
            try:
                await anyio.sleep_forever()
            finally:
                cancelled.append(name)

        async def fatal_once_the_sibling_runs() -> None:
            await sibling_started.wait()
            raise raised

        def call(ext: Extension[Any]) -> Awaitable[None]:
            if ext.obj == 1:
                if where in ("sync", "thread"):
                    raise raised
                return fatal_once_the_sibling_runs()
            return sibling(ext.name)

        with anyio.fail_after(GUARD):
            await mgr.map(call)

    with pytest.raises(fatal) as info:
        anyio.run(main, backend=anyio_backend)
    assert info.value is raised
    assert "e0" in cancelled


@pytest.mark.parametrize("limit", [None, 2])
async def test_caller_cancellation_cancels_every_call_and_leaves_nothing_running(
    limit: int | None,
) -> None:
    mgr = make(4, max_concurrency=limit)
    flight = InFlight()
    running = Barrier(limit or 4)
    returned = False
    tasks_before = len(anyio.get_running_tasks())

    async def call(ext: Extension[Any]) -> None:
        flight.enter()
        try:
            await running.wait()
            await anyio.sleep_forever()
        finally:
            flight.leave()

    async def caller() -> None:
        nonlocal returned
        await mgr.map(call)
        returned = True

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(caller)
            await running.event.wait()
            tg.cancel_scope.cancel()
    assert not returned
    assert flight.now == 0
    assert flight.calls == (limit or 4)
    assert len(anyio.get_running_tasks()) == tasks_before


async def test_caller_cancellation_propagates_as_the_backends_cancellation() -> None:
    mgr = make(2)

    async def call(ext: Extension[Any]) -> None:
        await anyio.sleep_forever()

    with anyio.move_on_after(0.01) as scope:
        await mgr.map(call)
    assert scope.cancelled_caught


async def stray_cancellation() -> BaseException:
    """A real cancellation exception of the current backend, caught and kept."""
    with anyio.CancelScope() as scope:
        scope.cancel()
        try:
            await anyio.sleep(1)
        except anyio.get_cancelled_exc_class() as exc:
            return exc
    raise AssertionError("not cancelled")


@pytest.mark.parametrize("limit", [None, 1])
async def test_a_spontaneous_cancellation_is_that_plugins_failure(limit: int | None) -> None:
    mgr = make(3, propagate_map_exceptions=True, max_concurrency=limit)
    cancelled_class = anyio.get_cancelled_exc_class()

    async def call(ext: Extension[Any]) -> int:
        if ext.obj == 1:
            raise await stray_cancellation()
        await anyio.lowlevel.checkpoint()
        return idx(ext)

    with pytest.raises(ExtensionErrorGroup) as info:
        await mgr.map(call)
    [(ext, exc)] = info.value.failures
    assert ext.name == "e1"
    assert isinstance(exc, RuntimeError)
    assert f"raised {cancelled_class.__name__} although it was not cancelled" in str(exc)
    assert isinstance(exc.__cause__, cancelled_class)
    assert [v for _, v in info.value.results] == [0, 2]


# -- hygiene -----------------------------------------------------------------------------


def iterate(n: int) -> Iterator[int]:
    yield from range(n)


async def test_no_coroutine_is_left_unawaited_when_calls_are_cancelled() -> None:
    mgr = make(6, propagate_map_exceptions=True, fail_fast=True)

    def call(ext: Extension[Any]) -> Any:
        if ext.obj == 3:
            raise ValueError("stop after three coroutines were created")
        return anyio.sleep_forever()

    with pytest.raises(ExtensionErrorGroup):
        await mgr.map(call)
    gc.collect()


async def test_notes_are_not_repeated_when_an_exception_is_reported_twice() -> None:
    error = ValueError("shared")
    mgr = make(1, propagate_map_exceptions=True)

    def call(ext: Extension[Any]) -> None:
        raise error

    for _ in range(2):
        with pytest.raises(ExtensionErrorGroup):
            await mgr.map(call)
    assert error.__notes__ == ["raised by extension 'e0' (builtins:object)"]


def test_map_signature_types() -> None:
    # A typing smoke test: the call below must type-check under mypy --strict.
    async def call(ext: Extension[int], x: int) -> str:
        return str(x)

    def typed(mgr: ExtensionManager[int]) -> Callable[[], Awaitable[list[str]]]:
        return lambda: mgr.map(call, 1)

    mgr = ExtensionManager[int].make_test_instance([Extension("a", None, int, 1)])
    assert anyio.run(typed(mgr)) == ["1"]
