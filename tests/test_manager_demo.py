"""The demo in ``examples/`` runs, against a copy of its plugins' metadata.

The demo plugins' entry points are read from ``examples/demo-plugins/pyproject.toml``
and written as a ``fake_env`` distribution, with the package importable from its source
folder, so the test needs no installation.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from longshoreman.testing import fake_entry_points

from .conftest import FakeEnv

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PLUGINS = EXAMPLES / "demo-plugins"


def install_demo_plugins(fake_env: FakeEnv) -> None:
    project = tomllib.loads((PLUGINS / "pyproject.toml").read_text())["project"]
    fake_env.dist(project["name"], project["version"], project["entry-points"])
    # fake_env hands sys.path back as it was, so this entry goes with it
    sys.path.insert(1, str(PLUGINS / "src"))


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("longshoreman_demo_script", EXAMPLES / "demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_demo_service_reports_the_failing_plugin(
    fake_env: FakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    install_demo_plugins(fake_env)
    from longshoreman_demo import backends  # type: ignore[import-not-found,unused-ignore]

    # The demo's latencies, scaled down (their order is kept).
    for cls in (backends.Postgres, backends.Redis, backends.ObjectStore, backends.Search):
        monkeypatch.setattr(cls, "connect_latency", cls.connect_latency / 20)
        monkeypatch.setattr(cls, "ping_latency", cls.ping_latency / 20)
    demo = load_demo()
    assert demo.show_discovery() == 4
    await demo.service()
    out = capsys.readouterr().out
    assert "postgres      longshoreman_demo.backends:Postgres" in out
    assert "longshoreman-demo-plugins  0.1.0" in out
    assert "4 backends connected in" in out
    assert (
        "except* ConnectionError caught an ExtensionErrorGroup: 1 of 4 calls to "
        "'longshoreman_demo.backends' extensions failed (1 sub-exception)"
    ) in out
    assert "FAILED  search: ConnectionError: search: connection reset by peer" in out
    assert "ok      postgres: postgres is up (client for 'demo-service')" in out
    assert "raised by extension 'search' (longshoreman_demo.backends:Search)" in out
    assert "closed, newest first: search, object-store, redis, postgres; still connected: none" in (
        out
    )


def test_the_demo_script_runs_end_to_end(
    fake_env: FakeEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_demo_plugins(fake_env)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(fake_env.root), str(PLUGINS / "src"), str(ROOT / "src")]
    )
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "FAILED  search: ConnectionError" in done.stdout
    assert done.stderr == ""


def test_the_demo_explains_what_to_install_when_nothing_is_found(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Whatever is installed (the README's demo command installs the real plugins into the
    # same .venv the tests use), the namespace is empty inside this block.
    demo = load_demo()
    with fake_entry_points(demo.NAMESPACE, {}, replace=True):
        assert demo.main() == 1
    assert "pip install ./examples/demo-plugins ." in capsys.readouterr().err
