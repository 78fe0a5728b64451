"""Dispatch managers: fan out to the extensions a filter (or a list of names) selects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

from . import _fanout
from ._enabled import EnabledExtensionManager
from ._extension import Extension
from ._named import names_list
from .exceptions import NoMatches

__all__ = ["DispatchExtensionManager", "NameDispatchExtensionManager"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


class DispatchExtensionManager(EnabledExtensionManager[T]):
    """An :class:`EnabledExtensionManager` whose ``map`` calls only chosen extensions.

    ``await mgr.map(filter_func, func, *args, **kwds)`` calls ``func(ext, *args, **kwds)``
    for the extensions where ``filter_func(ext, *args, **kwds)`` is true. The filter may
    be synchronous or return an awaitable; filters run one after another, in extension
    order, and an exception from one propagates as it is. The chosen calls then run
    concurrently, like ``ExtensionManager.map``. No extension at all raises
    ``NoMatches``; extensions that the filter all refuse give ``[]``.
    """

    async def _select(
        self, filter_func: Callable[..., Any], args: Sequence[Any], kwds: dict[str, Any]
    ) -> list[Extension[T]]:
        chosen: list[Extension[T]] = []
        for ext in self.extensions:
            verdict = filter_func(ext, *args, **kwds)
            if _fanout.is_awaitable(verdict):
                verdict = await verdict
            if verdict:
                chosen.append(ext)
        return chosen

    @overload  # type: ignore[override]
    async def map(
        self,
        filter_func: Callable[Concatenate[Extension[T], P], object],
        func: Callable[Concatenate[Extension[T], P], Awaitable[R]],
        *args: P.args,
        **kwds: P.kwargs,
    ) -> list[R]: ...

    @overload
    async def map(
        self,
        filter_func: Callable[Concatenate[Extension[T], P], object],
        func: Callable[Concatenate[Extension[T], P], R],
        *args: P.args,
        **kwds: P.kwargs,
    ) -> list[R]: ...

    async def map(
        self,
        filter_func: Callable[..., object],
        func: Callable[..., Any],
        *args: Any,
        **kwds: Any,
    ) -> list[Any]:
        """``func(ext, *args, **kwds)`` for the extensions ``filter_func`` accepts.

        ``filter_func(ext, *args, **kwds)`` returns a truth value, or an awaitable of
        one; ``func`` may be synchronous or return an awaitable. Results come back in
        extension order, as a ``list[R]`` for a ``func`` returning ``R`` or
        ``Awaitable[R]``.
        """
        self._require_ready()
        if not self.extensions:
            raise NoMatches(f"No {self.namespace} extensions found", namespace=self.namespace)
        chosen = await self._select(filter_func, args, kwds)
        return await self._fan_out(chosen, func, args, kwds) if chosen else []

    async def map_method(  # type: ignore[override]
        self, filter_func: Callable[..., object], method_name: str, *args: Any, **kwds: Any
    ) -> list[Any]:
        """``ext.obj.<method_name>(*args, **kwds)`` for the extensions accepted."""
        return await self.map(filter_func, _fanout.MethodCall(method_name), *args, **kwds)


class NameDispatchExtensionManager(DispatchExtensionManager[T]):
    """A dispatch manager that selects extensions by name.

    ``await mgr.map(names, func, *args, **kwds)`` calls ``func`` for the extension of
    each name, in the caller's order (a name given twice is called twice); several
    extensions sharing a name are resolved by ``conflict_resolver``. Names with no
    extension are skipped; if none matches, the result is ``[]``.
    """

    @overload  # type: ignore[override]
    async def map(
        self,
        names: Iterable[str],
        func: Callable[Concatenate[Extension[T], P], Awaitable[R]],
        *args: P.args,
        **kwds: P.kwargs,
    ) -> list[R]: ...

    @overload
    async def map(
        self,
        names: Iterable[str],
        func: Callable[Concatenate[Extension[T], P], R],
        *args: P.args,
        **kwds: P.kwargs,
    ) -> list[R]: ...

    async def map(
        self, names: Iterable[str], func: Callable[..., Any], *args: Any, **kwds: Any
    ) -> list[Any]:
        """``func(ext, *args, **kwds)`` for the extensions called ``names``, in that order."""
        self._require_ready()
        chosen = [self._resolve(name) for name in names_list(names) if name in self]
        return await self._fan_out(chosen, func, args, kwds) if chosen else []

    async def map_method(  # type: ignore[override]
        self, names: Iterable[str], method_name: str, *args: Any, **kwds: Any
    ) -> list[Any]:
        """``ext.obj.<method_name>(*args, **kwds)`` for the extensions called ``names``."""
        return await self.map(names, _fanout.MethodCall(method_name), *args, **kwds)
