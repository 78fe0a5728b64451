"""Fan-out benchmark: longshoreman's ``map`` against its peers, measured in one run.

    python benchmarks/fanout.py [--quick]

For N = 10, 100, 1000, 10000 extensions, on asyncio and on trio, it times:

* async plugins whose call is ``await anyio.sleep(0)`` and ``await anyio.sleep(0.01)``:
  ``map_method`` against the backend's native structured primitive (an
  ``asyncio.TaskGroup``, a trio nursery), a bare anyio task group (``start_soon`` per
  plugin, results dropped), ``asyncio.gather`` (asyncio only) and stevedore's sequential
  ``map`` (the coroutines it returns awaited one after another; skipped where it would
  take long);
* one ``map_method`` over 10 plugins (the typical hook call), per map, against the same
  10 calls in a TaskGroup / nursery;
* ``max_concurrency=k``: ``map_method`` against k native workers (and k anyio workers)
  pulling from one iterator;
* sync callables: ``map`` against a plain list comprehension (the overhead per call) and
  stevedore's ``map``;
* memory: tracemalloc peak of one ``map_method`` at N = 10000, with and without
  ``max_concurrency``, next to the bare task group's.

Contenders are timed in turn, round after round (so that a noisy neighbour slows all of
them alike), and every figure is the best round, in microseconds per plugin call; ratios
are against peers measured in the same process. Goals (SPEC §10): per call ≤ 1.3x the
native primitive; one map over 10 plugins ≤ 1.3x; bounded ≤ 1.2x k native workers with
O(k) memory; sync ≤ 1 µs overhead per call. A summary of those ratios, each marked met
or missed, ends each backend's output. Never run as a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio

from longshoreman import Extension, ExtensionManager

trio: Any
try:
    import trio
except ImportError:  # then the trio backend is not measured
    trio = None

stevedore: Any
try:
    import stevedore
    from stevedore.extension import Extension as StevedoreExtension
except ImportError:  # not a dependency: its columns are left out
    stevedore = None

K = 16  # max_concurrency for the bounded runs
SEQUENTIAL_LIMIT = 2.0  # seconds: stevedore's sequential runs expected longer are skipped


class Plugin:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.value = 1

    async def ping(self) -> int:
        await anyio.sleep(self.delay)
        return 1

    def sync_ping(self) -> int:
        return self.value


def extensions(n: int, delay: float) -> list[Extension[Plugin]]:
    return [Extension(f"p{i}", None, Plugin, Plugin(delay)) for i in range(n)]


def inner_loops(n: int) -> int:
    """Runs per timing, so that small N are not lost in the timer's resolution."""
    return max(1, 2000 // n)


async def best(run: Callable[[], Awaitable[object]], repeats: int, loops: int = 1) -> float:
    """Best wall time of one run over ``repeats`` timings of ``loops`` runs, in seconds."""
    await run()
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        for _ in range(loops):
            await run()
        times.append((time.perf_counter() - start) / loops)
    return min(times)


def best_sync(run: Callable[[], object], repeats: int, loops: int = 1) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            run()
        times.append((time.perf_counter() - start) / loops)
    return min(times)


# -- the contenders ----------------------------------------------------------------------


def ours(exts: list[Extension[Plugin]], **options: Any) -> Callable[[], Awaitable[object]]:
    mgr = ExtensionManager[Plugin].make_test_instance(exts, **options)
    return lambda: mgr.map_method("ping")


def bare_task_group(exts: list[Extension[Plugin]]) -> Callable[[], Awaitable[object]]:
    async def run() -> None:
        async with anyio.create_task_group() as tg:
            for ext in exts:
                assert ext.obj is not None
                tg.start_soon(ext.obj.ping)

    return run


def k_workers(exts: list[Extension[Plugin]], k: int) -> Callable[[], Awaitable[object]]:
    async def worker(items: Iterator[Extension[Plugin]]) -> None:
        for ext in items:
            assert ext.obj is not None
            await ext.obj.ping()

    async def run() -> None:
        items = iter(exts)
        async with anyio.create_task_group() as tg:
            for _ in range(k):
                tg.start_soon(worker, items)

    return run


def native_group(exts: list[Extension[Plugin]], backend: str) -> Callable[[], Awaitable[object]]:
    """The backend's own structured primitive: an asyncio.TaskGroup or a trio nursery."""
    if backend == "asyncio":

        async def run() -> None:
            async with asyncio.TaskGroup() as tg:
                for ext in exts:
                    assert ext.obj is not None
                    tg.create_task(ext.obj.ping())

    else:

        async def run() -> None:
            async with trio.open_nursery() as nursery:
                for ext in exts:
                    assert ext.obj is not None
                    nursery.start_soon(ext.obj.ping)

    return run


def native_workers(
    exts: list[Extension[Plugin]], k: int, backend: str
) -> Callable[[], Awaitable[object]]:
    """k native tasks (TaskGroup / nursery) pulling from one iterator."""

    async def worker(items: Iterator[Extension[Plugin]]) -> None:
        for ext in items:
            assert ext.obj is not None
            await ext.obj.ping()

    if backend == "asyncio":

        async def run() -> None:
            items = iter(exts)
            async with asyncio.TaskGroup() as tg:
                for _ in range(k):
                    tg.create_task(worker(items))

    else:

        async def run() -> None:
            items = iter(exts)
            async with trio.open_nursery() as nursery:
                for _ in range(k):
                    nursery.start_soon(worker, items)

    return run


def gather(exts: list[Extension[Plugin]]) -> Callable[[], Awaitable[object]]:
    async def run() -> list[int]:
        return await asyncio.gather(*(ext.obj.ping() for ext in exts if ext.obj))

    return run


def stevedore_manager(exts: list[Extension[Plugin]]) -> Any:
    assert stevedore is not None
    return stevedore.ExtensionManager.make_test_instance(
        [StevedoreExtension(e.name, None, Plugin, e.obj) for e in exts]  # type: ignore[arg-type]
    )


def stevedore_sequential(exts: list[Extension[Plugin]]) -> Callable[[], Awaitable[object]]:
    mgr = stevedore_manager(exts)

    async def run() -> list[int]:
        return [await coro for coro in mgr.map(lambda ext: ext.obj.ping())]

    return run


# -- the measurements --------------------------------------------------------------------


async def compare(
    runs: dict[str, Callable[[], Awaitable[object]]], repeats: int, loops: int = 1
) -> dict[str, float]:
    """Best wall time of one run of each contender, in seconds, timed round-robin."""
    for run in runs.values():
        await run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            gc.collect()
            start = time.perf_counter()
            for _ in range(loops):
                await run()
            times[name].append((time.perf_counter() - start) / loops)
    return {name: min(t) for name, t in times.items()}


def ratio(a: float, b: float | None) -> str:
    return f"{a / b:6.2f}x" if b else "     —"


def us(seconds: float | None, n: int) -> str:
    return f"{seconds / n * 1e6:8.2f}" if seconds else "       —"


#: (what, measured, goal, met) rows of SPEC §10, per backend, printed at the end.
Summary = list[tuple[str, str, str, bool]]


async def async_rows(backend: str, sizes: list[int], repeats: int, summary: Summary) -> None:
    native = "TaskGroup" if backend == "asyncio" else "nursery"
    print(f"\n[{backend}] async plugins: µs per call (best of {repeats}); ratios = ours / peer")
    print(
        f"{'call':>10} {'N':>6} {'ours':>8} {native:>9} {'anyio TG':>8} {'gather':>8}"
        f" {'stevedore':>9} | {'/native':>7} {'/TG':>7} {'/gather':>7} {'/stvd':>7}"
    )
    for delay in (0.0, 0.01):
        for n in sizes:
            exts = extensions(n, delay)
            reps = repeats if delay == 0 or n <= 1000 else max(2, repeats // 2)
            loops = inner_loops(n) if delay == 0 else 1
            runs = {
                "ours": ours(exts),
                "native": native_group(exts, backend),
                "tg": bare_task_group(exts),
            }
            if backend == "asyncio":
                runs["gather"] = gather(exts)
            if stevedore is not None and n * delay <= SEQUENTIAL_LIMIT and n * delay * 2 < 5:
                runs["seq"] = stevedore_sequential(exts)
            t = await compare(runs, reps, loops)
            t_ours, t_native, t_tg = t["ours"], t["native"], t["tg"]
            t_gather, t_seq = t.get("gather"), t.get("seq")
            print(
                f"{'sleep(' + str(delay) + ')':>10} {n:>6} {us(t_ours, n)} {us(t_native, n)} "
                f" {us(t_tg, n)} {us(t_gather, n)} {us(t_seq, n)}  "
                f"| {ratio(t_ours, t_native)} {ratio(t_ours, t_tg)} {ratio(t_ours, t_gather)}"
                f" {ratio(t_ours, t_seq)}"
            )
            if n in (10, 1000, 10_000):
                r = t_ours / t_native
                summary.append(
                    (f"per call, N={n}, sleep({delay})", f"{r:.2f}x {native}", "≤ 1.3x", r <= 1.3)
                )


async def single_map_rows(backend: str, repeats: int, summary: Summary) -> None:
    native = "TaskGroup" if backend == "asyncio" else "nursery"
    n = 10
    print(f"\n[{backend}] one map over {n} plugins, sleep(0): µs per map; ratio = ours / peer")
    print(f"{'ours':>8} {native:>9} {'anyio TG':>8} | {'/native':>7} {'/TG':>7}")
    exts = extensions(n, 0.0)
    runs = {"ours": ours(exts), "native": native_group(exts, backend), "tg": bare_task_group(exts)}
    t = await compare(runs, repeats * 3, 500)
    print(
        f"{us(t['ours'], 1)} {us(t['native'], 1)}  {us(t['tg'], 1)} "
        f"| {ratio(t['ours'], t['native'])} {ratio(t['ours'], t['tg'])}"
    )
    r = t["ours"] / t["native"]
    summary.append((f"one map over {n} plugins", f"{r:.2f}x {native}", "≤ 1.3x", r <= 1.3))


async def bounded_rows(backend: str, sizes: list[int], repeats: int, summary: Summary) -> None:
    print(f"\n[{backend}] max_concurrency={K}, sleep(0): µs per call; ratios = ours / {K} workers")
    print(f"{'N':>6} {'ours':>8} {'native w':>8} {'anyio w':>8} | {'/native':>7} {'/anyio':>7}")
    worst = 0.0
    for n in sizes:
        if n <= K:
            continue
        exts = extensions(n, 0.0)
        runs = {
            "ours": ours(exts, max_concurrency=K),
            "native": native_workers(exts, K, backend),
            "anyio": k_workers(exts, K),
        }
        t = await compare(runs, repeats, inner_loops(n))
        worst = max(worst, t["ours"] / t["native"])
        print(
            f"{n:>6} {us(t['ours'], n)} {us(t['native'], n)} {us(t['anyio'], n)} "
            f"| {ratio(t['ours'], t['native'])} {ratio(t['ours'], t['anyio'])}"
        )
    summary.append(
        (
            f"max_concurrency={K} (worst N)",
            f"{worst:.2f}x {K} native workers",
            "≤ 1.2x",
            worst <= 1.2,
        )
    )


async def sync_rows(backend: str, sizes: list[int], repeats: int, summary: Summary) -> None:
    print(f"\n[{backend}] sync callables: µs per call; overhead = ours - list comprehension")
    print(f"{'N':>6} {'ours':>8} {'listcomp':>8} {'stevedore':>9} | {'overhead':>8} {'/stvd':>7}")

    def call(ext: Extension[Plugin]) -> int:
        return ext.obj.value if ext.obj else 0

    worst = -math.inf
    for n in sizes:
        exts = extensions(n, 0.0)
        mgr = ExtensionManager[Plugin].make_test_instance(exts)
        loops = inner_loops(n) * 10
        t_ours = await best(lambda mgr=mgr: mgr.map(call), repeats, loops)  # type: ignore[misc]
        t_loop = best_sync(lambda exts=exts: [call(e) for e in exts], repeats, loops)  # type: ignore[misc]
        t_seq = None
        if stevedore is not None:
            smgr = stevedore_manager(exts)
            t_seq = best_sync(lambda smgr=smgr: smgr.map(call), repeats, loops)  # type: ignore[misc]
        print(
            f"{n:>6} {us(t_ours, n)} {us(t_loop, n)} {us(t_seq, n) if t_seq else '       —'}  "
            f"| {(t_ours - t_loop) / n * 1e6:8.3f} {ratio(t_ours, t_seq)}"
        )
        # At N=10 the map's one checkpoint is most of it, but still counts.
        worst = max(worst, (t_ours - t_loop) / n * 1e6)
    summary.append(("sync callables, overhead (worst N)", f"{worst:.3f} µs", "≤ 1 µs", worst <= 1))


class NoOpInstrument:
    """Observes every call and does nothing: the cost of the hooks themselves."""

    def on_start(self, event: object) -> None:
        pass

    def on_end(self, event: object) -> None:
        pass


async def instrument_rows(backend: str, repeats: int) -> None:
    n = 1000
    print(f"\n[{backend}] instrument=, N={n}: µs per call; ratio = instrumented / none")
    print(f"{'plugins':>12} {'none':>8} {'no-op':>8} | {'ratio':>7}")
    exts = extensions(n, 0.0)

    def call(ext: Extension[Plugin]) -> int:
        return ext.obj.value if ext.obj else 0

    plain = ExtensionManager[Plugin].make_test_instance(exts)
    observed = ExtensionManager[Plugin].make_test_instance(exts, instrument=NoOpInstrument())
    for label, run, run_observed in [
        ("sleep(0)", lambda: plain.map_method("ping"), lambda: observed.map_method("ping")),
        ("sync", lambda: plain.map(call), lambda: observed.map(call)),
    ]:
        loops = inner_loops(n)
        t_none = await best(run, repeats, loops)
        t_observed = await best(run_observed, repeats, loops)
        print(f"{label:>12} {us(t_none, n)} {us(t_observed, n)} | {ratio(t_observed, t_none)}")


async def memory_rows(backend: str) -> None:
    n = 10_000
    exts = extensions(n, 0.0)
    print(f"\n[{backend}] tracemalloc peak of one call at N={n}, sleep(0)")
    for label, run in [
        ("map_method, unbounded", ours(exts)),
        (f"map_method, max_concurrency={K}", ours(exts, max_concurrency=K)),
        ("bare task group", bare_task_group(exts)),
        (f"{K} workers", k_workers(exts, K)),
    ]:
        await run()
        gc.collect()
        tracemalloc.start()
        await run()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  {label:<34} {peak / 1024:10.0f} KiB  ({peak / n:6.0f} B per plugin)")


async def main(backend: str, sizes: list[int], repeats: int) -> None:
    summary: Summary = []
    await async_rows(backend, sizes, repeats, summary)
    await single_map_rows(backend, repeats, summary)
    await bounded_rows(backend, sizes, repeats, summary)
    await sync_rows(backend, sizes, repeats, summary)
    await instrument_rows(backend, repeats)
    await memory_rows(backend)
    print(f"\n[{backend}] SPEC §10 goals (fan-out path: {fanout_path()})")
    for what, measured, goal, met in summary:
        print(f"  {what:<36} {measured:>24}  goal {goal:<7} {'met' if met else 'MISSED'}")


def fanout_path() -> str:
    from longshoreman import _fanout

    return "native" if _fanout.NATIVE else "generic (LONGSHOREMAN_FANOUT=generic)"


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N up to 1000, fewer repeats")
    parser.add_argument("--backend", choices=["asyncio", "trio"], action="append")
    args = parser.parse_args()
    sizes = [10, 100, 1000] if args.quick else [10, 100, 1000, 10_000]
    repeats = 3 if args.quick else 7
    from importlib.metadata import version

    print(f"Python {sys.version.split()[0]}, anyio {version('anyio')}, trio {version('trio')}")
    if stevedore is None:
        print("stevedore is not installed: its column is left out")
    for backend in args.backend or ["asyncio", "trio"]:
        anyio.run(main, backend, sizes, repeats, backend=backend)


if __name__ == "__main__":
    cli()
