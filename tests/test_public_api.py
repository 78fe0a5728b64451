"""The public surface (SPEC §1, §7): names, laziness, and what importing costs."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import pytest

import longshoreman

SPEC_NAMES = {
    # §2, §3
    "list_entry_points",
    "invalidate_caches",
    "EntryPoint",
    "Extension",
    # §4, §6
    "ExtensionManager",
    "NamedExtensionManager",
    "EnabledExtensionManager",
    "DispatchExtensionManager",
    "NameDispatchExtensionManager",
    "DriverManager",
    "HookManager",
    # §7
    "NoUniqueMatch",
    "NoMatches",
    "MultipleMatches",
    "ExtensionErrorGroup",
    "RequirementError",
    "ignore_conflicts",
    "error_on_conflict",
    "warning_on_missing_entrypoint",
}


def test_all_is_sorted_and_complete() -> None:
    assert longshoreman.__all__ == sorted(longshoreman.__all__)
    assert set(longshoreman.__all__) >= SPEC_NAMES
    for name in longshoreman.__all__:
        assert getattr(longshoreman, name) is not None, name
    # Everything public that is not a submodule or an import-time helper is in __all__.
    helpers = {"annotations", "TYPE_CHECKING"}
    public = {
        n
        for n in dir(longshoreman)
        if not n.startswith("_") and not isinstance(getattr(longshoreman, n), ModuleType)
    }
    assert public - helpers == set(longshoreman.__all__)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchThing'"):
        _ = longshoreman.NoSuchThing


def test_exception_hierarchy() -> None:
    assert issubclass(longshoreman.NoUniqueMatch, RuntimeError)
    assert issubclass(longshoreman.NoMatches, longshoreman.NoUniqueMatch)
    assert issubclass(longshoreman.MultipleMatches, longshoreman.NoUniqueMatch)
    assert issubclass(longshoreman.ExtensionErrorGroup, ExceptionGroup)
    assert issubclass(longshoreman.RequirementError, ImportError)


def test_import_loads_discovery_only() -> None:
    code = (
        "import sys, longshoreman\n"
        "print(sorted(m for m in ('anyio', 'typing', 're', 'importlib.metadata', "
        "'importlib_metadata', 'longshoreman._manager') if m in sys.modules))\n"
        "longshoreman.ExtensionManager\n"
        "print('anyio' in sys.modules, 'longshoreman._manager' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["[]", "True True"]
