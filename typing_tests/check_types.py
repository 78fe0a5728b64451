"""Static checks of the public types: mypy --strict runs over this file in CI.

Nothing here is executed by the test suite; ``assert_type`` fails type checking, not at
run time, when an inferred type drifts.
"""

from __future__ import annotations

from typing import Any, assert_type

from longshoreman import (
    DriverManager,
    EntryPoint,
    Extension,
    ExtensionErrorGroup,
    ExtensionManager,
    HookManager,
    NamedExtensionManager,
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


def check_errors(group: ExtensionErrorGroup) -> None:
    assert_type(group.failures, list[tuple[Extension[Any], Exception]])
    assert_type(group.cancelled, list[Extension[Any]])
