"""The lifecycle under concurrency and cancellation (SPEC §4.1): one regression test per
numbered item of issue 8, each against real fake distributions, on both backends."""

from __future__ import annotations

import gc
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from types import ModuleType
from typing import Any, ClassVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import pytest

from longshoreman import (
    EnabledExtensionManager,
    Extension,
    ExtensionErrorGroup,
    ExtensionManager,
    NoMatches,
)

from .conftest import FANOUT_PATHS, FakeEnv

# The engine's both task shapes: the backend's native tasks and anyio's task group.
pytestmark = pytest.mark.parametrize("fanout_path", FANOUT_PATHS, indirect=True)

NS = "ls.life"
GUARD = 10  # a hang detector, never a timing claim

PLUGINS = """
import contextlib
import time

import anyio

EVENTS = []
MGR = {}
GATE = {"event": None}


def log(*event):
    EVENTS.append(event)


class Plain:
    def __init__(self, *args):
        log("invoke", type(self).__name__)

    def ping(self):
        return "pong"


class Resource:
    name = "resource"
    enter_delay = 0.0
    exit_forever = False

    async def __aenter__(self):
        log("enter", self.name)
        await anyio.sleep(self.enter_delay)
        log("entered", self.name)
        return self

    async def __aexit__(self, *exc_info):
        log("exit", self.name)
        if self.exit_forever:
            await anyio.sleep_forever()

    async def ping(self):
        await anyio.lowlevel.checkpoint()
        return self.name


class Shielded(Resource):
    name = "shielded"

    async def __aenter__(self):
        log("enter", self.name)
        with anyio.CancelScope(shield=True):  # a handshake that must not be torn
            await anyio.sleep(0.05)
        log("entered", self.name)
        return self


class NoCheckpoint(Resource):
    name = "no-checkpoint"

    async def __aenter__(self):
        log("enter", self.name)
        log("entered", self.name)
        return self


class Pool(Resource):
    name = "pool"

    async def __aenter__(self):
        # keeps a task group open for the manager's lifetime
        self.tg = anyio.create_task_group()
        await self.tg.__aenter__()
        self.tg.start_soon(anyio.sleep_forever)
        log("entered", self.name)
        return self

    async def __aexit__(self, *exc_info):
        log("exit", self.name)
        self.tg.cancel_scope.cancel()
        await self.tg.__aexit__(None, None, None)


class HangingExit(Resource):
    name = "hanging-exit"
    exit_forever = True


class Gated(Resource):
    name = "gated"

    async def work(self):
        log("work-start", self.name)
        await GATE["event"].wait()
        log("work-end", self.name)
        return "worked"


async def slow_connect():
    await anyio.sleep(0.3)
    return Plain()


async def waits_forever():
    await anyio.sleep_forever()


async def gate_factory():
    await GATE["event"].wait()
    return Plain()


async def awaits_its_manager():
    await MGR["mgr"]
    return Plain()


async def enters_its_manager():
    async with MGR["mgr"]:
        pass
    return Plain()


def interrupts():
    raise KeyboardInterrupt("stop")


def fails():
    raise ValueError("factory failed")
"""


@pytest.fixture
def life(fake_env: FakeEnv) -> Iterator[Callable[..., ModuleType]]:
    """``install({name: attr})`` → the plugin module (fresh for every test)."""
    import sys

    fake_env.module("lslife", PLUGINS)
    count = 0

    def install(entries: dict[str, str]) -> ModuleType:
        nonlocal count
        count += 1
        fake_env.dist(f"life{count}", "1.0", {NS: {k: f"lslife:{v}" for k, v in entries.items()}})
        import lslife  # type: ignore[import-not-found]

        module: ModuleType = lslife
        return module

    yield install
    sys.modules.pop("lslife", None)


def entered_and_exited(mod: ModuleType) -> tuple[list[str], list[str]]:
    entered = [e[1] for e in mod.EVENTS if e[0] == "entered"]
    exited = [e[1] for e in mod.EVENTS if e[0] == "exit"]
    return entered, exited


def assert_every_entered_plugin_exited_once(mod: ModuleType) -> None:
    entered, exited = entered_and_exited(mod)
    assert sorted(entered) == sorted(exited), mod.EVENTS


async def until(predicate: Callable[[], bool]) -> None:
    """Let other tasks run until ``predicate()`` holds (the test's GUARD bounds it)."""
    for _ in range(100_000):
        if predicate():
            return
        await anyio.sleep(0.001)
    pytest.fail("the awaited condition never held")


def make(n: int, **options: Any) -> ExtensionManager[Any]:
    exts: list[Extension[Any]] = [Extension(f"e{i}", None, object, i) for i in range(n)]
    return ExtensionManager.make_test_instance(exts, namespace="life.ns", **options)


# -- 1. shielded / checkpoint-less enters under a deadline --------------------------------


@pytest.mark.parametrize("how", ["move_on_after", "fail_after", "timeout"])
async def test_1_a_deadline_during_start_with_shielded_enters_ends(
    life: Callable[..., ModuleType], how: str
) -> None:
    mod = life({"s": "Shielded", "n": "NoCheckpoint", "w": "waits_forever"})
    mgr = ExtensionManager[Any](NS, invoke_on_load=True, timeout=0.01 if how == "timeout" else None)
    with anyio.fail_after(GUARD):
        if how == "move_on_after":
            with anyio.move_on_after(0.01) as scope:
                async with mgr:
                    pytest.fail("the start cannot finish: one plugin waits forever")
            assert scope.cancelled_caught
            assert mgr._state == "created"
        elif how == "fail_after":
            with pytest.raises(TimeoutError), anyio.fail_after(0.01):
                async with mgr:
                    pytest.fail("the start cannot finish")
            assert mgr._state == "created"
        else:
            async with mgr:
                # the shielded enter overran its timeout: a load failure, entered anyway
                assert mgr.names() == ["n"]
            assert {(f.entry_point and f.entry_point.name, f.phase) for f in mgr.failures} == {
                ("s", "enter"),
                ("w", "invoke"),
            }
        # The shielded handshake finishes, on its own if the close gave up on it...
        await until(lambda: ("exit", "shielded") in mod.EVENTS)
    # ...and is then exited, once, like every plugin entered.
    assert_every_entered_plugin_exited_once(mod)


# -- 2. a plugin awaiting or entering its own manager ------------------------------------


@pytest.mark.parametrize("factory", ["awaits_its_manager", "enters_its_manager"])
async def test_2_a_plugin_awaiting_its_own_manager_is_a_runtime_error(
    life: Callable[..., ModuleType], factory: str
) -> None:
    mod = life({"self": factory, "ok": "Plain"})
    mgr = mod.MGR["mgr"] = ExtensionManager[Any](NS, invoke_on_load=True)
    with anyio.fail_after(GUARD):
        await mgr
    assert mgr.names() == ["ok"]
    [failure] = mgr.failures
    assert failure.phase == "invoke"
    assert isinstance(failure.exception, RuntimeError)
    assert "from inside one of its own plugin calls" in str(failure.exception)


async def test_2_closing_a_manager_from_its_own_map_is_a_runtime_error() -> None:
    mgr = make(2, propagate_map_exceptions=True)
    with (
        anyio.fail_after(GUARD),
        pytest.RaisesGroup(
            pytest.RaisesExc(RuntimeError, match="closing .* from inside one of its own"),
            pytest.RaisesExc(RuntimeError, match="closing .* from inside one of its own"),
        ),
    ):
        await mgr.map(lambda ext: mgr.aclose())
    assert mgr._state == "ready"


# -- 3. a loop of maps over sync callables can be cancelled -------------------------------


@pytest.mark.parametrize("options", [{}, {"run_sync_in_thread": True}, {"max_concurrency": 2}])
async def test_3_a_loop_of_sync_maps_is_cancellable(options: dict[str, Any]) -> None:
    mgr = make(3, **options)
    count = 0
    with anyio.fail_after(GUARD), anyio.move_on_after(0.05) as scope:
        while True:
            assert await mgr.map(lambda ext: ext.obj) == [0, 1, 2]
            count += 1
    assert scope.cancelled_caught
    assert count > 0


@pytest.mark.parametrize("options", [{}, {"run_sync_in_thread": True}, {"max_concurrency": 2}])
async def test_3_a_cancelled_caller_calls_no_plugin(options: dict[str, Any]) -> None:
    mgr = make(3, **options)
    called: list[Any] = []

    def call(ext: Extension[Any]) -> None:
        called.append(ext.obj)

    with anyio.CancelScope() as scope:
        scope.cancel()
        await mgr.map(call)
    assert scope.cancelled_caught
    assert called == []


# -- 4. aclose() from another task during a start -----------------------------------------


@pytest.mark.parametrize("enter", [False, True])
async def test_4_aclose_during_a_start_leaves_the_manager_closed(
    life: Callable[..., ModuleType], enter: bool
) -> None:
    mod = life({"p": "Pool", "g": "gate_factory"} if enter else {"g": "gate_factory"})
    mod.GATE["event"] = anyio.Event()
    mgr = ExtensionManager[Any](NS, invoke_on_load=True)
    raised: list[BaseException] = []

    async def start() -> None:
        try:
            if enter:
                async with mgr:
                    pytest.fail("closed while starting: never ready")
            else:
                await mgr
        except RuntimeError as exc:
            raised.append(exc)

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(start)
            await until(
                lambda: (
                    mgr._state == "starting" and (not enter or ("entered", "pool") in mod.EVENTS)
                )
            )
            await mgr.aclose()
            assert mgr._state == "closed"
    [exc] = raised
    assert "closed while it was starting" in str(exc)
    with pytest.raises(RuntimeError, match="is closed"):
        await mgr.map(lambda ext: ext)
    with pytest.raises(RuntimeError, match="is closed"):
        await mgr
    assert_every_entered_plugin_exited_once(mod)


# -- 5. a failed start (raising callback, AssertionError in check_func) is undone ---------


async def test_5_a_raising_load_failure_callback_undoes_the_start(
    life: Callable[..., ModuleType],
) -> None:
    mod = life({"p": "Pool", "a": "Plain", "bad": "fails"})
    raise_it = [True]

    def fatal(manager: Any, ep: Any, exc: Exception) -> None:
        if raise_it[0]:
            raise RuntimeError(f"plugin {ep.name} is required") from exc

    mgr = ExtensionManager[Any](NS, invoke_on_load=True, on_load_failure_callback=fatal)
    with anyio.fail_after(GUARD):
        with pytest.raises(RuntimeError, match="plugin bad is required"):
            async with mgr:
                pytest.fail("the start failed")
        assert mgr._state == "created"
        assert all(ext.obj is None for ext in mgr.extensions)
        assert_every_entered_plugin_exited_once(mod)
        with pytest.raises(RuntimeError, match=r"plugin (p|bad) is required"):
            await mgr  # not ready with a stale set: tried afresh, and fails again
        raise_it[0] = False
        async with mgr:
            assert mgr.names() == ["a", "p"] or mgr.names() == ["p", "a"]
            assert all(ext.obj is not None for ext in mgr.extensions)
    invocations = [e for e in mod.EVENTS if e == ("invoke", "Plain")]
    assert len(invocations) == 3  # every start invoked afresh
    assert_every_entered_plugin_exited_once(mod)


async def test_5_an_assertion_error_in_check_func_undoes_the_start(
    life: Callable[..., ModuleType],
) -> None:
    mod = life({"p": "Pool", "a": "Plain"})
    calls = [0]

    def check(ext: Extension[Any]) -> bool:
        calls[0] += 1
        assert calls[0] > 1, "not yet"
        return True

    mgr = EnabledExtensionManager[Any](NS, check, invoke_on_load=True)
    with anyio.fail_after(GUARD):
        with pytest.raises(AssertionError, match="not yet"):
            async with mgr:
                pytest.fail("check_func asserted")
        assert mgr._state == "created"
        assert_every_entered_plugin_exited_once(mod)
        async with mgr:
            assert sorted(mgr.names()) == ["a", "p"]
    assert_every_entered_plugin_exited_once(mod)


# -- 6. async with while another task's await is starting ---------------------------------


async def test_6_async_with_after_a_cancelled_await_start_enters_the_plugins(
    life: Callable[..., ModuleType],
) -> None:
    mod = life({"p": "Pool", "g": "gate_factory"})
    mod.GATE["event"] = anyio.Event()
    mgr = ExtensionManager[Any](NS, invoke_on_load=True)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            awaiting = anyio.CancelScope()

            async def await_it() -> None:
                with awaiting:
                    await mgr

            tg.start_soon(await_it)
            await until(lambda: mgr._state == "starting")
            entered: list[list[str]] = []

            async def enter_it() -> None:
                async with mgr:
                    entered.append(mgr.names())

            tg.start_soon(enter_it)
            await anyio.sleep(0.01)
            awaiting.cancel()  # the await's start is cancelled: the async with starts anew
            await until(lambda: mgr._state == "starting")
            mod.GATE["event"].set()
    assert entered in ([["g", "p"]], [["p", "g"]])
    assert mgr.failures == []
    assert_every_entered_plugin_exited_once(mod)


async def test_6_a_cancelled_aenter_does_not_leave_the_manager_in_use(
    life: Callable[..., ModuleType],
) -> None:
    mod = life({"p": "Pool", "w": "gate_factory"})
    mod.GATE["event"] = anyio.Event()
    mgr = ExtensionManager[Any](NS, invoke_on_load=True)
    with anyio.fail_after(GUARD):
        with anyio.move_on_after(0.02):
            async with mgr:
                pytest.fail("cancelled while starting")
        mod.GATE["event"].set()
        async with mgr:
            assert sorted(mgr.names()) == ["p", "w"]
    assert_every_entered_plugin_exited_once(mod)


# -- 7. timeouts measure running time ----------------------------------------------------


async def test_7_waiting_for_a_thread_slot_does_not_count_against_the_timeout() -> None:
    mgr = make(12, run_sync_in_thread=True, max_concurrency=1, timeout=0.5)

    def work(ext: Extension[Any]) -> int:
        time.sleep(0.05)  # 12 in a row: 0.6 s in all, each well inside its 0.5 s
        assert isinstance(ext.obj, int)
        return ext.obj

    with anyio.fail_after(GUARD):
        assert await mgr.map(work) == list(range(12))


async def test_7_an_instant_async_call_among_slow_sync_calls_is_not_a_timeout() -> None:
    mgr = make(5, timeout=0.3, propagate_map_exceptions=True)

    async def instant() -> str:
        await anyio.lowlevel.checkpoint()
        return "async"

    def call(ext: Extension[Any]) -> Any:
        if ext.obj == 0:
            return instant()  # scheduled first, runs after the four sync calls
        time.sleep(0.1)  # 0.4 s of blocking in all, each call well inside 0.3 s
        return "sync"

    with anyio.fail_after(GUARD):
        assert await mgr.map(call) == ["async", "sync", "sync", "sync", "sync"]


# -- 8. the thread limiter belongs to the running loop ------------------------------------


def test_8_a_manager_works_under_asyncio_then_trio() -> None:
    mgr = make(3, run_sync_in_thread=True)

    async def use() -> list[Any]:
        return await mgr.map(lambda ext: ext.obj)

    assert anyio.run(use, backend="asyncio") == [0, 1, 2]
    assert anyio.run(use, backend="trio") == [0, 1, 2]
    assert anyio.run(use, backend="asyncio") == [0, 1, 2]


# -- 9. aclose() waits for calls in flight, and every concurrent aclose for the exits -----


async def test_9_close_waits_for_calls_in_flight_and_concurrent_closes_wait_too(
    life: Callable[..., ModuleType],
) -> None:
    mod = life({"g": "Gated"})
    mod.GATE["event"] = anyio.Event()
    results: list[Any] = []
    closed: list[str] = []
    with anyio.fail_after(GUARD):
        async with ExtensionManager[Any](NS, invoke_on_load=True) as mgr:
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    results.append(await mgr.map_method("work"))

                async def close(who: str) -> None:
                    await mgr.aclose()
                    # every close returns only once the plugin was exited
                    assert ("exit", "gated") in mod.EVENTS
                    closed.append(who)

                tg.start_soon(call)
                await until(lambda: ("work-start", "gated") in mod.EVENTS)
                tg.start_soon(close, "first")
                tg.start_soon(close, "second")
                await anyio.sleep(0.02)
                assert mgr._state == "closing"
                assert ("exit", "gated") not in mod.EVENTS  # the call is still in flight
                with pytest.raises(RuntimeError, match="is closed"):
                    await mgr.map_method("ping")  # new calls are refused
                mod.GATE["event"].set()
    assert results == [["worked"]]
    assert sorted(closed) == ["first", "second"]
    assert mod.EVENTS.index(("work-end", "gated")) < mod.EVENTS.index(("exit", "gated"))


# -- 10. entering in one task and leaving in another --------------------------------------


@pytest.mark.parametrize("plugin", ["Pool", "Plain"])
async def test_10_leaving_in_another_task_works_and_exits_every_plugin_once(
    life: Callable[..., ModuleType], plugin: str
) -> None:
    mod = life({"p": plugin})
    mgr = ExtensionManager[Any](NS, invoke_on_load=True)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            entered = anyio.Event()
            done = anyio.Event()

            async def enter_and_stay() -> None:
                await mgr.__aenter__()
                entered.set()
                await done.wait()  # the entering task lives on, as a test runner's does

            tg.start_soon(enter_and_stay)
            await entered.wait()
            assert mgr.names() == ["p"]
            await mgr.__aexit__(None, None, None)  # hosts belong to no task: it just works
            assert mgr._state == "closed"
            done.set()
    assert_every_entered_plugin_exited_once(mod)


# -- 11. leaving `async with` is bounded by the deadline in force -------------------------


@pytest.mark.parametrize("body", ["returns", "is cancelled"])
async def test_11_an_enclosing_deadline_bounds_a_hanging_exit(
    life: Callable[..., ModuleType], body: str
) -> None:
    mod = life({"h": "HangingExit", "p": "Pool"})
    with anyio.fail_after(GUARD), pytest.raises(ExtensionErrorGroup) as info:  # noqa: PT012
        with anyio.move_on_after(0.1):
            async with ExtensionManager[Any](NS, invoke_on_load=True):
                if body == "is cancelled":
                    await anyio.sleep_forever()
    [(ext, exc)] = info.value.failures
    assert ext.name == "h"
    assert isinstance(exc, TimeoutError)
    assert [e[1] for e in mod.EVENTS if e[0] == "exit"] == ["pool", "hanging-exit"]


# -- 12. no retention ---------------------------------------------------------------------


class Value:
    pass


class Failure(ValueError):
    pass


@pytest.mark.parametrize("propagate", [False, True])
async def test_12_a_failing_thread_call_is_no_cycle(propagate: bool) -> None:
    mgr = make(2, propagate_map_exceptions=propagate, run_sync_in_thread=True)
    refs: list[weakref.ref[Any]] = []

    def call(ext: Extension[Any]) -> None:
        # Held by the failing frame, which the exception's traceback keeps: the payload
        # is freed only if the exception is.
        payload = Value()
        refs.append(weakref.ref(payload))
        raise Failure("fails in a thread")

    gc.collect()
    gc.disable()
    try:
        logging.getLogger("longshoreman").disabled = True
        if propagate:
            with pytest.raises(ExtensionErrorGroup) as info:
                await mgr.map(call)
            del info
        else:
            assert await mgr.map(call) == []
        assert len(refs) == 2
        assert [r() for r in refs] == [None, None]  # freed without the cyclic collector
    finally:
        logging.getLogger("longshoreman").disabled = False
        gc.enable()


@pytest.mark.parametrize("propagate", [False, True])
async def test_12_a_failing_call_keeps_no_result_alive(propagate: bool) -> None:
    mgr = make(3, propagate_map_exceptions=propagate)
    refs: list[weakref.ref[Value]] = []

    async def call(ext: Extension[Any]) -> Value:
        await anyio.lowlevel.checkpoint()
        if ext.obj == 1:
            raise ValueError("one fails")
        value = Value()
        refs.append(weakref.ref(value))
        return value

    gc.collect()
    gc.disable()
    try:
        logging.getLogger("longshoreman").disabled = True
        if propagate:
            with pytest.raises(ExtensionErrorGroup) as info:
                await mgr.map(call)
            del info
        else:
            assert len(await mgr.map(call)) == 2
        assert len(refs) == 2
        assert [r() for r in refs] == [None, None]  # freed without the cyclic collector
    finally:
        logging.getLogger("longshoreman").disabled = False
        gc.enable()


# -- 13. the same exception instance from two plugins -------------------------------------


async def test_13_two_plugins_raising_one_instance_are_both_named() -> None:
    mgr = make(3, propagate_map_exceptions=True)
    shared = OSError("shared backend down")

    def call(ext: Extension[Any]) -> int:
        if ext.obj in (0, 2):
            raise shared
        return 1

    with pytest.raises(ExtensionErrorGroup) as info:
        await mgr.map(call)
    assert [ext.name for ext, _ in info.value.failures] == ["e0", "e2"]
    matched, rest = info.value.split(OSError)
    assert rest is None
    assert isinstance(matched, ExtensionErrorGroup)
    assert [ext.name for ext, _ in matched.failures] == ["e0", "e2"]


# -- 14. StopIteration is itself, inline or in a thread -----------------------------------


@pytest.mark.parametrize("threads", [False, True])
async def test_14_stop_iteration_is_recorded_as_itself(threads: bool) -> None:
    mgr = make(2, propagate_map_exceptions=True, run_sync_in_thread=threads)

    def call(ext: Extension[Any]) -> int:
        if ext.obj == 1:
            raise StopIteration("exhausted")
        return 0

    with pytest.raises(ExtensionErrorGroup) as info:
        await mgr.map(call)
    [(ext, exc)] = info.value.failures
    assert ext.name == "e1"
    assert type(exc) is StopIteration
    assert str(exc) == "exhausted"


# -- 15. every plugin failed: say so ------------------------------------------------------


async def test_15_when_every_plugin_failed_map_says_so(life: Callable[..., ModuleType]) -> None:
    life({"a": "slow_connect", "b": "slow_connect"})
    with anyio.fail_after(GUARD):
        async with ExtensionManager[Any](NS, invoke_on_load=True, timeout=0.05) as mgr:
            with pytest.raises(NoMatches, match="all 2 found failed to load") as info:
                await mgr.map_method("ping")
    assert [(f.entry_point and f.entry_point.name, f.phase) for f in info.value.failures] == [
        ("a", "invoke"),
        ("b", "invoke"),
    ]
    assert all(isinstance(f.exception, TimeoutError) for f in info.value.failures)


async def test_15_an_empty_namespace_still_says_none_found(fake_env: FakeEnv) -> None:
    mgr = ExtensionManager[Any]("ls.nothing.here")
    with pytest.raises(NoMatches, match=r"No ls\.nothing\.here extensions found") as info:
        await mgr.map(lambda ext: ext)
    assert info.value.failures == []


# -- 16. KeyboardInterrupt from a factory beside async context manager plugins ------------


def test_16_keyboard_interrupt_while_entering_others_ends_and_exits_them(
    life: Callable[..., ModuleType], anyio_backend: str
) -> None:
    mod = life({"p": "Pool", "s": "Shielded", "k": "interrupts"})

    async def main() -> None:
        with anyio.fail_after(GUARD):
            async with ExtensionManager[Any](NS, invoke_on_load=True):
                pytest.fail("interrupted while starting")

    with pytest.raises(KeyboardInterrupt, match="stop"):
        anyio.run(main, backend=anyio_backend)
    assert_every_entered_plugin_exited_once(mod)


# -- 17. a plugin changing `extensions` during a map --------------------------------------


@pytest.mark.parametrize("change", ["append", "remove"])
async def test_17_a_map_works_on_the_extensions_it_started_with(change: str) -> None:
    mgr = make(3, propagate_map_exceptions=True)

    async def call(ext: Extension[Any]) -> int:
        if ext.obj == 0:
            if change == "append":
                mgr.extensions.append(Extension("late", None, object, 9))
            else:
                mgr.extensions.remove(mgr.extensions[-1])
        await anyio.lowlevel.checkpoint()
        assert isinstance(ext.obj, int)
        return ext.obj

    assert await mgr.map(call) == [0, 1, 2]


# -- 18. a failure raised while the caller's cancellation unwinds it ----------------------


@pytest.mark.parametrize("propagate", [False, True])
async def test_18_a_failure_during_cancellation_is_logged_not_lost(
    propagate: bool, caplog: pytest.LogCaptureFixture
) -> None:
    mgr = make(2, propagate_map_exceptions=propagate)
    started = anyio.Event()

    async def call(ext: Extension[Any]) -> None:
        try:
            started.set()
            await anyio.sleep_forever()
        finally:
            if ext.obj == 1:
                raise OSError("could not flush on cancel")

    with caplog.at_level(logging.ERROR, logger="longshoreman"):
        with anyio.fail_after(GUARD), anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(mgr.map, call)
                await started.wait()
                await anyio.sleep(0.01)
                scope.cancel()
    [record] = caplog.records
    assert "'e1'" in record.getMessage()
    assert "OSError: could not flush on cancel" in record.getMessage()


# -- 19. records stay readable and bounded ------------------------------------------------


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.parametrize("exc", [Unprintable(), ValueError("x" * 10_000_000)])
async def test_19_failure_records_are_readable_and_bounded(
    exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    mgr = make(1)

    def call(ext: Extension[Any]) -> None:
        raise exc

    with caplog.at_level(logging.ERROR, logger="longshoreman"):
        assert await mgr.map(call) == []
    [record] = caplog.records
    text = logging.Formatter().format(record)
    assert "extension 'e0'" in text
    assert type(exc).__name__ in text
    assert len(text) < 50_000
    assert record.exc_info is not None
    assert record.exc_info[1] is exc  # handlers still get the exception object


# -- 20. a thread plugin calling back into its own manager --------------------------------


async def test_20_a_thread_call_mapping_its_own_manager_is_an_error_not_a_deadlock() -> None:
    mgr = make(2, run_sync_in_thread=True, max_concurrency=1, propagate_map_exceptions=True)

    def call(ext: Extension[Any]) -> Any:
        return anyio.from_thread.run(mgr.map, lambda e: e.obj)

    with anyio.fail_after(GUARD), pytest.raises(ExtensionErrorGroup) as info:
        await mgr.map(call)
    assert [ext.name for ext, _ in info.value.failures] == ["e0", "e1"]
    for _, exc in info.value.failures:
        assert isinstance(exc, RuntimeError)
        assert "worker-thread plugin calls" in str(exc)


async def test_20_an_async_plugin_may_map_its_own_manager() -> None:
    mgr = make(2)

    async def nested(ext: Extension[Any]) -> list[Any]:
        return await mgr.map(lambda e: e.obj)

    run: Callable[..., Awaitable[list[Any]]] = mgr.map
    assert await run(nested) == [[0, 1], [0, 1]]


# -- found by review: the paths no caller waits on ---------------------------------------


class Crashing:
    """Keeps a task group whose background task fails while the manager is ready."""

    events: list[str]

    async def __aenter__(self) -> Crashing:
        self.events = []
        self.tg = anyio.create_task_group()
        await self.tg.__aenter__()

        async def background() -> None:
            await anyio.lowlevel.checkpoint()
            raise OSError("background task died")

        self.tg.start_soon(background)
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        self.events.append(f"exit with {exc_info[0].__name__ if exc_info[0] else None}")
        return await self.tg.__aexit__(*exc_info)

    def ping(self) -> str:
        return "pong"


async def test_a_plugin_that_stops_on_its_own_is_reported_and_dropped(
    fake_env: FakeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    from longshoreman.testing import fake_entry_points

    with fake_entry_points("ls.crash", {"svc": Crashing}):
        mgr = ExtensionManager[Any]("ls.crash", invoke_on_load=True)
    with caplog.at_level(logging.ERROR, logger="longshoreman"), anyio.fail_after(GUARD):
        async with mgr:
            await until(lambda: not mgr.extensions)
            with pytest.raises(NoMatches, match="all 1 found failed to load"):
                await mgr.map_method("ping")  # never calls an exited plugin
    [failure] = mgr.failures
    assert failure.phase == "exit"
    assert "stopped before its manager closed" in str(failure.exception)
    cause = failure.exception.__cause__
    assert isinstance(cause, BaseExceptionGroup)  # what its task group raised
    [leaf] = cause.exceptions
    assert isinstance(leaf, OSError)
    assert str(leaf) == "background task died"
    [record] = caplog.records
    assert "'svc'" in record.getMessage()
    assert "stopped" in record.getMessage()


class ExitsForever:
    events: ClassVar[list[str]] = []

    async def __aenter__(self) -> ExitsForever:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.events.append("exit")
        await anyio.sleep_forever()


class EntersForever:
    async def __aenter__(self) -> EntersForever:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def __aexit__(self, *exc_info: Any) -> None:
        pass


async def test_aclose_during_a_start_is_bounded_by_the_closers_deadline(
    fake_env: FakeEnv,
) -> None:
    from longshoreman.testing import fake_entry_points

    ExitsForever.events = []
    with fake_entry_points("ls.bound", {"a": ExitsForever, "b": EntersForever}):
        mgr = ExtensionManager[Any]("ls.bound", invoke_on_load=True)
    outcome: list[str] = []

    async def start() -> None:
        with pytest.raises(RuntimeError, match="closed while it was starting"):
            async with mgr:  # no deadline of its own
                pytest.fail("never ready")
        outcome.append("start ended")

    with anyio.fail_after(GUARD):  # without the closer's bound, the exit waits forever
        async with anyio.create_task_group() as tg:
            tg.start_soon(start)
            await until(lambda: mgr._start is not None and any(h.entered for h in mgr._start.hosts))
            with anyio.move_on_after(0.1):
                await mgr.aclose()
    assert mgr._state == "closed"
    assert ExitsForever.events == ["exit"]
    assert outcome == ["start ended"]


class Worker:
    gate: anyio.Event

    def __init__(self) -> None:
        self.open = False

    async def __aenter__(self) -> Worker:
        self.open = True
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.open = False

    async def work(self) -> bool:
        await self.gate.wait()
        return self.open


async def test_a_cancelled_body_still_waits_for_calls_in_flight(fake_env: FakeEnv) -> None:
    from longshoreman.testing import fake_entry_points

    Worker.gate = anyio.Event()
    with fake_entry_points("ls.drain", {"w": Worker}):
        mgr = ExtensionManager[Any]("ls.drain", invoke_on_load=True)
    results: list[list[bool]] = []
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            with anyio.move_on_after(0.05):
                async with mgr:

                    async def call() -> None:
                        results.append(await mgr.map_method("work"))

                    tg.start_soon(call)
                    await until(lambda: mgr._in_flight == 1)
                    tg.start_soon(lambda: _set_soon(Worker.gate))
                    await anyio.sleep_forever()
    assert results == [[True]]  # the plugin was still open when its call finished


async def _set_soon(event: anyio.Event) -> None:
    await anyio.sleep(0.1)
    event.set()


async def test_calls_still_in_flight_at_the_close_deadline_are_cut_short(
    fake_env: FakeEnv,
) -> None:
    from longshoreman.testing import fake_entry_points

    Worker.gate = anyio.Event()  # never set
    with fake_entry_points("ls.cut", {"w": Worker}):
        mgr = ExtensionManager[Any]("ls.cut", invoke_on_load=True)
    raised: list[BaseException] = []
    with anyio.fail_after(GUARD):
        await mgr.__aenter__()
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                try:
                    await mgr.map_method("work")
                except RuntimeError as exc:
                    raised.append(exc)

            tg.start_soon(call)
            await until(lambda: mgr._in_flight == 1)
            with anyio.move_on_after(0.1):
                await mgr.aclose()
    [exc] = raised
    assert "closed while this call was in flight" in str(exc)
    assert mgr._state == "closed"


class LateFailure:
    kind = "os"

    async def __aenter__(self) -> LateFailure:
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0.2)
        if self.kind == "os":
            raise OSError("handshake refused")
        raise KeyboardInterrupt

    async def __aexit__(self, *exc_info: Any) -> None:
        pass


async def test_an_abandoned_enter_that_fails_later_is_logged(
    fake_env: FakeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    from longshoreman.testing import fake_entry_points

    LateFailure.kind = "os"
    with fake_entry_points("ls.late", {"late": LateFailure}):
        mgr = ExtensionManager[Any]("ls.late", invoke_on_load=True, timeout=0.05)
    with caplog.at_level(logging.ERROR, logger="longshoreman"), anyio.fail_after(GUARD):
        async with mgr:
            assert [f.phase for f in mgr.failures] == ["enter"]
            await until(lambda: any("given up" in r.getMessage() for r in caplog.records))
    [late] = [r for r in caplog.records if "given up" in r.getMessage()]
    assert "OSError: handshake refused" in late.getMessage()


def test_a_keyboard_interrupt_from_an_abandoned_enter_reaches_the_caller(
    fake_env: FakeEnv, anyio_backend: str
) -> None:
    from longshoreman.testing import fake_entry_points

    LateFailure.kind = "ki"
    with fake_entry_points("ls.late", {"late": LateFailure}):
        mgr = ExtensionManager[Any]("ls.late", invoke_on_load=True, timeout=0.05)

    async def main() -> None:
        with anyio.fail_after(GUARD):
            async with mgr:
                await anyio.sleep(0.4)  # the handshake ends, then raises, meanwhile

    with pytest.raises(KeyboardInterrupt):
        anyio.run(main, backend=anyio_backend)
    assert mgr._state == "closed"


class InterruptingExit:
    async def __aenter__(self) -> InterruptingExit:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        raise KeyboardInterrupt


def asserting_factory() -> None:
    raise AssertionError("a bug")


def test_an_interrupt_while_undoing_a_start_leaves_it_created(
    fake_env: FakeEnv, anyio_backend: str
) -> None:
    from longshoreman.testing import fake_entry_points

    with fake_entry_points("ls.undo", {"a": InterruptingExit, "b": asserting_factory}):
        mgr = ExtensionManager[Any]("ls.undo", invoke_on_load=True)

    async def main() -> None:
        async with mgr:
            pytest.fail("the start failed")

    with pytest.raises(KeyboardInterrupt):
        anyio.run(main, backend=anyio_backend)
    assert mgr._state == "created"
    assert mgr._start is None


# -- found by the second review: bounds that plugins cannot defeat ----------------------


class Gate:
    """A plugin whose enter or exit shields itself until the test opens the gate."""

    where = "enter"
    gate: anyio.Event
    events: ClassVar[list[str]] = []

    async def __aenter__(self) -> Gate:
        if self.where == "enter":
            with anyio.CancelScope(shield=True):
                await self.gate.wait()
        self.events.append("entered")
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.events.append("exit")
        if self.where == "exit":
            with anyio.CancelScope(shield=True):
                await self.gate.wait()
        self.events.append("exited")


def gate_plugin(where: str) -> type[Gate]:
    Gate.where, Gate.gate, Gate.events = where, anyio.Event(), []
    return Gate


async def test_a_shielded_enter_does_not_hold_a_cancelled_start(fake_env: FakeEnv) -> None:
    from longshoreman.testing import fake_entry_points

    plugin = gate_plugin("enter")
    with fake_entry_points("ls.gate", {"g": plugin}):
        mgr = ExtensionManager[Any]("ls.gate", invoke_on_load=True)
    with anyio.fail_after(GUARD):  # the gate opens only after: waiting for it would hang
        with anyio.move_on_after(0.05):
            async with mgr:
                pytest.fail("the enter never finishes in time")
        assert mgr._state == "created"
        plugin.gate.set()  # now the handshake ends, alone, and the plugin is exited
        await until(lambda: plugin.events == ["entered", "exit", "exited"])


async def test_a_shielded_exit_does_not_hold_a_close_past_its_deadline(
    fake_env: FakeEnv,
) -> None:
    from longshoreman.testing import fake_entry_points

    plugin = gate_plugin("exit")
    with fake_entry_points("ls.gate", {"g": plugin}):
        mgr = ExtensionManager[Any]("ls.gate", invoke_on_load=True)
    with anyio.fail_after(GUARD), pytest.raises(ExtensionErrorGroup) as info:  # noqa: PT012
        with anyio.move_on_after(0.05):
            async with mgr:
                pass
    [(ext, exc)] = info.value.failures
    assert ext.name == "g"
    assert isinstance(exc, TimeoutError)
    assert "left to finish alone" in str(exc)
    assert mgr._state == "closed"
    plugin.gate.set()
    with anyio.fail_after(GUARD):
        await until(lambda: plugin.events == ["entered", "exit", "exited"])


async def test_a_second_close_returns_only_once_the_close_is_over(fake_env: FakeEnv) -> None:
    from longshoreman.testing import fake_entry_points

    plugin = gate_plugin("exit")
    with fake_entry_points("ls.gate", {"g": plugin}):
        mgr = ExtensionManager[Any]("ls.gate", invoke_on_load=True)
    await mgr.__aenter__()
    states: list[str] = []
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:

            async def first() -> None:
                with pytest.raises(ExtensionErrorGroup):
                    await mgr.aclose()  # no deadline of its own

            tg.start_soon(first)
            await until(lambda: "exit" in plugin.events)
            with anyio.move_on_after(0.05):
                await mgr.aclose()  # its deadline bounds the close in progress
            states.append(mgr._state)
    assert states == ["closed"]
    plugin.gate.set()
    with anyio.fail_after(GUARD):
        await until(lambda: plugin.events[-1:] == ["exited"])


class Interrupting:
    """Keeps a task group whose background task raises KeyboardInterrupt."""

    async def __aenter__(self) -> Interrupting:
        self.tg = anyio.create_task_group()
        await self.tg.__aenter__()

        async def background() -> None:
            await anyio.sleep(0.01)
            raise KeyboardInterrupt

        self.tg.start_soon(background)
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return await self.tg.__aexit__(*exc_info)


def test_a_plugin_stopped_by_keyboard_interrupt_passes_it_on(
    fake_env: FakeEnv, anyio_backend: str
) -> None:
    from longshoreman.testing import fake_entry_points

    with fake_entry_points("ls.ki", {"k": Interrupting, "p": Plain}):
        mgr = ExtensionManager[Any]("ls.ki", invoke_on_load=True)

    async def main() -> None:
        with anyio.fail_after(GUARD):
            async with mgr:
                await until(lambda: mgr.names() == ["p"])
                await mgr.map(lambda ext: None)  # the manager's next operation: raises it

    logging.getLogger("longshoreman").disabled = True
    try:
        # As the plugin raised it: alone (asyncio's loop may even raise it first), or
        # inside the group of the plugin's own task group (trio's nurseries).
        with pytest.raises(BaseException) as info:
            anyio.run(main, backend=anyio_backend)
    finally:
        logging.getLogger("longshoreman").disabled = False
    raised = info.value
    if isinstance(raised, BaseExceptionGroup):
        [raised] = raised.exceptions
    assert isinstance(raised, KeyboardInterrupt)
    [failure] = [f for f in mgr.failures if f.name == "k"]
    assert isinstance(failure.exception.__cause__, BaseException)


class Plain:
    def __init__(self, *args: Any) -> None:
        pass


class Triggering:
    """Its exit makes an older plugin's background task fail, mid-close."""

    async def __aenter__(self) -> Triggering:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        Stopping.trigger.set()
        await anyio.sleep(0.05)


class Stopping:
    trigger: anyio.Event

    async def __aenter__(self) -> Stopping:
        self.tg = anyio.create_task_group()
        await self.tg.__aenter__()

        async def background() -> None:
            await self.trigger.wait()
            raise OSError("failed while the manager closed")

        self.tg.start_soon(background)
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return await self.tg.__aexit__(*exc_info)


async def test_a_plugin_that_stops_during_the_close_is_in_its_group(fake_env: FakeEnv) -> None:
    from longshoreman.testing import fake_entry_points

    Stopping.trigger = anyio.Event()
    with fake_entry_points("ls.mid", {"a": Stopping, "b": Triggering}):
        mgr = ExtensionManager[Any]("ls.mid", invoke_on_load=True)
    with anyio.fail_after(GUARD), pytest.raises(ExtensionErrorGroup) as info:
        async with mgr:
            pass
    [(ext, exc)] = info.value.failures
    assert ext.name == "a"
    assert "stopped before its manager closed" in str(exc)


class InterruptingInstrument:
    def on_end(self, event: Any) -> None:
        raise KeyboardInterrupt


def test_an_instrument_raising_keyboard_interrupt_passes_it_on_unwrapped(
    anyio_backend: str,
) -> None:
    mgr = make(2, instrument=InterruptingInstrument())

    async def main() -> None:
        with anyio.fail_after(GUARD):
            await mgr.map(lambda ext: anyio.lowlevel.checkpoint())

    with pytest.raises(KeyboardInterrupt):
        anyio.run(main, backend=anyio_backend)


class ExitInterrupts:
    async def __aenter__(self) -> ExitInterrupts:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        raise KeyboardInterrupt


class ExitFails:
    async def __aenter__(self) -> ExitFails:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        raise ValueError("exit failed too")


def test_exit_errors_beside_an_interrupt_are_logged(
    fake_env: FakeEnv, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    from longshoreman.testing import fake_entry_points

    with fake_entry_points("ls.exits", {"a": ExitFails, "b": ExitInterrupts}):
        mgr = ExtensionManager[Any]("ls.exits", invoke_on_load=True)

    async def main() -> None:
        async with mgr:
            pass

    with caplog.at_level(logging.ERROR, logger="longshoreman"):
        with pytest.raises(KeyboardInterrupt):
            anyio.run(main, backend=anyio_backend)
    assert any("ValueError: exit failed too" in r.getMessage() for r in caplog.records)


# -- mgr.failures accounts for every entry point (issue 10, SPEC §12) --------------------

ACCOUNTING = """
import anyio


class Plain:
    def __init__(self, *args):
        pass


class Rejected(Plain):
    pass


def raises(*args):
    raise ValueError("invoke failed")


class BadEnter:
    async def __aenter__(self):
        raise LookupError("enter failed")

    async def __aexit__(self, *exc_info):
        pass


class BadExit:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        raise OSError("exit failed")


class CheckRaises(Plain):
    pass
"""


async def test_failures_extensions_and_filtered_names_account_for_every_entry_point(
    fake_env: FakeEnv,
) -> None:
    import sys

    fake_env.module("lsacct", ACCOUNTING)
    fake_env.dist(
        "acct-main",
        "1.0",
        {
            "ls.acct": {
                "ok": "lsacct:Plain",
                "rejected": "lsacct:Rejected",
                "gone": "lsacct:NoSuchThing",
                "raises": "lsacct:raises",
                "bad-enter": "lsacct:BadEnter",
                "bad-exit": "lsacct:BadExit",
                "check-raises": "lsacct:CheckRaises",
            }
        },
    )
    fake_env.dist(
        "acct-needy",
        "1.0",
        {"ls.acct": {"needy": "lsacct:Plain"}},
        requires=["surely-not-installed-lib>=1.0"],
    )

    def check(ext: Extension[Any]) -> bool:
        if ext.name == "check-raises":
            raise RuntimeError("check failed")
        return ext.name != "rejected"

    logging.getLogger("longshoreman").disabled = True
    try:
        mgr = EnabledExtensionManager[Any](
            "ls.acct", check, invoke_on_load=True, verify_requirements=True
        )
        kept: list[str] = []
        with pytest.raises(ExtensionErrorGroup, match="failed to exit"):
            async with mgr:
                kept = mgr.names()
        phases = {f.name: f.phase for f in mgr.failures}
    finally:
        logging.getLogger("longshoreman").disabled = False
        sys.modules.pop("lsacct", None)
    everything = {ep.name for ep in mgr.list_entry_points()}
    filtered = {"rejected"}  # check_func said no: neither kept nor failed
    assert sorted(kept) == ["bad-exit", "ok"]
    assert phases == {
        "needy": "requirements",
        "gone": "import",
        "raises": "invoke",
        "bad-enter": "enter",
        "check-raises": "check",
        "bad-exit": "exit",  # kept, then failed at close: in both
    }
    load_failed = {name for name, phase in phases.items() if phase != "exit"}
    assert set(kept) | load_failed | filtered == everything
    assert not set(kept) & load_failed
    assert not filtered & (set(kept) | load_failed)
