"""Static checks of the public types: mypy --strict runs over this file in CI.

Nothing here is executed by the test suite; ``assert_type`` fails type checking, not at
run time, when an inferred type drifts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, assert_type

from longshoreman import (
    ConflictResolver,
    DispatchExtensionManager,
    DriverManager,
    EntryPoint,
    Extension,
    ExtensionErrorGroup,
    ExtensionManager,
    HookManager,
    NamedExtensionManager,
    NameDispatchExtensionManager,
    OnLoadFailureCallback,
    OnMissingEntrypointsCallback,
    ignore_conflicts,
    list_entry_points,
)


class Sink:
    def write(self, data: bytes) -> int:
        return len(data)


async def check_driver() -> None:
    mgr: DriverManager[Sink] = DriverManager("app.sinks", "file", invoke_on_load=True)
    await mgr
    assert_type(mgr.driver, Sink)
    assert_type(mgr.extensions, list[Extension[Sink]])
    assert_type(mgr["file"], Extension[Sink])


async def check_map() -> None:
    mgr: ExtensionManager[Sink] = ExtensionManager("app.sinks")

    def size(ext: Extension[Sink], data: bytes) -> int:
        return len(data)

    async def asize(ext: Extension[Sink], data: bytes) -> int:
        return len(data)

    assert_type(await mgr.map(size, b"x"), list[int])
    assert_type(await mgr.map(asize, b"x"), list[int])
    assert_type(await mgr.map_method("write", b"x"), list[Any])
    async with ExtensionManager[Sink]("app.sinks", invoke_on_load=True) as entered:
        assert_type(entered, ExtensionManager[Sink])


def check_discovery() -> None:
    eps = list_entry_points("app.sinks")
    assert_type(eps, tuple[EntryPoint, ...])
    assert_type(eps[0].name, str)
    assert_type(eps[0].attr, str | None)


def check_family() -> None:
    named: NamedExtensionManager[Sink] = NamedExtensionManager("app.sinks", ["a", "b"])
    assert_type(named.names(), list[str])
    hook: HookManager[Sink] = HookManager("app.hooks", "on_start")
    assert_type(hook["on_start"], list[Extension[Sink]])


def check_errors(group: ExtensionErrorGroup[Exception]) -> None:
    assert_type(group.failures, list[tuple[Extension[Any], Exception]])
    assert_type(group.cancelled, list[Extension[Any]])


def check_except_star(group: ExceptionGroup[OSError]) -> None:
    # What ``except* OSError as group`` gives. isinstance narrows it to an
    # ExtensionErrorGroup[OSError] under pyright (ExtensionErrorGroup[Any] under mypy,
    # which does not carry the type argument over): either way this checks.
    if isinstance(group, ExtensionErrorGroup):
        for ext, exc in group.failures:
            assert_type(ext, Extension[Any])
            errno: int | None = exc.errno
            name: str = ext.name
            print(errno, name)


def check_plugin(ext: Extension[Sink]) -> None:
    assert_type(ext.obj, Sink | None)
    assert_type(ext.plugin, Sink | Callable[..., Any])
    assert_type(ext.name, str)
    assert_type(ext.entry_point, EntryPoint | None)


async def check_dispatch() -> None:
    def wanted(ext: Extension[Sink], data: bytes) -> bool:
        return ext.name != "skip"

    async def awanted(ext: Extension[Sink], data: bytes) -> bool:
        return ext.name != "skip"

    def size(ext: Extension[Sink], data: bytes) -> int:
        return len(data)

    async def asize(ext: Extension[Sink], data: bytes) -> int:
        return len(data)

    dispatch: DispatchExtensionManager[Sink] = DispatchExtensionManager("app.sinks", wanted_all)
    assert_type(await dispatch.map(wanted, size, b"x"), list[int])
    assert_type(await dispatch.map(awanted, asize, b"x"), list[int])
    assert_type(await dispatch.map_method(wanted, "write", b"x"), list[Any])
    by_name: NameDispatchExtensionManager[Sink] = NameDispatchExtensionManager(
        "app.sinks", wanted_all
    )
    assert_type(await by_name.map(["a"], size, b"x"), list[int])
    assert_type(await by_name.map(["a"], asize, b"x"), list[int])


def wanted_all(ext: Extension[Any]) -> bool:
    return True


async def check_driver_call() -> None:
    driver: DriverManager[Sink] = DriverManager("app.sinks", "file")

    def size(ext: Extension[Sink], data: bytes) -> int:
        return len(data)

    async def asize(ext: Extension[Sink], data: bytes) -> int:
        return len(data)

    assert_type(await driver(size, b"x"), int)
    assert_type(await driver(asize, b"x"), int)


def check_callback_aliases() -> None:
    def on_failure(manager: ExtensionManager[Any], ep: EntryPoint, exc: Exception) -> None:
        pass

    def on_missing(names: list[str]) -> None:
        pass

    failure: OnLoadFailureCallback = on_failure
    missing: OnMissingEntrypointsCallback = on_missing
    resolver: ConflictResolver = ignore_conflicts
    NamedExtensionManager(
        "app.sinks",
        ["a"],
        on_load_failure_callback=failure,
        on_missing_entrypoints_callback=missing,
        conflict_resolver=resolver,
    )


def check_bare_group(group: ExtensionErrorGroup) -> None:
    # A bare ExtensionErrorGroup (except ExtensionErrorGroup, pytest.raises) is one of
    # Exceptions: the type parameter has a default.
    assert_type(group.failures, list[tuple[Extension[Any], Exception]])
