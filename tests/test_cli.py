"""The ``longshoreman`` command line (SPEC §9): every command and flag, both output forms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from longshoreman import _cache
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
        "missing (cli_plugins.nowhere:Thing) from broken-fmt 0.2:\n"
        "  ModuleNotFoundError: No module named 'cli_plugins.nowhere'\n"
        "\n"
        "boom (cli_plugins.boom:Boom) from broken-fmt 0.2:\n"
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
        "type": "ModuleNotFoundError",
        "message": "No module named 'cli_plugins.nowhere'",
        "detail": "ModuleNotFoundError: No module named 'cli_plugins.nowhere'",
    }
    assert plugins[3]["error"] == {
        "type": "RuntimeError",
        "message": "boom at import",
        "detail": "RuntimeError: boom at import",
    }


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
    assert error["type"] == "SyntaxError"
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
            "bad (invoke_plugins.mod:bad_config) from invoke-dist 2.0:",
            "  ValueError: missing setting 'url'",
        ],
        [
            "leaky (invoke_plugins.mod:leaky) from invoke-dist 2.0:",
            "  OSError: could not close the socket",
        ],
        [
            "missing (invoke_plugins.gone:thing) from invoke-dist 2.0:",
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
    assert errors["bad"]["type"] == "ValueError"
    assert errors["bad"]["message"] == "missing setting 'url'"
    assert errors["leaky"]["type"] == "OSError"
    assert errors["missing"]["type"] == "ModuleNotFoundError"


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
