"""NamedExtensionManager: load only the plugins whose names are asked for."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeAlias, TypeVar

from ._conflicts import ConflictResolver, ignore_conflicts, warning_on_missing_entrypoint
from ._entrypoints import EntryPoint
from ._manager import ExtensionManager, OnLoadFailureCallback

__all__ = ["NamedExtensionManager", "OnMissingEntrypointsCallback", "names_list"]

T = TypeVar("T")

#: ``callback(names)``: called once with every requested name that has no entry point.
OnMissingEntrypointsCallback: TypeAlias = Callable[[list[str]], None]


def names_list(names: Iterable[str], what: str = "names") -> list[str]:
    """``names`` as a list, refusing a lone ``str`` (which would iterate characters)."""
    if isinstance(names, str | bytes):
        raise TypeError(
            f"{what} must be an iterable of str, not a single {type(names).__name__} "
            f"({names!r}); did you mean [{names!r}]?"
        )
    out = list(names)
    for name in out:
        if not isinstance(name, str):
            raise TypeError(f"{what} must contain str, not {type(name).__name__} ({name!r})")
    return out


class NamedExtensionManager(ExtensionManager[T]):
    """Loads only the entry points called one of ``names``; nothing else is imported.

    Args:
        names: the names to load (any iterable of ``str`` except a ``str``).
        name_order: order ``extensions`` as ``names`` orders them (extensions sharing a
            name stay in discovery order); otherwise discovery order.
        on_missing_entrypoints_callback: called once, with the list of requested names
            that have no entry point at all, in the caller's order; not called when none
            is missing. ``None`` silences it. A name whose entry point exists but fails to
            load is a load failure (``on_load_failure_callback``), not missing.

    The other arguments are :class:`ExtensionManager`'s.
    """

    def __init__(
        self,
        namespace: str,
        names: Iterable[str],
        invoke_on_load: bool = False,
        invoke_args: Iterable[Any] = (),
        invoke_kwds: dict[str, Any] | None = None,
        name_order: bool = False,
        propagate_map_exceptions: bool = False,
        on_load_failure_callback: OnLoadFailureCallback | None = None,
        on_missing_entrypoints_callback: OnMissingEntrypointsCallback
        | None = warning_on_missing_entrypoint,
        verify_requirements: bool = False,
        *,
        conflict_resolver: ConflictResolver = ignore_conflicts,
        max_concurrency: int | None = None,
        timeout: float | None = None,
        fail_fast: bool = False,
        run_sync_in_thread: bool = False,
        instrument: object | None = None,
    ) -> None:
        self._names = names_list(names)
        self._name_order = name_order
        self._on_missing_entrypoints_callback = on_missing_entrypoints_callback
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

    def _entry_points_to_load(self) -> Iterable[EntryPoint]:
        wanted = dict.fromkeys(self._names)  # first occurrence fixes a name's rank
        selected = [ep for ep in super()._entry_points_to_load() if ep.name in wanted]
        found = {ep.name for ep in selected}
        missing = [name for name in wanted if name not in found]
        if missing and self._on_missing_entrypoints_callback is not None:
            self._on_missing_entrypoints_callback(missing)
        if self._name_order:
            rank = {name: i for i, name in enumerate(wanted)}
            selected.sort(key=lambda ep: rank[ep.name])  # stable: ties keep discovery order
        return selected
