"""``instrument=``: every plugin load, invoke, enter, call and exit is observed, with its
extension, phase, duration and outcome, in the task that runs it; and nothing when absent."""

from __future__ import annotations

import contextvars
import logging
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from longshoreman import (
    Extension,
    ExtensionErrorGroup,
    ExtensionManager,
    PluginEvent,
)
from longshoreman.testing import fake_entry_points

from .conftest import FANOUT_PATHS, FakeEnv

# The engine's both task shapes: the backend's native tasks and anyio's task group.
pytestmark = pytest.mark.parametrize("fanout_path", FANOUT_PATHS, indirect=True)

CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("CURRENT", default=None)


class Recorder:
    """Records events; sets CURRENT while a plugin runs (as a tracer sets its span)."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []
        self.ended: list[PluginEvent] = []

    def on_start(self, event: PluginEvent) -> None:
        self.started.append((event.phase, event.name))
        event.state = CURRENT.set(f"{event.phase}:{event.name}")

    def on_end(self, event: PluginEvent) -> None:
        CURRENT.reset(event.state)
        self.ended.append(event)

    def outcomes(self) -> list[tuple[str, str, str]]:
        return sorted((e.phase, e.name, e.outcome) for e in self.ended)


class Pool:
    async def __aenter__(self) -> Pool:
        assert CURRENT.get() == "enter:pool"
        await anyio.lowlevel.checkpoint()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        assert CURRENT.get() == "exit:pool"

    async def ping(self) -> str | None:
        await anyio.lowlevel.checkpoint()
        return CURRENT.get()


class Plain:
    def ping(self) -> str | None:
        return CURRENT.get()


class Broken:
    def ping(self) -> None:
        raise OSError("down")


def broken_import() -> None:  # never imported: its target does not exist
    pass


async def test_every_phase_is_observed_in_the_task_that_runs_the_plugin(
    fake_env: FakeEnv,
) -> None:
    recorder = Recorder()
    plugins = {"pool": Pool, "plain": Plain, "broken": Broken, "gone": "no_such_module:X"}
    with fake_entry_points("ls.inst", plugins), pytest.MonkeyPatch.context() as mp:
        mp.setattr(logging.getLogger("longshoreman"), "disabled", True)
        mgr = ExtensionManager[Any](
            "ls.inst", invoke_on_load=True, instrument=recorder, propagate_map_exceptions=True
        )
        async with mgr:
            with pytest.raises(ExtensionErrorGroup):
                await mgr.map_method("ping")
            results = await mgr.map(lambda ext: CURRENT.get())
    # each plugin call saw its own event as current (as a span would be)
    assert results == ["call:pool", "call:plain", "call:broken"]
    assert recorder.outcomes() == [
        ("call", "broken", "error"),
        ("call", "broken", "ok"),
        ("call", "plain", "ok"),
        ("call", "plain", "ok"),
        ("call", "pool", "ok"),
        ("call", "pool", "ok"),
        ("enter", "pool", "ok"),
        ("exit", "pool", "ok"),
        ("invoke", "broken", "ok"),
        ("invoke", "plain", "ok"),
        ("invoke", "pool", "ok"),
        ("load", "broken", "ok"),
        ("load", "gone", "error"),
        ("load", "plain", "ok"),
        ("load", "pool", "ok"),
    ]
    [failed] = [e for e in recorder.ended if e.phase == "call" and e.outcome == "error"]
    assert isinstance(failed.exception, OSError)
    assert failed.extension is not None
    assert failed.extension.name == "broken"
    assert failed.namespace == "ls.inst"
    assert failed.entry_point is not None
    assert failed.entry_point.dist is not None
    assert all(e.duration >= 0 for e in recorder.ended)
    assert len(recorder.started) == len(recorder.ended)
    assert CURRENT.get() is None  # every on_start was matched by its on_end


async def test_timeouts_and_cancellations_are_outcomes() -> None:
    recorder = Recorder()
    exts = [Extension(n, None, object, n) for n in ("slow", "fast")]
    mgr = ExtensionManager[Any].make_test_instance(exts, timeout=0.05, instrument=recorder)

    async def call(ext: Extension[Any]) -> str:
        if ext.name == "slow":
            await anyio.sleep_forever()
        return "done"

    logging.getLogger("longshoreman").disabled = True
    try:
        assert await mgr.map(call) == ["done"]
    finally:
        logging.getLogger("longshoreman").disabled = False
    assert recorder.outcomes() == [("call", "fast", "ok"), ("call", "slow", "error")]
    [slow] = [e for e in recorder.ended if e.name == "slow"]
    assert isinstance(slow.exception, TimeoutError)

    recorder.ended.clear()
    with anyio.move_on_after(0.05):
        await mgr.map(lambda ext: anyio.sleep_forever())
    assert recorder.outcomes() == [("call", "fast", "cancelled"), ("call", "slow", "cancelled")]


@pytest.mark.parametrize("options", [{}, {"max_concurrency": 1}, {"run_sync_in_thread": True}])
async def test_sync_calls_are_observed_on_every_path(options: dict[str, Any]) -> None:
    recorder = Recorder()
    exts = [Extension(f"e{i}", None, object, i) for i in range(3)]
    mgr = ExtensionManager[Any].make_test_instance(exts, instrument=recorder, **options)
    assert await mgr.map(lambda ext: ext.obj) == [0, 1, 2]
    assert recorder.outcomes() == [("call", f"e{i}", "ok") for i in range(3)]


async def test_a_failing_instrument_is_logged_and_never_breaks_a_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Faulty:
        def on_start(self, event: PluginEvent) -> None:
            raise RuntimeError("instrument bug")

    mgr = ExtensionManager[Any].make_test_instance(
        [Extension("e", None, object, 1)], instrument=Faulty()
    )
    with caplog.at_level(logging.ERROR, logger="longshoreman"):
        assert await mgr.map(lambda ext: ext.obj) == [1]
    [record] = caplog.records
    assert "instrument Faulty.on_start failed for call of 'e'" in record.getMessage()


async def test_an_object_with_only_on_end_is_an_instrument() -> None:
    seen: list[str] = []

    class EndOnly:
        def on_end(self, event: PluginEvent) -> None:
            seen.append(f"{event.phase} {event.name} {event.outcome}")

    mgr = ExtensionManager[Any].make_test_instance(
        [Extension("e", None, object, 1)], instrument=EndOnly()
    )
    await mgr.map(lambda ext: None)
    assert seen == ["call e ok"]
