"""longshoreman: stevedore's plugin managers, async-native on anyio.

The layers, bottom up (each module is private; this file is the public surface):

* synchronous discovery, usable without an event loop (CLI, Sphinx):
  ``_entrypoints`` (EntryPoint, Distribution), ``_discovery`` (reading distributions
  off ``sys.path``), ``_cache`` (in-process memo + on-disk cache, ``list_entry_points``);
* the records and policies: ``_extension`` (Extension), ``_conflicts`` (resolvers,
  missing-name callback), ``exceptions``;
* the one place where concurrency happens: ``_fanout`` (task groups, limits, timeouts,
  exception groups);
* the managers, one module per stevedore concept: ``_manager`` (ExtensionManager),
  ``_named``, ``_enabled``, ``_dispatch``, ``_driver``, ``_hook``;
* tools: ``testing``, ``sphinxext``, ``_cli``.

Only discovery is imported by ``import longshoreman``; the rest (and anyio) is imported
the first time one of its names is used, so a program that only lists entry points
pays for nothing else.

Logging: records go to the ``longshoreman`` logger, which has a ``logging.NullHandler``
(the library convention): an application that configures no logging sees nothing, one
that does sees every record. ``logging`` itself is not imported here (it would double
the cost of ``import longshoreman``); the handler is added as soon as longshoreman's
logging modules can be reached: now if ``logging`` is already imported, else on first
use of a lazily imported name.
"""

from __future__ import annotations

import sys

from ._cache import invalidate_caches, list_entry_points
from ._entrypoints import Distribution, EntryPoint

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._conflicts import (
        ConflictResolver,
        error_on_conflict,
        ignore_conflicts,
        warning_on_missing_entrypoint,
    )
    from ._dispatch import DispatchExtensionManager, NameDispatchExtensionManager
    from ._driver import DriverManager
    from ._enabled import EnabledExtensionManager
    from ._extension import Extension
    from ._hook import HookManager
    from ._instrument import Instrument, InstrumentPhase, PluginEvent
    from ._manager import ExtensionManager, FailurePhase, LoadFailure, OnLoadFailureCallback
    from ._named import NamedExtensionManager, OnMissingEntrypointsCallback
    from .exceptions import (
        ExtensionErrorGroup,
        MultipleMatches,
        NoMatches,
        NoUniqueMatch,
        RequirementError,
    )

__all__ = [
    "ConflictResolver",
    "DispatchExtensionManager",
    "Distribution",
    "DriverManager",
    "EnabledExtensionManager",
    "EntryPoint",
    "Extension",
    "ExtensionErrorGroup",
    "ExtensionManager",
    "FailurePhase",
    "HookManager",
    "Instrument",
    "InstrumentPhase",
    "LoadFailure",
    "MultipleMatches",
    "NameDispatchExtensionManager",
    "NamedExtensionManager",
    "NoMatches",
    "NoUniqueMatch",
    "OnLoadFailureCallback",
    "OnMissingEntrypointsCallback",
    "PluginEvent",
    "RequirementError",
    "error_on_conflict",
    "ignore_conflicts",
    "invalidate_caches",
    "list_entry_points",
    "warning_on_missing_entrypoint",
]

__version__ = "0.1.0"

_LAZY = {
    "ConflictResolver": "_conflicts",
    "DispatchExtensionManager": "_dispatch",
    "DriverManager": "_driver",
    "EnabledExtensionManager": "_enabled",
    "Extension": "_extension",
    "ExtensionErrorGroup": "exceptions",
    "ExtensionManager": "_manager",
    "FailurePhase": "_manager",
    "HookManager": "_hook",
    "Instrument": "_instrument",
    "InstrumentPhase": "_instrument",
    "LoadFailure": "_manager",
    "MultipleMatches": "exceptions",
    "NameDispatchExtensionManager": "_dispatch",
    "NamedExtensionManager": "_named",
    "NoMatches": "exceptions",
    "NoUniqueMatch": "exceptions",
    "OnLoadFailureCallback": "_manager",
    "OnMissingEntrypointsCallback": "_named",
    "PluginEvent": "_instrument",
    "RequirementError": "exceptions",
    "error_on_conflict": "_conflicts",
    "ignore_conflicts": "_conflicts",
    "warning_on_missing_entrypoint": "_conflicts",
}


_quiet = False


def _add_null_handler() -> None:
    """Give the ``longshoreman`` logger its ``NullHandler`` (once per process)."""
    global _quiet  # noqa: PLW0603 - a once-only flag, not state
    if _quiet:
        return
    import logging

    logger = logging.getLogger(__name__)
    if not any(type(handler) is logging.NullHandler for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())
    _quiet = True


if "logging" in sys.modules:
    _add_null_handler()


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'longshoreman' has no attribute {name!r}")
    _add_null_handler()  # every lazily imported module may log
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
