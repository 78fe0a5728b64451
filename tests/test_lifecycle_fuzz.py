"""Cancellation fuzz of the manager lifecycle (SPEC §4.1): seeded random schedules.

Each schedule builds an ``ExtensionManager`` over real entry points (a ``fake_env``
distribution whose plugins read their behaviour from ``lsfuzz.CONFIG``), then runs one to
three concurrent *actors* against it: ``await mgr``, ``async with mgr`` (whose body may
map, sleep or raise), ``map``, ``map_method`` or ``aclose()``, each after a random delay
and under a random cancellation: none, ``move_on_after``, ``fail_after``, a cancel scope
that a sibling task cancels, or a task group that a sibling cancels. The plugins are a
random mix of sync and async factories (run in threads or not), plain objects and async
context managers whose enters and exits checkpoint or not, sleep a little, shield a
handshake, ignore cancellation for a while, hold a task group open, or fail.

After every schedule (all of it under a generous ``fail_after``: a hang detector, not a
timing claim) these must hold:

* nothing hung; no actor saw an exception other than the documented ones;
* no ``__aexit__`` ran twice or without a completed ``__aenter__``; an idle manager that
  is *created* or *closed* has exited everything it entered; a *ready* one holds only
  live (entered, not exited) objects, and the uninvoked set when *created*;
* the state is *created*, *ready* or *closed*, and ``map`` agrees with it;
* after a final ``aclose()``: every entered plugin was exited exactly once, no plugin
  code is still running (in a task or a thread), and no task was left behind.

``LONGSHOREMAN_FUZZ_SEED=<n>`` replays one seed (printed by a failure);
``LONGSHOREMAN_FUZZ_COUNT=<n>`` changes the number of schedules (2,000 by default).
"""

from __future__ import annotations

import collections
import gc
import math
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import longshoreman
from longshoreman import ExtensionErrorGroup, ExtensionManager, NoMatches, _manager
from longshoreman._report import LOG

from .conftest import FANOUT_PATHS, FakeEnv, hang_guard

# The engine's both task shapes: the backend's native tasks and anyio's task group.
pytestmark = pytest.mark.parametrize("fanout_path", FANOUT_PATHS, indirect=True)

NS = "ls.fuzz"
SLOTS = 6
BOUND = 5.0  # seconds: a schedule (or the final close) that takes longer has hung
DEFAULT_COUNT = 2000
# Stop after this many failing seeds (LONGSHOREMAN_FUZZ_MAX_FAILURES changes it).
MAX_FAILURES = int(os.environ.get("LONGSHOREMAN_FUZZ_MAX_FAILURES", "5"))

PLUGINS = """
import threading
import time

import anyio
import anyio.lowlevel


CONFIG = {}  # slot -> behaviour (set by the test before each schedule)
INSTANCES = []  # every async context manager plugin made in this schedule
ACTIVE = [0]  # plugin code running right now (in a task or a thread)
LOCK = threading.Lock()


class Injected(Exception):
    pass


def _begin():
    with LOCK:
        ACTIVE[0] += 1


def _end():
    with LOCK:
        ACTIVE[0] -= 1


async def _pause(cfg, prefix):
    if cfg.get(prefix + "checkpoint"):
        await anyio.lowlevel.checkpoint()
    shielded = cfg.get(prefix + "shield", 0)
    if shielded:
        with anyio.CancelScope(shield=True):
            await anyio.sleep(shielded)
    delay = cfg.get(prefix + "delay", 0)
    if delay:
        await anyio.sleep(delay)


class Plain:
    def __init__(self, slot, cfg):
        self.slot = slot
        self.cfg = cfg

    def ping(self):
        if self.cfg.get("ping_fails"):
            raise Injected(f"ping {self.slot}")
        return self.slot

    async def aping(self):
        _begin()
        try:
            await _pause(self.cfg, "aping_")
            if self.cfg.get("aping_fails"):
                raise Injected(f"aping {self.slot}")
            return self.slot
        finally:
            _end()


class Resource(Plain):
    def __init__(self, slot, cfg):
        super().__init__(slot, cfg)
        self.enters_started = 0
        self.enters_done = 0
        self.exits = 0
        self.exit_without_enter = False
        self.tg = None
        INSTANCES.append(self)

    async def __aenter__(self):
        self.enters_started += 1
        _begin()
        try:
            await _pause(self.cfg, "enter_")
            if self.cfg.get("enter_fails"):
                raise Injected(f"enter {self.slot}")
            if self.cfg.get("pool"):
                # keeps a task group open from the enter to the exit, with a task in it
                self.tg = anyio.create_task_group()
                await self.tg.__aenter__()
                self.tg.start_soon(anyio.sleep_forever)
        finally:
            _end()
        self.enters_done += 1
        return self

    async def __aexit__(self, *exc_info):
        if not self.enters_done:
            self.exit_without_enter = True
        self.exits += 1
        _begin()
        try:
            if self.tg is not None:
                tg, self.tg = self.tg, None
                tg.cancel_scope.cancel()
                await tg.__aexit__(None, None, None)
            await _pause(self.cfg, "exit_")
            if self.cfg.get("exit_fails"):
                raise Injected(f"exit {self.slot}")
        finally:
            _end()
        return False


def _product(slot, cfg):
    if cfg.get("fails"):
        raise Injected(f"factory {slot}")
    if cfg.get("acm"):
        return Resource(slot, cfg)
    return Plain(slot, cfg)


def _sync(slot):
    cfg = CONFIG[slot]
    _begin()
    try:
        delay = cfg.get("sync_delay", 0)
        if delay:
            time.sleep(delay)
        return _product(slot, cfg)
    finally:
        _end()


async def _async(slot):
    cfg = CONFIG[slot]
    _begin()
    try:
        await _pause(cfg, "factory_")
        return _product(slot, cfg)
    finally:
        _end()
"""

PLUGINS += "".join(
    f"\n\ndef s{i}(*args, **kwds):\n    return _sync({i})\n"
    f"\n\nasync def a{i}(*args, **kwds):\n    return await _async({i})\n"
    for i in range(SLOTS)
)

# What an escaping RuntimeError may say, by operation (the documented messages).
CLOSED_MSG = "is closed"
NEEDS_AWAIT_MSG = "`await` it or use `async with`"
CLOSED_WHILE_STARTING_MSG = "was closed while it was starting"
IN_USE_MSG = "is already being used by an `async with`"
CUT_MSG = "was closed while this call was in flight"  # a close's deadline passed first
RUNTIME_MESSAGES = {
    "await": (CLOSED_MSG, CLOSED_WHILE_STARTING_MSG),
    "with": (CLOSED_MSG, CLOSED_WHILE_STARTING_MSG, IN_USE_MSG),
    "split": (CLOSED_MSG, CLOSED_WHILE_STARTING_MSG, IN_USE_MSG),
    "map": (CLOSED_MSG, NEEDS_AWAIT_MSG, CUT_MSG),
    "map_method": (CLOSED_MSG, NEEDS_AWAIT_MSG, CUT_MSG),
    "aclose": (),
}
# A `with` body's map may meet the same messages as a map.
BODY_MESSAGES = (CLOSED_MSG, NEEDS_AWAIT_MSG, CUT_MSG)


class BodyError(Exception):
    """Raised on purpose by an `async with` body."""


def small_delay(rng: random.Random, top: float = 0.020) -> float:
    """0 (often), a tiny delay (mostly), or up to ``top`` seconds (now and then)."""
    roll = rng.random()
    if roll < 0.3:
        return 0.0
    if roll < 0.85:
        return rng.uniform(0.0, 0.003)
    return rng.uniform(0.0, top)


def plugin_config(rng: random.Random, *, sync: bool, threaded: bool) -> dict[str, Any]:
    cfg: dict[str, Any] = {}
    if sync:
        # Inline, a sleep blocks the loop: keep it tiny; a thread can take longer.
        if rng.random() < 0.4:
            cfg["sync_delay"] = small_delay(rng) if threaded else rng.uniform(0, 0.001)
    else:
        cfg["factory_checkpoint"] = rng.random() < 0.5
        if rng.random() < 0.2:
            cfg["factory_shield"] = rng.uniform(0.0005, 0.004)  # ignores cancellation
        cfg["factory_delay"] = small_delay(rng)
    cfg["fails"] = rng.random() < 0.1
    cfg["acm"] = rng.random() < 0.6
    if cfg["acm"]:
        for phase in ("enter_", "exit_"):
            cfg[phase + "checkpoint"] = rng.random() < 0.5
            if rng.random() < 0.25:
                # a handshake that ignores cancellation for a little while
                cfg[phase + "shield"] = rng.uniform(0.0005, 0.004)
            cfg[phase + "delay"] = small_delay(rng) if rng.random() < 0.5 else 0.0
            cfg[phase + "fails"] = rng.random() < 0.12
        cfg["pool"] = rng.random() < 0.3
    cfg["ping_fails"] = rng.random() < 0.1
    cfg["aping_checkpoint"] = rng.random() < 0.5
    cfg["aping_delay"] = small_delay(rng) if rng.random() < 0.5 else 0.0
    if rng.random() < 0.1:
        cfg["aping_shield"] = rng.uniform(0.0005, 0.003)
    cfg["aping_fails"] = rng.random() < 0.1
    return cfg


@dataclass
class Actor:
    # await | with | split (entered in a child task, left in ours) | map | map_method | aclose
    op: str
    wrapper: str  # none | move_on | fail_after | scope | tg
    deadline: float  # for the wrappers that cancel
    pre: str  # none | checkpoint | sleep
    pre_delay: float
    method: str = "ping"  # map_method's method
    func: str = "name"  # map's function: name | async | fails | shield
    func_delay: float = 0.0
    body: list[str] = field(default_factory=list)  # with's body: map | method | sleep | raise


@dataclass
class Schedule:
    seed: int
    slots: list[tuple[int, bool]]  # (slot, sync factory?)
    configs: dict[int, dict[str, Any]]
    invoke_on_load: bool
    propagate: bool
    fail_fast: bool
    threaded: bool
    max_concurrency: int | None
    timeout: float | None
    actors: list[Actor]


def make_actor(rng: random.Random, op: str, invoked: bool) -> Actor:
    if op == "map_method" and not invoked:
        op = "map"  # the objects are None: there are no methods to call
    wrapper = rng.choice(["none", "move_on", "move_on", "fail_after", "scope", "tg"])
    deadline = rng.choice([0.0, rng.uniform(0, 0.002), rng.uniform(0, 0.015)])
    pre = rng.choice(["none", "none", "checkpoint", "sleep"])
    actor = Actor(op, wrapper, deadline, pre, rng.uniform(0, 0.006))
    if op in ("map", "map_method"):
        roll = rng.random()
        if roll < 0.4:  # many maps wait until a start has finished: maps on ready managers
            actor.pre, actor.pre_delay = "ready", 0.030
        elif roll < 0.8:  # others come a little later, when a start may have finished
            actor.pre, actor.pre_delay = "sleep", rng.uniform(0.002, 0.015)
    if op == "map_method":
        actor.method = rng.choice(["ping", "aping"])
    if op == "map":
        actor.func = rng.choice(["name", "async", "fails", "shield"])
        actor.func_delay = small_delay(rng, 0.010)
    if op in ("with", "split"):
        steps = ["map", "method", "sleep", "raise"] if invoked else ["map", "sleep", "raise"]
        actor.body = rng.sample(steps, rng.randint(0, 3))
        if rng.random() < 0.5:  # hold the manager open a while, for the others' maps
            actor.body.insert(0, "sleep")
        actor.func_delay = rng.uniform(0.001, 0.012)
    return actor


def make_schedule(seed: int) -> Schedule:
    rng = random.Random(seed)
    threaded = rng.random() < 0.3
    slots = [(i, rng.random() < 0.5) for i in rng.sample(range(SLOTS), rng.randint(0, 5))]
    configs = {i: plugin_config(rng, sync=sync, threaded=threaded) for i, sync in slots}
    first = rng.choice(["await", "with", "with", "split"])
    others = [
        rng.choice(["await", "with", "split", "map", "map_method", "aclose"])
        for _ in range(rng.choice([0, 1, 1, 2]))
    ]
    invoke_on_load = rng.random() < 0.9
    return Schedule(
        seed=seed,
        slots=slots,
        configs=configs,
        invoke_on_load=invoke_on_load,
        propagate=rng.random() < 0.5,
        fail_fast=rng.random() < 0.3,
        threaded=threaded,
        max_concurrency=rng.choice([None, None, 1, 2]),
        timeout=rng.choice([None, None, rng.uniform(0.001, 0.004), rng.uniform(0.004, 0.02)]),
        actors=[make_actor(rng, op, invoke_on_load) for op in [first, *others]],
    )


def leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in leaves(sub)]
    return [exc]


def describe_exc(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        inner = ", ".join(describe_exc(e) for e in exc.exceptions)
        return f"{type(exc).__name__}({str(exc)!r}: [{inner}])"
    return f"{type(exc).__name__}({str(exc)!r})"


def really_cancelled() -> bool:
    return anyio.current_effective_deadline() == -math.inf


class Run:
    """One schedule against one manager; ``problems`` says what went wrong."""

    def __init__(self, schedule: Schedule, lsfuzz: ModuleType) -> None:
        self.schedule = schedule
        self.lsfuzz = lsfuzz
        self.problems: list[str] = []
        self.outcomes: list[str] = []  # "op: what happened", for the summary
        self.mgr: ExtensionManager[Any] | None = None

    def expected(self, exc: BaseException, actor: Actor, messages: tuple[str, ...]) -> bool:
        injected = self.lsfuzz.Injected
        if isinstance(exc, ExtensionErrorGroup):
            return all(isinstance(e, injected | TimeoutError) for e in leaves(exc))
        if type(exc) is RuntimeError:
            return any(m in str(exc) for m in messages)
        if type(exc) is NoMatches:
            return (
                actor.op in ("map", "map_method") or "map" in actor.body or ("method" in actor.body)
            )
        if type(exc) is BodyError:
            return "raise" in actor.body
        return False

    async def map_func(self, actor: Actor) -> Callable[..., Any]:
        delay = actor.func_delay

        def name(ext: Any) -> str:
            return str(ext.name)

        async def later(ext: Any) -> str:
            await anyio.sleep(delay)
            return str(ext.name)

        def fails(ext: Any) -> str:
            raise self.lsfuzz.Injected(f"map {ext.name}")

        async def shielded(ext: Any) -> str:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(min(delay, 0.004))
            return str(ext.name)

        return {"name": name, "async": later, "fails": fails, "shield": shielded}[actor.func]

    async def op(self, actor: Actor) -> None:
        mgr = self.mgr
        assert mgr is not None
        if actor.op == "await":
            assert await mgr is mgr
        elif actor.op == "with":
            async with mgr as entered:
                assert entered is mgr
                await self.body(actor)
        elif actor.op == "split":
            await self.split(actor)
        elif actor.op == "map":
            await mgr.map(await self.map_func(actor))
        elif actor.op == "map_method":
            await mgr.map_method(actor.method)
        else:
            await mgr.aclose()

    async def split(self, actor: Actor) -> None:
        """``async with mgr`` whose enter runs in a child task and whose exit runs here."""
        mgr = self.mgr
        assert mgr is not None
        entered: list[bool] = []
        errors: list[Exception] = []

        async def enter() -> None:
            try:
                assert await mgr.__aenter__() is mgr
            except Exception as exc:
                errors.append(exc)
            else:
                entered.append(True)

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(enter)
            if errors:
                raise errors[0]
            await self.body(actor)
        except BaseException as exc:
            if entered:
                await mgr.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        else:
            if entered:
                await mgr.__aexit__(None, None, None)

    async def body(self, actor: Actor) -> None:
        mgr = self.mgr
        assert mgr is not None
        for step in actor.body:
            try:
                if step == "map":
                    await mgr.map(lambda ext: ext.name)
                elif step == "method":
                    await mgr.map_method("aping")
            except BaseException as exc:
                if isinstance(exc, anyio.get_cancelled_exc_class()):
                    raise
                if not self.expected(exc, Actor("map", "none", 0, "none", 0), BODY_MESSAGES):
                    self.problems.append(f"`with` body {step}: unexpected {describe_exc(exc)}")
                    raise AssertionError("unexpected exception in the body") from exc
            if step == "sleep":
                await anyio.sleep(actor.func_delay)
            elif step == "raise":
                raise BodyError("the body failed")

    async def guarded(self, index: int, actor: Actor) -> None:
        """Run the actor's operation; sort what it raised (a real cancellation goes on)."""
        try:
            await self.op(actor)
            self.outcomes.append(f"{actor.op}: returned")
        except anyio.get_cancelled_exc_class():
            self.outcomes.append(f"{actor.op}: cancelled")
            if not really_cancelled():
                self.problems.append(f"actor {index} ({actor.op}): a stray cancellation")
                return
            raise
        except BaseException as exc:
            self.outcomes.append(f"{actor.op}: {type(exc).__name__}")
            if not self.expected(exc, actor, RUNTIME_MESSAGES[actor.op]):
                self.problems.append(f"actor {index} ({actor.op}): unexpected {describe_exc(exc)}")

    async def actor(self, index: int, actor: Actor, tg: anyio.abc.TaskGroup) -> None:
        if actor.pre == "checkpoint":
            await anyio.lowlevel.checkpoint()
        elif actor.pre == "sleep":
            await anyio.sleep(actor.pre_delay)
        elif actor.pre == "ready":
            with anyio.move_on_after(actor.pre_delay):
                for _ in range(10_000):
                    if self.mgr is not None and self.mgr._state in ("ready", "closed"):
                        break
                    await anyio.sleep(0.0005)
        try:
            if actor.wrapper == "none":
                await self.guarded(index, actor)
            elif actor.wrapper == "move_on":
                with anyio.move_on_after(actor.deadline):
                    await self.guarded(index, actor)
            elif actor.wrapper == "fail_after":
                try:
                    with anyio.fail_after(actor.deadline):
                        await self.guarded(index, actor)
                except TimeoutError:
                    pass
            elif actor.wrapper == "scope":
                with anyio.CancelScope() as scope:
                    tg.start_soon(self.cancel_later, scope, actor.deadline)
                    await self.guarded(index, actor)
            else:
                async with anyio.create_task_group() as inner:
                    inner.start_soon(self.in_task, index, actor, inner.cancel_scope)
                    await anyio.sleep(actor.deadline)
                    inner.cancel_scope.cancel()
        except BaseException as exc:  # what got past the actor's own scope
            self.problems.append(f"actor {index} ({actor.op}): escaped {describe_exc(exc)}")

    async def in_task(self, index: int, actor: Actor, scope: anyio.CancelScope) -> None:
        await self.guarded(index, actor)

    @staticmethod
    async def cancel_later(scope: anyio.CancelScope, delay: float) -> None:
        await anyio.sleep(delay)
        scope.cancel()

    def entered_but_not_exited(self) -> list[Any]:
        return [r for r in self.lsfuzz.INSTANCES if r.enters_done and not r.exits]

    def check_exits(self, where: str) -> None:
        for res in self.lsfuzz.INSTANCES:
            if res.exits > 1:
                self.problems.append(f"{where}: plugin {res.slot} exited {res.exits} times")
            if res.exit_without_enter:
                self.problems.append(f"{where}: plugin {res.slot} exited but never entered")
            if res.enters_done > 1:
                self.problems.append(f"{where}: one instance of {res.slot} entered twice")

    async def check_at_rest(self) -> None:
        mgr = self.mgr
        assert mgr is not None
        state = mgr._state
        self.outcomes.append(f"at rest: {state}")
        self.check_exits("at rest")
        if state not in ("created", "ready", "closed"):
            self.problems.append(f"at rest in state {state!r}")
            return
        live = self.entered_but_not_exited()
        if state in ("created", "closed") and live:
            slots = [r.slot for r in live]
            self.problems.append(f"{state}: plugins {slots} entered and never exited")
        if state == "created":
            stale = [e.name for e in mgr.extensions if e.obj is not None]
            if stale:
                self.problems.append(f"created with invoked extensions {stale}")
        if state == "ready":
            for ext in mgr.extensions:
                obj = ext.obj
                if isinstance(obj, self.lsfuzz.Resource) and not (
                    obj.enters_done and not obj.exits
                ):
                    self.problems.append(f"ready with a stale plugin object {ext.name}")
                if self.schedule.invoke_on_load and obj is None:
                    self.problems.append(f"ready with uninvoked extension {ext.name}")
        try:
            values = await mgr.map(lambda ext: ext.name)
        except NoMatches:
            if state != "ready" or mgr.extensions:
                self.problems.append(f"{state}: map raised NoMatches with {mgr.names()}")
        except RuntimeError as exc:
            expected = {"created": NEEDS_AWAIT_MSG, "closed": CLOSED_MSG}.get(state)
            if expected is None or expected not in str(exc):
                self.problems.append(f"{state}: map raised {describe_exc(exc)}")
        else:
            if state != "ready":
                self.problems.append(f"{state}: map worked")
            elif values != mgr.names():
                self.problems.append(f"ready: map gave {values}, not {mgr.names()}")

    async def final_close(self) -> None:
        mgr = self.mgr
        assert mgr is not None
        try:
            await mgr.aclose()
        except ExtensionErrorGroup as exc:
            if not all(isinstance(e, self.lsfuzz.Injected | TimeoutError) for e in leaves(exc)):
                self.problems.append(f"final aclose: unexpected {describe_exc(exc)}")
        if mgr._state != "closed":
            self.problems.append(f"after the final aclose: state {mgr._state!r}")
        self.check_exits("after the final aclose")
        live = self.entered_but_not_exited()
        if live:
            self.problems.append(
                f"after the final aclose: plugins {[r.slot for r in live]} never exited"
            )

    async def go(self, eps: dict[str, Any], current: list[Any]) -> None:
        s = self.schedule
        lsfuzz = self.lsfuzz
        lsfuzz.CONFIG.clear()
        lsfuzz.CONFIG.update(s.configs)
        lsfuzz.INSTANCES.clear()
        current[:] = [eps[f"{'s' if sync else 'a'}{i}"] for i, sync in sorted(s.slots)]
        tasks_before = len(anyio.get_running_tasks())
        self.mgr = ExtensionManager[Any](
            NS,
            invoke_on_load=s.invoke_on_load,
            propagate_map_exceptions=s.propagate,
            on_load_failure_callback=lambda mgr, ep, exc: None,
            max_concurrency=s.max_concurrency,
            timeout=s.timeout,
            fail_fast=s.fail_fast,
            run_sync_in_thread=s.threaded,
        )
        # Guarded without a deadline: the actors' own cancellations decide whether the
        # calls run under one (see hang_guard).
        try:
            async with hang_guard(BOUND):
                async with anyio.create_task_group() as tg:
                    for index, actor in enumerate(s.actors):
                        tg.start_soon(self.actor, index, actor, tg)
        except TimeoutError:
            self.problems.append(f"hang: the schedule did not end within {BOUND} s")
        except BaseException as exc:
            self.problems.append(f"the schedule raised {describe_exc(exc)}")
        try:
            async with hang_guard(BOUND):
                await self.check_at_rest()
                await self.final_close()
        except TimeoutError:
            self.problems.append(f"hang: checking and closing took over {BOUND} s")
        if lsfuzz.ACTIVE[0]:
            self.problems.append(f"plugin code still running: {lsfuzz.ACTIVE[0]}")
        tasks_after = len(anyio.get_running_tasks())
        if tasks_after != tasks_before:
            self.problems.append(f"tasks: {tasks_before} before, {tasks_after} after")


# 2,000 schedules take ~20 s per backend on an idle 2-core machine; the suite-wide
# 60 s limit would mistake a loaded machine for a hang. Each schedule has its own bound.
@pytest.mark.timeout(300)
async def test_cancellation_fuzz(
    fake_env: FakeEnv, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    fake_env.module("lsfuzz", PLUGINS)
    fake_env.dist(
        "fuzzy",
        "1.0",
        {NS: {f"{k}{i}": f"lsfuzz:{k}{i}" for i in range(SLOTS) for k in "sa"}},
    )
    eps = {ep.name: ep for ep in longshoreman.list_entry_points(NS)}
    assert len(eps) == 2 * SLOTS
    # Discovery has its own tests: each schedule picks its plugins among the real entry
    # points, which are imported (ep.load()) by every manager as usual.
    current: list[Any] = []
    monkeypatch.setattr(_manager, "list_entry_points", lambda namespace: list(current))
    # Failures are the point here: thousands of ERROR records would only slow things down.
    monkeypatch.setattr(LOG, "disabled", True)
    import lsfuzz  # type: ignore[import-not-found]

    replay = os.environ.get("LONGSHOREMAN_FUZZ_SEED")
    count = int(os.environ.get("LONGSHOREMAN_FUZZ_COUNT", DEFAULT_COUNT))
    seeds = [int(replay)] if replay else range(count)
    # An exception Python had to ignore (a coroutine closed while it was raising, say)
    # is charged to the schedule during which it was reported.
    unraisable: list[str] = []

    def hook(info: Any) -> None:
        unraisable.append(
            f"unraisable {describe_exc(info.exc_value)} in {info.object!r} (reported during "
            "this schedule; garbage of an earlier one if its replay passes)"
        )

    monkeypatch.setattr(sys, "unraisablehook", hook)
    threads_before = threading.active_count()
    failures: list[str] = []
    summary: collections.Counter[str] = collections.Counter()
    began = time.monotonic()
    for seed in seeds:
        schedule = make_schedule(seed)
        run = Run(schedule, lsfuzz)
        await run.go(eps, current)
        if replay:
            gc.collect()
        summary.update(run.outcomes)
        summary.update(
            f"plugin: {name}"
            for r in lsfuzz.INSTANCES
            for name in ("entered", "exited")
            if getattr(r, "enters_done" if name == "entered" else "exits")
        )
        run.problems += unraisable
        unraisable.clear()
        if run.problems:
            failures.append(
                f"seed {seed} ({anyio_backend}; replay with LONGSHOREMAN_FUZZ_SEED={seed}):\n  "
                + "\n  ".join(run.problems)
                + f"\n  schedule: {schedule}"
            )
            if len(failures) >= MAX_FAILURES:
                break
    elapsed = time.monotonic() - began
    gc.collect()
    if unraisable and len(failures) < MAX_FAILURES:
        failures.append(f"after the last schedule ({anyio_backend}): {unraisable}")
    print(f"{len(seeds)} schedules on {anyio_backend} in {elapsed:.1f} s")
    print("\n".join(f"  {n:6} {what}" for what, n in sorted(summary.items())))
    assert not failures, "\n".join(failures)
    # Worker threads may stay idle for a while (anyio's and trio's thread caches), but no
    # plugin code runs in them (checked per schedule) and their number stays small.
    assert threading.active_count() <= threads_before + 16
