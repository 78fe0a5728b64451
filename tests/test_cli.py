"""The ``longshoreman`` command line (SPEC §9): every command and flag, both output forms."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from longshoreman import _cache, _cli
from longshoreman._cli import main

from .conftest import FakeEnv

NS = "lsm.cli.formatters"
OTHER = "lsm.cli.sinks"


@pytest.fixture
def env(fake_env: FakeEnv) -> FakeEnv:
    """Two distributions in NS (one of them broken), one in OTHER."""
    fake_env.module(
        "cli_plugins.fmt",
        """
        IMPORTED = True

        class Plain:
            "Plain text."

        def fancy():
            return "fancy"
        """,
    )
    fake_env.module("cli_plugins.boom", "raise RuntimeError('boom at import')\n")
    fake_env.dist(
        "alpha-fmt",
        "1.0",
        {NS: {"plain": "cli_plugins.fmt:Plain", "fancy": "cli_plugins.fmt:fancy"}},
    )
    fake_env.dist(
        "broken-fmt",
        "0.2",
        {
            NS: {"missing": "cli_plugins.nowhere:Thing", "boom": "cli_plugins.boom:Boom"},
            OTHER: {"sink": "cli_plugins.fmt:Plain"},
        },
    )
    return fake_env


@pytest.fixture
def good_env(fake_env: FakeEnv) -> FakeEnv:
    fake_env.module("good_plugins.fmt", "class Plain:\n    pass\n\ndef fancy():\n    return 1\n")
    fake_env.dist(
        "good-fmt",
        "3.1",
        {NS: {"plain": "good_plugins.fmt:Plain", "fancy": "good_plugins.fmt:fancy"}},
    )
    return fake_env


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    status, out, err = run(capsys, *argv)
    assert err == ""
    return status, json.loads(out)


def columns(line: str) -> list[int]:
    """Where each column of a two-space separated row starts."""
    starts, at = [0], 0
    while (at := line.find("  ", at)) >= 0:
        at += 2
        while at < len(line) and line[at] == " ":
            at += 1
        starts.append(at)
    return starts


# -- list -----------------------------------------------------------------------------


def test_list_namespaces_shows_each_with_its_count(
    env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "list")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["NAMESPACE", "PLUGINS"]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert rows[NS] == "4"
    assert rows[OTHER] == "1"
    names = [line.split()[0] for line in lines[1:]]
    assert names == sorted(names)
    assert {columns(line)[1] for line in lines} == {columns(lines[0])[1]}


@pytest.mark.parametrize("where", ["before", "after"])
def test_list_namespaces_json(env: FakeEnv, capsys: pytest.CaptureFixture[str], where: str) -> None:
    argv = ["--json", "list"] if where == "before" else ["list", "--json"]
    status, data = run_json(capsys, *argv)
    assert status == 0
    assert {"namespace": NS, "plugins": 4} in data
    assert {"namespace": OTHER, "plugins": 1} in data
    assert [item["namespace"] for item in data] == sorted(item["namespace"] for item in data)


def test_list_namespace_human_in_discovery_order(
    env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "list", NS)
    assert (status, err) == (0, "")
    assert out == (
        "NAME     TARGET                     DISTRIBUTION  VERSION\n"
        "plain    cli_plugins.fmt:Plain      alpha-fmt     1.0\n"
        "fancy    cli_plugins.fmt:fancy      alpha-fmt     1.0\n"
        "missing  cli_plugins.nowhere:Thing  broken-fmt    0.2\n"
        "boom     cli_plugins.boom:Boom      broken-fmt    0.2\n"
    )


def record(name: str, value: str, dist: str, version: str) -> dict[str, str]:
    return {"name": name, "value": value, "group": NS, "dist": dist, "version": version}


@pytest.mark.parametrize("argv", [["list", NS, "--json"], ["--json", "list", NS]])
def test_list_namespace_json(
    env: FakeEnv, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    status, data = run_json(capsys, *argv)
    assert status == 0
    assert data == [
        record("plain", "cli_plugins.fmt:Plain", "alpha-fmt", "1.0"),
        record("fancy", "cli_plugins.fmt:fancy", "alpha-fmt", "1.0"),
        record("missing", "cli_plugins.nowhere:Thing", "broken-fmt", "0.2"),
        record("boom", "cli_plugins.boom:Boom", "broken-fmt", "0.2"),
    ]


def test_list_never_imports_plugin_code(env: FakeEnv, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    assert main(["list", NS]) == 0
    assert main(["list", NS, "--json"]) == 0
    capsys.readouterr()
    assert "cli_plugins" not in sys.modules
    assert "cli_plugins.fmt" not in sys.modules


@pytest.mark.parametrize("command", ["list", "check"])
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_unknown_namespace_is_a_usage_error(
    env: FakeEnv, capsys: pytest.CaptureFixture[str], command: str, json_flag: list[str]
) -> None:
    status, out, err = run(capsys, command, "no.such.namespace", *json_flag)
    assert status == 2
    # list --json still prints the (empty) array its JSON form promises.
    assert out == ("[]\n" if command == "list" and json_flag else "")
    assert err == (
        "longshoreman: error: no plugins in namespace 'no.such.namespace' in this environment\n"
    )


def test_unknown_namespace_suggests_close_names(
    env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "check", "lsm.cli.formater")
    assert (status, out) == (2, "")
    assert err == (
        "longshoreman: error: no plugins in namespace 'lsm.cli.formater' in this environment"
        f" (did you mean {NS!r}?)\n"
    )


# -- check ----------------------------------------------------------------------------


def test_check_all_good(good_env: FakeEnv, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "check", NS)
    assert (status, err) == (0, "")
    assert out == (
        "NAME   TARGET                  DISTRIBUTION  VERSION  STATUS\n"
        "plain  good_plugins.fmt:Plain  good-fmt      3.1      ok\n"
        "fancy  good_plugins.fmt:fancy  good-fmt      3.1      ok\n"
        "\n"
        "All 2 plugins loaded.\n"
    )


def test_check_reports_each_failure_with_its_distribution(
    env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "check", NS)
    assert (status, err) == (1, "")
    assert out == (
        "NAME     TARGET                     DISTRIBUTION  VERSION  STATUS\n"
        "plain    cli_plugins.fmt:Plain      alpha-fmt     1.0      ok\n"
        "fancy    cli_plugins.fmt:fancy      alpha-fmt     1.0      ok\n"
        "missing  cli_plugins.nowhere:Thing  broken-fmt    0.2      failed\n"
        "boom     cli_plugins.boom:Boom      broken-fmt    0.2      failed\n"
        "\n"
        "'missing' (cli_plugins.nowhere:Thing) from broken-fmt 0.2, failed while importing:\n"
        "  ModuleNotFoundError: No module named 'cli_plugins.nowhere'\n"
        "\n"
        "'boom' (cli_plugins.boom:Boom) from broken-fmt 0.2, failed while importing:\n"
        "  RuntimeError: boom at import\n"
        "\n"
        "2 of 4 plugins failed to load.\n"
    )


@pytest.mark.parametrize("argv", [["check", NS, "--json"], ["--json", "check", NS]])
def test_check_json(env: FakeEnv, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    status, data = run_json(capsys, *argv)
    assert status == 1
    assert data["namespace"] == NS
    assert data["invoke"] is False
    assert data["failed"] == 2
    plugins = data["plugins"]
    assert [(p["name"], p["dist"], p["version"], p["status"]) for p in plugins] == [
        ("plain", "alpha-fmt", "1.0", "ok"),
        ("fancy", "alpha-fmt", "1.0", "ok"),
        ("missing", "broken-fmt", "0.2", "failed"),
        ("boom", "broken-fmt", "0.2", "failed"),
    ]
    assert plugins[0]["error"] is None
    assert plugins[0]["value"] == "cli_plugins.fmt:Plain"
    assert plugins[0]["group"] == NS
    assert plugins[2]["error"] == {
        "phase": "import",
        "exception": "ModuleNotFoundError",
        "message": "No module named 'cli_plugins.nowhere'",
        "detail": "ModuleNotFoundError: No module named 'cli_plugins.nowhere'",
        # The module is not there: no frame of plugin code to show.
        "traceback": "ModuleNotFoundError: No module named 'cli_plugins.nowhere'",
    }
    boom = plugins[3]["error"]
    assert {k: v for k, v in boom.items() if k != "traceback"} == {
        "phase": "import",
        "exception": "RuntimeError",
        "message": "boom at import",
        "detail": "RuntimeError: boom at import",
    }
    path = env.root / "cli_plugins" / "boom.py"
    assert boom["traceback"] == (
        "Traceback (most recent call last):\n"
        f'  File "{path}", line 1, in <module>\n'
        "    raise RuntimeError('boom at import')\n"
        "RuntimeError: boom at import"
    )


def test_check_json_all_good_exits_zero(
    good_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    status, data = run_json(capsys, "check", NS, "--json")
    assert status == 0
    assert data["failed"] == 0
    assert [p["status"] for p in data["plugins"]] == ["ok", "ok"]


def test_check_names_a_syntax_error_with_its_location(
    fake_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    path = fake_env.module("syntax_plugins.bad", "def broken(:\n    pass\n")
    fake_env.dist("syntax-dist", "0.1", {NS: {"bad": "syntax_plugins.bad:broken"}})
    status, data = run_json(capsys, "check", NS, "--json")
    assert status == 1
    error = data["plugins"][0]["error"]
    assert error["exception"] == "SyntaxError"
    assert f'File "{path}", line 1' in error["detail"]


def test_check_keeps_plugin_output_off_stdout(
    fake_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_env.module("noisy_plugins.mod", "print('hello from a plugin')\nclass P:\n    pass\n")
    fake_env.dist("noisy", "1.0", {NS: {"noisy": "noisy_plugins.mod:P"}})
    status, out, err = run(capsys, "check", NS, "--json")
    assert status == 0
    assert json.loads(out)["failed"] == 0
    assert err == "hello from a plugin\n"


INVOKE_PLUGINS = """
import contextlib

EVENTS = []

class Good:
    def __init__(self):
        EVENTS.append("good")

def bad_config():
    raise ValueError("missing setting 'url'")

async def pool():
    EVENTS.append("pool")
    return object()

@contextlib.asynccontextmanager
async def session():
    EVENTS.append("enter")
    yield "session"
    EVENTS.append("exit")

@contextlib.asynccontextmanager
async def leaky():
    yield "leaky"
    raise OSError("could not close the socket")
"""


@pytest.fixture
def invoke_env(fake_env: FakeEnv) -> FakeEnv:
    fake_env.module("invoke_plugins.mod", INVOKE_PLUGINS)
    fake_env.dist(
        "invoke-dist",
        "2.0",
        {
            NS: {
                "good": "invoke_plugins.mod:Good",
                "bad": "invoke_plugins.mod:bad_config",
                "pool": "invoke_plugins.mod:pool",
                "session": "invoke_plugins.mod:session",
                "leaky": "invoke_plugins.mod:leaky",
                "missing": "invoke_plugins.gone:thing",
            }
        },
    )
    return fake_env


def test_check_without_invoke_does_not_call_plugins(
    invoke_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    status, data = run_json(capsys, "check", NS, "--json")
    assert status == 1
    assert [p["name"] for p in data["plugins"] if p["error"]] == ["missing"]
    assert sys.modules["invoke_plugins.mod"].EVENTS == []


def test_check_invoke_reports_invocation_failures(
    invoke_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "check", NS, "--invoke")
    assert (status, err) == (1, "")
    table, *blocks, summary = out.split("\n\n")
    assert table.splitlines()[1:] == [
        "good     invoke_plugins.mod:Good        invoke-dist   2.0      ok",
        "bad      invoke_plugins.mod:bad_config  invoke-dist   2.0      failed",
        "pool     invoke_plugins.mod:pool        invoke-dist   2.0      ok",
        "session  invoke_plugins.mod:session     invoke-dist   2.0      ok",
        "leaky    invoke_plugins.mod:leaky       invoke-dist   2.0      failed",
        "missing  invoke_plugins.gone:thing      invoke-dist   2.0      failed",
    ]
    assert [block.splitlines()[:2] for block in blocks] == [
        [
            "'bad' (invoke_plugins.mod:bad_config) from invoke-dist 2.0, failed while invoking:",
            "  ValueError: missing setting 'url'",
        ],
        [
            "'leaky' (invoke_plugins.mod:leaky) from invoke-dist 2.0, failed while exiting:",
            "  OSError: could not close the socket",
        ],
        [
            "'missing' (invoke_plugins.gone:thing) from invoke-dist 2.0, failed while importing:",
            "  ModuleNotFoundError: No module named 'invoke_plugins.gone'",
        ],
    ]
    assert summary == "3 of 6 plugins failed to load or invoke.\n"
    # Async factories were awaited; async context managers entered, then exited.
    events = sys.modules["invoke_plugins.mod"].EVENTS
    assert sorted(events) == ["enter", "exit", "good", "pool"]
    assert events.index("enter") < events.index("exit")


def test_check_invoke_json(invoke_env: FakeEnv, capsys: pytest.CaptureFixture[str]) -> None:
    status, data = run_json(capsys, "--json", "check", NS, "--invoke")
    assert status == 1
    assert data["invoke"] is True
    assert data["failed"] == 3
    errors = {p["name"]: p["error"] for p in data["plugins"]}
    assert errors["good"] is None
    assert errors["bad"]["exception"] == "ValueError"
    assert errors["bad"]["message"] == "missing setting 'url'"
    assert errors["leaky"]["exception"] == "OSError"
    assert errors["missing"]["exception"] == "ModuleNotFoundError"
    phases = {name: error and error["phase"] for name, error in errors.items()}
    assert phases == {
        "good": None,
        "bad": "invoke",
        "pool": None,
        "session": None,
        "leaky": "exit",
        "missing": "import",
    }


def test_check_reports_a_failing_assert_like_any_failure(
    fake_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_env.module("assert_at_import", "assert False, 'bad import'\n")
    fake_env.module("assert_at_call", "def factory():\n    assert False, 'bad call'\n")
    fake_env.module("fine_plugin", "def factory():\n    return 1\n")
    fake_env.dist(
        "asserting",
        "1.0",
        {
            NS: {
                "at-import": "assert_at_import:x",
                "at-call": "assert_at_call:factory",
                "fine": "fine_plugin:factory",
            }
        },
    )
    for extra in ([], ["--invoke"]):
        status, data = run_json(capsys, "check", NS, "--json", *extra)
        errors = {p["name"]: p["error"] and p["error"]["message"] for p in data["plugins"]}
        expected = {
            "at-import": "bad import",
            "at-call": "bad call" if extra else None,
            "fine": None,
        }
        assert (status, errors) == (1, expected)


def test_check_invoke_all_good(good_env: FakeEnv, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "check", NS, "--invoke")
    assert (status, err) == (0, "")
    assert out.endswith("\nAll 2 plugins loaded and invoked.\n")


# -- check: invoke arguments, non-callable plugins ------------------------------------

SETTINGS_PLUGINS = """
import contextlib

CALLS = []

def database(dsn, *, settings):
    CALLS.append(("database", dsn, settings))
    raise ConnectionRefusedError(f"{settings['host']} refused the connection")

async def cache(dsn, *, settings):
    CALLS.append(("cache", dsn, settings))
    return "cache"

@contextlib.asynccontextmanager
async def session(dsn, *, settings):
    CALLS.append(("session", dsn, settings))
    yield "session"

class Handler:
    def __call__(self, dsn, *, settings):
        CALLS.append(("handler", dsn, settings))
        return self

class Sink:
    def __call__(self):
        raise AssertionError("an instance that is not callable is never called")

handler = Handler()
sink = Sink.__new__(Sink)
del Sink.__call__  # now an instance that is not callable
"""


NOT_INVOKED = "not invoked (not callable)"


@pytest.fixture
def settings_env(fake_env: FakeEnv) -> FakeEnv:
    fake_env.module("settings_plugins.mod", SETTINGS_PLUGINS)
    fake_env.module("settings_plugins.stdout", "def write(record):\n    print(record)\n")
    fake_env.dist(
        "settings-dist",
        "4.2",
        {
            NS: {
                "database": "settings_plugins.mod:database",
                "cache": "settings_plugins.mod:cache",
                "session": "settings_plugins.mod:session",
                "handler": "settings_plugins.mod:handler",
                "sink": "settings_plugins.mod:sink",
                "stdout": "settings_plugins.stdout",
            }
        },
    )
    return fake_env


def test_check_invoke_passes_invoke_args_and_kwds(
    settings_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check", NS, "--invoke", "--invoke-args", '["db://x"]']
    argv += ["--invoke-kwds", '{"settings": {"host": "db.internal"}}']
    status, out, err = run(capsys, *argv)
    assert (status, err) == (1, "")
    table, failure, summary = out.split("\n\n")
    assert table.splitlines()[1:] == [
        "database  settings_plugins.mod:database  settings-dist  4.2      failed",
        "cache     settings_plugins.mod:cache     settings-dist  4.2      ok",
        "session   settings_plugins.mod:session   settings-dist  4.2      ok",
        "handler   settings_plugins.mod:handler   settings-dist  4.2      ok",
        "sink      settings_plugins.mod:sink      settings-dist  4.2      " + NOT_INVOKED,
        "stdout    settings_plugins.stdout        settings-dist  4.2      " + NOT_INVOKED,
    ]
    # The real error, not "missing 1 required keyword-only argument: 'settings'".
    assert failure == (
        "'database' (settings_plugins.mod:database) from settings-dist 4.2, "
        "failed while invoking:\n"
        "  ConnectionRefusedError: db.internal refused the connection"
    )
    assert summary == "1 of 6 plugins failed to load or invoke; 2 not invoked (not callable).\n"
    settings = {"host": "db.internal"}
    calls = sys.modules["settings_plugins.mod"].CALLS
    assert sorted(calls) == [
        (name, "db://x", settings) for name in ("cache", "database", "handler", "session")
    ]


def test_check_invoke_without_the_arguments_says_what_is_missing(
    settings_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    status, data = run_json(capsys, "check", NS, "--invoke", "--json")
    assert status == 1
    errors = {p["name"]: p["error"] for p in data["plugins"]}
    assert errors["database"]["exception"] == "TypeError"
    assert "required positional argument: 'dsn'" in errors["database"]["message"]
    assert errors["sink"] is None
    assert errors["stdout"] is None


def test_check_invoke_leaves_non_callable_plugins_alone(
    settings_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check", NS, "--invoke", "--json", "--invoke-args", '["db://x"]']
    status, data = run_json(capsys, *argv, "--invoke-kwds", '{"settings": {"host": "h"}}')
    assert status == 1  # the database refused; the non-callable plugins are no failure
    statuses = {p["name"]: p["status"] for p in data["plugins"]}
    assert statuses == {
        "database": "failed",
        "cache": "ok",
        "session": "ok",
        "handler": "ok",
        "sink": "not invoked",
        "stdout": "not invoked",
    }
    assert (data["failed"], data["not_invoked"]) == (1, 2)


def test_check_invoke_all_good_but_some_not_callable(
    fake_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_env.module("modular_plugins.text", "def render(value):\n    return str(value)\n")
    fake_env.module("modular_plugins.fmt", "class Plain:\n    pass\n")
    fake_env.dist(
        "modular",
        "1.0",
        {NS: {"text": "modular_plugins.text", "plain": "modular_plugins.fmt:Plain"}},
    )
    status, out, err = run(capsys, "check", NS, "--invoke")
    assert (status, err) == (0, "")
    assert out == (
        "NAME   TARGET                     DISTRIBUTION  VERSION  STATUS\n"
        "text   modular_plugins.text       modular       1.0      not invoked (not callable)\n"
        "plain  modular_plugins.fmt:Plain  modular       1.0      ok\n"
        "\n"
        "All 2 plugins loaded, 1 invoked; 1 not invoked (not callable).\n"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--invoke-args", "[1,"],
            "--invoke-args is not valid JSON: Expecting value: line 1 column 4 (char 3)",
        ),
        (["--invoke-kwds", "{'a': 1}"], "--invoke-kwds is not valid JSON: Expecting property"),
        (["--invoke-args", '{"a": 1}'], "--invoke-args must be a JSON array, not an object"),
        (["--invoke-args", '"x"'], "--invoke-args must be a JSON array, not a string"),
        (["--invoke-args", "3"], "--invoke-args must be a JSON array, not a number"),
        (["--invoke-kwds", "[1]"], "--invoke-kwds must be a JSON object, not an array"),
        (["--invoke-kwds", "true"], "--invoke-kwds must be a JSON object, not a boolean"),
        (["--invoke-kwds", "null"], "--invoke-kwds must be a JSON object, not null"),
        (["--timeout", "soon"], "--timeout must be a positive number of seconds, not 'soon'"),
        (["--timeout", "0"], "--timeout must be a positive number of seconds, not '0'"),
        (["--timeout", "-1"], "--timeout must be a positive number of seconds, not '-1'"),
        (["--timeout", "nan"], "--timeout must be a positive number of seconds, not 'nan'"),
        (["--timeout", "inf"], "--timeout must be a positive number of seconds, not 'inf'"),
    ],
)
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_check_bad_invoke_options_are_one_line_usage_errors(
    settings_env: FakeEnv,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
    json_flag: list[str],
) -> None:
    status, out, err = run(capsys, "check", NS, "--invoke", *options, *json_flag)
    assert (status, out) == (2, "")
    assert err.startswith(f"longshoreman: error: {message}")
    assert err.count("\n") == 1
    assert "settings_plugins.mod" not in sys.modules  # nothing imported, let alone invoked


@pytest.mark.parametrize(
    "options", [["--invoke-args", "[]"], ["--invoke-kwds", "{}"], ["--timeout", "1"]]
)
def test_check_invoke_options_need_invoke(
    settings_env: FakeEnv, capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    status, out, err = run(capsys, "check", NS, *options)
    assert (status, out) == (2, "")
    assert err == f"longshoreman: error: {options[0]} needs --invoke\n"


def test_check_invoke_reports_the_managers_own_refusals_by_target(
    fake_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_env.module("agen_plugins.mod", "async def stream():\n    yield 1\n")
    fake_env.dist("agen", "1.0", {NS: {"stream": "agen_plugins.mod:stream"}})
    status, data = run_json(capsys, "check", NS, "--invoke", "--json")
    assert status == 1
    error = data["plugins"][0]["error"]
    assert (error["phase"], error["exception"]) == ("invoke", "TypeError")
    assert error["message"].startswith(
        "agen_plugins.mod:stream is an async generator function, which cannot be invoked"
    )


# -- check: timeouts and tracebacks ---------------------------------------------------

SLOW_PLUGINS = """
import contextlib

import anyio

async def hangs():
    await anyio.sleep_forever()

@contextlib.asynccontextmanager
async def never_entered():
    await anyio.sleep_forever()
    yield

@contextlib.asynccontextmanager
async def never_exits():
    yield "entered"
    await anyio.sleep_forever()

def quick():
    return "quick"
"""


@pytest.fixture
def slow_env(fake_env: FakeEnv) -> FakeEnv:
    fake_env.module("slow_plugins.mod", SLOW_PLUGINS)
    fake_env.dist(
        "slow-dist",
        "0.9",
        {
            NS: {
                "hangs": "slow_plugins.mod:hangs",
                "never-entered": "slow_plugins.mod:never_entered",
                "never-exits": "slow_plugins.mod:never_exits",
                "quick": "slow_plugins.mod:quick",
            }
        },
    )
    return fake_env


def test_check_timeout_fails_each_plugin_that_overruns_in_its_phase(
    slow_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    status, data = run_json(capsys, "check", NS, "--invoke", "--timeout", "0.05", "--json")
    assert status == 1
    errors = {p["name"]: p["error"] for p in data["plugins"]}
    assert errors["quick"] is None
    failures = {
        name: (error["phase"], error["exception"]) for name, error in errors.items() if error
    }
    assert failures == {
        "hangs": ("invoke", "TimeoutError"),
        "never-entered": ("enter", "TimeoutError"),
        "never-exits": ("exit", "TimeoutError"),
    }
    # Where each plugin was stuck when it was cancelled.
    path = slow_env.root / "slow_plugins" / "mod.py"
    for name, line in [("hangs", 7), ("never-entered", 11), ("never-exits", 17)]:
        traceback = errors[name]["traceback"]
        assert "\nThe plugin was cancelled while waiting here:\n" in traceback
        assert f'  File "{path}", line {line}, in ' in traceback


def without_carets(text: str) -> str:
    """A traceback without its ``^^^^`` lines (which each Python version draws its way)."""
    return "\n".join(line for line in text.splitlines() if line.strip(" ^~"))


def test_check_traceback_shows_the_plugins_frames_only(
    fake_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    path = fake_env.module(
        "deep_plugins.mod",
        """
        def connect():
            return open_socket()

        def open_socket():
            raise ConnectionError("no route to host")
        """,
    )
    fake_env.dist("deep", "1.0", {NS: {"deep": "deep_plugins.mod:connect"}})
    failure = (
        "'deep' (deep_plugins.mod:connect) from deep 1.0, failed while invoking:\n"
        "  Traceback (most recent call last):\n"
        f'    File "{path}", line 3, in connect\n'
        "      return open_socket()\n"
        f'    File "{path}", line 6, in open_socket\n'
        '      raise ConnectionError("no route to host")\n'
        "  ConnectionError: no route to host"
    )
    status, out, err = run(capsys, "check", NS, "--invoke", "--traceback")
    assert (status, err) == (1, "")
    assert without_carets(out.split("\n\n")[1]) == failure

    status, out, err = run(capsys, "check", NS, "--invoke")
    assert out.split("\n\n")[1] == (
        "'deep' (deep_plugins.mod:connect) from deep 1.0, failed while invoking:\n"
        "  ConnectionError: no route to host"
    )

    status, data = run_json(capsys, "check", NS, "--invoke", "--json")
    error = data["plugins"][0]["error"]
    expected = "\n".join(line[2:] for line in failure.splitlines()[1:])
    assert without_carets(error["traceback"]) == expected


def test_check_traceback_of_an_import_failure(
    fake_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    path = fake_env.module("import_plugins.mod", "import json\njson.loads('{')\n")
    fake_env.dist("importing", "1.0", {NS: {"bad": "import_plugins.mod:x"}})
    status, out, _ = run(capsys, "check", NS, "--traceback")
    assert status == 1
    block = out.split("\n\n")[1].splitlines()
    assert block[:3] == [
        "'bad' (import_plugins.mod:x) from importing 1.0, failed while importing:",
        "  Traceback (most recent call last):",
        f'    File "{path}", line 2, in <module>',
    ]
    assert block[-1].startswith("  json.decoder.JSONDecodeError: Expecting property name")
    assert "importlib" not in out
    assert "_cli.py" not in out


def test_check_survives_an_exception_that_cannot_be_printed(
    fake_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_env.module(
        "ugly_plugins.mod",
        """
        class Unprintable(Exception):
            def __str__(self):
                raise ValueError("no text for you")

        def factory():
            raise Unprintable()
        """,
    )
    fake_env.dist("ugly", "1.0", {NS: {"ugly": "ugly_plugins.mod:factory"}})
    status, data = run_json(capsys, "check", NS, "--invoke", "--json")
    assert status == 1
    error = data["plugins"][0]["error"]
    assert error["exception"] == "ugly_plugins.mod.Unprintable"
    assert error["message"] == "<exception str() failed>"
    assert error["detail"] == "ugly_plugins.mod.Unprintable: <exception str() failed>"
    status, out, err = run(capsys, "check", NS, "--invoke", "--traceback")
    assert (status, err) == (1, "")
    assert "  ugly_plugins.mod.Unprintable: <exception str() failed>\n" in out


# -- check: timings -------------------------------------------------------------------


class FakeClock(ModuleType):
    """A clock the plugins advance, so timings are exact: ``lsm_clock.advance(s)``."""

    def __init__(self) -> None:
        super().__init__("lsm_clock")
        self.now = 0.0

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def timed_env(fake_env: FakeEnv, monkeypatch: pytest.MonkeyPatch) -> FakeEnv:
    clock = FakeClock()
    monkeypatch.setitem(sys.modules, "lsm_clock", clock)
    monkeypatch.setattr(_cli, "_clock", clock)
    fake_env.module(
        "timed_plugins.heavy",
        "import lsm_clock\nlsm_clock.advance(0.3)\n\ndef factory():\n    return 1\n",
    )
    fake_env.module(
        "timed_plugins.slow",
        "import lsm_clock\n\ndef factory():\n    lsm_clock.advance(0.5)\n",
    )
    fake_env.module("timed_plugins.module", "import lsm_clock\nlsm_clock.advance(0.05)\n")
    fake_env.module(
        "timed_plugins.pool",
        """
        import anyio
        import lsm_clock

        async def factory():
            await anyio.sleep(0)
            lsm_clock.advance(0.1)
        """,
    )
    fake_env.dist(
        "timed",
        "1.0",
        {
            NS: {
                "heavy": "timed_plugins.heavy:factory",
                "slow": "timed_plugins.slow:factory",
                "module": "timed_plugins.module",
                "pool": "timed_plugins.pool:factory",
            }
        },
    )
    return fake_env


def test_check_timings_slowest_first(
    timed_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "check", NS, "--invoke", "--timings")
    assert (status, err) == (0, "")
    assert out == (
        "NAME    TARGET                       DISTRIBUTION  VERSION    IMPORT    INVOKE  STATUS\n"
        "slow    timed_plugins.slow:factory   timed         1.0        0.0 ms  500.0 ms  ok\n"
        "heavy   timed_plugins.heavy:factory  timed         1.0      300.0 ms    0.0 ms  ok\n"
        "pool    timed_plugins.pool:factory   timed         1.0        0.0 ms  100.0 ms  ok\n"
        "module  timed_plugins.module         timed         1.0       50.0 ms         -  "
        "not invoked (not callable)\n"
        "\n"
        "Imports took 350.0 ms in all, one after another; invoking took 600.0 ms, "
        "concurrently.\n"
        "\n"
        "All 4 plugins loaded, 3 invoked; 1 not invoked (not callable).\n"
    )


def test_check_timings_without_invoke(
    timed_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "check", NS, "--timings")
    assert (status, err) == (0, "")
    assert out == (
        "NAME    TARGET                       DISTRIBUTION  VERSION    IMPORT  STATUS\n"
        "heavy   timed_plugins.heavy:factory  timed         1.0      300.0 ms  ok\n"
        "module  timed_plugins.module         timed         1.0       50.0 ms  ok\n"
        "slow    timed_plugins.slow:factory   timed         1.0        0.0 ms  ok\n"
        "pool    timed_plugins.pool:factory   timed         1.0        0.0 ms  ok\n"
        "\n"
        "Imports took 350.0 ms in all, one after another.\n"
        "\n"
        "All 4 plugins loaded.\n"
    )


def test_check_timings_json(timed_env: FakeEnv, capsys: pytest.CaptureFixture[str]) -> None:
    status, data = run_json(capsys, "check", NS, "--invoke", "--timings", "--json")
    assert status == 0
    # Discovery order, in seconds; sorting is the reader's business.
    assert [(p["name"], p["timings"]) for p in data["plugins"]] == [
        ("heavy", {"import": 0.3, "invoke": 0.0}),
        ("slow", {"import": 0.0, "invoke": 0.5}),
        ("module", {"import": 0.05, "invoke": None}),
        ("pool", {"import": 0.0, "invoke": 0.1}),
    ]
    assert data["timings"] == {"import": 0.35, "invoke": 0.6}
    status, data = run_json(capsys, "check", NS, "--json")
    assert "timings" not in data
    assert "timings" not in data["plugins"][0]


# -- check: progress ------------------------------------------------------------------


class Terminal(io.StringIO):
    """Stands in for a terminal on stderr; ``shown`` is set at each write."""

    def __init__(self) -> None:
        super().__init__()
        self.shown = threading.Event()

    def write(self, text: str) -> int:
        count = super().write(text)
        self.shown.set()
        return count


def test_check_shows_progress_on_a_terminal(
    timed_env: FakeEnv, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(_cli, "_progress_stream", lambda: terminal)
    monkeypatch.setattr(_cli, "PROGRESS_DELAY", 0)
    status, out, err = run(capsys, "check", NS, "--invoke")
    assert (status, err) == (0, "")
    assert out.endswith("All 4 plugins loaded, 3 invoked; 1 not invoked (not callable).\n")
    shown = terminal.getvalue()
    prefix = f"\rchecking {NS}: "
    for step in ["importing 1/4: heavy", "importing 4/4: pool", "invoking: 0/3 ready, waiting"]:
        assert prefix + step in shown
    last = shown.rstrip("\r").rpartition("\r")[2]
    assert shown.endswith("\r")
    assert last.strip() == ""  # the line is erased at the end


def test_check_progress_names_a_plugin_that_hangs(
    fake_env: FakeEnv, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line is redrawn while the main thread is stuck in a plugin's import."""
    terminal = Terminal()
    gate = ModuleType("lsm_gate")
    gate.shown = terminal.shown  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lsm_gate", gate)
    monkeypatch.setattr(_cli, "_progress_stream", lambda: terminal)
    # The draw before the import comes too early; only the ticking thread can show it.
    monkeypatch.setattr(_cli, "PROGRESS_DELAY", 0.05)
    fake_env.module(
        "gated_plugins.mod",
        "import lsm_gate\n"
        "if not lsm_gate.shown.wait(10):\n"
        "    raise RuntimeError('no progress while the import hung')\n",
    )
    fake_env.dist("gated", "1.0", {NS: {"stuck": "gated_plugins.mod"}})
    status, out, err = run(capsys, "check", NS)
    assert (status, err) == (0, "")
    assert out.endswith("All 1 plugin loaded.\n")
    assert f"\rchecking {NS}: importing 1/1: stuck" in terminal.getvalue()


def test_check_shows_no_progress_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _cli._progress_stream() is None


def pty_run(env: FakeEnv, code: str) -> tuple[int, str, bytes]:
    """Run ``code`` with stderr on a pseudo-terminal; its exit status, stdout, terminal."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=slave,
            text=True,
            env=subprocess_env(env),
            timeout=60,
            check=False,
        )
    finally:
        os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the terminal has no writer left
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return done.returncode, done.stdout, shown


def test_check_progress_on_a_real_terminal(env: FakeEnv) -> None:
    check = f"from longshoreman import _cli\nraise SystemExit(_cli.main(['check', {NS!r}]))"
    status, out, shown = pty_run(
        env, "from longshoreman import _cli\n_cli.PROGRESS_DELAY = 0\n" + check
    )
    assert status == 1
    assert out.endswith("2 of 4 plugins failed to load.\n")
    assert f"\rchecking {NS}: importing 4/4: boom".encode() in shown
    assert shown.endswith(b"\r")
    # A check that takes less than PROGRESS_DELAY shows nothing at all.
    status, out, shown = pty_run(env, check)
    assert (status, shown) == (1, b"")
    assert out.endswith("2 of 4 plugins failed to load.\n")


# -- cache ----------------------------------------------------------------------------


def write_two_cache_files(env: FakeEnv) -> None:
    """One cache file for this environment, one for another ``sys.path``."""
    extra = env.add_path("elsewhere", front=False)
    env.settle()
    assert main(["list", NS]) == 0
    sys.path.remove(str(extra))
    _cache._default = None  # a new process: no memo
    assert main(["list", NS]) == 0
    _cache._default = None


def test_cache_info_lists_files_of_every_environment(
    good_env: FakeEnv, isolated_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_two_cache_files(good_env)
    capsys.readouterr()
    on_disk = {p.name: p.stat().st_size for p in isolated_cache.glob("*.lscache")}
    assert len(on_disk) == 2
    current = _cache._file_name(_cache._key(*_cache._entries(sys.path)))

    status, data = run_json(capsys, "cache", "info", "--json")
    assert status == 0
    assert data == {
        "directory": str(isolated_cache),
        "source": "LONGSHOREMAN_CACHE_DIR",
        "enabled": True,
        "reason": None,
        "files": [
            {"name": name, "size": size, "current": name == current}
            for name, size in sorted(on_disk.items())
        ],
        "total_size": sum(on_disk.values()),
    }

    status, out, err = run(capsys, "cache", "info")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"directory:   {isolated_cache} (from LONGSHOREMAN_CACHE_DIR)"
    assert lines[1] == "disk cache:  on"
    assert lines[2].startswith("files:       2 files, ")
    assert lines[4].split() == ["FILE", "BYTES", "FOR"]
    rows = {line.split()[0]: line.split(maxsplit=2)[1:] for line in lines[5:]}
    assert rows == {
        name: [str(size), "this environment" if name == current else "other"]
        for name, size in on_disk.items()
    }


def test_cache_info_before_the_directory_exists(
    isolated_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not isolated_cache.exists()
    status, out, err = run(capsys, "cache", "info")
    assert (status, err) == (0, "")
    assert out == (
        f"directory:   {isolated_cache} (from LONGSHOREMAN_CACHE_DIR), not created yet\n"
        "disk cache:  on\n"
        "files:       0 files, 0 bytes\n"
    )


def test_cache_info_says_why_the_cache_is_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LONGSHOREMAN_NO_CACHE", "1")
    status, out, err = run(capsys, "cache", "info")
    assert (status, err) == (0, "")
    assert out == (
        "directory:   none\n"
        "disk cache:  off: LONGSHOREMAN_NO_CACHE is set\n"
        "files:       0 files, 0 bytes\n"
    )
    status, data = run_json(capsys, "cache", "info", "--json")
    assert status == 0
    assert data == {
        "directory": None,
        "source": None,
        "enabled": False,
        "reason": "LONGSHOREMAN_NO_CACHE is set",
        "files": [],
        "total_size": 0,
    }


def test_cache_info_reports_an_unsafe_directory(
    isolated_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    isolated_cache.mkdir()
    isolated_cache.chmod(0o777)
    status, data = run_json(capsys, "cache", "info", "--json")
    assert status == 0
    assert data["enabled"] is False
    assert data["reason"] == f"{isolated_cache} is writable by group or others"
    status, out, _ = run(capsys, "cache", "info")
    reason = f"{isolated_cache} is writable by group or others"
    assert out.splitlines()[1] == f"disk cache:  off: {reason}"


def test_cache_info_reports_a_symlinked_directory(
    isolated_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = tmp_path / "real-cache"
    real.mkdir(mode=0o700)
    isolated_cache.symlink_to(real)
    status, data = run_json(capsys, "--json", "cache", "info")
    assert (status, data["enabled"]) == (0, False)
    assert data["reason"] == f"{isolated_cache} is a symlink"


def test_cache_clear_removes_every_environments_files(
    good_env: FakeEnv, isolated_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_two_cache_files(good_env)
    capsys.readouterr()
    assert len(list(isolated_cache.glob("*.lscache"))) == 2

    status, out, err = run(capsys, "cache", "clear")
    assert (status, err) == (0, "")
    assert out == f"Removed 2 cache files from {isolated_cache}.\n"
    assert list(isolated_cache.glob("*.lscache")) == []

    status, data = run_json(capsys, "cache", "clear", "--json")
    assert status == 0
    assert data == {"directory": str(isolated_cache), "removed": 0}


def test_cache_clear_with_the_cache_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LONGSHOREMAN_NO_CACHE", "yes")
    status, out, err = run(capsys, "cache", "clear")
    assert (status, err) == (0, "")
    assert out == "No disk cache (LONGSHOREMAN_NO_CACHE is set); nothing to remove.\n"
    status, data = run_json(capsys, "--json", "cache", "clear")
    assert (status, data) == (0, {"directory": None, "removed": 0})


# -- arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
        (["check"], "the following arguments are required: NAMESPACE"),
        (["cache"], "the following arguments are required: ACTION"),
        (["cache", "drop"], "argument ACTION: invalid choice: 'drop'"),
        (["list", "a", "b"], "unrecognized arguments: b"),
        (["list", "--invoke"], "unrecognized arguments: --invoke"),
        (["cache", "info", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert "usage: longshoreman" in err
    assert f"error: {message}" in err
    assert "Traceback" not in err


def test_help_states_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["check", "--help"], ["list", "--help"]):
        status, out, err = run(capsys, *argv)
        assert (status, err) == (0, "")
        assert "1  check: at least one plugin failed to load" in out
        assert "2  bad arguments, or a namespace with no plugins in this environment" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import longshoreman

    status, out, _ = run(capsys, "--version")
    assert (status, out) == (0, f"longshoreman {longshoreman.__version__}\n")


def test_interrupt_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> dict[str, int]:
        raise KeyboardInterrupt

    monkeypatch.setattr("longshoreman._cli.entry_point_groups", interrupted)
    assert run(capsys, "list") == (130, "", "")


# -- as a program ---------------------------------------------------------------------


def subprocess_env(env: FakeEnv) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(env.root)}


def test_python_dash_m(env: FakeEnv) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "longshoreman", "list", NS, "--json"],
        capture_output=True,
        text=True,
        env=subprocess_env(env),
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    names = [item["name"] for item in json.loads(done.stdout)]
    assert names == ["plain", "fancy", "missing", "boom"]

    done = subprocess.run(
        [sys.executable, "-m", "longshoreman", "check", NS],
        capture_output=True,
        text=True,
        env=subprocess_env(env),
        check=False,
    )
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout.endswith("2 of 4 plugins failed to load.\n")


def test_console_script(env: FakeEnv) -> None:
    script = Path(sysconfig.get_path("scripts")) / "longshoreman"
    assert script.exists()
    done = subprocess.run(
        [str(script), "check", "no.such.ns"],
        capture_output=True,
        text=True,
        env=subprocess_env(env),
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "longshoreman: error: no plugins in namespace 'no.such.ns' in this environment\n"
    )


def test_closed_pipe_is_not_a_traceback(env: FakeEnv) -> None:
    reader = subprocess.Popen(
        [sys.executable, "-m", "longshoreman", "list", NS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(env),
    )
    assert reader.stdout is not None
    assert reader.stderr is not None
    reader.stdout.close()  # like `longshoreman list NS | head -0`
    assert reader.wait() == 1
    assert reader.stderr.read() == b""
    reader.stderr.close()


def test_sync_commands_never_import_anyio(env: FakeEnv) -> None:
    code = (
        "import sys\n"
        "from longshoreman._cli import main\n"
        f"assert main(['list']) == 0\n"
        f"assert main(['list', {NS!r}, '--json']) == 0\n"
        f"assert main(['check', {NS!r}]) == 1\n"
        "assert main(['cache', 'info']) == 0\n"
        "assert main(['cache', 'clear']) == 0\n"
        "print('anyio imported:', 'anyio' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env(env),
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "anyio imported: False\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "cache", "info"],
        ["cache", "--json", "info"],
        ["cache", "info", "--json"],
    ],
)
def test_json_flag_anywhere_for_cache(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    status, data = run_json(capsys, *argv)
    assert status == 0
    assert set(data) >= {"directory", "enabled", "reason", "files"}
