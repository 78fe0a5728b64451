"""Structured lifetime: thousands of manager cycles leave nothing behind (SPEC §11).

Each cycle builds a manager over real entry points (one async factory, one sync class,
one async context manager, one that fails), awaits or enters it, fans out with and
without limits and threads, and closes it. After a warm-up, the number of tasks must
not change, nor may threads or open file descriptors grow, and traced memory must stay
within a small bound.
"""

from __future__ import annotations

import gc
import os
import threading
import tracemalloc
from typing import Any

import anyio
import pytest

import longshoreman
from longshoreman import ExtensionManager, _manager

from .conftest import FANOUT_PATHS, FakeEnv

# The engine's both task shapes: the backend's native tasks and anyio's task group.
pytestmark = pytest.mark.parametrize("fanout_path", FANOUT_PATHS, indirect=True)

NS = "ls.leaks"
CYCLES = 1000
WARMUP = 100
MEMORY_BOUND = 256 * 1024  # bytes of traced growth tolerated over 900 cycles

PLUGINS = """
import contextlib

import anyio



class Sync:
    def ping(self, n):
        return n


class Async:
    async def ping(self, n):
        await anyio.sleep(0)
        return n


async def make_async():
    await anyio.sleep(0)
    return Async()


@contextlib.asynccontextmanager
async def pooled():
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.sleep_forever)
        yield Async()
        tg.cancel_scope.cancel()


def fails():
    raise ValueError("always")
"""


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_a_thousand_manager_cycles_leak_nothing(
    fake_env: FakeEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_env.module("lsleak", PLUGINS)
    fake_env.dist(
        "leaky",
        "1.0",
        {
            NS: {
                "a": "lsleak:make_async",
                "s": "lsleak:Sync",
                "p": "lsleak:pooled",
                "f": "lsleak:fails",
            }
        },
    )
    # Discovery is measured by its own tests; here the entry points are listed once so
    # that a thousand cycles take seconds and only exercise the manager and the engine.
    eps = longshoreman.list_entry_points(NS)
    monkeypatch.setattr(_manager, "list_entry_points", lambda namespace: eps)

    def ignore(mgr: ExtensionManager[Any], ep: Any, exc: Exception) -> None:
        pass

    async def cycle(i: int) -> None:
        if i % 2:
            async with ExtensionManager[Any](
                NS, invoke_on_load=True, on_load_failure_callback=ignore
            ) as mgr:
                assert await mgr.map_method("ping", i) == [i, i, i]
        else:
            mgr = await ExtensionManager[Any](
                NS,
                invoke_on_load=True,
                on_load_failure_callback=ignore,
                max_concurrency=2,
                run_sync_in_thread=i % 4 == 0,
                timeout=5,
            )
            assert await mgr.map(lambda ext, n: n, i) == [i, i]
            assert await mgr.map_method("ping", i) == [i, i]
            await mgr.aclose()

    def measure() -> tuple[int, int, int, int]:
        gc.collect()
        current, _ = tracemalloc.get_traced_memory()
        return len(anyio.get_running_tasks()), threading.active_count(), open_fds(), current

    tracemalloc.start()
    try:
        for i in range(WARMUP):
            await cycle(i)
        before = measure()
        for i in range(WARMUP, CYCLES):
            await cycle(i)
        after = measure()
    finally:
        tracemalloc.stop()
    tasks, threads, fds, memory = before
    assert after[0] == tasks
    # Idle worker threads of earlier tests may retire meanwhile (and close their fds):
    # fewer is fine, more is a leak.
    assert after[1] <= threads
    assert after[2] <= fds
    assert after[3] - memory < MEMORY_BOUND, f"grew by {after[3] - memory} bytes"
