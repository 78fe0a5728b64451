"""The native fan-out shapes (asyncio tasks, a trio nursery) against the generic one.

Every test runs on both backends and both shapes (``fanout_path``): what plugins see of
the caller's cancel scopes -- shields, deadlines, native cancellation, context -- must
not depend on which tasks run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import math
import sys
import time
import warnings
import weakref
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import pytest

from longshoreman import Extension, ExtensionErrorGroup, ExtensionManager, _fanout

from .conftest import FANOUT_PATHS, hang_guard

pytestmark = pytest.mark.parametrize("fanout_path", FANOUT_PATHS, indirect=True)

GUARD = 5.0  # seconds: a test that hangs fails instead


def index(ext: Extension[Any]) -> int:
    assert isinstance(ext.obj, int)
    return ext.obj


def manager(n: int, **options: Any) -> ExtensionManager[Any]:
    exts = [Extension(f"p{i}", None, object, i) for i in range(n)]
    return ExtensionManager[Any].make_test_instance(exts, **options)


async def test_the_shape_follows_the_backend_and_the_switch(
    anyio_backend: str, fanout_path: str
) -> None:
    expected = {
        ("native", "asyncio"): _fanout._asyncio_group,
        ("native", "trio"): _fanout._trio_group,
        ("generic", "asyncio"): _fanout._generic_group,
        ("generic", "trio"): _fanout._generic_group,
    }[fanout_path, anyio_backend]
    assert _fanout._native_group() is expected


async def test_a_plugins_shield_holds_when_the_caller_is_cancelled() -> None:
    mgr = manager(3)
    finished: list[int] = []

    async def call(ext: Extension[Any]) -> int:
        with anyio.CancelScope(shield=True):  # a handshake that must not be torn
            await anyio.sleep(0.05)
        finished.append(index(ext))
        await anyio.sleep_forever()
        return 0

    with anyio.fail_after(GUARD), anyio.move_on_after(0.01) as scope:
        await mgr.map(call)
    assert scope.cancelled_caught
    assert sorted(finished) == [0, 1, 2]  # every shielded part ran out, before map returned


async def test_plugins_see_the_callers_deadline() -> None:
    mgr = manager(3)

    async def call(ext: Extension[Any]) -> float:
        await anyio.lowlevel.checkpoint()
        return anyio.current_effective_deadline()

    with anyio.fail_after(GUARD) as scope:
        seen = await mgr.map(call)
    assert seen == [scope.deadline] * 3


async def test_a_plugin_cancelled_with_its_caller_is_not_a_failure() -> None:
    mgr = manager(3, propagate_map_exceptions=True)
    cancelled: list[bool] = []

    async def call(ext: Extension[Any]) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.append(anyio.current_effective_deadline() == -math.inf)

    with anyio.fail_after(GUARD), anyio.move_on_after(0.01) as scope:
        await mgr.map(call)
    assert scope.cancelled_caught  # the cancellation, not an ExtensionErrorGroup
    assert cancelled == [True, True, True]


async def test_native_cancellation_of_the_caller_reaches_every_call(anyio_backend: str) -> None:
    mgr = manager(4)
    ended: list[int] = []

    async def call(ext: Extension[Any]) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            ended.append(index(ext))

    with anyio.fail_after(GUARD):
        if anyio_backend == "asyncio":
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.01):
                    await mgr.map(call)
        else:
            import trio

            with trio.move_on_after(0.01) as scope:
                await mgr.map(call)
            assert scope.cancelled_caught
    assert sorted(ended) == [0, 1, 2, 3]  # none outlived the map


async def test_a_native_task_cancel_reaches_every_call_and_propagates(
    anyio_backend: str,
) -> None:
    if anyio_backend != "asyncio":
        pytest.skip("Task.cancel() is asyncio's")
    mgr = manager(4)
    started = anyio.Event()
    ended: list[int] = []

    async def call(ext: Extension[Any]) -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            ended.append(index(ext))

    task = asyncio.ensure_future(mgr.map(call))
    with anyio.fail_after(GUARD):
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sorted(ended) == [0, 1, 2, 3]


async def test_a_plugins_own_deadline_cancels_only_that_call() -> None:
    mgr = manager(3, propagate_map_exceptions=True)

    async def call(ext: Extension[Any]) -> str:
        if index(ext) == 1:
            with anyio.move_on_after(0.001):
                await anyio.sleep_forever()
            return "moved on"
        await anyio.sleep(0.01)
        return "slept"

    with anyio.fail_after(GUARD):
        assert await mgr.map(call) == ["slept", "moved on", "slept"]


async def test_context_changes_stay_in_their_call() -> None:
    var: contextvars.ContextVar[int] = contextvars.ContextVar("var", default=-1)
    mgr = manager(3)

    async def call(ext: Extension[Any]) -> int:
        var.set(index(ext))
        await anyio.sleep(0.001)
        return var.get()

    assert await mgr.map(call) == [0, 1, 2]
    assert var.get() == -1


async def test_cancelling_an_outer_map_reaches_the_calls_of_a_nested_one() -> None:
    outer, inner = manager(2), manager(3)
    ended: list[tuple[int, int]] = []

    async def leaf(ext: Extension[Any], parent: int) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            ended.append((parent, index(ext)))

    async def branch(ext: Extension[Any]) -> None:
        await inner.map(leaf, index(ext))

    with anyio.fail_after(GUARD), anyio.move_on_after(0.01) as scope:
        await outer.map(branch)
    assert scope.cancelled_caught
    assert sorted(ended) == [(p, c) for p in range(2) for c in range(3)]


async def test_workers_honour_the_callers_shield_and_deadline() -> None:
    mgr = manager(6, max_concurrency=2)
    seen: list[float] = []

    async def call(ext: Extension[Any]) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0.005)
        seen.append(anyio.current_effective_deadline())
        await anyio.sleep(0.01)

    with anyio.fail_after(GUARD), anyio.move_on_after(0.012) as scope:
        await mgr.map(call)
    assert scope.cancelled_caught
    assert 2 <= len(seen) < 6  # cut short, and every call that finished its shield saw it
    assert set(seen) <= {scope.deadline, -math.inf}


async def test_the_callers_cancellation_leaves_the_map_as_itself_not_in_a_group() -> None:
    mgr = manager(3)
    raised: list[BaseException] = []

    async def call(ext: Extension[Any]) -> None:
        await anyio.sleep_forever()

    with anyio.fail_after(GUARD), anyio.move_on_after(0.01):
        try:
            await mgr.map(call)
        except BaseException as exc:
            raised.append(exc)
            raise
    [caught] = raised
    assert isinstance(caught, anyio.get_cancelled_exc_class())


# Without a deadline around the caller, the native asyncio shape records its tasks in
# anyio's scope tree only once the fan-out is cancelled (see _fanout._AsyncioTasks): these
# tests are guarded by hang_guard, not fail_after, so that this is the path they take.


async def test_a_plugins_shield_holds_when_a_caller_without_a_deadline_is_cancelled() -> None:
    mgr = manager(4)
    finished: list[int] = []
    seen: list[float] = []

    async def call(ext: Extension[Any]) -> None:
        if index(ext) == 0:
            await anyio.sleep(0.01)  # the others are in their shields by now
            outer.cancel()
            await anyio.sleep_forever()
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0.05)
            seen.append(anyio.current_effective_deadline())
        finished.append(index(ext))
        await anyio.sleep_forever()

    async with hang_guard(GUARD):
        with anyio.CancelScope() as outer:
            await mgr.map(call)
    assert outer.cancelled_caught
    assert sorted(finished) == [1, 2, 3]  # every shield ran out, before map returned
    assert seen == [math.inf] * 3


async def test_a_plugins_own_scopes_see_the_fan_outs_cancellation() -> None:
    """A plugin that opened cancel scopes before ``fail_fast`` cancelled its siblings:
    its scopes are cancelled with the fan-out and do not swallow that cancellation."""
    mgr = manager(3, fail_fast=True, propagate_map_exceptions=True)
    seen: list[float] = []
    past_own_scope: list[int] = []

    async def call(ext: Extension[Any]) -> None:
        if index(ext) == 0:
            await anyio.sleep(0.01)
            raise ValueError("the first failure")
        with anyio.CancelScope():
            with anyio.CancelScope():
                try:
                    await anyio.sleep_forever()
                finally:
                    seen.append(anyio.current_effective_deadline())
        past_own_scope.append(index(ext))

    async with hang_guard(GUARD):
        with pytest.raises(ExtensionErrorGroup) as info:
            await mgr.map(call)
    assert [(ext.name, type(exc)) for ext, exc in info.value.failures] == [("p0", ValueError)]
    assert [ext.name for ext in info.value.cancelled] == ["p1", "p2"]
    assert seen == [-math.inf, -math.inf]
    assert past_own_scope == []


@pytest.mark.parametrize("deadline", [False, True], ids=["no-deadline", "deadline"])
async def test_calls_whose_tasks_are_cancelled_natively_before_they_start_fail(
    anyio_backend: str, fanout_path: str, deadline: bool
) -> None:
    """Code outside the fan-out cancels calls' tasks that have not run yet: those calls
    fail with a RuntimeError saying so; nothing hangs, no value goes missing. (Were only
    some cancelled, anyio's task group, on the generic path, would cancel the others
    too, and they would fail the same way.)"""
    if anyio_backend != "asyncio":
        pytest.skip("Task.cancel() is asyncio's")
    mgr = manager(3, propagate_map_exceptions=True)
    before: set[asyncio.Task[Any]] = set()
    started: list[int] = []

    async def call(ext: Extension[Any]) -> int:
        started.append(index(ext))
        if index(ext) == 0:  # the first call to run: the others' tasks have not started
            for task in asyncio.all_tasks() - before:
                if task is not asyncio.current_task():
                    task.cancel()
        await anyio.lowlevel.checkpoint()
        return index(ext)

    if fanout_path == "native" and not deadline and sys.version_info >= (3, 12):
        # Tasks not recorded at once start eagerly: none is ever left to cancel unstarted.
        async with hang_guard(GUARD):
            before.update(asyncio.all_tasks())
            assert await mgr.map(call) == [0, 1, 2]
        assert started == [0, 1, 2]
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with hang_guard(GUARD):
            with anyio.fail_after(GUARD) if deadline else contextlib.nullcontext():
                before.update(asyncio.all_tasks())
                with pytest.raises(ExtensionErrorGroup) as info:
                    await mgr.map(call)
        gc.collect()
    assert started == [0]
    assert [ext.name for ext, _ in info.value.results] == ["p0"]
    assert [ext.name for ext, _ in info.value.failures] == ["p1", "p2"]
    for _, exc in info.value.failures:
        assert isinstance(exc, RuntimeError)
        assert "cancelled natively" in str(exc)
    if fanout_path == "native":  # anyio's task group leaves the coroutines un-awaited
        assert [w for w in caught if "never awaited" in str(w.message)] == []


@pytest.mark.parametrize("deadline", [False, True], ids=["no-deadline", "deadline"])
async def test_the_calls_tasks_are_not_kept_once_the_map_returns(
    anyio_backend: str, deadline: bool
) -> None:
    """Recorded in anyio's scope tree (at once under a deadline, else when cancelled),
    the tasks are taken out again: that record and the scope would keep them alive."""
    if anyio_backend != "asyncio":
        pytest.skip("asyncio's tasks")
    mgr = manager(4, fail_fast=True, propagate_map_exceptions=True)
    tasks: list[weakref.ref[asyncio.Task[Any]]] = []

    async def call(ext: Extension[Any]) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(weakref.ref(task))
        if index(ext) == 0:
            await anyio.sleep(0.01)
            raise ValueError("cancels the others")
        await anyio.sleep_forever()

    async with hang_guard(GUARD):
        with anyio.fail_after(GUARD) if deadline else contextlib.nullcontext():
            with pytest.raises(ExtensionErrorGroup) as info:
                await mgr.map(call)
    assert len(info.value.cancelled) == 3
    del info
    gc.collect()
    assert len(tasks) == 4
    assert [ref() for ref in tasks] == [None] * 4


async def test_a_call_whose_running_task_is_cancelled_natively_fails_with_its_cause(
    anyio_backend: str,
) -> None:
    if anyio_backend != "asyncio":
        pytest.skip("Task.cancel() is asyncio's")
    mgr = manager(1, propagate_map_exceptions=True)

    async def call(ext: Extension[Any]) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await anyio.lowlevel.checkpoint()

    async with hang_guard(GUARD):
        with pytest.raises(ExtensionErrorGroup) as info:
            await mgr.map(call)
    ((_, exc),) = info.value.failures
    assert isinstance(exc, RuntimeError), repr(exc)
    assert isinstance(exc.__cause__, asyncio.CancelledError)


@pytest.mark.skipif(
    sys.version_info < (3, 13), reason="uncancel() clears a pending cancel on 3.13+"
)
async def test_a_task_cancelled_then_uncancelled_before_it_starts_is_counted_once(
    anyio_backend: str,
) -> None:
    """On 3.13+ ``uncancel()`` back to zero lets a task cancelled before its first step
    run after all: its end is counted once, so the map still waits for every call."""
    if anyio_backend != "asyncio":
        pytest.skip("Task.uncancel() is asyncio's")
    mgr = manager(3)
    coros: dict[int, Any] = {}
    finished: list[int] = []

    async def body(ext: Extension[Any]) -> int:
        if index(ext) == 0:
            for task in asyncio.all_tasks():
                frame = getattr(task.get_coro(), "cr_frame", None)
                if frame is not None and coros[1] in frame.f_locals.values():
                    task.cancel()
                    task.uncancel()
        await anyio.sleep(0.02 * index(ext))
        finished.append(index(ext))
        return index(ext)

    def call(ext: Extension[Any]) -> Any:
        coros[index(ext)] = coro = body(ext)
        return coro

    with anyio.fail_after(GUARD):  # recorded at once: started by the loop, not eagerly
        values = await mgr.map(call)
    assert sorted(finished) == [0, 1, 2]
    assert values == [0, 1, 2]


async def test_a_threaded_call_sees_the_fan_outs_cancellation() -> None:
    """A call in a worker thread polling ``from_thread.check_cancelled()`` stops when
    ``fail_fast`` cancels the fan-out, with no deadline around the caller."""
    mgr = manager(3, fail_fast=True, propagate_map_exceptions=True, run_sync_in_thread=True)
    ran_out: list[int] = []

    def call(ext: Extension[Any]) -> int:
        if index(ext) == 0:
            time.sleep(0.05)
            raise ValueError("the first failure")
        until = time.monotonic() + GUARD / 2
        while time.monotonic() < until:
            anyio.from_thread.check_cancelled()
            time.sleep(0.005)
        ran_out.append(index(ext))
        return index(ext)

    async with hang_guard(GUARD):
        with pytest.raises(ExtensionErrorGroup) as info:
            await mgr.map(call)
    assert ran_out == []
    assert [ext.name for ext in info.value.cancelled] == ["p1", "p2"]


async def test_a_threaded_calls_async_work_is_cancelled_with_the_caller() -> None:
    mgr = manager(2, run_sync_in_thread=True)
    ran_out: list[int] = []

    def call(ext: Extension[Any]) -> int:
        anyio.from_thread.run(anyio.sleep, GUARD / 2)
        ran_out.append(index(ext))
        return index(ext)

    async with hang_guard(GUARD):
        with anyio.CancelScope() as outer:
            async with anyio.create_task_group() as tg:

                async def cancel_soon() -> None:
                    await anyio.sleep(0.05)
                    outer.cancel()

                tg.start_soon(cancel_soon)
                await mgr.map(call)
    assert outer.cancelled_caught
    assert ran_out == []


# On 3.12+, with no deadline around the caller, a call's task runs its first step eagerly,
# inside the map's own loop over the plugins: a call can end, or halt the fan-out, there.


@pytest.mark.parametrize("bounded", [False, True], ids=["unbounded", "bounded"])
async def test_a_halt_in_a_calls_first_step_leaves_the_caller_uncancelled(
    bounded: bool,
) -> None:
    mgr = manager(
        3, propagate_map_exceptions=True, fail_fast=True, max_concurrency=1 if bounded else None
    )

    async def call(ext: Extension[Any]) -> int:
        if index(ext) == 0:
            raise ValueError("fails before its first await")
        await anyio.sleep_forever()
        return 0

    reached = False
    async with hang_guard(GUARD):
        with pytest.raises(ExtensionErrorGroup) as info:
            await mgr.map(call)
        await anyio.lowlevel.checkpoint()  # the caller goes on: nothing cancelled it
        reached = True
    assert reached
    assert [ext.name for ext, _ in info.value.failures] == ["p0"]
    assert [ext.name for ext in info.value.cancelled] == ["p1", "p2"]


async def test_a_keyboardinterrupt_in_a_calls_first_step_leaves_no_cancellation() -> None:
    mgr = manager(2)

    async def call(ext: Extension[Any]) -> None:
        raise KeyboardInterrupt

    reached = False
    async with hang_guard(GUARD):
        with pytest.raises(KeyboardInterrupt):
            await mgr.map(call)
        await anyio.lowlevel.checkpoint()
        reached = True
    assert reached


async def test_a_loop_of_maps_whose_calls_never_suspend_can_be_cancelled() -> None:
    """However its calls end (in their first step, on 3.12+), a map passes a checkpoint:
    a loop of such maps neither starves the event loop nor hangs."""
    mgr = manager(3)

    async def call(ext: Extension[Any]) -> int:
        return index(ext)

    maps = 0
    async with hang_guard(GUARD):
        with anyio.CancelScope() as loop_scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_cancel_after, loop_scope, 0.02)
                while True:
                    await mgr.map(call)
                    maps += 1
    assert loop_scope.cancelled_caught
    assert maps > 0


# A plugin cancels a scope around the caller (not the fan-out's own) before its first
# await. Every call is inside that scope: none may pass a checkpoint afterwards.


@pytest.mark.parametrize("how", ["cancel", "deadline"])
async def test_a_scope_around_the_caller_cancelled_in_a_first_step_stops_every_call(
    how: str,
) -> None:
    mgr = manager(3)
    passed: list[int] = []

    async with hang_guard(GUARD):
        with anyio.CancelScope() as outer:

            async def call(ext: Extension[Any]) -> int:
                if index(ext) == 0:
                    if how == "cancel":
                        outer.cancel()
                    else:  # a deadline that has already passed: anyio cancels at once
                        outer.deadline = anyio.current_time() - 1
                await anyio.lowlevel.checkpoint()  # in a cancelled scope: raises
                passed.append(index(ext))
                await anyio.sleep_forever()
                return 0

            await mgr.map(call)
    assert outer.cancelled_caught
    assert passed == []


async def test_a_task_groups_scope_cancelled_in_a_first_step_stops_every_call() -> None:
    """The same with the scope of a task group the caller is a child of (hosted by
    another task: no uncancel bookkeeping for the caller)."""
    mgr = manager(3)
    passed: list[int] = []
    done: list[str] = []

    async with hang_guard(GUARD):
        async with anyio.create_task_group() as tg:

            async def call(ext: Extension[Any]) -> int:
                if index(ext) == 0:
                    tg.cancel_scope.cancel()
                await anyio.lowlevel.checkpoint()
                passed.append(index(ext))
                return index(ext)

            async def caller() -> None:
                try:
                    await mgr.map(call)
                    done.append("returned")
                except anyio.get_cancelled_exc_class():
                    done.append("cancelled")
                    raise

            tg.start_soon(caller)
    assert passed == []
    assert done == ["cancelled"]


# Nested: a plugin's first step runs another map, whose call cancels a scope the
# plugin opened around it. The inner siblings must not pass a checkpoint either.


async def test_a_scope_around_a_nested_map_cancelled_in_its_calls_first_step() -> None:
    outer_mgr = manager(1)
    inner_mgr = manager(3)
    passed: list[int] = []

    async def outer_call(ext: Extension[Any]) -> str:
        with anyio.CancelScope() as around:

            async def inner_call(ext: Extension[Any]) -> int:
                if index(ext) == 0:
                    around.cancel()
                await anyio.lowlevel.checkpoint()
                passed.append(index(ext))
                await anyio.sleep_forever()
                return 0

            await inner_mgr.map(inner_call)
        assert around.cancelled_caught
        return "after"

    async with hang_guard(GUARD):
        assert await outer_mgr.map(outer_call) == ["after"]
    assert passed == []


# fail_fast halting in a first step: which plugins get called must not depend on the
# Python version (3.11 and the generic path run the first steps in the loop).


async def test_which_plugins_are_called_after_a_fail_fast_halt_in_a_first_step() -> None:
    mgr = manager(3, propagate_map_exceptions=True, fail_fast=True)
    called: list[int] = []

    def call(ext: Extension[Any]) -> Any:
        called.append(index(ext))
        if index(ext) == 0:

            async def fails() -> int:
                raise ValueError("fails before its first await")

            return fails()
        return index(ext)  # a sync plugin: its value is known at once

    async with hang_guard(GUARD):
        with pytest.raises(ExtensionErrorGroup) as info:
            await mgr.map(call)
    assert called == [0, 1, 2]
    assert [ext.name for ext, _ in info.value.results] == ["p1", "p2"]
    assert info.value.cancelled == []


async def test_which_async_plugins_start_after_a_fail_fast_halt_in_a_first_step() -> None:
    """The same with async siblings: on 3.11 and the generic path each is called and runs
    up to its first await (then is cancelled); on 3.12+ they are never called."""
    mgr = manager(3, propagate_map_exceptions=True, fail_fast=True)
    started: list[int] = []

    async def call(ext: Extension[Any]) -> int:
        started.append(index(ext))
        if index(ext) == 0:
            raise ValueError("fails before its first await")
        await anyio.sleep_forever()
        return 0

    async with hang_guard(GUARD):
        with pytest.raises(ExtensionErrorGroup) as info:
            await mgr.map(call)
    assert [ext.name for ext in info.value.cancelled] == ["p1", "p2"]
    assert sorted(started) == [0, 1, 2]  # trio runs them in any order


# The checkpoint contract, for maps whose calls all end in their first step.


@pytest.mark.parametrize(
    "options", [{}, {"max_concurrency": 1}, {"fail_fast": True}], ids=["plain", "bounded", "ff"]
)
async def test_a_map_ending_in_first_steps_lets_other_tasks_run(options: dict[str, Any]) -> None:
    mgr = manager(3, **options)
    ran = False

    async def call(ext: Extension[Any]) -> int:
        if options.get("fail_fast") and index(ext) == 0:
            raise ValueError("halts")
        return index(ext)

    async def other() -> None:
        nonlocal ran
        ran = True

    async with hang_guard(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
            await mgr.map(call)
            assert ran


async def _cancel_after(scope: anyio.CancelScope, delay: float) -> None:
    await anyio.sleep(delay)
    scope.cancel()


@pytest.mark.parametrize("n", [3, 1001])
async def test_which_fan_outs_start_their_calls_eagerly(
    anyio_backend: str, fanout_path: str, n: int
) -> None:
    """On 3.12+ asyncio's native path, up to 1,000 calls start eagerly: the first call's
    first step runs before the second call is made; larger fan-outs (where eager start
    costs more than it saves) and every other path make all the calls first."""
    mgr = manager(n)
    made = 0
    seen: list[int] = []

    async def body(ext: Extension[Any]) -> None:
        if not seen:
            seen.append(made)
        await anyio.lowlevel.checkpoint()

    def call(ext: Extension[Any]) -> Any:
        nonlocal made
        made += 1
        return body(ext)

    async with hang_guard(GUARD):
        await mgr.map(call)
    eager = (
        anyio_backend == "asyncio"
        and fanout_path == "native"
        and sys.version_info >= (3, 12)
        and n <= 1000
    )
    assert seen == [1 if eager else n]


async def test_a_loop_with_a_task_factory_gets_the_generic_shape(anyio_backend: str) -> None:
    """A task factory may run a task's first step inside create_task (3.12's eager one),
    before the native shape could register it: such loops use anyio's task group, and a
    plugin's own cancel scopes and a per-call timeout work there."""
    if anyio_backend != "asyncio":
        pytest.skip("task factories are asyncio's")
    loop = asyncio.get_running_loop()
    eager = getattr(asyncio, "eager_task_factory", None)
    if eager is not None:
        loop.set_task_factory(eager)
    else:
        loop.set_task_factory(lambda loop, coro, **kwds: asyncio.Task(coro, loop=loop, **kwds))
    try:
        assert _fanout._native_group() is _fanout._generic_group  # on either path
        mgr = ExtensionManager[Any].make_test_instance(
            [Extension(f"e{i}", None, object, i) for i in range(3)],
            timeout=5,
            propagate_map_exceptions=True,
        )

        async def scoped(ext: Extension[Any]) -> Any:
            with anyio.CancelScope(shield=True):
                await anyio.lowlevel.checkpoint()
            return ext.obj

        assert await mgr.map(scoped) == [0, 1, 2]
    finally:
        loop.set_task_factory(None)


def test_the_engine_imports_neither_trio_nor_anyios_asyncio_backend() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from longshoreman import ExtensionManager; import longshoreman._fanout; "
        "print(sorted(m for m in ('trio', 'anyio._backends._asyncio') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
