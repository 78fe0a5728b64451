"""Discovery (SPEC §2, §3): order, shadowing, duplicates, attribution, isolation."""

from __future__ import annotations

import logging
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest

import longshoreman
from longshoreman import EntryPoint
from longshoreman._discovery import normalize, parse_entry_points

from .conftest import FakeEnv

G = "test.group"


def summary(eps: Iterable[EntryPoint]) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (ep.name, ep.value, ep.dist.name if ep.dist else None, ep.dist.version if ep.dist else None)
        for ep in eps
    ]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "longshoreman" and r.levelno == logging.WARNING
    ]


def test_lists_group_with_attribution_without_importing(fake_env: FakeEnv) -> None:
    fake_env.module("plug_a", "raise RuntimeError('must not be imported by listing')\n")
    fake_env.dist("alpha", "1.2", {G: {"a": "plug_a:thing", "b": "plug_a:other [fast]"}})
    fake_env.dist("beta", "0.1", {"other.group": {"x": "plug_a:x"}})

    eps = longshoreman.list_entry_points(G)

    assert isinstance(eps, tuple)
    assert summary(eps) == [
        ("a", "plug_a:thing", "alpha", "1.2"),
        ("b", "plug_a:other [fast]", "alpha", "1.2"),
    ]
    assert all(ep.group == G for ep in eps)
    assert "plug_a" not in sys.modules
    assert longshoreman.list_entry_points("no.such.group") == ()


def test_order_is_path_then_normalised_name_then_file(fake_env: FakeEnv) -> None:
    later = fake_env.add_path("later", front=False)
    fake_env.dist("Zeta", "1", {G: {"z2": "m:z2", "z1": "m:z1"}})
    fake_env.dist("alpha_beta", "1", {G: {"ab": "m:ab"}})
    fake_env.dist("Alpha-Aardvark", "1", {G: {"aa": "m:aa"}})
    fake_env.dist("aaa", "1", {G: {"first-in-later-path": "m:x"}}, where=later)

    names = [ep.name for ep in longshoreman.list_entry_points(G)]

    # alpha-aardvark < alpha-beta < zeta in the first entry; file order inside Zeta.
    assert names == ["aa", "ab", "z2", "z1", "first-in-later-path"]


def test_earlier_distribution_shadows_later_copies(fake_env: FakeEnv) -> None:
    old = fake_env.add_path("old", front=False)
    fake_env.dist("Plugins_Pkg", "2.0", {G: {"new": "m:new"}})
    fake_env.dist("plugins-pkg", "1.0", {G: {"old": "m:old"}}, where=old)
    fake_env.dist("independent", "1.0", {G: {"kept": "m:kept"}}, where=old)

    assert summary(longshoreman.list_entry_points(G)) == [
        ("new", "m:new", "Plugins_Pkg", "2.0"),
        ("kept", "m:kept", "independent", "1.0"),
    ]


def test_shadowing_copy_without_entry_points_still_shadows(fake_env: FakeEnv) -> None:
    old = fake_env.add_path("old", front=False)
    fake_env.dist("pkg", "2.0")  # the newer copy dropped its plugins
    fake_env.dist("pkg", "1.0", {G: {"gone": "m:gone"}}, where=old)

    assert longshoreman.list_entry_points(G) == ()


def test_exact_duplicates_listed_once_with_first_distribution(fake_env: FakeEnv) -> None:
    fake_env.dist("one", "1", {G: {"dup": "m:obj", "same-name": "m:a"}})
    fake_env.dist("two", "1", {G: {"dup": "m:obj", "same-name": "m:b"}})
    (fake_env.root / "three-1.dist-info" / "entry_points.txt").parent.mkdir()
    fake_env.dist("three", "1", f"[{G}]\nx = m:x\nx = m:x\n", folder="three-1.dist-info")

    assert summary(longshoreman.list_entry_points(G)) == [
        ("dup", "m:obj", "one", "1"),
        ("same-name", "m:a", "one", "1"),
        ("x", "m:x", "three", "1"),
        ("same-name", "m:b", "two", "1"),
    ]


def test_invalid_utf8_line_is_skipped_with_one_warning(
    fake_env: FakeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    fake_env.dist(
        "broken", "1", f"[{G}]\ngood = m:good\nbad\xff = m:bad\nalso = m:also\n".encode("latin-1")
    )
    fake_env.dist("healthy", "1", {G: {"fine": "m:fine"}})

    eps = longshoreman.list_entry_points(G)

    assert [ep.name for ep in eps] == ["good", "also", "fine"]
    messages = warnings_of(caplog)
    assert len(messages) == 1
    assert "skipped 1 malformed line(s)" in messages[0]
    assert "broken-1.dist-info" in messages[0]
    assert "line 3" in messages[0]


def test_malformed_lines_are_skipped_and_counted(
    fake_env: FakeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    text = (
        "orphan = m:before_any_group\n"
        f"[{G}]\n"
        "no equals sign here\n"
        " = m:nameless\n"
        "ok = m:ok\n"
        "[broken header\n"
        "lost = m:under_broken_header\n"
        "[]\n"
        f"[{G}]\n"
        "; a comment\n"
        "# another\n"
        "ok2=m:ok2\n"
    )
    fake_env.dist("messy", "1", text)

    assert [(ep.name, ep.value) for ep in longshoreman.list_entry_points(G)] == [
        ("ok", "m:ok"),
        ("ok2", "m:ok2"),
    ]
    (message,) = warnings_of(caplog)
    assert "skipped 6 malformed line(s)" in message
    assert "line 1" in message


def test_malformed_value_is_listed_in_order_and_fails_on_load(fake_env: FakeEnv) -> None:
    fake_env.module("good_mod", "VALUE = 42\n")
    fake_env.dist(
        "vals",
        "1",
        {G: {"first": "good_mod:VALUE", "broken": "not a : valid value!", "last": "good_mod"}},
    )

    first, broken, last = longshoreman.list_entry_points(G)

    assert broken.name == "broken"
    assert first.load() == 42
    assert last.load() is sys.modules["good_mod"]
    with pytest.raises(
        ValueError, match=r"malformed entry point value 'not a : valid value!' for 'broken'.*vals 1"
    ):
        broken.load()
    with pytest.raises(ValueError, match="malformed"):
        _ = broken.module


def test_metadata_without_name_is_listed_but_shadows_nothing(
    fake_env: FakeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    later = fake_env.add_path("later", front=False)
    fake_env.dist(
        "pkg", "9", {G: {"nameless-ep": "m:n"}}, metadata="Metadata-Version: 2.1\nVersion: 9\n"
    )
    fake_env.dist("pkg", "1", {G: {"real": "m:r"}}, where=later)

    assert summary(longshoreman.list_entry_points(G)) == [
        ("nameless-ep", "m:n", "pkg", "9"),
        ("real", "m:r", "pkg", "1"),
    ]
    assert any("has no Name in its metadata" in m for m in warnings_of(caplog))


def test_empty_metadata_folder_is_not_a_distribution(
    fake_env: FakeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    later = fake_env.add_path("later", front=False)
    (fake_env.root / "pkg-3.dist-info").mkdir()  # empty: e.g. an interrupted uninstall
    orphan = fake_env.root / "orphan-1.dist-info"
    orphan.mkdir()
    (orphan / "entry_points.txt").write_text(f"[{G}]\nghost = m:ghost\n")
    fake_env.dist("pkg", "1", {G: {"visible": "m:v"}}, where=later)

    assert summary(longshoreman.list_entry_points(G)) == [("visible", "m:v", "pkg", "1")]
    (message,) = warnings_of(caplog)
    assert "orphan-1.dist-info" in message
    assert "not a distribution" in message


def test_unreadable_metadata_bytes_do_not_hide_others(fake_env: FakeEnv) -> None:
    fake_env.dist("weird", "1", {G: {"w": "m:w"}}, metadata=b"Name: weird\xff\nVersion: 1\n\n")
    fake_env.dist("zzz", "1", {G: {"z": "m:z"}})

    assert summary(longshoreman.list_entry_points(G)) == [
        ("w", "m:w", "weird\N{REPLACEMENT CHARACTER}", "1"),
        ("z", "m:z", "zzz", "1"),
    ]


def test_egg_info_folder_file_and_egg_directory(fake_env: FakeEnv, tmp_path: Path) -> None:
    fake_env.dist("legacy", "0.5", {G: {"leg": "m:leg"}}, kind="egg-info")
    # A distutils-era single-file egg-info: a distribution without entry points.
    (fake_env.root / "oldstyle-1.0-py3.11.egg-info").write_text(
        "Metadata-Version: 1.0\nName: oldstyle\nVersion: 1.0\n"
    )
    shadowed = fake_env.add_path("shadowed", front=False)
    fake_env.dist("oldstyle", "0.1", {G: {"hidden": "m:hidden"}}, where=shadowed)
    egg = tmp_path / "eggy-2.0-py3.11.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: eggy\nVersion: 2.0\n")
    (egg / "EGG-INFO" / "entry_points.txt").write_text(f"[{G}]\negg-ep = eggy:thing\n")
    sys.path.append(str(egg))

    assert summary(longshoreman.list_entry_points(G)) == [
        ("leg", "m:leg", "legacy", "0.5"),
        ("egg-ep", "eggy:thing", "eggy", "2.0"),
    ]


def test_zip_on_sys_path(fake_env: FakeEnv, tmp_path: Path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            "zipped-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped\nVersion: 1.0\n"
        )
        zf.writestr("zipped-1.0.dist-info/entry_points.txt", f"[{G}]\nfrom-zip = zipped:obj\n")
        zf.writestr("zipped.py", "obj = 'zipped object'\n")
    sys.path.append(str(archive))

    (ep,) = longshoreman.list_entry_points(G)

    assert (ep.name, ep.dist and ep.dist.name, ep.dist and ep.dist.version) == (
        "from-zip",
        "zipped",
        "1.0",
    )
    assert ep.load() == "zipped object"


def test_relative_sys_path_entry_follows_the_working_directory(
    fake_env: FakeEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("one", "two"):
        (tmp_path / name / "sub").mkdir(parents=True)
        fake_env.dist(name, "1", {G: {name: "m:x"}}, where=tmp_path / name / "sub")
    sys.path.append("sub")
    monkeypatch.chdir(tmp_path / "one")
    assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["one"]
    monkeypatch.chdir(tmp_path / "two")
    assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["two"]


def test_repeated_calls_return_the_same_objects(fake_env: FakeEnv) -> None:
    fake_env.dist("stable", "1", {G: {"s": "m:s"}})
    fake_env.settle()
    first = longshoreman.list_entry_points(G)
    assert longshoreman.list_entry_points(G) is first


def test_repeated_calls_return_the_same_objects_even_while_young(fake_env: FakeEnv) -> None:
    # Just written: the folder is too young to trust, so each call rescans, yet an
    # unchanged result is still the same tuple.
    fake_env.dist("stable", "1", {G: {"s": "m:s"}})
    first = longshoreman.list_entry_points(G)
    assert longshoreman.list_entry_points(G) is first


def test_namespace_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="namespace must be a str, not bytes"):
        longshoreman.list_entry_points(b"group")  # type: ignore[arg-type]


def test_entry_point_behaves_like_importlib(fake_env: FakeEnv) -> None:
    fake_env.module("pkgx.sub", "class Outer:\n    class Inner:\n        pass\n")
    fake_env.dist("pkgx", "3", {G: {"deep": "pkgx.sub:Outer.Inner [extra1, extra_2]"}})

    (ep,) = longshoreman.list_entry_points(G)

    assert (ep.module, ep.attr, ep.extras) == ("pkgx.sub", "Outer.Inner", ["extra1", "extra_2"])
    assert ep.load() is sys.modules["pkgx.sub"].Outer.Inner
    assert ep.matches(name="deep", group=G)
    assert not ep.matches(name="other")
    same = EntryPoint("deep", "pkgx.sub:Outer.Inner [extra1, extra_2]", G)
    assert ep == same
    assert hash(ep) == hash(same)
    assert ep != EntryPoint("deep", "pkgx.sub:Outer", G)
    assert (
        repr(ep)
        == f"EntryPoint(name='deep', value='pkgx.sub:Outer.Inner [extra1, extra_2]', group='{G}')"
    )
    assert repr(ep.dist) == "Distribution(name='pkgx', version='3')"
    assert ep.dist is not None
    assert ep.dist.path == str(fake_env.root / "pkgx-3.dist-info")


def test_custom_distribution_finder_is_honoured(
    fake_env: FakeEnv, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path
) -> None:
    import importlib_metadata

    class Virtual(importlib_metadata.Distribution):
        def read_text(self, filename: str) -> str | None:
            return {
                "METADATA": "Metadata-Version: 2.1\nName: virtual\nVersion: 7\n",
                "entry_points.txt": f"[{G}]\nfrom-finder = virtual_mod:obj\n",
            }.get(filename)

        def locate_file(self, path: str | object) -> Path:
            return Path("/nonexistent")

    class Finder:
        def find_spec(self, *args: object) -> None:
            return None

        def find_distributions(self, context: object = None) -> list[Virtual]:
            return [Virtual()]

    fake_env.dist("ondisk", "1", {G: {"from-disk": "m:x"}})
    fake_env.settle()
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])

    assert summary(longshoreman.list_entry_points(G)) == [
        ("from-disk", "m:x", "ondisk", "1"),
        ("from-finder", "virtual_mod:obj", "virtual", "7"),
    ]
    assert not isolated_cache.exists() or not any(isolated_cache.iterdir())


def test_normalize() -> None:
    assert normalize("Foo__Bar.baz-Qux") == "foo-bar-baz-qux"
    assert normalize("  Simple ") == "simple"


def test_parse_entry_points_handles_bom_and_crlf(caplog: pytest.LogCaptureFixture) -> None:
    data = b"\xef\xbb\xbf[g]\r\na = m:a\r\n\r\n[h]\r\nb=m:b\r\n"
    assert parse_entry_points(data, "x") == [("g", "a", "m:a"), ("h", "b", "m:b")]
    assert warnings_of(caplog) == []


def test_broken_distribution_warns_once_however_often_it_is_rescanned(
    fake_env: FakeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    # A young environment is rescanned on every call; the warning is not repeated.
    fake_env.dist("broken", "1", f"[{G}]\ngood = m:good\nno equals sign\n")
    for _ in range(3):
        assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["good"]
    assert len(warnings_of(caplog)) == 1
    # The file changes and is still broken: that is news, and is said once more.
    fake_env.dist("broken", "1", f"[{G}]\ngood = m:good\nstill no equals sign\n")
    assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["good"]
    assert len(warnings_of(caplog)) == 2


def test_entry_points_and_distributions_are_read_only(fake_env: FakeEnv) -> None:
    fake_env.dist("ro", "1", {G: {"a": "m:a"}})
    fake_env.settle()
    (ep,) = longshoreman.list_entry_points(G)
    for attr in ("name", "value", "group", "dist"):
        with pytest.raises(AttributeError):
            setattr(ep, attr, "changed")
    assert ep.dist is not None
    for attr in ("name", "version", "path"):
        with pytest.raises(AttributeError):
            setattr(ep.dist, attr, "changed")
    assert longshoreman.list_entry_points(G)[0].name == "a"
