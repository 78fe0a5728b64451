"""Logging (SPEC §12): silent unless the application configures it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import FakeEnv

NS = "lsm.logging.sinks"


@pytest.fixture
def broken_env(fake_env: FakeEnv) -> FakeEnv:
    fake_env.module("log_plugins.good", "class Sink:\n    pass\n")
    fake_env.module("log_plugins.bad", "raise RuntimeError('bad plugin at import')\n")
    fake_env.dist(
        "log-sinks",
        "1.5",
        {NS: {"good": "log_plugins.good:Sink", "bad": "log_plugins.bad:Sink"}},
    )
    return fake_env


def run_app(env: FakeEnv, code: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter: logging's last-resort handler is really there to print."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(env.root)},
        timeout=60,
        check=False,
    )


APP = f"""
import longshoreman
mgr = longshoreman.ExtensionManager({NS!r})
print(mgr.names())
"""


@pytest.mark.parametrize(
    "first",
    [
        "",  # logging is first imported by longshoreman's own modules
        "import asyncio",  # logging is already imported (asyncio, trio and most apps do)
        "import logging",
    ],
)
def test_an_application_without_logging_configured_sees_nothing(
    broken_env: FakeEnv, first: str
) -> None:
    done = run_app(broken_env, first + "\n" + APP)
    assert (done.returncode, done.stdout, done.stderr) == (0, "['good']\n", "")


def test_an_application_that_configures_logging_gets_the_failure(
    broken_env: FakeEnv,
) -> None:
    done = run_app(broken_env, "import logging\nlogging.basicConfig()\n" + APP)
    assert (done.returncode, done.stdout) == (0, "['good']\n")
    first = done.stderr.splitlines()[0]
    assert first == (
        "ERROR:longshoreman:Could not load extension 'bad' (log_plugins.bad:Sink) from "
        f"log-sinks 1.5 of {NS!r} (import failed): RuntimeError: bad plugin at import"
    )
    assert done.stderr.count("log-sinks") == 1  # the plugin is named once
    assert "Traceback (most recent call last):" in done.stderr
    assert done.stderr.rstrip().endswith("RuntimeError: bad plugin at import")


def test_the_logger_has_one_null_handler() -> None:
    import logging

    import longshoreman

    longshoreman._add_null_handler()
    longshoreman._add_null_handler()
    handlers = logging.getLogger("longshoreman").handlers
    assert [type(h) for h in handlers if isinstance(h, logging.NullHandler)] == [
        logging.NullHandler
    ]


def test_import_longshoreman_does_not_import_logging() -> None:
    """Importing logging up front would double the cost of ``import longshoreman``."""
    code = "import sys, longshoreman\nprint('logging' in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout == "False\n"
