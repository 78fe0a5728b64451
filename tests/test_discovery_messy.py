"""Discovery on real, messy environments (issue 9, SPEC §2): importlib's answer, always.

Each test builds its situation for real: folders on disk in a listing order that both
importlib and longshoreman see, a deleted working directory, real zip files, a cache
file damaged or replaced by another process, a cache folder created by a dozen
processes at once or swapped for a symlink while in use.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import importlib_metadata
import pytest

import longshoreman
from longshoreman import _cache, _discovery

from .conftest import FakeEnv
from .test_cache import cache_files, new_process, snapshot_kind
from .test_discovery import summary, warnings_of

G = "messy.group"


def forget_importlib_caches() -> None:
    """importlib.metadata (stdlib and backport) remembers listings; start afresh."""
    for module in (importlib.metadata, importlib_metadata):
        module.FastPath.__new__.cache_clear()


def force_listing(monkeypatch: pytest.MonkeyPatch, folder: Path, first: list[str]) -> None:
    """``os.listdir(folder)`` lists ``first`` in that order, then the rest, for everyone.

    A file system does not let one choose its listing order; importlib.metadata and
    longshoreman both take it from ``os.listdir``, so this makes both see the chosen one.
    """
    real = os.listdir

    def listdir(path: object = ".") -> list[str]:
        names = real(path)  # type: ignore[call-overload]
        if isinstance(path, str) and os.path.normpath(path) == str(folder):
            names = [n for n in first if n in names] + [n for n in names if n not in first]
        return names  # type: ignore[no-any-return]

    monkeypatch.setattr(os, "listdir", listdir)
    forget_importlib_caches()


def importlib_group(group: str) -> list[tuple[str, str]]:
    forget_importlib_caches()
    return [(ep.name, ep.value) for ep in importlib.metadata.entry_points(group=group)]


def names_values(eps: tuple[longshoreman.EntryPoint, ...]) -> list[tuple[str, str]]:
    return [(ep.name, ep.value) for ep in eps]


# -- 1. two copies of one distribution in one folder ---------------------------------


@pytest.mark.parametrize("cache", ["cold", "warm"])
@pytest.mark.parametrize("order", ["as listed", "older first", "newer first", "alias first"])
def test_two_copies_in_one_folder_the_one_importlib_reports_wins(
    fake_env: FakeEnv, monkeypatch: pytest.MonkeyPatch, order: str, cache: str
) -> None:
    # What `pip install --ignore-installed` leaves: two dist-info folders of one name,
    # their entry points differing (virtualenv's did); the case of the folder names may
    # differ too (Pygments-2.15.0 / pygments-2.17.2).
    fake_env.dist("mccabe", "0.6.1", {G: {"mccabe": "mccabe:Old", "gone": "mccabe:gone"}})
    fake_env.dist("mccabe", "0.7.0", {G: {"mccabe": "mccabe:New"}})
    fake_env.dist(
        "Pygments", "2.15.0", {G: {"pyg": "pygments:old"}}, folder="Pygments-2.15.0.dist-info"
    )
    fake_env.dist(
        "pygments", "2.17.2", {G: {"pyg": "pygments:new"}}, folder="pygments-2.17.2.dist-info"
    )
    # A folder of another name whose metadata says "mccabe": importlib's version("mccabe")
    # never looks at it, so it must not win either, wherever it is listed.
    fake_env.dist(
        "mccabe", "9.9", {G: {"alias": "mccabe:alias"}}, folder="mccabe_fork-9.9.dist-info"
    )
    listing = {
        "older first": ["mccabe-0.6.1.dist-info", "Pygments-2.15.0.dist-info"],
        "newer first": ["mccabe-0.7.0.dist-info", "pygments-2.17.2.dist-info"],
        "alias first": ["mccabe_fork-9.9.dist-info", "mccabe-0.7.0.dist-info"],
    }
    if order != "as listed":
        force_listing(monkeypatch, fake_env.root, listing[order])
        head = listing[order][1 if order == "alias first" else 0]
        assert importlib.metadata.version("mccabe") == head.removesuffix(".dist-info").split("-")[1]
    fake_env.settle()
    forget_importlib_caches()
    versions = {name: importlib.metadata.version(name) for name in ("mccabe", "pygments")}
    assert versions == {name: importlib_metadata.version(name) for name in versions}
    wanted = {
        name: {(ep.name, ep.value) for ep in importlib.metadata.distribution(name).entry_points}
        for name in versions
    }

    eps = longshoreman.list_entry_points(G)
    if cache == "warm":
        new_process()
        eps = longshoreman.list_entry_points(G)
        assert snapshot_kind() == "_FileSnapshot"

    by_dist: dict[str, set[tuple[str, str]]] = {}
    for ep in eps:
        assert ep.dist is not None
        assert ep.dist.version == versions[ep.dist.name.lower()], ep
        by_dist.setdefault(ep.dist.name.lower(), set()).add((ep.name, ep.value))
    assert by_dist == wanted


@pytest.mark.parametrize("first", ["dist-info", "egg-info"])
def test_dist_info_and_egg_info_of_one_name_follow_the_listing(
    fake_env: FakeEnv, monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    # A legacy install upgraded by a pip that left the old egg-info behind.
    fake_env.dist("legacy", "1.0", {G: {"ep": "legacy:old"}}, kind="egg-info")
    fake_env.dist("legacy", "2.0", {G: {"ep": "legacy:new"}})
    names = ["legacy-1.0.egg-info", "legacy-2.0.dist-info"]
    force_listing(monkeypatch, fake_env.root, names if first == "egg-info" else names[::-1])
    expected = importlib.metadata.version("legacy")
    assert expected == ("1.0" if first == "egg-info" else "2.0")
    assert summary(longshoreman.list_entry_points(G)) == [
        ("ep", f"legacy:{'old' if expected == '1.0' else 'new'}", "legacy", expected)
    ]


# -- 2. pip's ~leftovers --------------------------------------------------------------


@pytest.mark.parametrize("leftover", ["listed first", "listed last"])
def test_tilde_folders_are_not_distributions(
    fake_env: FakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    leftover: str,
) -> None:
    later = fake_env.add_path("later", front=False)
    # An upgrade of virtualenv interrupted after pip renamed the old copy away.
    fake_env.dist(
        "virtualenv",
        "20.20.0",
        {G: {"venv": "virtualenv:old"}},
        folder="~irtualenv-20.20.0.dist-info",
    )
    fake_env.dist("virtualenv", "20.25.0", {G: {"venv": "virtualenv:new"}})
    # A leftover alone shadows nothing: the copy further down sys.path is the one.
    fake_env.dist("lonely", "1.0", {G: {"ghost": "lonely:ghost"}}, folder="~onely-1.0.dist-info")
    fake_env.dist("lonely", "0.9", {G: {"older": "lonely:older"}}, where=later)
    names = sorted(p.name for p in fake_env.root.iterdir())
    force_listing(monkeypatch, fake_env.root, names if leftover == "listed first" else names[::-1])

    with caplog.at_level(logging.WARNING, "longshoreman"):
        eps = longshoreman.list_entry_points(G)
    assert summary(eps) == [
        ("venv", "virtualenv:new", "virtualenv", "20.25.0"),
        ("older", "lonely:older", "lonely", "0.9"),
    ]
    assert importlib.metadata.version("virtualenv") == "20.25.0"
    assert warnings_of(caplog) == []


def test_tilde_folders_in_a_zip_are_not_distributions(fake_env: FakeEnv, tmp_path: Path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for folder, target in (
            ("~lugin-1.0.dist-info", "plugin:old"),
            ("plugin-2.0.dist-info", "plugin:new"),
        ):
            version = folder.removesuffix(".dist-info").split("-")[1]
            zf.writestr(
                f"{folder}/METADATA", f"Metadata-Version: 2.1\nName: plugin\nVersion: {version}\n"
            )
            zf.writestr(f"{folder}/entry_points.txt", f"[{G}]\np = {target}\n")
    sys.path.append(str(archive))
    assert summary(longshoreman.list_entry_points(G)) == [("p", "plugin:new", "plugin", "2.0")]


# -- 3 and 6. a cache file damaged, or rewritten by another process -------------------


def section_span(data: bytes, group: str) -> tuple[int, int]:
    """Where ``group``'s section is in a cache file: ``(start, length)``."""
    eol = data.index(b"\n", len(_cache.MAGIC))
    _, key_len, index_len = data[len(_cache.MAGIC) : eol].split(b" ")
    base = eol + 1 + int(key_len) + int(index_len)
    index = data[eol + 1 + int(key_len) : base].decode("utf-8", "surrogatepass")
    for line in index.split("\n"):
        fields = line.split("\0")
        if fields[0] == group:
            return base + int(fields[1]), int(fields[2])
    raise AssertionError(f"no section for {group!r}")


def damage_section(file: Path, group: str) -> None:
    """Flip one byte inside ``group``'s section; the header (and its CRC) stay valid."""
    data = bytearray(file.read_bytes())
    start, length = section_span(bytes(data), group)
    data[start + length // 2] ^= 0x20
    file.write_bytes(bytes(data))


WRITER = """
import json, sys
sys.path[:] = json.loads(sys.argv[1])
import longshoreman
from longshoreman import _discovery
_discovery.RACY_NS = 0  # the environment is settled; the real site-packages may be young
for group in sys.argv[2:]:
    longshoreman.list_entry_points(group)
"""


def another_process_writes_the_cache(*groups: str) -> None:
    """A real second process, same interpreter, sys.path, cwd and cache folder."""
    subprocess.run(
        [sys.executable, "-c", WRITER, json.dumps(sys.path), *groups],
        check=True,
        capture_output=True,
        cwd=os.getcwd(),
        timeout=60,
    )


@pytest.fixture
def two_groups(fake_env: FakeEnv) -> FakeEnv:
    fake_env.dist("first", "1.0", {"a": {"a1": "m:a1"}, "b": {"b1": "m:b1"}})
    fake_env.settle()
    return fake_env


def test_damaged_section_of_a_file_another_process_rewrote(
    two_groups: FakeEnv, isolated_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a = longshoreman.list_entry_points("a")
    longshoreman.list_entry_points("b")  # the process has used groups a and b
    two_groups.dist("second", "1.0", {"a": {"a2": "m:a2"}, "b": {"b2": "m:b2"}})  # installed
    two_groups.settle()
    another_process_writes_the_cache("a")
    (file,) = cache_files(isolated_cache)
    damage_section(file, "b")

    with caplog.at_level(logging.WARNING, "longshoreman"):
        after = longshoreman.list_entry_points("a")  # loads the new file, then needs b too
        assert names_values(after) == [("a1", "m:a1"), ("a2", "m:a2")]
        assert names_values(longshoreman.list_entry_points("b")) == [("b1", "m:b1"), ("b2", "m:b2")]
    assert after is not a
    (message,) = warnings_of(caplog)
    assert "damaged" in message
    assert str(file) in message


def test_file_rewritten_between_header_and_section_read(
    two_groups: FakeEnv,
    isolated_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    longshoreman.list_entry_points("a")
    longshoreman.list_entry_points("b")
    two_groups.dist("second", "1.0", {"a": {"a2": "m:a2"}, "b": {"b2": "m:b2"}})
    two_groups.settle()
    another_process_writes_the_cache("a")
    real_parse = _cache._parse

    def parse_then_race(*args: object, **kwds: object) -> object:
        snapshot = real_parse(*args, **kwds)  # type: ignore[arg-type]
        # The header is read; now another process replaces the file (a new inode).
        for file in cache_files(isolated_cache):
            file.unlink()
        another_process_writes_the_cache("a", "b")
        return snapshot

    monkeypatch.setattr(_cache, "_parse", parse_then_race)
    with caplog.at_level(logging.WARNING, "longshoreman"):
        after = longshoreman.list_entry_points("a")
    monkeypatch.setattr(_cache, "_parse", real_parse)
    assert names_values(after) == [("a1", "m:a1"), ("a2", "m:a2")]
    assert names_values(longshoreman.list_entry_points("b")) == [("b1", "m:b1"), ("b2", "m:b2")]
    (message,) = warnings_of(caplog)
    assert "changed while in use" in message


@pytest.mark.parametrize("damaged", ["a", "b"])
def test_after_a_damaged_section_earlier_groups_keep_their_tuples(
    two_groups: FakeEnv, isolated_cache: Path, caplog: pytest.LogCaptureFixture, damaged: str
) -> None:
    two_groups.dist("zeta", "1.0", {"c": {"c1": "m:c1"}})
    two_groups.settle()
    longshoreman.list_entry_points("c")  # writes the file
    (file,) = cache_files(isolated_cache)
    damage_section(file, damaged)  # damaged before this process reads it
    new_process()

    with caplog.at_level(logging.WARNING, "longshoreman"):
        c = longshoreman.list_entry_points("c")  # from the file, intact
        assert snapshot_kind() == "_FileSnapshot"
        a = longshoreman.list_entry_points("a")
        b = longshoreman.list_entry_points("b")
    assert snapshot_kind() == "_ScannedSnapshot"  # the damage forced a rescan
    assert names_values(a) == [("a1", "m:a1")]
    assert names_values(b) == [("b1", "m:b1")]
    # ... which kept the tuples already handed out.
    assert longshoreman.list_entry_points("c") is c
    assert longshoreman.list_entry_points("a") is a
    (message,) = warnings_of(caplog)
    assert "is damaged" in message
    assert "changed while in use" not in message
    # The rescan wrote the file afresh.
    new_process()
    assert names_values(longshoreman.list_entry_points(damaged)) == [
        (f"{damaged}1", f"m:{damaged}1")
    ]
    assert snapshot_kind() == "_FileSnapshot"


# -- 4. a deleted working directory ---------------------------------------------------


@pytest.mark.parametrize("entry", ["", ".", "rel", "..", "../parent-rel"])
def test_deleted_working_directory_gives_importlibs_answer(
    fake_env: FakeEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    parent = tmp_path / "parent"
    work = parent / "work"
    work.mkdir(parents=True)
    fake_env.dist("absolute", "1", {G: {"abs": "m:abs"}})
    fake_env.dist("in-parent", "1", {G: {"up": "m:up"}}, where=parent)  # ".." from work
    fake_env.dist("in-parent-rel", "1", {G: {"up-rel": "m:up_rel"}}, where=parent / "parent-rel")
    fake_env.settle()
    monkeypatch.chdir(work)
    sys.path.insert(0, entry)
    expected_before = importlib_group(G)
    assert names_values(longshoreman.list_entry_points(G)) == expected_before
    work.rmdir()  # the working directory is gone; relative entries now mean something else
    with pytest.raises(FileNotFoundError):
        os.getcwd()

    expected = importlib_group(G)
    for _ in range(2):  # a rescan, then the memo's check
        assert names_values(longshoreman.list_entry_points(G)) == expected
    new_process()
    assert names_values(longshoreman.list_entry_points(G)) == expected
    assert ("abs", "m:abs") in expected
    longshoreman.invalidate_caches()  # works without a cwd, too


# -- 5. many processes creating the cache folder at once ------------------------------

RACER = """
import logging, os, sys, time
logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
sys.path.append("/nonexistent/racer-" + sys.argv[1])  # its own environment: its own file
import longshoreman
from longshoreman import _discovery
_discovery.RACY_NS = 0
go = sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.0005)
print(len(longshoreman.list_entry_points(sys.argv[3])))
"""


def test_many_processes_create_the_cache_folder_at_once(fake_env: FakeEnv, tmp_path: Path) -> None:
    fake_env.dist("shared", "1", {G: {"s": "m:s"}})
    fake_env.settle()
    procs = 12
    for round_ in range(3):
        cache = tmp_path / f"round-{round_}" / "deep" / "longshoreman"
        go = tmp_path / f"go-{round_}"
        env = {**os.environ, "LONGSHOREMAN_CACHE_DIR": str(cache)}
        env["PYTHONPATH"] = os.pathsep.join(sys.path)
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(i), str(go), G],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(procs)
        ]
        time.sleep(0.3)  # let them all reach the starting line
        go.touch()
        outputs = [racer.communicate(timeout=60) for racer in racers]
        for racer, (out, err) in zip(racers, outputs, strict=True):
            assert racer.returncode == 0, err
            assert out.strip() == "1"
            assert "disk cache off" not in err, err
            assert "could not write" not in err, err
        assert len(cache_files(cache)) == procs  # every one of them wrote its file
        assert cache.stat().st_mode & 0o777 == 0o700


def test_losing_the_race_to_create_the_cache_folder_is_no_problem(
    fake_env: FakeEnv,
    isolated_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The exact interleaving: the folder appears between our look and our ``mkdir``."""
    fake_env.dist("shared", "1", {G: {"s": "m:s"}})
    fake_env.settle()
    real_mkdir = os.mkdir
    raced: list[str] = []

    def mkdir(path: str, mode: int = 0o777, **kwds: object) -> None:
        if os.fspath(path) == str(isolated_cache) and not raced:
            raced.append(path)
            real_mkdir(path, 0o700)  # the other process wins
        real_mkdir(path, mode, **kwds)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "mkdir", mkdir)
    with caplog.at_level(logging.WARNING, "longshoreman"):
        assert names_values(longshoreman.list_entry_points(G)) == [("s", "m:s")]
    assert raced
    assert warnings_of(caplog) == []
    assert len(cache_files(isolated_cache)) == 1


def test_a_folder_made_just_after_our_failed_open_is_no_problem(
    fake_env: FakeEnv,
    isolated_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The other interleaving (seen with 12 processes under load): our ``open`` finds
    nothing, then another process makes the folder before we look again."""
    fake_env.dist("shared", "1", {G: {"s": "m:s"}})
    fake_env.settle()
    shutil.rmtree(isolated_cache, ignore_errors=True)
    real_open = os.open
    raced: list[str] = []

    def open_(path: Any, flags: int, *args: Any, **kwds: Any) -> int:
        if os.fspath(path) == str(isolated_cache) and not raced:
            raced.append(os.fspath(path))
            try:
                return real_open(path, flags, *args, **kwds)  # not there yet...
            finally:
                os.mkdir(path, 0o700)  # ...and now it is: the other process won
        return real_open(path, flags, *args, **kwds)

    monkeypatch.setattr(os, "open", open_)
    with caplog.at_level(logging.WARNING, "longshoreman"):
        assert names_values(longshoreman.list_entry_points(G)) == [("s", "m:s")]
    assert raced
    assert warnings_of(caplog) == []
    assert len(cache_files(isolated_cache)) == 1


# -- 7. namespaces with the cache format's separators ---------------------------------

NAMESPACES = [
    "foo",
    "foo\x000",
    "foo\x00",
    "\x00",
    "\x00foo",
    "foo\x000\x00",
    "foo\x000\x003",
    "foo\n",
    "\nfoo",
    "foo\nbar",
    "bar\n0",
    "\udcff",
    "foo\udcff",
    "\ud83d\ude80",
    "\U0001f680",
    "ünïcode",
    "a\rb",
    "",
    " foo",
    "foo ",
    "[foo]",
    "0",
    "nul\x00group",
]


@pytest.mark.parametrize("groups", ["plain", "with a NUL group"])
def test_odd_namespaces_give_identical_results_cache_on_or_off(
    fake_env: FakeEnv, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path, groups: str
) -> None:
    # "foo" comes first in the file, at offset 0: "foo\x000" once matched its index line.
    text = (
        "[foo]\nf = m:f\n[bar]\nb = m:b\n[\U0001f680]\nr = m:r\n[ünïcode]\nu = m:u\n"
        "[a\rb]\nab = m:ab\n"
    )
    if groups != "plain":
        text += "[nul\x00group]\nn = m:n\n"
    fake_env.dist("odd", "1", text)
    sys.path.append("/nonexistent/\udcff/\U0001f680")  # the key holds surrogates too
    fake_env.settle()

    def results() -> list[list[tuple[str, str]]]:
        return [names_values(longshoreman.list_entry_points(ns)) for ns in NAMESPACES]

    monkeypatch.setenv("LONGSHOREMAN_NO_CACHE", "1")
    off = results()
    monkeypatch.delenv("LONGSHOREMAN_NO_CACHE")
    new_process()
    cold = results()  # a scan, which writes the file (unless it cannot be stored)
    memo = results()
    new_process()
    warm = results()  # from the file, one group at a time
    if groups == "plain":
        assert snapshot_kind() == "_FileSnapshot"
    else:
        assert cache_files(isolated_cache) == []  # a NUL inside a group: not cached at all
    assert cold == off
    assert memo == off
    assert warm == off
    found = dict(zip(NAMESPACES, off, strict=True))
    assert found["foo"] == [("f", "m:f")]
    assert found["\U0001f680"] == [("r", "m:r")]
    assert found["a\rb"] == [("ab", "m:ab")]
    assert found["foo\x000"] == found["\ud83d\ude80"] == found["\udcff"] == []
    assert found["nul\x00group"] == ([] if groups == "plain" else [("n", "m:n")])


# -- 8. a cache folder swapped for a symlink while in use ------------------------------


@pytest.fixture
def swap_on_open(
    isolated_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[bool], tuple[Path, Path]]:
    """Arm a swap: right after the cache folder is next opened (to write, with
    ``create=True``; else to read or remove), it is renamed away and a symlink to another
    folder takes its place. Returns ``(moved, elsewhere)``."""
    real_open_dir = _cache._open_dir
    armed: list[bool] = []
    elsewhere = tmp_path / "elsewhere"
    moved = tmp_path / "moved-away"

    def open_dir(path: str, create: bool) -> int | None:
        fd = real_open_dir(path, create)
        if fd is not None and armed == [create] and path == str(isolated_cache):
            armed.clear()
            os.rename(isolated_cache, moved)
            os.symlink(elsewhere, isolated_cache)
        return fd

    monkeypatch.setattr(_cache, "_open_dir", open_dir)

    def arm(create: bool) -> tuple[Path, Path]:
        armed.append(create)
        return moved, elsewhere

    return arm


def listing(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def plant(folder: Path, count: int) -> None:
    """Old cache files and a dead writer's temp file: what pruning would remove."""
    folder.mkdir(mode=0o700, exist_ok=True)
    old = time.time() - 7200
    for i in range(count):
        path = folder / f"{i:016x}{_cache.SUFFIX}"
        path.write_bytes(b"an old cache file")
        os.utime(path, (old + i, old + i))
    temp = folder / ".4242.deadbeef.tmp"
    temp.write_bytes(b"left by a dead writer")
    os.utime(temp, (old, old))


def test_store_and_prune_stay_in_the_folder_they_opened(
    fake_env: FakeEnv, isolated_cache: Path, swap_on_open: Callable[[bool], tuple[Path, Path]]
) -> None:
    fake_env.dist("one", "1", {G: {"o": "m:o"}})
    fake_env.settle()
    plant(isolated_cache, _cache.MAX_FILES + 8)
    moved, elsewhere = swap_on_open(True)
    plant(elsewhere, _cache.MAX_FILES + 8)
    before = listing(elsewhere)

    assert names_values(longshoreman.list_entry_points(G)) == [("o", "m:o")]  # scan + store

    assert isolated_cache.is_symlink()
    assert listing(elsewhere) == before  # nothing written, renamed or removed there
    kept = cache_files(moved)
    assert len(kept) == _cache.MAX_FILES  # the write and the pruning happened here
    current = _cache._file_name(_cache._key(*_cache._entries(sys.path)))
    assert moved / current in kept
    assert not (moved / ".4242.deadbeef.tmp").exists()


def test_reads_stay_in_the_folder_they_opened(
    fake_env: FakeEnv,
    isolated_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    swap_on_open: Callable[[bool], tuple[Path, Path]],
) -> None:
    fake_env.dist("one", "1", {G: {"o": "m:o"}})
    fake_env.settle()
    assert names_values(longshoreman.list_entry_points(G)) == [("o", "m:o")]  # the real file
    # A valid cache file for this very environment, with other entry points, elsewhere.
    entries, cwd = _cache._entries(sys.path)
    key = _cache._key(entries, cwd)
    forged = _discovery.scan(entries, [], time.time_ns())
    forged.groups[G] = [("planted", "evil:payload", 0)]
    blob = _cache._serialise(key, forged)
    assert blob is not None
    _, elsewhere = swap_on_open(False)
    elsewhere.mkdir(mode=0o700)
    (elsewhere / _cache._file_name(key)).write_bytes(blob)
    os.chmod(elsewhere / _cache._file_name(key), 0o600)

    new_process()
    assert names_values(longshoreman.list_entry_points(G)) == [("o", "m:o")]
    assert snapshot_kind() == "_FileSnapshot"  # read from the folder that was opened
    assert isolated_cache.is_symlink()

    # The planted file is one the cache would serve, were the folder really that one.
    monkeypatch.setenv("LONGSHOREMAN_CACHE_DIR", str(elsewhere))
    new_process()
    assert names_values(longshoreman.list_entry_points(G)) == [("planted", "evil:payload")]


def test_clear_stays_in_the_folder_it_opened(
    fake_env: FakeEnv, isolated_cache: Path, swap_on_open: Callable[[bool], tuple[Path, Path]]
) -> None:
    fake_env.dist("one", "1", {G: {"o": "m:o"}})
    fake_env.settle()
    longshoreman.list_entry_points(G)
    moved, elsewhere = swap_on_open(False)
    plant(elsewhere, 3)
    before = listing(elsewhere)
    assert _cache.clear_disk_cache() == 1
    assert listing(elsewhere) == before
    assert cache_files(moved) == []


# -- 9. zip files on sys.path, read with zipfile ------------------------------------


def make_zipped_egg(folder: Path, name: str, version: str, entry_points: str) -> Path:
    egg = folder / f"{name}-{version}-py{sys.version_info.major}.{sys.version_info.minor}.egg"
    with zipfile.ZipFile(egg, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}.py", "thing = 'from the egg'\n")
        zf.writestr(
            "EGG-INFO/PKG-INFO", f"Metadata-Version: 1.1\nName: {name}\nVersion: {version}\n"
        )
        zf.writestr("EGG-INFO/entry_points.txt", entry_points)
        zf.writestr("EGG-INFO/top_level.txt", f"{name}\n")
    return egg


def test_zipped_egg_matches_importlib(fake_env: FakeEnv, tmp_path: Path) -> None:
    egg = make_zipped_egg(tmp_path, "zegg", "1.5", f"[{G}]\nz = zegg:thing\nz2 = zegg:other\n")
    sys.path.append(str(egg))
    fake_env.dist("plain", "1", {G: {"p": "m:p"}})

    eps = longshoreman.list_entry_points(G)
    assert names_values(eps) == importlib_group(G)
    assert summary(eps)[-2:] == [
        ("z", "zegg:thing", "zegg", "1.5"),
        ("z2", "zegg:other", "zegg", "1.5"),
    ]
    assert eps[-1].dist is not None
    assert eps[-1].dist.path is None  # not a plain folder
    assert eps[-2].load() == "from the egg"


@pytest.mark.parametrize("first", ["older", "newer"])
def test_two_copies_in_one_zip_follow_the_archive_order(
    fake_env: FakeEnv, tmp_path: Path, first: str
) -> None:
    archive = tmp_path / "bundle.zip"
    copies = [("1.0", "pkg:old"), ("2.0", "pkg:new")]
    with zipfile.ZipFile(archive, "w") as zf:
        for version, target in copies if first == "older" else copies[::-1]:
            folder = f"pkg-{version}.dist-info"
            zf.writestr(
                f"{folder}/METADATA", f"Metadata-Version: 2.1\nName: pkg\nVersion: {version}\n"
            )
            zf.writestr(f"{folder}/entry_points.txt", f"[{G}]\np = {target}\n")
    sys.path.append(str(archive))
    forget_importlib_caches()
    expected = importlib.metadata.version("pkg")
    assert expected == ("1.0" if first == "older" else "2.0")
    (ep,) = longshoreman.list_entry_points(G)
    assert (ep.value, ep.dist and ep.dist.version) == (
        f"pkg:{'old' if expected == '1.0' else 'new'}",
        expected,
    )


def test_broken_zip_files_on_sys_path(
    fake_env: FakeEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_zip = tmp_path / "notes.zip"
    not_a_zip.write_text("not a zip file")
    truncated = tmp_path / "truncated.egg"
    make_zipped_egg(tmp_path, "trunc", "1", f"[{G}]\nt = trunc:t\n").rename(truncated)
    truncated.write_bytes(truncated.read_bytes()[:-30])
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(damaged, "w") as zf:  # stored, so one flipped byte breaks the CRC
        zf.writestr("bad-1.dist-info/METADATA", "Metadata-Version: 2.1\nName: bad\nVersion: 1\n")
        zf.writestr("bad-1.dist-info/entry_points.txt", f"[{G}]\nbad = m:bad\n")
        zf.writestr("good-1.dist-info/METADATA", "Metadata-Version: 2.1\nName: good\nVersion: 1\n")
        zf.writestr("good-1.dist-info/entry_points.txt", f"[{G}]\ngood = m:good\n")
    data = bytearray(damaged.read_bytes())
    data[data.index(b"bad = m:bad")] ^= 0x01
    damaged.write_bytes(bytes(data))
    sys.path += [str(not_a_zip), str(truncated), str(damaged)]
    fake_env.dist("plain", "1", {G: {"p": "m:p"}})

    eps = longshoreman.list_entry_points(G)

    assert names_values(eps) == [("p", "m:p"), ("good", "m:good")]


def test_a_zip_on_sys_path_imports_no_importlib_metadata(fake_env: FakeEnv, tmp_path: Path) -> None:
    egg = make_zipped_egg(tmp_path, "zegg", "1.5", f"[{G}]\nz = zegg:thing\n")
    src = str(Path(longshoreman.__file__).parent.parent)
    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(egg)!r}, {src!r}]\n"
        "import longshoreman\n"
        f"eps = longshoreman.list_entry_points({G!r})\n"
        "print([(ep.name, ep.dist.name, ep.dist.version) for ep in eps])\n"
        "print('importlib_metadata' in sys.modules, 'importlib.metadata' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={**os.environ, "LONGSHOREMAN_NO_CACHE": "1"},  # a scan every time
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert run.stdout.splitlines() == ["[('z', 'zegg', '1.5')]", "False False"], run.stderr


# -- only TypeError, ever --------------------------------------------------------------


@pytest.mark.parametrize("namespace", [b"g", bytearray(b"g"), None, 1, ("g",), Path("g")])
def test_a_non_str_namespace_is_a_type_error(namespace: object) -> None:
    with pytest.raises(TypeError, match="namespace must be a str"):
        longshoreman.list_entry_points(namespace)  # type: ignore[arg-type]


class _BadPath:
    def __fspath__(self) -> str:
        raise ValueError("no path for you")


class _FailingFinder:
    def find_spec(self, *args: object) -> None:
        return None

    def find_distributions(self, context: object = None) -> list[object]:
        raise RuntimeError("finder is broken")


def test_nothing_but_type_error_escapes_a_hostile_environment(
    fake_env: FakeEnv,
    tmp_path: Path,
    isolated_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_env.dist("fine", "1", {G: {"fine": "m:fine"}})
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "plain-file").write_text("neither a folder nor a zip")
    weird: list[object] = [
        None,
        42,
        _BadPath(),
        b"/nonexistent/\xff\xfe",
        str(tmp_path / "dangling"),
        str(tmp_path / "plain-file"),
        "relative/entry",
    ]
    fake_env.settle()
    sys.path.extend(weird)  # type: ignore[arg-type]
    expected = [("fine", "m:fine")]
    assert names_values(longshoreman.list_entry_points(G)) == expected  # scan, store
    new_process()
    assert names_values(longshoreman.list_entry_points(G)) == expected  # from the file
    (file,) = cache_files(isolated_cache)
    damage_section(file, G)
    new_process()
    with caplog.at_level(logging.WARNING, "longshoreman"):
        assert names_values(longshoreman.list_entry_points(G)) == expected
        work = tmp_path / "work"
        work.mkdir()
        monkeypatch.chdir(work)
        work.rmdir()  # and no working directory either
        assert names_values(longshoreman.list_entry_points(G)) == expected
        sys.path.append("/nonexistent/\x00nul")  # importlib.metadata raises ValueError here
        assert names_values(longshoreman.list_entry_points(G)) == expected
        monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, _FailingFinder()])
        assert names_values(longshoreman.list_entry_points(G)) == expected
        assert longshoreman.list_entry_points("g\x00") == ()
    messages = warnings_of(caplog)
    assert len(messages) == 2, messages
    assert "is damaged" in messages[0]
    assert "finder is broken" in messages[1]
