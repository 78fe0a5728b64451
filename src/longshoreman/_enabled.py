"""EnabledExtensionManager: keep the plugins a check function accepts."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias, TypeVar

from ._conflicts import ConflictResolver, ignore_conflicts
from ._extension import Extension
from ._manager import ExtensionManager, OnLoadFailureCallback

__all__ = ["CheckFunc", "EnabledExtensionManager"]

T = TypeVar("T")

#: ``check_func(extension) -> bool``; synchronous.
CheckFunc: TypeAlias = Callable[[Extension[Any]], object]


class EnabledExtensionManager(ExtensionManager[T]):
    """Loads every plugin, then keeps those for which ``check_func(ext)`` is true.

    ``check_func`` runs after import, and after invocation when the manager invokes (so
    it can look at ``ext.obj``). It must be synchronous: returning an awaitable is an
    error, not a silently true value. An exception it raises is that extension's load
    failure.

    The other arguments are :class:`ExtensionManager`'s.
    """

    def __init__(
        self,
        namespace: str,
        check_func: CheckFunc,
        invoke_on_load: bool = False,
        invoke_args: Iterable[Any] = (),
        invoke_kwds: dict[str, Any] | None = None,
        propagate_map_exceptions: bool = False,
        on_load_failure_callback: OnLoadFailureCallback | None = None,
        verify_requirements: bool = False,
        *,
        conflict_resolver: ConflictResolver = ignore_conflicts,
        max_concurrency: int | None = None,
        timeout: float | None = None,
        fail_fast: bool = False,
        run_sync_in_thread: bool = False,
        instrument: object | None = None,
    ) -> None:
        if not callable(check_func):
            raise TypeError(f"check_func must be callable, not {type(check_func).__name__}")
        self._check_func = check_func
        super().__init__(
            namespace,
            invoke_on_load,
            invoke_args,
            invoke_kwds,
            propagate_map_exceptions,
            on_load_failure_callback,
            verify_requirements,
            conflict_resolver=conflict_resolver,
            max_concurrency=max_concurrency,
            timeout=timeout,
            fail_fast=fail_fast,
            run_sync_in_thread=run_sync_in_thread,
            instrument=instrument,
        )

    def _check_extension(self, ext: Extension[T]) -> bool:
        verdict = self._check_func(ext)
        if inspect.isawaitable(verdict):
            if inspect.iscoroutine(verdict):
                verdict.close()  # never awaited on purpose: no warning
            raise TypeError(
                f"check_func returned an awaitable ({type(verdict).__name__}) for "
                f"{ext.name!r}; it must be synchronous and return a bool"
            )
        return bool(verdict)
