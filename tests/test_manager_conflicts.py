"""Conflict resolvers and the missing-name callback, for every kind of plugin object."""

from __future__ import annotations

import logging
import types
from typing import Any

import pytest

from longshoreman import (
    EntryPoint,
    Extension,
    ExtensionManager,
    MultipleMatches,
    error_on_conflict,
    ignore_conflicts,
    warning_on_missing_entrypoint,
)
from longshoreman._entrypoints import Distribution


class Formatter:
    pass


def format_text() -> str:
    return "text"


def kinds() -> list[Extension[Any]]:
    """A class, a function, a module and an instance, all called ``fmt``."""
    module = types.ModuleType("fancy_formatters")
    return [
        Extension("fmt", None, Formatter, None),
        Extension("fmt", None, format_text, None),
        Extension("fmt", None, module, None),
        Extension("fmt", None, Formatter(), None),
    ]


CLASS = f"{__name__}:Formatter"
FUNCTION = f"{__name__}:format_text"


def test_ignore_conflicts_keeps_the_first_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    exts = kinds()
    with caplog.at_level(logging.WARNING, logger="longshoreman"):
        assert ignore_conflicts("ns", "fmt", exts) is exts[0]
    [record] = caplog.records
    assert record.name == "longshoreman"
    assert record.getMessage() == (
        "multiple implementations found for the 'fmt' command in ns namespace: "
        f"{CLASS}, {FUNCTION}, fancy_formatters, {__name__}; using the first one"
    )


def test_error_on_conflict_names_every_target_for_any_plugin_type() -> None:
    with pytest.raises(MultipleMatches) as info:
        error_on_conflict("ns", "fmt", kinds())
    assert str(info.value) == (
        "multiple implementations found for the 'fmt' command in ns namespace: "
        f"{CLASS}, {FUNCTION}, fancy_formatters, {__name__}"
    )


def test_targets_name_their_distribution_when_known() -> None:
    one = EntryPoint("fmt", "pkg.a:A", "ns", Distribution("dist-a", "1.0"))
    two = EntryPoint("fmt", "pkg.b:B", "ns", Distribution("dist-b", "2.1"))
    exts: list[Extension[Any]] = [
        Extension("fmt", one, None, None),
        Extension("fmt", two, None, None),
    ]
    with pytest.raises(
        MultipleMatches, match=r"pkg\.a:A \(dist-a 1\.0\), pkg\.b:B \(dist-b 2\.1\)$"
    ):
        error_on_conflict("ns", "fmt", exts)


def test_getitem_sees_every_duplicate_not_only_adjacent_ones() -> None:
    seen: list[list[str]] = []

    def resolver(namespace: str, name: str, extensions: Any) -> Extension[Any]:
        seen.append([ext.entry_point_target for ext in extensions])
        return extensions[-1]  # type: ignore[no-any-return]

    a: list[Extension[Any]] = [
        Extension("fmt", None, Formatter, None),
        Extension("other", None, dict, None),
        Extension("fmt", None, format_text, None),
    ]
    mgr = ExtensionManager[Any].make_test_instance(a, conflict_resolver=resolver)
    assert mgr["fmt"] is a[2]
    assert mgr["other"] is a[1]
    assert seen == [[CLASS, FUNCTION]]
    assert dict(mgr.items()) == {"fmt": a[2], "other": a[1]}


def test_the_default_resolver_keeps_the_first(caplog: pytest.LogCaptureFixture) -> None:
    exts = kinds()
    mgr = ExtensionManager[Any].make_test_instance(exts)
    assert mgr["fmt"] is exts[0]
    assert len(caplog.records) == 1


def test_error_on_conflict_as_a_managers_resolver() -> None:
    mgr = ExtensionManager[Any].make_test_instance(kinds(), conflict_resolver=error_on_conflict)
    with pytest.raises(MultipleMatches, match="'fmt' command in TESTING namespace"):
        mgr["fmt"]
    assert "fmt" in mgr  # membership needs no resolution


def test_replacing_extensions_drops_the_resolved_names() -> None:
    mgr = ExtensionManager[Any].make_test_instance([Extension("a", None, dict, None)])
    assert "a" in dict(mgr.items())
    mgr.extensions = [Extension("b", None, list, None)]
    assert list(dict(mgr.items())) == ["b"]


def test_warning_on_missing_entrypoint_logs_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="longshoreman"):
        warning_on_missing_entrypoint(["zeta", "alpha"])
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.name == "longshoreman"
    assert record.getMessage() == "Could not find the requested extensions: zeta, alpha"


def test_a_conflict_only_matters_for_its_own_name() -> None:
    other: Extension[Any] = Extension("other", None, dict, None)
    mgr = ExtensionManager[Any].make_test_instance(
        [*kinds(), other], conflict_resolver=error_on_conflict
    )
    assert mgr["other"] is other
    with pytest.raises(KeyError):
        mgr["absent"]
    with pytest.raises(MultipleMatches):
        dict(mgr.items())  # items() resolves every name
