"""Every exception longshoreman raises on purpose.

The hierarchy::

    RuntimeError
    └── NoUniqueMatch            a lookup that needed exactly one extension
        ├── NoMatches            ... found none
        └── MultipleMatches      ... found several and the resolver refused to pick
    ImportError
    └── RequirementError         verify_requirements found a missing or wrong requirement
    ExceptionGroup
    └── ExtensionErrorGroup      one or more plugin calls failed during a fan-out

Errors raised *by plugins* are never wrapped in these, except in an
``ExtensionErrorGroup``, whose members are the plugins' own exceptions, each with a note
naming the extension it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ._extension import Extension
    from ._manager import LoadFailure

__all__ = [
    "ExtensionErrorGroup",
    "MultipleMatches",
    "NoMatches",
    "NoUniqueMatch",
    "RequirementError",
]


class NoUniqueMatch(RuntimeError):
    """A lookup needed exactly one extension and did not find exactly one.

    ``namespace`` and ``name`` say what was looked up, when known.
    """

    def __init__(self, message: str, *, namespace: str | None = None, name: str | None = None):
        super().__init__(message)
        self.namespace = namespace
        self.name = name


class NoMatches(NoUniqueMatch):
    """No extension matched (an empty namespace, or no driver of that name).

    ``failures`` lists the :class:`~longshoreman.LoadFailure` of every plugin that was
    found but failed to load, when that is why there is no extension (else empty).
    """

    def __init__(
        self,
        message: str,
        *,
        namespace: str | None = None,
        name: str | None = None,
        failures: Sequence[LoadFailure] = (),
    ) -> None:
        super().__init__(message, namespace=namespace, name=name)
        self.failures: list[LoadFailure] = list(failures)


class MultipleMatches(NoUniqueMatch):
    """Several extensions share a name and the conflict resolver refused to choose."""


class RequirementError(ImportError):
    """A plugin's distribution needs something that is not installed (or too old).

    ``requirement`` is the requirement string as the distribution wrote it, for example
    ``"httpx>=0.27"``; ``distribution`` is the name of the distribution that asked for it.
    """

    def __init__(self, message: str, *, requirement: str, distribution: str) -> None:
        super().__init__(message)
        self.requirement = requirement
        self.distribution = distribution


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


if TYPE_CHECKING:
    # The default (PEP 696) lets a bare ``ExtensionErrorGroup``, as in ``except
    # ExtensionErrorGroup as group`` or ``pytest.raises(ExtensionErrorGroup)``, mean
    # ``ExtensionErrorGroup[Exception]``; type checkers know typing_extensions without it
    # being installed, and at run time the plain TypeVar below is all that is needed.
    from typing_extensions import TypeVar as _TypeVar

    E_co = _TypeVar("E_co", bound=Exception, covariant=True, default=Exception)
else:
    E_co = TypeVar("E_co", bound=Exception, covariant=True)
E2 = TypeVar("E2", bound=Exception)


class ExtensionErrorGroup(ExceptionGroup[E_co], Generic[E_co]):
    """Plugin calls failed during ``map``, ``map_method`` or a manager's close.

    It is a group even for a single failure, so ``except* SomeError`` is the one way to
    handle it. ``split()``/``subgroup()`` and ``except*`` keep the subclass and narrow
    :attr:`failures` to the members kept.

    Like ``ExceptionGroup[E_co]``, it is generic in the type of its members, and the
    exceptions in :attr:`failures` have that type. ``except* OSError as group`` gives an
    ``ExceptionGroup[OSError]``; ``isinstance(group, ExtensionErrorGroup)`` narrows it
    to an ``ExtensionErrorGroup[OSError]`` for type checkers.

    Attributes:
        failures: ``(extension, exception)`` pairs in extension order.
        results: ``(extension, value)`` pairs of the calls that succeeded.
        cancelled: extensions whose calls were cancelled by ``fail_fast``.
    """

    failures: list[tuple[Extension[Any], E_co]]
    results: list[tuple[Extension[Any], Any]]
    cancelled: list[Extension[Any]]

    def __new__(
        cls,
        message: str,
        exceptions: Sequence[E_co],
        *,
        failures: Sequence[tuple[Extension[Any], E_co]] | None = None,
        results: Sequence[tuple[Extension[Any], Any]] = (),
        cancelled: Sequence[Extension[Any]] = (),
    ) -> ExtensionErrorGroup[E_co]:
        self = super().__new__(cls, message, exceptions)
        self.failures = list(failures) if failures is not None else []
        self.results = list(results)
        self.cancelled = list(cancelled)
        return self

    def __init__(
        self,
        message: str,
        exceptions: Sequence[E_co],
        *,
        failures: Sequence[tuple[Extension[Any], E_co]] | None = None,
        results: Sequence[tuple[Extension[Any], Any]] = (),
        cancelled: Sequence[Extension[Any]] = (),
    ) -> None:
        super().__init__(message, exceptions)

    @staticmethod
    def from_failures(
        message: str,
        failures: Sequence[tuple[Extension[Any], E2]],
        *,
        results: Sequence[tuple[Extension[Any], Any]] = (),
        cancelled: Sequence[Extension[Any]] = (),
    ) -> ExtensionErrorGroup[E2]:
        """Build a group whose members are the failures' exceptions, in order."""
        return ExtensionErrorGroup(
            message,
            [exc for _, exc in failures],
            failures=failures,
            results=results,
            cancelled=cancelled,
        )

    def derive(self, excs: Sequence[E2], /) -> ExtensionErrorGroup[E2]:  # type: ignore[override]
        """The group ``split()`` and ``subgroup()`` build: this one's, over ``excs``."""
        # split() hands us the kept members: the originals themselves, or narrowed copies
        # of nested groups whose leaves are still the original objects.
        # One plugin per member, in order: two plugins may have raised one instance.
        kept: list[tuple[Extension[Any], E2]] = []
        taken: set[int] = set()
        for exc in excs:
            leaf_ids = {id(leaf) for leaf in _leaves(exc)}
            for position, (ext, original) in enumerate(self.failures):
                if position in taken:
                    continue
                if original is exc or any(id(leaf) in leaf_ids for leaf in _leaves(original)):
                    kept.append((ext, exc))
                    taken.add(position)
                    break
        return ExtensionErrorGroup(
            self.message, excs, failures=kept, results=self.results, cancelled=self.cancelled
        )
