"""Fan-out benchmark: longshoreman's ``map`` against its peers, measured in one run.

    python benchmarks/fanout.py [--quick]

For N = 10, 100, 1000, 10000 extensions, on asyncio and on trio, it times:

* async plugins whose call is ``await anyio.sleep(0)`` and ``await anyio.sleep(0.01)``:
  ``map_method`` against a bare anyio task group (``start_soon`` per plugin, results
  dropped), ``asyncio.gather`` (asyncio only) and stevedore's sequential ``map`` (the
  coroutines it returns awaited one after another; skipped where it would take long);
* ``max_concurrency=k``: ``map_method`` against k workers pulling from one iterator;
* sync callables: ``map`` against a plain list comprehension (the overhead per call) and
  stevedore's ``map``;
* memory: tracemalloc peak of one ``map_method`` at N = 10000, with and without
  ``max_concurrency``, next to the bare task group's.

Every figure is the best of several repeats, in microseconds per plugin call; ratios
are against peers measured in the same process. Goals (SPEC §10): ≤ 1.2x the bare task
group (stretch ≤ 2x gather); bounded ≤ 1.5x k workers with O(k) memory; sync ≤ 1 µs
overhead per call. Never run as a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio

from longshoreman import Extension, ExtensionManager

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


def ratio(a: float, b: float | None) -> str:
    return f"{a / b:6.2f}x" if b else "     —"


def us(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:8.2f}"


async def async_rows(backend: str, sizes: list[int], repeats: int) -> None:
    print(f"\n[{backend}] async plugins: µs per call (best of {repeats}); ratios = ours / peer")
    print(
        f"{'call':>10} {'N':>6} {'ours':>8} {'bare TG':>8} {'gather':>8} {'stevedore':>9}"
        f" | {'/TG':>7} {'/gather':>7} {'/stvd':>7}"
    )
    for delay in (0.0, 0.01):
        for n in sizes:
            exts = extensions(n, delay)
            reps = repeats if delay == 0 or n <= 1000 else max(2, repeats // 2)
            loops = inner_loops(n) if delay == 0 else 1
            t_ours = await best(ours(exts), reps, loops)
            t_tg = await best(bare_task_group(exts), reps, loops)
            t_gather = await best(gather(exts), reps, loops) if backend == "asyncio" else None
            t_seq = None
            if stevedore is not None and n * delay <= SEQUENTIAL_LIMIT and n * delay * 2 < 5:
                t_seq = await best(stevedore_sequential(exts), 1 if delay else reps, loops)
            print(
                f"{'sleep(' + str(delay) + ')':>10} {n:>6} {us(t_ours, n)} {us(t_tg, n)} "
                f"{us(t_gather, n) if t_gather else '       —'} "
                f"{us(t_seq, n) + ' ' if t_seq else '        — '}"
                f"| {ratio(t_ours, t_tg)} {ratio(t_ours, t_gather)} {ratio(t_ours, t_seq)}"
            )


async def bounded_rows(backend: str, sizes: list[int], repeats: int) -> None:
    print(f"\n[{backend}] max_concurrency={K}, sleep(0): µs per call; ratio = ours / {K} workers")
    print(f"{'N':>6} {'ours':>8} {'workers':>8} | {'ratio':>7}")
    for n in sizes:
        exts = extensions(n, 0.0)
        loops = inner_loops(n)
        t_ours = await best(ours(exts, max_concurrency=K), repeats, loops)
        t_workers = await best(k_workers(exts, K), repeats, loops)
        print(f"{n:>6} {us(t_ours, n)} {us(t_workers, n)} | {ratio(t_ours, t_workers)}")


async def sync_rows(backend: str, sizes: list[int], repeats: int) -> None:
    print(f"\n[{backend}] sync callables: µs per call; overhead = ours - list comprehension")
    print(f"{'N':>6} {'ours':>8} {'listcomp':>8} {'stevedore':>9} | {'overhead':>8} {'/stvd':>7}")

    def call(ext: Extension[Plugin]) -> int:
        return ext.obj.value if ext.obj else 0

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
    await async_rows(backend, sizes, repeats)
    await bounded_rows(backend, sizes, repeats)
    await sync_rows(backend, sizes, repeats)
    await instrument_rows(backend, repeats)
    await memory_rows(backend)


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
