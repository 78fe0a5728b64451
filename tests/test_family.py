"""The manager family (SPEC §6): Named, Enabled, Dispatch, NameDispatch, Driver, Hook,
and conflict resolution, each against real fake distributions."""

from __future__ import annotations

import logging
import sys
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from longshoreman import (
    DispatchExtensionManager,
    DriverManager,
    EnabledExtensionManager,
    EntryPoint,
    Extension,
    HookManager,
    MultipleMatches,
    NamedExtensionManager,
    NameDispatchExtensionManager,
    NoMatches,
    error_on_conflict,
    ignore_conflicts,
)
from longshoreman.testing import make_extension

from .conftest import FakeEnv
from .test_discovery import warnings_of

NS = "family.plugins"

PLUGINS = """
import anyio

class Plugin:
    def __init__(self, label="plain"):
        self.label = label

    def describe(self, suffix=""):
        return f"{type(self).__name__}:{self.label}{suffix}"

    async def adescribe(self, suffix=""):
        await anyio.sleep(0)
        return self.describe(suffix)

class Alpha(Plugin):
    pass

class Beta(Plugin):
    pass

class Gamma(Plugin):
    pass

def function_plugin():
    return "from a function"

instance_plugin = Plugin("instance")

def zero():
    return 0

def nothing():
    return None

async def async_factory(label="async"):
    await anyio.sleep(0)
    return Plugin(label)

def broken_factory(*args):
    raise ValueError("factory refused")
"""


@pytest.fixture
def env(fake_env: FakeEnv) -> FakeEnv:
    fake_env.module("famplug", PLUGINS)
    fake_env.module("fam_broken", "raise ImportError('fam_broken cannot be imported')\n")
    # Imports fine (so sys.modules tells whether it was imported); cannot be invoked.
    fake_env.module("fam_tripwire", "anything = object()\n")
    fake_env.dist(
        "dist-a",
        "1.0",
        {
            NS: {
                "alpha": "famplug:Alpha",
                "beta": "famplug:Beta",
                "tripwire": "fam_tripwire:anything",
                "broken": "fam_broken:thing",
            }
        },
    )
    fake_env.dist("dist-b", "2.0", {NS: {"gamma": "famplug:Gamma", "alpha": "famplug:Plugin"}})
    return fake_env


def describe(ext: Extension[Any], suffix: str) -> str:
    """A typed map callable: a lambda cannot bind map's ParamSpec under mypy."""
    obj: Any = ext.obj
    return str(obj.describe(suffix))


def targets(exts: Any) -> list[tuple[str, str]]:
    return [(e.name, e.entry_point_target) for e in exts]


# -- NamedExtensionManager ---------------------------------------------------------------


def test_named_filters_before_importing(env: FakeEnv) -> None:
    mgr: NamedExtensionManager[Any] = NamedExtensionManager(NS, ["beta", "alpha"])
    assert targets(mgr) == [
        ("alpha", "famplug:Alpha"),
        ("beta", "famplug:Beta"),
        ("alpha", "famplug:Plugin"),
    ]
    assert "fam_tripwire" not in sys.modules
    assert "fam_broken" not in sys.modules


def test_named_name_order(env: FakeEnv) -> None:
    mgr: NamedExtensionManager[Any] = NamedExtensionManager(
        NS, ["gamma", "beta", "alpha", "gamma"], name_order=True
    )
    assert targets(mgr) == [
        ("gamma", "famplug:Gamma"),
        ("beta", "famplug:Beta"),
        ("alpha", "famplug:Alpha"),
        ("alpha", "famplug:Plugin"),
    ]


@pytest.mark.parametrize("names", ["alpha", b"alpha"])
def test_named_refuses_a_lone_string(env: FakeEnv, names: Any) -> None:
    with pytest.raises(
        TypeError, match=r"names must be an iterable of str, not a single (str|bytes)"
    ):
        NamedExtensionManager(NS, names)


def test_named_refuses_non_string_names(env: FakeEnv) -> None:
    with pytest.raises(TypeError, match=r"names must contain str, not int \(3\)"):
        NamedExtensionManager(NS, ["alpha", 3])  # type: ignore[list-item]


def test_missing_names_reported_once_in_callers_order(env: FakeEnv) -> None:
    calls: list[list[str]] = []
    mgr: NamedExtensionManager[Any] = NamedExtensionManager(
        NS, ["zzz", "beta", "aaa", "zzz"], on_missing_entrypoints_callback=calls.append
    )
    assert calls == [["zzz", "aaa"]]
    assert mgr.names() == ["beta"]


def test_missing_names_default_is_one_warning(
    env: FakeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    NamedExtensionManager(NS, ["nope", "alpha", "nada"])
    assert warnings_of(caplog) == ["Could not find the requested extensions: nope, nada"]


def test_missing_callback_none_silences_and_not_called_when_all_found(
    env: FakeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    NamedExtensionManager(NS, ["nope"], on_missing_entrypoints_callback=None)
    calls: list[list[str]] = []
    NamedExtensionManager(NS, ["alpha"], on_missing_entrypoints_callback=calls.append)
    assert calls == []
    assert warnings_of(caplog) == []


def test_named_load_failure_is_not_missing(env: FakeEnv) -> None:
    missing: list[list[str]] = []
    failures: list[tuple[str, str]] = []
    mgr: NamedExtensionManager[Any] = NamedExtensionManager(
        NS,
        ["broken", "beta"],
        on_load_failure_callback=lambda m, ep, exc: failures.append((ep.name, str(exc))),
        on_missing_entrypoints_callback=missing.append,
    )
    assert missing == []
    assert failures == [("broken", "fam_broken cannot be imported")]
    assert mgr.names() == ["beta"]


async def test_named_invoke_on_load(env: FakeEnv) -> None:
    mgr: NamedExtensionManager[Any] = NamedExtensionManager(
        NS, ["beta"], invoke_on_load=True, invoke_args=("configured",)
    )
    async with mgr:
        assert await mgr.map_method("describe", "!") == ["Beta:configured!"]


# -- EnabledExtensionManager -------------------------------------------------------------


def test_enabled_check_runs_after_import(env: FakeEnv) -> None:
    seen: list[tuple[str, object]] = []

    def check(ext: Extension[Any]) -> bool:
        seen.append((ext.name, ext.obj))
        return ext.name not in ("beta", "tripwire")

    mgr: EnabledExtensionManager[Any] = EnabledExtensionManager(
        NS, check, on_load_failure_callback=lambda *a: None
    )
    assert mgr.names() == ["alpha", "gamma", "alpha"]
    assert seen == [
        ("alpha", None),
        ("beta", None),
        ("tripwire", None),
        ("gamma", None),
        ("alpha", None),
    ]


async def test_enabled_check_runs_after_invocation(env: FakeEnv) -> None:
    seen: list[str] = []

    def check(ext: Extension[Any]) -> bool:
        obj: Any = ext.obj
        seen.append(obj.label)
        return bool(obj.label == "keep")

    mgr: EnabledExtensionManager[Any] = EnabledExtensionManager(
        NS,
        check,
        invoke_on_load=True,
        invoke_args=("keep",),
        on_load_failure_callback=lambda *a: None,
    )
    assert seen == []  # nothing checked before invocation
    await mgr
    assert seen == ["keep", "keep", "keep", "keep"]
    assert mgr.names() == ["alpha", "beta", "gamma", "alpha"]


def test_enabled_check_exception_is_a_load_failure(env: FakeEnv) -> None:
    failures: list[tuple[str, BaseException]] = []

    def check(ext: Extension[Any]) -> bool:
        if ext.name == "gamma":
            raise LookupError("gamma is not configured")
        return True

    mgr: EnabledExtensionManager[Any] = EnabledExtensionManager(
        NS, check, on_load_failure_callback=lambda m, ep, exc: failures.append((ep.name, exc))
    )
    assert mgr.names() == ["alpha", "beta", "tripwire", "alpha"]
    assert [name for name, _ in failures] == ["broken", "gamma"]
    assert isinstance(failures[1][1], LookupError)
    assert str(failures[1][1]) == "gamma is not configured"


def test_enabled_refuses_an_async_check(env: FakeEnv) -> None:
    async def check(ext: Extension[Any]) -> bool:
        return False

    failures: list[BaseException] = []
    mgr: EnabledExtensionManager[Any] = EnabledExtensionManager(
        NS, check, on_load_failure_callback=lambda m, ep, exc: failures.append(exc)
    )
    assert mgr.names() == []
    checked = [f for f in failures if isinstance(f, TypeError)]
    assert len(checked) == 5
    assert "check_func returned an awaitable (coroutine) for 'alpha'" in str(checked[0])


def test_enabled_check_func_must_be_callable(env: FakeEnv) -> None:
    with pytest.raises(TypeError, match="check_func must be callable, not bool"):
        EnabledExtensionManager(NS, True)  # type: ignore[arg-type]


# -- DispatchExtensionManager ------------------------------------------------------------


@pytest.fixture
def dispatch() -> DispatchExtensionManager[Any]:
    exts = [make_extension(n, n, obj) for n, obj in [("a", 1), ("b", 2), ("c", 3)]]
    return DispatchExtensionManager.make_test_instance(exts)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_dispatch_calls_only_accepted(
    dispatch: DispatchExtensionManager[Any], kind: str
) -> None:
    seen: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def sync_filter(ext: Extension[Any], *args: Any, **kwds: Any) -> bool:
        seen.append((ext.name, args, kwds))
        return ext.name != "b"

    async def async_filter(ext: Extension[Any], *args: Any, **kwds: Any) -> bool:
        await anyio.lowlevel.checkpoint()
        return sync_filter(ext, *args, **kwds)

    async def func(ext: Extension[Any], factor: int, *, offset: int) -> int:
        await anyio.lowlevel.checkpoint()
        value: Any = ext.obj
        return int(value) * factor + offset

    flt = sync_filter if kind == "sync" else async_filter
    assert await dispatch.map(flt, func, 10, offset=1) == [11, 31]
    assert seen == [(n, (10,), {"offset": 1}) for n in "abc"]


async def test_dispatch_calls_run_concurrently(dispatch: DispatchExtensionManager[Any]) -> None:
    arrived = 0
    everyone = anyio.Event()

    async def func(ext: Extension[Any]) -> str:
        nonlocal arrived
        arrived += 1
        if arrived == 3:
            everyone.set()
        await everyone.wait()  # only returns if all three calls were in flight together
        return ext.name

    assert await dispatch.map(lambda ext: True, func) == ["a", "b", "c"]


async def test_dispatch_filter_exception_propagates_unwrapped(
    dispatch: DispatchExtensionManager[Any],
) -> None:
    called: list[str] = []

    def flt(ext: Extension[Any]) -> bool:
        if ext.name == "b":
            raise KeyError("bad filter")
        return True

    with pytest.raises(KeyError, match="bad filter"):
        await dispatch.map(flt, lambda ext: called.append(ext.name))
    assert called == []


async def test_dispatch_nothing_accepted_and_empty_manager(
    dispatch: DispatchExtensionManager[Any],
) -> None:
    assert await dispatch.map(lambda ext: False, lambda ext: 1) == []
    empty: DispatchExtensionManager[Any] = DispatchExtensionManager.make_test_instance(
        [], namespace="empty.ns"
    )
    with pytest.raises(NoMatches, match=r"No empty\.ns extensions found"):
        await empty.map(lambda ext: True, lambda ext: 1)


async def test_dispatch_map_method(env: FakeEnv) -> None:
    mgr: DispatchExtensionManager[Any] = DispatchExtensionManager(
        NS, lambda ext: True, invoke_on_load=True, on_load_failure_callback=lambda *a: None
    )
    await mgr
    result = await mgr.map_method(lambda ext, suffix: ext.name.startswith("a"), "adescribe", "?")
    assert result == ["Alpha:plain?", "Plugin:plain?"]


# -- NameDispatchExtensionManager --------------------------------------------------------


async def test_name_dispatch_in_callers_order(
    env: FakeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    mgr: NameDispatchExtensionManager[Any] = NameDispatchExtensionManager(
        NS, lambda ext: True, invoke_on_load=True, on_load_failure_callback=lambda *a: None
    )
    await mgr
    result = await mgr.map(["gamma", "unknown", "alpha"], describe, "!")
    # "alpha" is provided twice: the resolver (ignore_conflicts) keeps the first, and says so.
    assert result == ["Gamma:plain!", "Alpha:plain!"]
    (warning,) = warnings_of(caplog)
    assert "multiple implementations found for the 'alpha' command in family.plugins" in warning
    assert await mgr.map_method(["beta"], "describe") == ["Beta:plain"]
    assert await mgr.map(["nope"], lambda ext: 1) == []


async def test_name_dispatch_refuses_a_lone_string(dispatch: DispatchExtensionManager[Any]) -> None:
    mgr: NameDispatchExtensionManager[Any] = NameDispatchExtensionManager.make_test_instance(
        dispatch.extensions
    )
    with pytest.raises(TypeError, match="names must be an iterable of str"):
        await mgr.map("a", lambda ext: 1)


async def test_name_dispatch_honours_the_resolver() -> None:
    exts = [
        make_extension("x", "first", 1),
        make_extension("y", "y", 2),
        make_extension("x", "second", 3),
    ]
    mgr: NameDispatchExtensionManager[Any] = NameDispatchExtensionManager.make_test_instance(
        exts, conflict_resolver=error_on_conflict
    )
    assert await mgr.map(["y"], lambda ext: ext.obj) == [2]  # the conflict on "x" is not ours
    with pytest.raises(MultipleMatches, match="'x'"):
        await mgr.map(["x"], lambda ext: ext.obj)


# -- DriverManager -----------------------------------------------------------------------


def test_driver_without_invoking_is_the_plugin(env: FakeEnv) -> None:
    mgr: DriverManager[Any] = DriverManager(NS, "beta")
    assert mgr.driver is sys.modules["famplug"].Beta
    assert mgr.names() == ["beta"]
    assert "fam_tripwire" not in sys.modules


@pytest.mark.parametrize(
    ("target", "expected"),
    [("famplug:zero", 0), ("famplug:nothing", None), ("famplug:async_factory", "async")],
)
async def test_driver_after_invoking_is_obj_even_if_falsy(
    fake_env: FakeEnv, target: str, expected: object
) -> None:
    fake_env.module("famplug", PLUGINS)
    fake_env.dist("drv", "1", {NS: {"drv": target}})
    mgr: DriverManager[Any] = DriverManager(NS, "drv", invoke_on_load=True)
    with pytest.raises(RuntimeError, match="await"):
        _ = mgr.driver
    await mgr
    driver = mgr.driver
    assert (driver.label if expected == "async" else driver) == expected


def test_driver_test_instance_obj_rules() -> None:
    class Plugin:
        pass

    assert DriverManager.make_test_instance(make_extension("d", Plugin)).driver is Plugin
    assert DriverManager.make_test_instance(make_extension("d", Plugin, 0)).driver == 0
    assert DriverManager.make_test_instance([make_extension("d", Plugin, "")]).driver == ""
    by_keyword = DriverManager.make_test_instance(extensions=[make_extension("d", Plugin, 7)])
    assert by_keyword.driver == 7
    with pytest.raises(ValueError, match="exactly one extension, got 2"):
        DriverManager.make_test_instance([make_extension("d", 1), make_extension("e", 2)])


def test_driver_not_found(env: FakeEnv) -> None:
    with pytest.raises(
        NoMatches, match=r"^No 'family.plugins' driver found, looking for 'nope'$"
    ) as info:
        DriverManager(NS, "nope")
    assert (info.value.namespace, info.value.name) == (NS, "nope")


def test_driver_several_default_is_multiple_matches(env: FakeEnv) -> None:
    with pytest.raises(MultipleMatches) as info:
        DriverManager(NS, "alpha")
    assert (info.value.namespace, info.value.name) == (NS, "alpha")
    assert "famplug:Alpha (dist-a 1.0)" in str(info.value)
    assert "famplug:Plugin (dist-b 2.0)" in str(info.value)


def test_driver_several_resolved_by_resolver(
    env: FakeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    mgr: DriverManager[Any] = DriverManager(NS, "alpha", conflict_resolver=ignore_conflicts)
    assert mgr.driver is sys.modules["famplug"].Alpha
    assert len(warnings_of(caplog)) == 1
    last: DriverManager[Any] = DriverManager(
        NS, "alpha", conflict_resolver=lambda ns, name, exts: exts[-1]
    )
    assert last.driver is sys.modules["famplug"].Plugin


def test_driver_load_failure_reraises_the_original(env: FakeEnv) -> None:
    seen: list[str] = []
    with pytest.raises(ImportError, match="fam_broken cannot be imported"):
        DriverManager(NS, "broken")
    with pytest.raises(ImportError, match="fam_broken cannot be imported"):
        DriverManager(
            NS, "broken", on_load_failure_callback=lambda m, ep, exc: seen.append(ep.name)
        )
    assert seen == ["broken"]


async def test_driver_invoke_failure_reraises_and_can_retry(fake_env: FakeEnv) -> None:
    fake_env.module("famplug", PLUGINS)
    fake_env.dist("drv", "1", {NS: {"drv": "famplug:broken_factory"}})
    mgr: DriverManager[Any] = DriverManager(NS, "drv", invoke_on_load=True)
    for _ in range(2):
        with pytest.raises(ValueError, match="factory refused"):
            await mgr
    with pytest.raises(RuntimeError, match="await"):
        _ = mgr.driver
    with pytest.raises(ValueError, match="factory refused"):
        async with mgr:
            pass


async def test_driver_call_returns_and_raises_unwrapped(env: FakeEnv) -> None:
    mgr: DriverManager[Any] = DriverManager(NS, "gamma", invoke_on_load=True, invoke_args=("g",))
    await mgr
    assert await mgr(describe, "!") == "Gamma:g!"

    async def async_call(ext: Extension[Any]) -> str:
        obj: Any = ext.obj
        return str(await obj.adescribe())

    assert await mgr(async_call) == "Gamma:g"

    def boom(ext: Extension[Any]) -> None:
        raise ZeroDivisionError("driver call failed")

    with pytest.raises(ZeroDivisionError, match="driver call failed"):
        await mgr(boom)
    assert await mgr.map_method("describe") == ["Gamma:g"]


def test_driver_name_must_be_a_string(env: FakeEnv) -> None:
    with pytest.raises(TypeError, match="name must be a str, not list"):
        DriverManager(NS, ["alpha"])  # type: ignore[arg-type]


# -- HookManager -------------------------------------------------------------------------


async def test_hook_gets_every_plugin_of_the_name(env: FakeEnv) -> None:
    mgr: HookManager[Any] = HookManager(NS, "alpha", invoke_on_load=True, invoke_args=("h",))
    await mgr
    assert targets(mgr["alpha"]) == [("alpha", "famplug:Alpha"), ("alpha", "famplug:Plugin")]
    with pytest.raises(KeyError, match="beta"):  # stevedore's behaviour
        mgr["beta"]
    assert await mgr.map_method("describe") == ["Alpha:h", "Plugin:h"]
    assert "fam_tripwire" not in sys.modules


async def test_empty_hook_is_quiet(env: FakeEnv, caplog: pytest.LogCaptureFixture) -> None:
    mgr: HookManager[Any] = HookManager(NS, "no-such-hook")
    assert len(mgr) == 0
    assert mgr["no-such-hook"] == []  # the hook's own name: its (empty) list, as stevedore
    with pytest.raises(KeyError):
        mgr["alpha"]
    assert warnings_of(caplog) == []
    with pytest.raises(NoMatches, match=f"No {NS} extensions found"):
        await mgr.map(lambda ext: 1)
    missing: list[list[str]] = []
    HookManager(NS, "no-such-hook", on_missing_entrypoints_callback=missing.append)
    assert missing == [["no-such-hook"]]


def test_hook_honours_a_resolver(env: FakeEnv) -> None:
    with pytest.raises(MultipleMatches, match="'alpha'"):
        HookManager(NS, "alpha", conflict_resolver=error_on_conflict)
    mgr: HookManager[Any] = HookManager(NS, "alpha", conflict_resolver=ignore_conflicts)
    assert targets(mgr["alpha"]) == [("alpha", "famplug:Alpha")]


# -- conflict resolution over all same-named extensions -----------------------------------


class _Instance:
    pass


@pytest.mark.parametrize("kind", ["class", "function", "module", "instance"])
def test_resolvers_work_for_any_plugin_type(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    def fn() -> None:
        pass

    assert Extension("m", None, logging, None).entry_point_target == "logging"
    plugins: dict[str, object] = {
        "class": _Instance,
        "function": fn,
        "module": logging,
        "instance": _Instance(),
    }
    first: Extension[Any] = Extension("dup", None, plugins[kind], None)
    other: Extension[Any] = Extension("other", None, 1, None)
    last: Extension[Any] = Extension("dup", None, plugins[kind], None)
    # Not adjacent: stevedore's groupby would have missed this conflict.
    exts = [first, other, last]
    assert ignore_conflicts("ns", "dup", [first, last]) is first
    mgr: NamedExtensionManager[Any] = NamedExtensionManager.make_test_instance(exts)
    assert mgr["dup"] is first
    assert len(warnings_of(caplog)) == 2
    strict: NamedExtensionManager[Any] = NamedExtensionManager.make_test_instance(
        exts, conflict_resolver=error_on_conflict
    )
    with pytest.raises(
        MultipleMatches, match="multiple implementations found for the 'dup' command in TESTING"
    ):
        strict["dup"]
    assert strict["other"] is other


def test_resolver_sees_all_duplicates_across_distributions(fake_env: FakeEnv) -> None:
    fake_env.module("famplug", PLUGINS)
    fake_env.dist("one", "1", {NS: {"dup": "famplug:Alpha", "x": "famplug:Beta"}})
    fake_env.dist("two", "1", {NS: {"y": "famplug:Gamma", "dup": "famplug:Beta"}})
    fake_env.dist("three", "1", {NS: {"dup": "famplug:Gamma"}})
    seen: list[list[str]] = []

    def resolver(ns: str, name: str, exts: Any) -> Any:
        seen.append([e.entry_point_target for e in exts])
        return exts[1]

    mgr: NamedExtensionManager[Any] = NamedExtensionManager(
        NS, ["dup", "x", "y"], conflict_resolver=resolver
    )
    assert mgr["dup"].entry_point_target == "famplug:Gamma"  # three < two by name: second is Gamma
    assert seen == [["famplug:Alpha", "famplug:Gamma", "famplug:Beta"]]


def test_entry_point_type_is_ours(env: FakeEnv) -> None:
    mgr: NamedExtensionManager[Any] = NamedExtensionManager(NS, ["beta"])
    assert isinstance(mgr["beta"].entry_point, EntryPoint)
