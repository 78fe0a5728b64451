"""Extension: the record of one loaded plugin, as stevedore has it."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, Generic, TypeVar

from ._entrypoints import EntryPoint

__all__ = ["Extension"]

T = TypeVar("T")


class Extension(Generic[T]):
    """A loaded plugin: stevedore's record.

    ``plugin`` is what ``entry_point.load()`` returned; ``obj`` is what invoking it
    produced (after awaiting, and after entering it if it is an async context manager),
    or ``None`` when the manager did not invoke plugins. ``entry_point`` may be ``None``
    for extensions built by hand for ``make_test_instance``; the target properties then
    describe ``plugin`` itself.
    """

    __slots__ = ("entry_point", "name", "obj", "plugin")

    #: The entry point's name (the name the manager knows the plugin by).
    name: str
    #: Where the plugin was found; ``None`` for an extension built by hand.
    entry_point: EntryPoint | None
    #: What ``entry_point.load()`` returned. For a manager that does not invoke its
    #: plugins, this is what you use, and what ``T`` describes (as ``DriverManager.driver``
    #: has it); for one that invokes, it is the factory of ``obj``: called, then awaited
    #: or entered as its result requires, so its own return type is not ``T``.
    plugin: T | Callable[..., Any]
    #: What invoking ``plugin`` produced, or ``None`` when the manager did not invoke it.
    obj: T | None

    def __init__(
        self,
        name: str,
        entry_point: EntryPoint | None,
        plugin: T | Callable[..., Any],
        obj: T | None,
    ) -> None:
        self.name = name
        self.entry_point = entry_point
        self.plugin = plugin
        self.obj = obj

    @property
    def module_name(self) -> str:
        """The module the plugin comes from."""
        if self.entry_point is not None:
            return self.entry_point.module
        if isinstance(self.plugin, ModuleType):
            return self.plugin.__name__
        return str(getattr(self.plugin, "__module__", None) or type(self.plugin).__module__)

    @property
    def attr(self) -> str | None:
        """The attribute path inside the module, if the entry point names one."""
        if self.entry_point is not None:
            return self.entry_point.attr
        if isinstance(self.plugin, ModuleType):
            return None
        return getattr(self.plugin, "__qualname__", None)

    @property
    def entry_point_target(self) -> str:
        """``module:attr`` as written in the entry point (or derived from ``plugin``)."""
        if self.entry_point is not None:
            return self.entry_point.value
        attr = self.attr
        return f"{self.module_name}:{attr}" if attr else self.module_name

    def __repr__(self) -> str:
        return (
            f"Extension(name={self.name!r}, target={self.entry_point_target!r}, "
            f"obj={'None' if self.obj is None else type(self.obj).__name__})"
        )
