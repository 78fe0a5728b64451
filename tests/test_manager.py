"""ExtensionManager's lifecycle against real entry points (``fake_env`` distributions)."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import anyio
import pytest

from longshoreman import (
    EntryPoint,
    Extension,
    ExtensionErrorGroup,
    ExtensionManager,
    NoMatches,
    RequirementError,
)

from .conftest import FakeEnv

NS = "ls.test"
GUARD = 5

PLUGINS = """
import contextlib
import threading

import anyio

EVENTS = []
CALLS = []
FACTORY_ERROR = ValueError("factory failed")
BARRIER = {"n": 0, "arrived": 0, "event": None}


class Plain:
    def __init__(self, *args, **kwds):
        CALLS.append(("Plain", args, kwds, threading.get_ident()))
        self.args = args
        self.kwds = kwds

    def ping(self):
        return ("plain", self.args)

    async def aping(self, suffix=""):
        await anyio.sleep(0)
        return "pong" + suffix


class Other(Plain):
    pass


async def make_async(*args, **kwds):
    await anyio.sleep(0)
    return Plain(*args, **kwds)


def fails(*args, **kwds):
    raise FACTORY_ERROR


def asserts(*args, **kwds):
    raise AssertionError("a bug in the plugin")


async def hangs(*args, **kwds):
    await anyio.sleep_forever()


async def together(*args, **kwds):
    # every plugin using this factory must be running before any returns
    if BARRIER["event"] is None:
        BARRIER["event"] = anyio.Event()
    BARRIER["arrived"] += 1
    if BARRIER["arrived"] == BARRIER["n"]:
        BARRIER["event"].set()
    await BARRIER["event"].wait()
    return Plain(BARRIER["arrived"])


async def spontaneous(*args, **kwds):
    with anyio.CancelScope() as scope:
        scope.cancel()
        try:
            await anyio.sleep(1)
        except anyio.get_cancelled_exc_class() as exc:
            caught = exc
    raise caught


async def agen(*args, **kwds):
    yield Plain()


@contextlib.asynccontextmanager
async def pool(name, fail_exit=False, hang_exit=False):
    # a plugin that keeps a task group open for the manager's lifetime
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.sleep_forever)
        EVENTS.append(("enter", name, anyio.get_current_task().id))
        try:
            yield Plain(name)
        finally:
            EVENTS.append(("exit-start", name, anyio.get_current_task().id))
            await anyio.sleep(0)
            tg.cancel_scope.cancel()
            EVENTS.append(("exit-end", name, anyio.get_current_task().id))
    if hang_exit:
        await anyio.sleep_forever()
    if fail_exit:
        raise OSError(f"exit {name} failed")


def pool_a():
    return pool("a")


def pool_b():
    return pool("b")


def pool_c():
    return pool("c")


def pool_bad_b():
    return pool("b", fail_exit=True)


def pool_bad_c():
    return pool("c", fail_exit=True)


def pool_hang():
    return pool("h", hang_exit=True)


class Resource:
    def __init__(self, *args):
        self.exit_args = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        self.exit_args = exc_info
        EVENTS.append(("resource-exit", exc_info[0]))


async def async_resource():
    await anyio.sleep(0)
    return Resource()


class SlowEnter:
    async def __aenter__(self):
        await anyio.sleep_forever()

    async def __aexit__(self, *exc_info):
        EVENTS.append(("slow-exit",))


class FailingEnter:
    async def __aenter__(self):
        raise LookupError("cannot connect")

    async def __aexit__(self, *exc_info):
        EVENTS.append(("failing-exit",))
"""


@pytest.fixture
def plugins(fake_env: FakeEnv) -> Iterator[Callable[..., ModuleType]]:
    """``install({name: attr}, dist=..., requires=...)`` → the imported plugin module."""
    fake_env.module("lsplug", PLUGINS)
    count = 0

    def install(
        entries: dict[str, str],
        *,
        dist: str | None = None,
        requires: list[str] | None = None,
        version: str = "1.0",
    ) -> ModuleType:
        nonlocal count
        count += 1
        values = {name: (v if ":" in v else f"lsplug:{v}") for name, v in entries.items()}
        fake_env.dist(dist or f"plugs{count}", version, {NS: values}, requires=requires)
        import lsplug  # type: ignore[import-not-found]

        module: ModuleType = lsplug
        return module

    yield install
    sys.modules.pop("lsplug", None)


Failures = list[tuple[EntryPoint, Exception]]


def recorder() -> tuple[Failures, Callable[[ExtensionManager[Any], EntryPoint, Exception], None]]:
    seen: Failures = []

    def callback(mgr: ExtensionManager[Any], ep: EntryPoint, exc: Exception) -> None:
        assert isinstance(mgr, ExtensionManager)
        seen.append((ep, exc))

    return seen, callback


# -- construction ------------------------------------------------------------------------


def test_constructor_discovers_and_imports_synchronously(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({"one": "Plain", "two": "make_async"})
    mgr: ExtensionManager[Any] = ExtensionManager(NS)
    assert mgr.names() == ["one", "two"]
    assert [ext.plugin for ext in mgr] == [mod.Plain, mod.make_async]
    assert all(ext.obj is None for ext in mgr)
    assert mod.CALLS == []  # nothing invoked
    assert [ext.entry_point.value for ext in mgr if ext.entry_point] == [
        "lsplug:Plain",
        "lsplug:make_async",
    ]


async def test_a_manager_that_does_not_invoke_is_ready_at_once(
    plugins: Callable[..., ModuleType],
) -> None:
    plugins({"one": "Plain"})
    mgr: ExtensionManager[Any] = ExtensionManager(NS)
    assert await mgr.map(lambda ext: ext.name) == ["one"]
    assert await mgr is mgr


async def test_constructor_follows_stevedores_positional_order(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({"one": "Plain"})
    seen, callback = recorder()
    mgr: ExtensionManager[Any] = ExtensionManager(
        NS, True, (1, 2), {"k": "v"}, True, callback, False
    )
    await mgr
    assert mod.CALLS[0][1:3] == ((1, 2), {"k": "v"})
    assert mgr.propagate_map_exceptions is True
    assert seen == []


def test_an_empty_namespace_gives_an_empty_manager(fake_env: FakeEnv) -> None:
    mgr: ExtensionManager[Any] = ExtensionManager("ls.nothing.here")
    assert len(mgr) == 0
    assert mgr.names() == []


async def test_map_on_an_empty_namespace_raises_no_matches(fake_env: FakeEnv) -> None:
    mgr: ExtensionManager[Any] = ExtensionManager("ls.nothing.here")
    with pytest.raises(NoMatches, match=r"^No ls\.nothing\.here extensions found$"):
        await mgr.map_method("ping")


# -- load failures -----------------------------------------------------------------------


def test_import_failures_go_to_the_callback_with_the_original_exception(
    plugins: Callable[..., ModuleType], fake_env: FakeEnv
) -> None:
    fake_env.module("lsbroken", "raise ImportError('no such backend library')\n")
    plugins({"good": "Plain", "broken": "lsbroken:thing", "missing": "Nope"})
    seen, callback = recorder()
    mgr: ExtensionManager[Any] = ExtensionManager(NS, on_load_failure_callback=callback)
    assert mgr.names() == ["good"]
    assert [(ep.name, type(exc).__name__, str(exc)) for ep, exc in seen] == [
        ("broken", "ImportError", "no such backend library"),
        ("missing", "AttributeError", "module 'lsplug' has no attribute 'Nope'"),
    ]


def test_load_failures_are_logged_with_a_traceback_without_a_callback(
    plugins: Callable[..., ModuleType], caplog: pytest.LogCaptureFixture
) -> None:
    plugins({"good": "Plain", "missing": "Nope"})
    with caplog.at_level(logging.ERROR, logger="longshoreman"):
        mgr: ExtensionManager[Any] = ExtensionManager(NS)
    assert mgr.names() == ["good"]
    [record] = caplog.records
    assert record.getMessage() == (
        "Could not load extension 'missing' (lsplug:Nope) from plugs1 1.0 of 'ls.test' "
        "(import failed): AttributeError: module 'lsplug' has no attribute 'Nope'"
    )
    assert record.exc_info is not None
    assert record.exc_info[0] is AttributeError


def test_a_malformed_entry_point_is_a_load_failure(
    plugins: Callable[..., ModuleType],
) -> None:
    plugins({"good": "Plain", "bad": "not a valid:value!"})
    seen, callback = recorder()
    mgr: ExtensionManager[Any] = ExtensionManager(NS, on_load_failure_callback=callback)
    assert mgr.names() == ["good"]
    [(ep, exc)] = seen
    assert ep.name == "bad"
    assert isinstance(exc, ValueError)
    assert "malformed entry point value" in str(exc)


def test_assertion_error_at_import_propagates(
    plugins: Callable[..., ModuleType], fake_env: FakeEnv
) -> None:
    fake_env.module("lsassert", "assert False, 'broken invariant'\n")
    plugins({"a": "lsassert:x"})
    with pytest.raises(AssertionError, match="broken invariant"):
        ExtensionManager(NS)


async def test_factory_failures_are_load_failures_and_others_stay(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({"a": "Plain", "b": "fails", "c": "make_async"})
    seen, callback = recorder()
    mgr = await ExtensionManager[Any](NS, invoke_on_load=True, on_load_failure_callback=callback)
    assert mgr.names() == ["a", "c"]
    assert [(ep.name, exc) for ep, exc in seen] == [("b", mod.FACTORY_ERROR)]


async def test_assertion_error_while_invoking_propagates(
    plugins: Callable[..., ModuleType],
) -> None:
    plugins({"a": "Plain", "b": "asserts"})
    mgr: ExtensionManager[Any] = ExtensionManager(NS, invoke_on_load=True)
    with pytest.raises(AssertionError, match="a bug in the plugin"):
        await mgr
    with pytest.raises(RuntimeError, match="await"):
        await mgr.map_method("ping")


@pytest.mark.parametrize("fatal", [KeyboardInterrupt, SystemExit])
def test_base_exceptions_from_a_factory_propagate_unwrapped(
    plugins: Callable[..., ModuleType],
    fake_env: FakeEnv,
    anyio_backend: str,
    fatal: type[BaseException],
) -> None:
    fake_env.module(
        "lsfatal",
        "import anyio\n"
        "async def boom():\n"
        "    await anyio.sleep(0)\n"
        f"    raise {fatal.__name__}('x')\n",
    )
    plugins({"a": "Plain", "b": "lsfatal:boom", "c": "hangs"})

    async def main() -> None:
        await ExtensionManager[Any](NS, invoke_on_load=True)

    with pytest.raises(fatal, match="x"):
        anyio.run(main, backend=anyio_backend)


async def test_a_spontaneous_cancellation_in_a_factory_is_a_load_failure(
    plugins: Callable[..., ModuleType],
) -> None:
    plugins({"a": "Plain", "b": "spontaneous"})
    seen, callback = recorder()
    mgr = await ExtensionManager[Any](NS, invoke_on_load=True, on_load_failure_callback=callback)
    assert mgr.names() == ["a"]
    [(ep, exc)] = seen
    assert ep.name == "b"
    assert isinstance(exc, RuntimeError)
    assert isinstance(exc.__cause__, anyio.get_cancelled_exc_class())


async def test_an_async_generator_factory_is_refused_helpfully(
    plugins: Callable[..., ModuleType],
) -> None:
    plugins({"a": "Plain", "gen": "agen"})
    seen, callback = recorder()
    async with ExtensionManager[Any](
        NS, invoke_on_load=True, on_load_failure_callback=callback
    ) as mgr:
        assert mgr.names() == ["a"]
    [(ep, exc)] = seen
    assert ep.name == "gen"
    assert isinstance(exc, TypeError)
    assert "lsplug:agen is an async generator function" in str(exc)
    assert "@contextlib.asynccontextmanager" in str(exc)


# -- verify_requirements -----------------------------------------------------------------


def test_verify_requirements_names_a_missing_requirement(
    plugins: Callable[..., ModuleType],
) -> None:
    plugins({"ok": "Plain"}, dist="fine")
    plugins({"needy": "Other"}, dist="needy", requires=["surely-not-installed-lib>=1.0"])
    seen, callback = recorder()
    mgr: ExtensionManager[Any] = ExtensionManager(
        NS, on_load_failure_callback=callback, verify_requirements=True
    )
    assert mgr.names() == ["ok"]
    [(ep, exc)] = seen
    assert ep.name == "needy"
    assert isinstance(exc, RequirementError)
    assert exc.requirement == "surely-not-installed-lib>=1.0"
    assert exc.distribution == "needy"
    assert str(exc) == (
        "needy 1.0 (entry point 'needy' = 'lsplug:Other') requires "
        "'surely-not-installed-lib>=1.0', which is not installed"
    )


def test_verify_requirements_checks_versions(
    plugins: Callable[..., ModuleType], fake_env: FakeEnv
) -> None:
    fake_env.dist("helper-lib", "1.2")
    plugins({"satisfied": "Plain"}, dist="d1", requires=["helper-lib>=1.0", "anyio>=4"])
    plugins({"too-old": "Other"}, dist="d2", requires=["helper-lib>=2"])
    plugins({"not-mine": "Other"}, dist="d3", requires=['nothing-here; python_version < "3"'])
    seen, callback = recorder()
    mgr: ExtensionManager[Any] = ExtensionManager(
        NS, on_load_failure_callback=callback, verify_requirements=True
    )
    assert mgr.names() == ["satisfied", "not-mine"]
    [(_, exc)] = seen
    assert isinstance(exc, RequirementError)
    assert exc.requirement == "helper-lib>=2"
    assert str(exc).endswith("requires 'helper-lib>=2', but 1.2 is installed")


def test_verify_requirements_includes_the_entry_points_extras(
    plugins: Callable[..., ModuleType],
) -> None:
    plugins(
        {"plain": "Plain", "fancy": "lsplug:Other [Fancy]"},
        dist="extras-dist",
        requires=['missing-fancy-lib; extra == "fancy"'],
    )
    seen, callback = recorder()
    mgr: ExtensionManager[Any] = ExtensionManager(
        NS, on_load_failure_callback=callback, verify_requirements=True
    )
    assert mgr.names() == ["plain"]
    [(ep, exc)] = seen
    assert ep.name == "fancy"
    assert isinstance(exc, RequirementError)
    assert exc.requirement == 'missing-fancy-lib; extra == "fancy"'


def test_requirements_are_not_checked_by_default(plugins: Callable[..., ModuleType]) -> None:
    plugins({"needy": "Plain"}, requires=["surely-not-installed-lib"])
    assert ExtensionManager[Any](NS).names() == ["needy"]


def test_verify_requirements_happens_before_importing(
    plugins: Callable[..., ModuleType], fake_env: FakeEnv
) -> None:
    fake_env.module("lsneverimported", "raise RuntimeError('must not be imported')\n")
    plugins({"x": "lsneverimported:y"}, requires=["surely-not-installed-lib"])
    seen, callback = recorder()
    ExtensionManager[Any](NS, on_load_failure_callback=callback, verify_requirements=True)
    assert [type(exc) for _, exc in seen] == [RequirementError]
    assert "lsneverimported" not in sys.modules


# -- invoke_on_load: await ---------------------------------------------------------------


async def test_map_before_await_is_a_runtime_error(plugins: Callable[..., ModuleType]) -> None:
    plugins({"a": "Plain"})
    mgr: ExtensionManager[Any] = ExtensionManager(NS, invoke_on_load=True)
    with pytest.raises(RuntimeError, match=r"invokes its plugins on load: `await` it"):
        await mgr.map_method("ping")
    with pytest.raises(RuntimeError, match=r"ExtensionManager\('ls.test'\)"):
        await mgr.map(lambda ext: None)


async def test_await_invokes_every_plugin_and_is_idempotent(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({"a": "Plain", "b": "make_async"})
    mgr: ExtensionManager[Any] = ExtensionManager(
        NS, invoke_on_load=True, invoke_args=("cfg",), invoke_kwds={"debug": True}
    )
    assert await mgr is mgr
    assert await mgr is mgr
    assert [c[0:3] for c in mod.CALLS] == [
        ("Plain", ("cfg",), {"debug": True}),
        ("Plain", ("cfg",), {"debug": True}),
    ]
    assert [type(ext.obj) for ext in mgr] == [mod.Plain, mod.Plain]
    assert await mgr.map_method("ping") == [("plain", ("cfg",)), ("plain", ("cfg",))]
    assert await mgr.map_method("aping", "!") == ["pong!", "pong!"]


async def test_concurrent_awaits_invoke_once(plugins: Callable[..., ModuleType]) -> None:
    mod = plugins({"a": "make_async"})
    mgr: ExtensionManager[Any] = ExtensionManager(NS, invoke_on_load=True)

    async def wait() -> None:
        assert await mgr is mgr

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(wait)
    assert len(mod.CALLS) == 1


async def test_plugins_are_invoked_concurrently(plugins: Callable[..., ModuleType]) -> None:
    mod = plugins({f"p{i}": "together" for i in range(5)})
    mod.BARRIER["n"] = 5
    with anyio.fail_after(GUARD):
        mgr = await ExtensionManager[Any](NS, invoke_on_load=True)
    assert len(mgr) == 5


async def test_extension_order_is_discovery_order(plugins: Callable[..., ModuleType]) -> None:
    # b (an async factory) finishes last; a and c return inline
    plugins({"b": "make_async", "a": "Plain", "c": "Plain"})
    mgr = await ExtensionManager[Any](NS, invoke_on_load=True)
    assert mgr.names() == ["b", "a", "c"]


async def test_max_concurrency_applies_to_invocation(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({f"p{i}": "together" for i in range(4)})
    mod.BARRIER["n"] = 4
    seen, callback = recorder()
    # Two at a time: p0 and p1 wait at the barrier until they time out; only then do
    # p2 and p3 start, and complete the barrier (4 arrivals).
    mgr = await ExtensionManager[Any](
        NS,
        invoke_on_load=True,
        max_concurrency=2,
        timeout=0.05,
        on_load_failure_callback=callback,
    )
    assert mgr.names() == ["p2", "p3"]
    assert [(ep.name, type(exc)) for ep, exc in seen] == [
        ("p0", TimeoutError),
        ("p1", TimeoutError),
    ]


async def test_timeout_applies_to_invocation(plugins: Callable[..., ModuleType]) -> None:
    plugins({"a": "Plain", "slow": "hangs"})
    seen, callback = recorder()
    with anyio.fail_after(GUARD):
        mgr = await ExtensionManager[Any](
            NS, invoke_on_load=True, timeout=0.02, on_load_failure_callback=callback
        )
    assert mgr.names() == ["a"]
    assert [(ep.name, type(exc)) for ep, exc in seen] == [("slow", TimeoutError)]


async def test_run_sync_in_thread_applies_to_invocation(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({"a": "Plain", "b": "make_async"})
    await ExtensionManager[Any](NS, invoke_on_load=True, run_sync_in_thread=True)
    # the class ran in a worker thread; the coroutine function's Plain(), on the loop
    on_loop = sorted(call[3] == threading.get_ident() for call in mod.CALLS)
    assert on_loop == [False, True]


async def test_caller_cancellation_while_invoking_propagates(
    plugins: Callable[..., ModuleType],
) -> None:
    plugins({"a": "Plain", "slow": "hangs"})
    mgr: ExtensionManager[Any] = ExtensionManager(NS, invoke_on_load=True)
    tasks = len(anyio.get_running_tasks())
    with anyio.move_on_after(0.02) as scope:
        await mgr
    assert scope.cancelled_caught
    assert len(anyio.get_running_tasks()) == tasks
    with pytest.raises(RuntimeError, match="await"):
        await mgr.map_method("ping")


async def test_an_async_context_manager_under_await_is_a_load_failure(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({"a": "Plain", "res": "Resource", "later": "async_resource"})
    seen, callback = recorder()
    mgr = await ExtensionManager[Any](NS, invoke_on_load=True, on_load_failure_callback=callback)
    assert mgr.names() == ["a"]
    assert [ep.name for ep, _ in seen] == ["res", "later"]
    for _, exc in seen:
        assert isinstance(exc, TypeError)
        assert "use `async with manager`" in str(exc)
    assert "lsplug:Resource produced an async context manager (Resource)" in str(seen[0][1])
    assert mod.EVENTS == []


# -- invoke_on_load: async with and context manager plugins ------------------------------


async def test_context_manager_plugins_are_entered_and_exited_in_reverse_order(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({"a": "pool_a", "plain": "Plain", "b": "pool_b", "c": "pool_c"})
    me = anyio.get_current_task().id
    async with ExtensionManager[Any](NS, invoke_on_load=True) as mgr:
        assert mgr.names() == ["a", "plain", "b", "c"]
        assert [getattr(ext.obj, "args", None) for ext in mgr] == [("a",), (), ("b",), ("c",)]
        assert await mgr.map_method("aping") == ["pong"] * 4
        assert sorted(e[1] for e in mod.EVENTS) == ["a", "b", "c"]
    exits = [e[:2] for e in mod.EVENTS if e[0] != "enter"]
    assert exits == [
        ("exit-start", "c"),
        ("exit-end", "c"),
        ("exit-start", "b"),
        ("exit-end", "b"),
        ("exit-start", "a"),
        ("exit-end", "a"),
    ]
    tasks: dict[str, set[int]] = {}
    for _, name, task in mod.EVENTS:
        tasks.setdefault(name, set()).add(task)
    # entered and exited in one task per plugin, none of them the caller's
    assert all(len(ids) == 1 for ids in tasks.values())
    assert len({next(iter(ids)) for ids in tasks.values()} | {me}) == 4
    with pytest.raises(RuntimeError, match="is closed"):
        await mgr.map_method("ping")


async def test_exit_errors_are_grouped_even_a_single_one(
    plugins: Callable[..., ModuleType],
) -> None:
    plugins({"a": "pool_a", "b": "pool_bad_b"})
    with pytest.RaisesGroup(pytest.RaisesExc(OSError, match="exit b failed")) as info:
        async with ExtensionManager[Any](NS, invoke_on_load=True):
            pass
    group = info.value
    assert isinstance(group, ExtensionErrorGroup)
    assert str(group) == "1 'ls.test' extension(s) failed to exit (1 sub-exception)"
    assert [ext.name for ext, _ in group.failures] == ["b"]
    assert group.exceptions[0].__notes__ == ["raised by extension 'b' (lsplug:pool_bad_b)"]


async def test_every_plugin_is_exited_even_when_some_exits_fail(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({"a": "pool_a", "b": "pool_bad_b", "c": "pool_bad_c"})
    with pytest.raises(ExtensionErrorGroup) as info:
        async with ExtensionManager[Any](NS, invoke_on_load=True):
            pass
    assert [ext.name for ext, _ in info.value.failures] == ["b", "c"]
    assert [str(exc) for exc in info.value.exceptions] == ["exit b failed", "exit c failed"]
    assert [e[1] for e in mod.EVENTS if e[0] == "exit-end"] == ["c", "b", "a"]


async def test_an_error_in_the_body_propagates_and_plugins_exit_cleanly(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({"res": "Resource", "a": "pool_a"})
    with pytest.raises(ZeroDivisionError):
        async with ExtensionManager[Any](NS, invoke_on_load=True) as mgr:
            _ = 1 / 0
    assert getattr(mgr["res"].obj, "exit_args", None) == (None, None, None)
    assert [e[0] for e in mod.EVENTS if e[0] != "enter"] == [
        "exit-start",
        "exit-end",
        "resource-exit",
    ]


async def test_exit_errors_after_an_error_in_the_body_keep_it_as_context(
    plugins: Callable[..., ModuleType],
) -> None:
    plugins({"b": "pool_bad_b"})
    with pytest.raises(ExtensionErrorGroup) as info:
        async with ExtensionManager[Any](NS, invoke_on_load=True):
            raise KeyError("body")
    assert isinstance(info.value.__context__, KeyError)


async def test_cancelling_the_body_still_exits_plugins_in_order(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({"a": "pool_a", "b": "pool_b"})
    with anyio.fail_after(GUARD), anyio.CancelScope() as scope:
        async with ExtensionManager[Any](NS, invoke_on_load=True):
            # cancelled from inside the body: entering has finished, however slow the
            # machine (a deadline could fire before it had)
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert [e[:2] for e in mod.EVENTS if e[0] == "exit-end"] == [
        ("exit-end", "b"),
        ("exit-end", "a"),
    ]


async def test_timeout_bounds_a_plugins_exit(plugins: Callable[..., ModuleType]) -> None:
    mod = plugins({"h": "pool_hang", "a": "pool_a"})
    with anyio.fail_after(GUARD), pytest.raises(ExtensionErrorGroup) as info:
        async with ExtensionManager[Any](NS, invoke_on_load=True, timeout=0.05):
            pass
    [(ext, exc)] = info.value.failures
    assert ext.name == "h"
    assert isinstance(exc, TimeoutError)
    assert [e[1] for e in mod.EVENTS if e[0] == "exit-end"] == ["a", "h"]


async def test_entering_failures_and_timeouts_are_load_failures(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({"a": "pool_a", "slow": "SlowEnter", "bad": "FailingEnter"})
    seen, callback = recorder()
    tasks = len(anyio.get_running_tasks())
    with anyio.fail_after(GUARD):
        async with ExtensionManager[Any](
            NS, invoke_on_load=True, timeout=0.05, on_load_failure_callback=callback
        ) as mgr:
            assert mgr.names() == ["a"]
    assert [(ep.name, type(exc)) for ep, exc in seen] == [
        ("slow", TimeoutError),
        ("bad", LookupError),
    ]
    assert str(seen[1][1]) == "cannot connect"
    assert ("slow-exit",) not in mod.EVENTS
    assert ("failing-exit",) not in mod.EVENTS
    assert len(anyio.get_running_tasks()) == tasks


async def test_a_failed_start_exits_the_plugins_already_entered(
    plugins: Callable[..., ModuleType],
) -> None:
    mod = plugins({"a": "pool_a", "b": "asserts"})
    with pytest.raises(AssertionError):
        async with ExtensionManager[Any](NS, invoke_on_load=True):
            raise AssertionError("body must not run")
    assert [e[:2] for e in mod.EVENTS] == [
        ("enter", "a"),
        ("exit-start", "a"),
        ("exit-end", "a"),
    ]


async def test_async_with_on_a_manager_that_does_not_invoke(
    plugins: Callable[..., ModuleType],
) -> None:
    plugins({"a": "Plain"})
    async with ExtensionManager[Any](NS) as mgr:
        assert await mgr.map(lambda ext: ext.name) == ["a"]
    with pytest.raises(RuntimeError, match=r"ExtensionManager\('ls.test'\) is closed"):
        await mgr.map(lambda ext: ext.name)


async def test_close_is_idempotent_and_final(plugins: Callable[..., ModuleType]) -> None:
    plugins({"a": "Plain"})
    mgr = await ExtensionManager[Any](NS, invoke_on_load=True)
    await mgr.aclose()
    await mgr.aclose()
    with pytest.raises(RuntimeError, match="is closed"):
        await mgr
    with pytest.raises(RuntimeError, match="is closed"):
        await mgr.map_method("ping")
    with pytest.raises(RuntimeError, match="is closed"):
        async with mgr:
            pass
    assert mgr.names() == ["a"]  # still inspectable


async def test_async_with_cannot_be_nested(plugins: Callable[..., ModuleType]) -> None:
    plugins({"a": "Plain"})
    async with ExtensionManager[Any](NS, invoke_on_load=True) as mgr:
        with pytest.raises(RuntimeError, match="already being used by an `async with`"):
            async with mgr:
                pass
        assert await mgr is mgr


# -- subclass hooks ----------------------------------------------------------------------


async def test_subclasses_choose_entry_points_before_importing(
    plugins: Callable[..., ModuleType], fake_env: FakeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    fake_env.module("lsexplodes", "raise RuntimeError('imported')\n")
    plugins({"a": "Plain", "boom": "lsexplodes:x", "b": "Other"})

    class Only(ExtensionManager[Any]):
        def _entry_points_to_load(self) -> list[EntryPoint]:
            return [ep for ep in super()._entry_points_to_load() if ep.name != "boom"]

    mgr = Only(NS)
    assert mgr.names() == ["a", "b"]
    assert "lsexplodes" not in sys.modules
    assert caplog.records == []
    assert mgr.entry_points_names() == ["a", "boom", "b"]


@pytest.mark.parametrize("invoke", [False, True])
async def test_subclasses_check_extensions_after_loading_or_invoking(
    plugins: Callable[..., ModuleType], invoke: bool
) -> None:
    plugins({"a": "Plain", "b": "Other", "c": "make_async"})
    seen, callback = recorder()
    checked: list[tuple[str, bool]] = []

    class Checked(ExtensionManager[Any]):
        def _check_extension(self, ext: Extension[Any]) -> bool:
            checked.append((ext.name, ext.obj is not None))
            if ext.name == "c":
                raise ValueError("check failed")
            return ext.name != "b"

    mgr = await Checked(NS, invoke_on_load=invoke, on_load_failure_callback=callback)
    assert mgr.names() == ["a"]
    assert checked == [("a", invoke), ("b", invoke), ("c", invoke)]
    assert [(ep.name, str(exc)) for ep, exc in seen] == [("c", "check failed")]


# -- container protocol ------------------------------------------------------------------


def test_container_protocol(plugins: Callable[..., ModuleType]) -> None:
    mod = plugins({"a": "Plain", "b": "Other", "broken": "Nope"})
    mgr: ExtensionManager[Any] = ExtensionManager(NS, on_load_failure_callback=recorder()[1])
    assert mgr.namespace == NS
    assert len(mgr) == 2
    assert [ext.name for ext in mgr] == ["a", "b"]
    assert mgr.extensions == list(mgr)
    assert "a" in mgr
    assert "broken" not in mgr
    assert mgr["b"].plugin is mod.Other
    with pytest.raises(KeyError):
        mgr["broken"]
    assert [(name, ext.plugin) for name, ext in mgr.items()] == [
        ("a", mod.Plain),
        ("b", mod.Other),
    ]
    assert mgr.names() == ["a", "b"]
    assert mgr.entry_points_names() == ["a", "b", "broken"]
    eps = mgr.list_entry_points()
    assert isinstance(eps, list)
    assert [(ep.name, ep.value, ep.group) for ep in eps] == [
        ("a", "lsplug:Plain", NS),
        ("b", "lsplug:Other", NS),
        ("broken", "lsplug:Nope", NS),
    ]
    assert repr(mgr) == "ExtensionManager('ls.test')"


def test_getitem_resolves_over_all_same_named_extensions(
    plugins: Callable[..., ModuleType], caplog: pytest.LogCaptureFixture
) -> None:
    mod = plugins({"dup": "Plain", "other": "make_async"}, dist="first-dist")
    plugins({"dup": "Other"}, dist="second-dist", version="2.0")
    mgr: ExtensionManager[Any] = ExtensionManager(NS)
    assert mgr.names() == ["dup", "other", "dup"]  # not adjacent
    with caplog.at_level(logging.WARNING, logger="longshoreman"):
        assert mgr["dup"].plugin is mod.Plain  # the first discovered wins
        assert mgr["dup"].plugin is mod.Plain
    [record] = caplog.records  # resolved once, not on every lookup
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "multiple implementations found for the 'dup' command in ls.test namespace: "
        "lsplug:Plain (first-dist 1.0), lsplug:Other (second-dist 2.0); using the first one"
    )


def test_make_test_instance_builds_a_ready_manager() -> None:
    exts: list[Extension[Any]] = [Extension("x", None, dict, {"a": 1})]
    mgr = ExtensionManager[Any].make_test_instance(exts)
    assert mgr.namespace == "TESTING"
    assert mgr.extensions == exts
    assert mgr.propagate_map_exceptions is False
    assert anyio.run(mgr.map_method, "get", "a") == [1]
