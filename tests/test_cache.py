"""The cache (SPEC §2): never stale, identical results, safe on disk, cheap on a hit."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

import longshoreman
from longshoreman import _cache

from .conftest import FakeEnv
from .test_discovery import summary, warnings_of

G = "cache.group"


def new_process() -> None:
    """Forget the in-process memo, as a new interpreter would start without it."""
    _cache._default = None


def snapshot_kind() -> str:
    snap = _cache.default_cache()._snapshot
    return type(snap).__name__


def cache_files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob(f"*{_cache.SUFFIX}")) if cache_dir.exists() else []


def backdate(path: Path, age: float = 3600.0) -> None:
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))


@pytest.fixture
def settled(fake_env: FakeEnv, isolated_cache: Path) -> FakeEnv:
    """An environment with two plugins, old enough to be cached, and its cache written."""
    fake_env.dist("first", "1.0", {G: {"a": "m:a", "b": "m:b"}, "other": {"o": "m:o"}})
    fake_env.dist("second", "2.0", {G: {"c": "m:c"}})
    fake_env.settle()
    assert summary(longshoreman.list_entry_points(G)) == EXPECTED
    assert len(cache_files(isolated_cache)) == 1
    return fake_env


EXPECTED = [
    ("a", "m:a", "first", "1.0"),
    ("b", "m:b", "first", "1.0"),
    ("c", "m:c", "second", "2.0"),
]


def test_warm_hit_comes_from_disk_and_matches(settled: FakeEnv) -> None:
    new_process()
    eps = longshoreman.list_entry_points(G)
    assert snapshot_kind() == "_FileSnapshot"
    assert summary(eps) == EXPECTED
    assert summary(longshoreman.list_entry_points("other")) == [("o", "m:o", "first", "1.0")]
    assert longshoreman.list_entry_points("missing") == ()
    assert eps[0].dist is not None
    assert eps[0].dist.path == str(settled.root / "first-1.0.dist-info")
    assert eps[0].dist is eps[1].dist  # one Distribution per distribution, not per entry point
    assert longshoreman.list_entry_points(G) is eps


@pytest.mark.parametrize("process", ["same", "new"])
def test_install_is_seen(settled: FakeEnv, process: str) -> None:
    if process == "new":
        new_process()
    settled.dist("third", "1.0", {G: {"d": "m:d"}})
    assert summary(longshoreman.list_entry_points(G))[-1] == ("d", "m:d", "third", "1.0")


@pytest.mark.parametrize("process", ["same", "new"])
def test_uninstall_is_seen(settled: FakeEnv, process: str) -> None:
    if process == "new":
        new_process()
    shutil.rmtree(settled.root / "second-2.0.dist-info")
    assert summary(longshoreman.list_entry_points(G)) == EXPECTED[:2]


@pytest.mark.parametrize("process", ["same", "new"])
def test_upgrade_is_seen(settled: FakeEnv, process: str) -> None:
    if process == "new":
        new_process()
    shutil.rmtree(settled.root / "second-2.0.dist-info")
    settled.dist("second", "3.0", {G: {"c": "m:c3"}})
    assert summary(longshoreman.list_entry_points(G))[-1] == ("c", "m:c3", "second", "3.0")


def test_reinstall_of_the_same_version_is_seen_even_within_one_clock_tick(settled: FakeEnv) -> None:
    site = settled.root
    before = site.stat()
    # pip removes the folder and writes it again; on a coarse clock the site folder
    # may end with the very mtime it had. Inode/ctime still change: put mtime back.
    shutil.rmtree(site / "second-2.0.dist-info")
    settled.dist("second", "2.0", {G: {"c": "m:c-reinstalled"}})
    os.utime(site, ns=(before.st_atime_ns, before.st_mtime_ns))
    new_process()
    assert summary(longshoreman.list_entry_points(G))[-1] == (
        "c",
        "m:c-reinstalled",
        "second",
        "2.0",
    )


def test_changes_right_after_a_scan_are_not_missed(fake_env: FakeEnv) -> None:
    # A young folder: the scan is served but not trusted, so a second change in the
    # same clock tick (same mtime) is still seen.
    fake_env.dist("one", "1", {G: {"one": "m:1"}})
    mtime = fake_env.root.stat().st_mtime_ns
    assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["one"]
    fake_env.dist("two", "1", {G: {"two": "m:2"}})
    os.utime(fake_env.root, ns=(mtime, mtime))
    assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["one", "two"]


def egg_info_rerun(info: Path, version: str, entry_points: str | None) -> None:
    """What setuptools' ``egg_info`` command does to an existing ``Name.egg-info``.

    ``egg_info.run`` touches the folder (``os.utime``), then its writers rewrite
    ``PKG-INFO`` and ``entry_points.txt`` in place (``open(..., "wb")``: same inode), or
    delete ``entry_points.txt`` when there are none. No ``sys.path`` entry changes.
    """
    os.utime(info, None)
    with open(info / "PKG-INFO", "wb") as f:
        f.write(f"Metadata-Version: 2.1\nName: devpkg\nVersion: {version}\n".encode())
    if entry_points is None:
        (info / "entry_points.txt").unlink()
    else:
        with open(info / "entry_points.txt", "wb") as f:
            f.write(entry_points.encode())


@pytest.mark.parametrize("process", ["same", "new"])
@pytest.mark.parametrize("change", ["entry points", "version", "entry points removed"])
def test_legacy_egg_info_rewritten_in_place_is_seen(
    fake_env: FakeEnv, process: str, change: str
) -> None:
    project = fake_env.add_path("project-src")  # setup.py develop puts the project here
    info = fake_env.dist(
        "devpkg",
        "0.1",
        {G: {"old": "m:old"}},
        kind="egg-info",
        where=project,
        folder="devpkg.egg-info",
    )
    fake_env.settle()
    assert summary(longshoreman.list_entry_points(G)) == [("old", "m:old", "devpkg", "0.1")]
    project_stamp = project.stat().st_mtime_ns, project.stat().st_ino
    inodes = (info / "PKG-INFO").stat().st_ino, (info / "entry_points.txt").stat().st_ino
    if process == "new":
        new_process()
    if change == "entry points":
        egg_info_rerun(info, "0.1", f"[{G}]\nnew = m:new\n")
        expected = [("new", "m:new", "devpkg", "0.1")]
    elif change == "version":
        egg_info_rerun(info, "0.2", f"[{G}]\nold = m:old\n")
        expected = [("old", "m:old", "devpkg", "0.2")]
    else:
        egg_info_rerun(info, "0.1", None)
        expected = []
    assert (project.stat().st_mtime_ns, project.stat().st_ino) == project_stamp
    assert (info / "PKG-INFO").stat().st_ino == inodes[0]
    assert summary(longshoreman.list_entry_points(G)) == expected


SETUP_PY = """\
from setuptools import setup

setup(name="devpkg", version={version!r}, entry_points={{{group!r}: [{entry!r}]}})
"""


@pytest.mark.skipif(
    importlib.util.find_spec("setuptools") is None, reason="setuptools is not installed"
)
@pytest.mark.parametrize("process", ["same", "new"])
def test_setup_py_egg_info_rerun_is_seen(fake_env: FakeEnv, process: str) -> None:
    """The real in-place writer: setuptools' ``egg_info``, run twice in one project."""
    project = fake_env.add_path("project")

    def egg_info(version: str, entry: str) -> None:
        (project / "setup.py").write_text(SETUP_PY.format(version=version, group=G, entry=entry))
        subprocess.run(
            [sys.executable, "setup.py", "-q", "egg_info"],
            cwd=project,
            check=True,
            capture_output=True,
        )

    egg_info("0.1", "old = m:old")
    assert (project / "devpkg.egg-info" / "entry_points.txt").is_file()
    fake_env.settle()
    assert summary(longshoreman.list_entry_points(G)) == [("old", "m:old", "devpkg", "0.1")]
    project_mtime = project.stat().st_mtime_ns
    if process == "new":
        new_process()
    egg_info("0.2", "new = m:new")
    assert project.stat().st_mtime_ns == project_mtime  # the sys.path entry saw nothing
    assert summary(longshoreman.list_entry_points(G)) == [("new", "m:new", "devpkg", "0.2")]


@pytest.mark.parametrize("process", ["same", "new"])
def test_sys_path_change_is_seen(settled: FakeEnv, process: str) -> None:
    extra = settled.add_path("extra", front=False)
    settled.dist("extra-dist", "1", {G: {"e": "m:e"}}, where=extra)
    if process == "new":
        new_process()
    assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["a", "b", "c", "e"]
    sys.path.remove(str(extra))
    assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["a", "b", "c"]


def test_results_identical_with_cache_on_off_cold_warm_corrupt(
    settled: FakeEnv, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path
) -> None:
    settled.dist("third", "0.3", {G: {"d": "m:d"}, "z": {"z": "m:z"}})
    settled.settle()
    results = []
    new_process()
    results.append(summary(longshoreman.list_entry_points(G)))  # cold: file is stale
    new_process()
    results.append(summary(longshoreman.list_entry_points(G)))  # warm
    assert snapshot_kind() == "_FileSnapshot"
    (file,) = cache_files(isolated_cache)
    file.write_bytes(file.read_bytes()[:-7] + b"garbage")
    new_process()
    results.append(summary(longshoreman.list_entry_points(G)))  # corrupt
    monkeypatch.setenv("LONGSHOREMAN_NO_CACHE", "1")
    new_process()
    results.append(summary(longshoreman.list_entry_points(G)))  # off
    assert results[0] == [*EXPECTED, ("d", "m:d", "third", "0.3")]
    assert all(r == results[0] for r in results)


def _reheader(data: bytes, edit: Callable[[str], str]) -> bytes:
    """The file with its key part edited and a *valid* CRC: shape checks must catch it."""
    eol = data.index(b"\n", len(_cache.MAGIC))
    _, key_len, index_len = data[len(_cache.MAGIC) : eol].split(b" ")
    start = eol + 1
    key = data[start : start + int(key_len)].decode("utf-8", "surrogatepass")
    index = data[start + int(key_len) : start + int(key_len) + int(index_len)]
    new_key = edit(key).encode("utf-8", "surrogatepass")
    header = new_key + index
    top = _cache.MAGIC + f"{zlib.crc32(header):08x} {len(new_key)} {len(index)}\n".encode()
    return top + header + data[start + int(key_len) + int(index_len) :]


def _without_stamps(key: str) -> str:
    tokens = key.split("\0")
    return "\0".join(tokens[: 5 + int(tokens[4])])


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "short-key": lambda data: _reheader(data, lambda key: "a\0b"),
    "key-without-stamps": lambda data: _reheader(data, _without_stamps),
    "stamp-not-numbers": lambda data: _reheader(
        data, lambda key: key[: key.rindex("\0")] + "\0x,y"
    ),
    "empty": lambda data: b"",
    "truncated-header": lambda data: data[:30],
    "truncated-body": lambda data: data[:-10],
    "garbage": lambda data: os.urandom(len(data)),
    "wrong-magic": lambda data: b"longshoreman-cache/9\n" + data[len(_cache.MAGIC) :],
    "flipped-header-byte": lambda data: data[:60] + bytes([data[60] ^ 0x55]) + data[61:],
    "flipped-body-byte": lambda data: data[:-3] + bytes([data[-3] ^ 0x55]) + data[-2:],
    "zero-checksum": lambda data: _cache.MAGIC + b"00000000 5 5\nabcdeabcde",
    "huge-lengths": lambda data: _cache.MAGIC + b"00000000 999999999 1\n",
    "json-instead": lambda data: json.dumps({"groups": {}}).encode(),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupted_cache_file_is_a_miss(
    settled: FakeEnv, corruption: str, isolated_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (file,) = cache_files(isolated_cache)
    file.write_bytes(CORRUPTIONS[corruption](file.read_bytes()))
    new_process()
    with caplog.at_level(logging.WARNING, "longshoreman"):
        assert summary(longshoreman.list_entry_points(G)) == EXPECTED
        assert summary(longshoreman.list_entry_points(G)) == EXPECTED
    assert len(warnings_of(caplog)) <= 1
    # ... and the file was rewritten whole.
    new_process()
    assert summary(longshoreman.list_entry_points(G)) == EXPECTED
    assert snapshot_kind() == "_FileSnapshot"


def test_file_replaced_between_groups_falls_back_to_a_scan(
    settled: FakeEnv, isolated_cache: Path
) -> None:
    new_process()
    assert summary(longshoreman.list_entry_points(G)) == EXPECTED
    (file,) = cache_files(isolated_cache)
    data = file.read_bytes()
    file.unlink()
    file.write_bytes(data[:-2] + b"xx")  # a new inode with a broken section
    os.chmod(file, 0o600)
    assert summary(longshoreman.list_entry_points("other")) == [("o", "m:o", "first", "1.0")]


def _assert_not_used(
    cache_dir: Path, file: Path | None, caplog: pytest.LogCaptureFixture, what: str
) -> None:
    new_process()
    with caplog.at_level(logging.WARNING, "longshoreman"):
        assert summary(longshoreman.list_entry_points(G)) == EXPECTED
        assert snapshot_kind() == "_ScannedSnapshot"
        new_process()
        assert summary(longshoreman.list_entry_points(G)) == EXPECTED
    messages = warnings_of(caplog)
    assert len(messages) == 1, messages
    assert what in messages[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file away")
def test_foreign_owned_file_is_neither_read_nor_replaced(
    settled: FakeEnv, isolated_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (file,) = cache_files(isolated_cache)
    os.chown(file, 65534, 65534)
    _assert_not_used(isolated_cache, file, caplog, "not owned by the current user")
    assert file.stat().st_uid == 65534


def test_world_writable_file_is_ignored(
    settled: FakeEnv, isolated_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (file,) = cache_files(isolated_cache)
    file.write_bytes(b"planted")
    os.chmod(file, 0o666)
    new_process()
    with caplog.at_level(logging.WARNING, "longshoreman"):
        assert summary(longshoreman.list_entry_points(G)) == EXPECTED
    (message,) = warnings_of(caplog)
    assert "writable by group or others" in message
    assert file.read_bytes() == b"planted"  # not read, and not written either


def test_symlinked_file_is_ignored(
    settled: FakeEnv, isolated_cache: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (file,) = cache_files(isolated_cache)
    target = tmp_path / "elsewhere.lscache"
    target.write_bytes(file.read_bytes())
    os.chmod(target, 0o600)
    file.unlink()
    file.symlink_to(target)
    new_process()
    with caplog.at_level(logging.WARNING, "longshoreman"):
        assert summary(longshoreman.list_entry_points(G)) == EXPECTED
    assert snapshot_kind() == "_ScannedSnapshot"
    assert any("ignored cache file" in m for m in warnings_of(caplog))
    assert file.is_symlink()


@pytest.mark.parametrize("problem", ["symlink", "world-writable", "foreign"])
def test_unsafe_directory_is_not_used(
    fake_env: FakeEnv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    problem: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if problem == "foreign" and os.geteuid() != 0:
        pytest.skip("needs root to give a folder away")
    real = tmp_path / "real-cache"
    real.mkdir(mode=0o700)
    cache = tmp_path / "cache"
    if problem == "symlink":
        cache.symlink_to(real)
        expected = "symlink"
    elif problem == "world-writable":
        cache.mkdir()
        os.chmod(cache, 0o777)
        expected = "writable by group or others"
    else:
        cache.mkdir(mode=0o700)
        os.chown(cache, 65534, 65534)
        expected = "not owned by the current user"
    monkeypatch.setenv("LONGSHOREMAN_CACHE_DIR", str(cache))
    fake_env.dist("first", "1.0", {G: {"a": "m:a", "b": "m:b"}})
    fake_env.dist("second", "2.0", {G: {"c": "m:c"}})
    fake_env.settle()
    with caplog.at_level(logging.WARNING, "longshoreman"):
        assert summary(longshoreman.list_entry_points(G)) == EXPECTED
        new_process()
        assert summary(longshoreman.list_entry_points(G)) == EXPECTED
    assert list(real.iterdir()) == []
    if problem != "symlink":
        assert list(cache.iterdir()) == []
    assert len(warnings_of(caplog)) == 1
    assert expected in warnings_of(caplog)[0]


def test_unwritable_cache_location_costs_one_warning(
    fake_env: FakeEnv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LONGSHOREMAN_CACHE_DIR", str(blocker / "cache"))
    fake_env.dist("first", "1.0", {G: {"a": "m:a", "b": "m:b"}})
    fake_env.dist("second", "2.0", {G: {"c": "m:c"}})
    fake_env.settle()
    with caplog.at_level(logging.WARNING, "longshoreman"):
        for _ in range(3):
            new_process()
            assert summary(longshoreman.list_entry_points(G)) == EXPECTED
    (message,) = warnings_of(caplog)
    assert "cannot create" in message


def test_directory_and_file_permissions(settled: FakeEnv, isolated_cache: Path) -> None:
    assert isolated_cache.stat().st_mode & 0o777 == 0o700
    (file,) = cache_files(isolated_cache)
    assert file.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in isolated_cache.iterdir()] == [file.name]  # no temp files left


def test_number_of_cache_files_is_bounded(fake_env: FakeEnv, isolated_cache: Path) -> None:
    fake_env.dist("first", "1.0", {G: {"a": "m:a"}})
    fake_env.settle()
    extra = fake_env.root.parent / "extra"
    extra.mkdir()
    backdate(extra)
    for i in range(_cache.MAX_FILES + 5):
        sys.path.append(f"{extra}/{i}")  # each sys.path is another environment
        assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["a"]
    assert len(cache_files(isolated_cache)) == _cache.MAX_FILES


def test_invalidate_caches_drops_memo_and_this_environments_file(
    settled: FakeEnv, isolated_cache: Path
) -> None:
    first = longshoreman.list_entry_points(G)
    longshoreman.invalidate_caches()
    assert cache_files(isolated_cache) == []
    again = longshoreman.list_entry_points(G)
    assert again is not first
    assert summary(again) == EXPECTED


def test_hand_edited_entry_points_need_invalidate(settled: FakeEnv) -> None:
    """Documented limit: a dist-info edited in place (no installer does that)."""
    info = settled.root / "second-2.0.dist-info"
    (info / "entry_points.txt").write_text(f"[{G}]\nedited = m:edited\n")
    longshoreman.invalidate_caches()
    assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["a", "b", "edited"]


class TestLocation:
    def test_explicit_absolute_dir(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("LONGSHOREMAN_CACHE_DIR", str(tmp_path / "x"))
        assert _cache.cache_dir() == (str(tmp_path / "x"), "LONGSHOREMAN_CACHE_DIR")

    def test_relative_values_are_ignored(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("LONGSHOREMAN_CACHE_DIR", "relative/cache")
        monkeypatch.setenv("XDG_CACHE_HOME", "also/relative")
        monkeypatch.setenv("HOME", str(tmp_path))
        assert _cache.cache_dir() == (str(tmp_path / ".cache" / "longshoreman"), "HOME")

    def test_xdg(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.delenv("LONGSHOREMAN_CACHE_DIR")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        assert _cache.cache_dir() == (str(tmp_path / "longshoreman"), "XDG_CACHE_HOME")

    def test_no_home_means_no_disk_cache_and_nothing_in_cwd(
        self, fake_env: FakeEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        work = tmp_path / "cwd"
        work.mkdir()
        monkeypatch.chdir(work)
        for name in ("LONGSHOREMAN_CACHE_DIR", "XDG_CACHE_HOME", "HOME"):
            monkeypatch.delenv(name, raising=False)
        fake_env.dist("first", "1.0", {G: {"a": "m:a"}})
        fake_env.settle()
        directory, reason = _cache.cache_dir()
        assert directory is None
        assert "HOME" in reason
        assert [ep.name for ep in longshoreman.list_entry_points(G)] == ["a"]
        assert list(work.iterdir()) == []

    def test_no_cache_variable(
        self, settled: FakeEnv, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path
    ) -> None:
        shutil.rmtree(isolated_cache)
        monkeypatch.setenv("LONGSHOREMAN_NO_CACHE", "1")
        new_process()
        assert summary(longshoreman.list_entry_points(G)) == EXPECTED
        assert not isolated_cache.exists()
        assert _cache.cache_dir() == (None, "LONGSHOREMAN_NO_CACHE is set")

    def test_interpreter_under_tmp_is_cached(
        self, fake_env: FakeEnv, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path
    ) -> None:
        monkeypatch.setattr(_cache, "_TAG", "cpython-311\0fake\0/tmp/venv/bin/python")
        fake_env.dist("first", "1.0", {G: {"a": "m:a"}})
        fake_env.settle()
        longshoreman.list_entry_points(G)
        assert len(cache_files(isolated_cache)) == 1


def test_cache_info_and_clear(settled: FakeEnv, isolated_cache: Path) -> None:
    info = _cache.cache_info()
    assert info["directory"] == str(isolated_cache)
    assert info["enabled"] is True
    files = info["files"]
    assert isinstance(files, list)
    (entry,) = files
    assert entry["current"] is True
    assert entry["size"] == cache_files(isolated_cache)[0].stat().st_size
    assert _cache.clear_disk_cache() == 1
    assert cache_files(isolated_cache) == []


WARM_CHECK = """
import sys
import longshoreman
eps = longshoreman.list_entry_points({group!r})
print([ep.name for ep in eps], [ep.dist.name for ep in eps])
print("importlib.metadata" in sys.modules, "importlib_metadata" in sys.modules)
print(type(longshoreman._cache.default_cache()._snapshot).__name__)
"""


def test_fresh_process_warm_hit_imports_no_importlib_metadata(
    settled: FakeEnv, isolated_cache: Path
) -> None:
    src = str(Path(longshoreman.__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(settled.root), src])}
    code = WARM_CHECK.format(group=G)
    runs = [
        subprocess.run(
            [sys.executable, "-S", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=settled.root,
        )
        for _ in range(2)
    ]
    for run in runs:
        lines = run.stdout.splitlines()
        assert lines[0] == "['a', 'b', 'c'] ['first', 'first', 'second']", run.stderr
    assert runs[0].stdout.splitlines()[2] == "_ScannedSnapshot"
    assert runs[1].stdout.splitlines()[1:] == ["False False", "_FileSnapshot"]


def test_cache_info_says_why_an_unsafe_folder_is_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "shared-cache"
    folder.mkdir()
    os.chmod(folder, 0o777)
    monkeypatch.setenv("LONGSHOREMAN_CACHE_DIR", str(folder))
    info = _cache.cache_info()
    assert info["enabled"] is False
    assert info["reason"] == f"{folder} is writable by group or others"


@pytest.mark.parametrize("enabled", [True, False])
def test_collector_state_is_restored(settled: FakeEnv, enabled: bool) -> None:
    import gc

    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        new_process()
        assert summary(longshoreman.list_entry_points(G)) == EXPECTED  # from the file
        longshoreman.invalidate_caches()
        assert summary(longshoreman.list_entry_points(G)) == EXPECTED  # from a scan
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
