"""Helpers for testing code that uses longshoreman, without installing any plugin.

Two ways in, as in stevedore:

* build a ready manager from objects with ``Manager.make_test_instance(extensions)``;
  :func:`make_extension` and :func:`make_extensions` build those extensions::

      mgr = ExtensionManager.make_test_instance(make_extensions({"a": A(), "b": B()}))

* or let the real constructor discover fake entry points, so the code under test builds
  its managers exactly as in production::

      with fake_entry_points("myapp.sinks", {"memory": MemorySink, "s3": "myapp.s3:Sink"}):
          async with ExtensionManager("myapp.sinks", invoke_on_load=True) as mgr:
              ...

  Values are objects (returned as they are by ``load()``) or ``"module:attr"`` strings
  (imported by ``load()``, as real entry points are). The fake entry points come after
  the installed ones, or replace them with ``replace=True``; ``list_entry_points`` and
  every manager constructed inside the block see them. Blocks nest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from ._cache import default_cache
from ._entrypoints import Distribution, EntryPoint
from ._extension import Extension

__all__ = [
    "FAKE_DISTRIBUTION",
    "fake_entry_point",
    "fake_entry_points",
    "make_extension",
    "make_extensions",
]

#: The distribution fake entry points are attributed to.
FAKE_DISTRIBUTION = Distribution("longshoreman.testing", "0")


class _ObjectEntryPoint(EntryPoint):
    """An entry point whose ``load()`` returns an object held in memory."""

    __slots__ = ("_object",)

    def __init__(self, name: str, obj: object, group: str) -> None:
        if isinstance(obj, ModuleType):
            value = obj.__name__
        else:
            module = str(getattr(obj, "__module__", None) or type(obj).__module__)
            attr = getattr(obj, "__qualname__", None)
            value = f"{module}:{attr}" if attr else module
        super().__init__(name, value, group, FAKE_DISTRIBUTION)
        self._object = obj

    @property
    def module(self) -> str:
        return self.value.partition(":")[0]

    @property
    def attr(self) -> str | None:
        return self.value.partition(":")[2] or None

    @property
    def extras(self) -> list[str]:
        return []

    def load(self) -> Any:
        return self._object


def fake_entry_point(name: str, target: object, group: str = "TESTING") -> EntryPoint:
    """An entry point for ``target``: an object, or a ``"module:attr"`` string."""
    if isinstance(target, str):
        return EntryPoint(name, target, group, FAKE_DISTRIBUTION)
    return _ObjectEntryPoint(name, target, group)


def make_extension(
    name: str, plugin: object, obj: Any = None, *, namespace: str = "TESTING"
) -> Extension[Any]:
    """An ``Extension`` for ``make_test_instance``; ``obj`` is what invoking produced."""
    return Extension(name, fake_entry_point(name, plugin, namespace), plugin, obj)


def make_extensions(
    plugins: Mapping[str, object] | Iterable[tuple[str, object]],
    *,
    namespace: str = "TESTING",
) -> list[Extension[Any]]:
    """Extensions whose ``plugin`` and ``obj`` are the given objects, in the given order."""
    items = plugins.items() if isinstance(plugins, Mapping) else plugins
    return [make_extension(name, obj, obj, namespace=namespace) for name, obj in items]


@contextmanager
def fake_entry_points(
    namespace: str,
    plugins: Mapping[str, object] | Iterable[tuple[str, object]],
    *,
    replace: bool = False,
) -> Iterator[tuple[EntryPoint, ...]]:
    """Make ``namespace`` show these entry points while the block runs.

    ``plugins`` maps names to objects or ``"module:attr"`` strings (pairs may repeat a
    name, to test conflicts). Yields the fake entry points.
    """
    if not isinstance(namespace, str):
        raise TypeError(f"namespace must be a str, not {type(namespace).__name__}")
    items = plugins.items() if isinstance(plugins, Mapping) else plugins
    eps = tuple(fake_entry_point(name, target, namespace) for name, target in items)
    cache = default_cache()
    layer = cache.push_overlay(namespace, eps, replace)
    try:
        yield eps
    finally:
        cache.pop_overlay(namespace, layer)
