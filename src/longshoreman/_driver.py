"""DriverManager: exactly one plugin, chosen by name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Concatenate, ParamSpec, Self, TypeVar, overload

from . import _fanout
from ._conflicts import ConflictResolver, error_on_conflict
from ._entrypoints import EntryPoint
from ._extension import Extension
from ._manager import _NEEDS_AWAIT, OnLoadFailureCallback
from ._named import NamedExtensionManager
from .exceptions import NoMatches

__all__ = ["DriverManager"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


class DriverManager(NamedExtensionManager[T]):
    """Loads the one entry point called ``name``: the driver.

    * No such entry point: :class:`~longshoreman.NoMatches`
      (``"No '<namespace>' driver found, looking for '<name>'"``).
    * Several: ``conflict_resolver`` decides at construction; the default,
      :func:`~longshoreman.error_on_conflict`, raises
      :class:`~longshoreman.MultipleMatches`.
    * A failure to import or invoke it raises the original exception (after calling
      ``on_load_failure_callback``, if given); with ``invoke_on_load`` that is raised by
      ``await manager``/``async with manager``, which may then be tried again.

    :attr:`driver` is what to use; ``await manager(func, *args, **kwds)`` returns
    ``func(extension, *args, **kwds)`` (awaited if awaitable) and lets its exception
    propagate unwrapped. ``map``/``map_method`` work as on any manager.

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
        conflict_resolver: ConflictResolver = error_on_conflict,
        max_concurrency: int | None = None,
        timeout: float | None = None,
        fail_fast: bool = False,
        run_sync_in_thread: bool = False,
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        super().__init__(
            namespace,
            [name],
            invoke_on_load,
            invoke_args,
            invoke_kwds,
            name_order=False,
            propagate_map_exceptions=False,
            on_load_failure_callback=on_load_failure_callback,
            on_missing_entrypoints_callback=None,
            verify_requirements=verify_requirements,
            conflict_resolver=conflict_resolver,
            max_concurrency=max_concurrency,
            timeout=timeout,
            fail_fast=fail_fast,
            run_sync_in_thread=run_sync_in_thread,
        )
        if not self.extensions:
            raise NoMatches(
                f"No {namespace!r} driver found, looking for {name!r}",
                namespace=namespace,
                name=name,
            )
        if len(self.extensions) > 1:
            self.extensions = [conflict_resolver(namespace, name, self.extensions)]

    @classmethod
    def make_test_instance(
        cls,
        extensions: Extension[T] | Iterable[Extension[T]],
        namespace: str = "TESTING",
        propagate_map_exceptions: bool = False,
        on_load_failure_callback: OnLoadFailureCallback | None = None,
        *,
        conflict_resolver: ConflictResolver = error_on_conflict,
        max_concurrency: int | None = None,
        timeout: float | None = None,
        fail_fast: bool = False,
        run_sync_in_thread: bool = False,
    ) -> Self:
        """A ready driver manager around one extension (or a one-item iterable)."""
        given = [extensions] if isinstance(extensions, Extension) else list(extensions)
        if len(given) != 1:
            raise ValueError(
                f"a DriverManager test instance takes exactly one extension, got {len(given)}"
            )
        return super().make_test_instance(
            given,
            namespace,
            propagate_map_exceptions,
            on_load_failure_callback,
            conflict_resolver=conflict_resolver,
            max_concurrency=max_concurrency,
            timeout=timeout,
            fail_fast=fail_fast,
            run_sync_in_thread=run_sync_in_thread,
        )

    def _load_failed(self, entry_point: EntryPoint | None, exc: Exception) -> None:
        if self._on_load_failure_callback is not None and entry_point is not None:
            self._on_load_failure_callback(self, entry_point, exc)
        raise exc

    async def _invoke_all(self, enter: Any) -> None:
        try:
            await super()._invoke_all(enter)
        except BaseException:
            self._state = _NEEDS_AWAIT  # the driver is not usable; awaiting again retries
            raise

    @property
    def driver(self) -> T:
        """The driver, which is ``obj`` if the manager invoked it (or a test gave one),
        else ``plugin``; decided by how the manager was made, never by truthiness."""
        self._require_ready()
        ext = self.extensions[0]
        if self._invoke_on_load or ext.obj is not None:
            return ext.obj  # type: ignore[return-value]
        return ext.plugin  # type: ignore[return-value]

    @overload
    async def __call__(
        self,
        func: Callable[Concatenate[Extension[T], P], Awaitable[R]],
        *args: P.args,
        **kwds: P.kwargs,
    ) -> R: ...

    @overload
    async def __call__(
        self,
        func: Callable[Concatenate[Extension[T], P], R],
        *args: P.args,
        **kwds: P.kwargs,
    ) -> R: ...

    async def __call__(self, func: Callable[..., Any], *args: Any, **kwds: Any) -> Any:
        """``func(extension, *args, **kwds)``, awaited if awaitable; errors unwrapped.

        Returns ``R`` for a ``func`` returning ``R`` or ``Awaitable[R]``.
        """
        self._require_ready()
        outcome = await _fanout.run(
            self.extensions,
            func,
            args,
            kwds,
            call_timeout=self._timeout,
            limiter=self._thread_limiter(),
        )
        if outcome.errors:
            raise outcome.errors[0]
        return outcome.values[0]
