"""Conflict resolvers and the default callback for missing names.

A *conflict resolver* is called as ``resolver(namespace, name, extensions)`` when
``manager[name]`` finds several extensions called ``name``; it gets **all** of them, in
discovery order (stevedore only saw runs of adjacent duplicates), and returns the one to
use or raises.

Both resolvers word their message as stevedore's ``error_on_conflict`` does, so logs and
tests written against stevedore still match: ``multiple implementations found for the
'<name>' command in <namespace> namespace: <target>, <target>``, each target followed by
its distribution and version when known.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, TypeAlias, TypeVar

from ._extension import Extension
from .exceptions import MultipleMatches

__all__ = [
    "ConflictResolver",
    "error_on_conflict",
    "ignore_conflicts",
    "warning_on_missing_entrypoint",
]

T = TypeVar("T")

LOG = logging.getLogger("longshoreman")

#: ``resolver(namespace, name, extensions) -> extension``: picks one of several extensions
#: sharing a name (it sees all of them, in discovery order), or raises.
ConflictResolver: TypeAlias = Callable[[str, str, Sequence[Extension[Any]]], Extension[Any]]


def _describe(ext: Extension[Any]) -> str:
    """Where an extension comes from, for any kind of plugin object."""
    if ext.entry_point is None and isinstance(ext.plugin, ModuleType):
        target = ext.plugin.__name__
    else:
        target = ext.entry_point_target
    dist = ext.entry_point.dist if ext.entry_point is not None else None
    return f"{target} ({dist.name} {dist.version})" if dist is not None else target


def _message(namespace: str, name: str, extensions: Sequence[Extension[Any]]) -> str:
    """stevedore's words (its ``error_on_conflict``), with every target."""
    targets = ", ".join(_describe(ext) for ext in extensions)
    return (
        f"multiple implementations found for the '{name}' command in {namespace} "
        f"namespace: {targets}"
    )


def ignore_conflicts(namespace: str, name: str, extensions: Sequence[Extension[T]]) -> Extension[T]:
    """Warn about the duplicates and keep the first one discovered.

    Discovery order follows ``sys.path``, so this is the copy Python's own import system
    would prefer. (stevedore kept the last one.)
    """
    LOG.warning("%s; using the first one", _message(namespace, name, extensions))
    return extensions[0]


def error_on_conflict(
    namespace: str, name: str, extensions: Sequence[Extension[T]]
) -> Extension[T]:
    """Refuse to choose: raise :class:`MultipleMatches` naming every candidate."""
    raise MultipleMatches(_message(namespace, name, extensions), namespace=namespace, name=name)


def warning_on_missing_entrypoint(names: list[str]) -> None:
    """Log one warning naming every requested name that has no entry point."""
    LOG.warning("Could not find the requested extensions: %s", ", ".join(names))
