"""HookManager: every plugin registered under one name."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from ._conflicts import ConflictResolver
from ._extension import Extension
from ._manager import OnLoadFailureCallback
from ._named import NamedExtensionManager, OnMissingEntrypointsCallback

__all__ = ["HookManager"]

T = TypeVar("T")


def _first(namespace: str, name: str, extensions: Sequence[Extension[T]]) -> Extension[T]:
    return extensions[0]


class HookManager(NamedExtensionManager[T]):
    """Loads every entry point called ``name``: many plugins answering one hook.

    ``manager[name]`` is the list of them (``[]`` when no plugin answers the hook) and
    ``map`` fans out to all of them; ``manager[other]`` for a name the manager has no
    extension for raises ``KeyError``, as stevedore's does. Sharing the name is the point
    of a hook, so by default all are kept. Given a ``conflict_resolver``, it is honoured
    at construction: it sees all of them and its choice (or its exception, e.g.
    ``error_on_conflict``'s ``MultipleMatches``) replaces the list. No plugin for the
    hook is normal: the manager is empty and nothing is logged, unless
    ``on_missing_entrypoints_callback`` is given (stevedore warns by default).

    The other arguments are :class:`ExtensionManager`'s.
    """

    def __init__(
        self,
        namespace: str,
        name: str,
        invoke_on_load: bool = False,
        invoke_args: Iterable[Any] = (),
        invoke_kwds: dict[str, Any] | None = None,
        on_load_failure_callback: OnLoadFailureCallback | None = None,
        verify_requirements: bool = False,
        *,
        conflict_resolver: ConflictResolver | None = None,
        propagate_map_exceptions: bool = False,
        on_missing_entrypoints_callback: OnMissingEntrypointsCallback | None = None,
        max_concurrency: int | None = None,
        timeout: float | None = None,
        fail_fast: bool = False,
        run_sync_in_thread: bool = False,
        instrument: object | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        self._hook_name = name
        super().__init__(
            namespace,
            [name],
            invoke_on_load,
            invoke_args,
            invoke_kwds,
            name_order=False,
            propagate_map_exceptions=propagate_map_exceptions,
            on_load_failure_callback=on_load_failure_callback,
            on_missing_entrypoints_callback=on_missing_entrypoints_callback,
            verify_requirements=verify_requirements,
            conflict_resolver=conflict_resolver or _first,
            max_concurrency=max_concurrency,
            timeout=timeout,
            fail_fast=fail_fast,
            run_sync_in_thread=run_sync_in_thread,
            instrument=instrument,
        )
        if conflict_resolver is not None and len(self.extensions) > 1:
            self.extensions = [conflict_resolver(namespace, name, self.extensions)]

    def __getitem__(self, name: str) -> list[Extension[T]]:  # type: ignore[override]
        """Every extension registered for ``name``, in discovery order.

        Raises:
            KeyError: ``name`` is neither the hook's name nor the name of any of its
                extensions (a test instance may hold several names).
        """
        found = [ext for ext in self.extensions if ext.name == name]
        if not found and name != getattr(self, "_hook_name", None):
            raise KeyError(name)
        return found
