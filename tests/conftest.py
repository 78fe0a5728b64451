"""Shared fixtures: both anyio backends, an isolated cache directory, fake environments.

``fake_env`` writes real ``*.dist-info`` / ``*.egg-info`` trees and tiny plugin modules
into a temporary folder that it puts at the front of ``sys.path``; everything it changed
(sys.path, imported modules, caches) is put back afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import anyio
import pytest

import longshoreman
from longshoreman import _discovery


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own on-disk cache folder and an empty in-process memo."""
    cache_dir = tmp_path_factory.mktemp("cache") / "longshoreman"
    monkeypatch.setenv("LONGSHOREMAN_CACHE_DIR", str(cache_dir))
    monkeypatch.delenv("LONGSHOREMAN_NO_CACHE", raising=False)
    longshoreman.invalidate_caches()
    yield cache_dir
    longshoreman.invalidate_caches()


class FakeEnv:
    """Builds distributions on disk, in a folder that is on ``sys.path``."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self._monkeypatch = monkeypatch
        root.mkdir(parents=True, exist_ok=True)

    def add_path(self, name: str, *, front: bool = True) -> Path:
        """Another folder on sys.path (in front of the others by default)."""
        path = self.root.parent / name
        path.mkdir(parents=True, exist_ok=True)
        if front:
            sys.path.insert(0, str(path))
        else:
            sys.path.append(str(path))
        return path

    def module(self, name: str, source: str, *, where: Path | None = None) -> Path:
        """Write a plugin module (``pkg.mod`` names create the package folders)."""
        base = where or self.root
        parts = name.split(".")
        for i in range(1, len(parts)):
            pkg = base.joinpath(*parts[:i])
            pkg.mkdir(exist_ok=True)
            (pkg / "__init__.py").touch()
        path = base.joinpath(*parts[:-1], parts[-1] + ".py")
        path.write_text(textwrap.dedent(source))
        return path

    def dist(
        self,
        name: str,
        version: str = "1.0",
        entry_points: Mapping[str, Mapping[str, str]] | str | bytes | None = None,
        *,
        kind: str = "dist-info",
        where: Path | None = None,
        requires: list[str] | None = None,
        metadata: str | bytes | None = None,
        folder: str | None = None,
    ) -> Path:
        """Write ``<name>-<version>.<kind>`` with METADATA/PKG-INFO and entry_points.txt.

        ``entry_points`` is ``{group: {name: value}}`` or the raw file text/bytes;
        ``metadata`` replaces the generated METADATA/PKG-INFO text entirely.
        """
        base = where or self.root
        info = base / (folder or f"{name.replace('-', '_')}-{version}.{kind}")
        info.mkdir(parents=True, exist_ok=True)
        if metadata is None:
            lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
            lines += [f"Requires-Dist: {req}" for req in requires or []]
            metadata = "\n".join(lines) + "\n\nA fake distribution.\n"
        meta_file = info / ("METADATA" if kind == "dist-info" else "PKG-INFO")
        if isinstance(metadata, bytes):
            meta_file.write_bytes(metadata)
        else:
            meta_file.write_text(metadata)
        if entry_points is not None:
            if isinstance(entry_points, Mapping):
                text = ""
                for group, items in entry_points.items():
                    text += f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items())
                    text += "\n"
                entry_points = text
            data = entry_points.encode() if isinstance(entry_points, str) else entry_points
            (info / "entry_points.txt").write_bytes(data)
        return info

    def settle(self, age: float = 3600.0) -> None:
        """Date every file and folder of the fake environment ``age`` seconds back.

        The cache does not trust a folder modified in the last moments (the file system's
        clock is coarse, see ``_discovery.RACY_NS``); real installs are long settled by
        the time a program starts, and tests that want a warm cache say so with this.
        The real ``sys.path`` folders cannot be dated back (CI installs into its
        site-packages seconds before the tests start), and nothing changes them during
        the tests, so the racy window is narrowed to "during the scan" as well.
        """
        self._monkeypatch.setattr(_discovery, "RACY_NS", 0)
        stamp = time.time() - age
        for top in {self.root, *(Path(p) for p in sys.path if p.startswith(str(self.root.parent)))}:
            for dirpath, dirnames, filenames in os.walk(top):
                for entry in [*dirnames, *filenames]:
                    os.utime(os.path.join(dirpath, entry), (stamp, stamp), follow_symlinks=False)
            os.utime(top, (stamp, stamp))


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEnv]:
    root = tmp_path / "site"
    env = FakeEnv(root, monkeypatch)
    monkeypatch.setattr(sys, "path", [str(root), *sys.path])
    before = set(sys.modules)
    yield env
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        if module is not None and str(getattr(module, "__file__", "") or "").startswith(
            str(tmp_path)
        ):
            del sys.modules[name]


@pytest.fixture(autouse=True)
def fanout_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fan-out's task shape: the backend's native tasks, or anyio's task group.

    Unparametrised, the default (native unless ``LONGSHOREMAN_FANOUT=generic``); modules
    that exercise the engine run each test on both, with
    ``pytestmark = pytest.mark.parametrize("fanout_path", FANOUT_PATHS, indirect=True)``.
    """
    from longshoreman import _fanout

    path = getattr(request, "param", None)
    if path is not None:
        monkeypatch.setattr(_fanout, "NATIVE", path == "native")
    return "native" if _fanout.NATIVE else "generic"


FANOUT_PATHS = ["native", "generic"]


@contextlib.asynccontextmanager
async def hang_guard(seconds: float) -> AsyncIterator[None]:
    """Like ``anyio.fail_after(seconds)``, but with no deadline that plugins could see.

    A deadline around a map is not neutral: the native asyncio fan-out then records its
    tasks in anyio's scope tree as they start (so that plugins see it), where it would
    otherwise record them only once the fan-out is cancelled. A hang detector must not
    choose which of the two is tested. Raises ``TimeoutError`` when the time ran out.
    """
    expired = False
    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as scope:

            async def watch() -> None:
                nonlocal expired
                await anyio.sleep(seconds)
                expired = True
                scope.cancel()

            tg.start_soon(watch)
            yield
        tg.cancel_scope.cancel()
    if expired:
        raise TimeoutError(f"not done within {seconds} s")
