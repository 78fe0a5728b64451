"""longshoreman.testing (SPEC §8): fake entry points and test extensions."""

from __future__ import annotations

import sys
from typing import Any

import pytest

import longshoreman
from longshoreman.testing import (
    FAKE_DISTRIBUTION,
    fake_entry_point,
    fake_entry_points,
    make_extension,
    make_extensions,
)

from .conftest import FakeEnv

G = "testing.group"


class Sink:
    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix


def factory() -> str:
    return "made"


def test_fake_entry_points_are_seen_after_installed_ones(fake_env: FakeEnv) -> None:
    fake_env.module("real_mod", "thing = 'real'\n")
    fake_env.dist("real", "1", {G: {"installed": "real_mod:thing"}})
    before = longshoreman.list_entry_points(G)

    with fake_entry_points(G, {"obj": Sink, "string": "real_mod:thing"}) as eps:
        listed = longshoreman.list_entry_points(G)
        assert [ep.name for ep in listed] == ["installed", "obj", "string"]
        assert listed[1:] == eps
        assert longshoreman.list_entry_points(G) is listed  # same objects while unchanged
        assert listed[1].load() is Sink
        assert listed[2].load() == "real"
        assert listed[1].dist is FAKE_DISTRIBUTION
        assert listed[1].value == f"{__name__}:Sink"
        assert (listed[1].module, listed[1].attr, listed[1].extras) == (__name__, "Sink", [])

    assert longshoreman.list_entry_points(G) == before


def test_replace_hides_installed_and_blocks_nest(fake_env: FakeEnv) -> None:
    fake_env.dist("real", "1", {G: {"installed": "m:x"}})
    with fake_entry_points(G, [("a", factory)], replace=True):
        assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["a"]
        with fake_entry_points(G, [("b", factory), ("b", Sink)]):
            assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["a", "b", "b"]
        assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["a"]
    assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["installed"]


def test_fake_entry_points_removed_even_on_error() -> None:
    with pytest.raises(RuntimeError, match="boom"), fake_entry_points(G, {"a": factory}):
        raise RuntimeError("boom")
    assert longshoreman.list_entry_points(G) == ()


def test_fake_entry_points_rejects_non_string_namespace() -> None:
    bad: Any = 1
    with (
        pytest.raises(TypeError, match="namespace must be a str, not int"),
        fake_entry_points(bad, {}),
    ):
        pass


def test_managers_built_inside_see_fake_plugins() -> None:
    with fake_entry_points(G, {"sink": Sink, "fn": factory}):
        mgr: longshoreman.ExtensionManager[object] = longshoreman.ExtensionManager(G)
        assert mgr.names() == ["sink", "fn"]
        assert mgr["sink"].plugin is Sink
        assert mgr["fn"].entry_point_target == f"{__name__}:factory"


def test_fake_instances_and_modules() -> None:
    instance = Sink("x")
    ep = fake_entry_point("inst", instance)
    assert ep.load() is instance
    assert ep.value == __name__  # an instance has no qualified name of its own
    module_ep = fake_entry_point("mod", sys.modules[__name__])
    assert module_ep.load() is sys.modules[__name__]
    assert module_ep.value == __name__


def test_make_extension_and_extensions() -> None:
    ext = make_extension("one", Sink, Sink("o"))
    assert (ext.name, ext.plugin, ext.obj and ext.obj.prefix) == ("one", Sink, "o")
    assert ext.entry_point is not None
    assert ext.entry_point.group == "TESTING"
    assert ext.entry_point_target == f"{__name__}:Sink"
    exts = make_extensions({"a": 1, "b": 2}, namespace="ns")
    assert [(e.name, e.plugin, e.obj, e.entry_point and e.entry_point.group) for e in exts] == [
        ("a", 1, 1, "ns"),
        ("b", 2, 2, "ns"),
    ]
    mgr = longshoreman.ExtensionManager.make_test_instance(exts)
    assert mgr.names() == ["a", "b"]
