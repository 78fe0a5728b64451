"""longshoreman's demo: an asyncio service that starts its plugins concurrently.

From the repository root, in a virtual environment::

    pip install ./examples/demo-plugins .
    python examples/demo.py

It first lists what discovery finds in the ``longshoreman_demo.backends`` namespace
(without importing anything), then runs a small asyncio service that

1. connects every backend at once: ``async with ExtensionManager(..., invoke_on_load=True)``
   enters each plugin (an async context manager) concurrently, so start-up takes as long
   as the slowest backend, not the sum of them all;
2. fans a health check out to all of them with ``await mgr.map_method("ping")``; one
   backend fails, and the ``ExtensionErrorGroup`` says which, with what, and what the
   others returned;
3. closes the backends, newest first, when the ``async with`` block ends.
"""

from __future__ import annotations

import asyncio
import sys
import time
import traceback
from typing import Any

import longshoreman
from longshoreman import ExtensionErrorGroup, ExtensionManager

NAMESPACE = "longshoreman_demo.backends"


def show_discovery() -> int:
    """Print the namespace's entry points; return how many there are."""
    entry_points = longshoreman.list_entry_points(NAMESPACE)
    print(f"1. Discovery: entry points in {NAMESPACE!r} (nothing is imported yet)\n")
    rows = [("name", "target", "distribution", "version")]
    for ep in entry_points:
        dist = ep.dist
        rows.append((ep.name, ep.value, dist.name if dist else "?", dist.version if dist else "?"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(("   " + "  ".join(cells)).rstrip())
    print()
    return len(entry_points)


def latency(mgr: ExtensionManager[Any], attribute: str) -> tuple[float, float]:
    """(slowest, sum) of one latency the example plugins declare."""
    values = [float(getattr(ext.plugin, attribute, 0.0)) for ext in mgr]
    return max(values, default=0.0), sum(values)


async def service() -> None:
    """The service: start every backend, check their health, shut down."""
    print("2. Start-up: connecting every backend at once")
    print(f"   async with ExtensionManager({NAMESPACE!r}, invoke_on_load=True, ...) as mgr\n")
    started = time.perf_counter()
    async with ExtensionManager[Any](
        NAMESPACE,
        invoke_on_load=True,
        invoke_args=("demo-service",),
        propagate_map_exceptions=True,
    ) as mgr:
        elapsed = time.perf_counter() - started
        slowest, total = latency(mgr, "connect_latency")
        print(f"   {len(mgr)} backends connected in {elapsed:.2f} s")
        print(f"   slowest backend alone: {slowest:.2f} s; one after another: {total:.2f} s\n")

        print('3. Health check: await mgr.map_method("ping"), fanned out to every backend\n')
        started = time.perf_counter()
        try:
            results = await mgr.map_method("ping")
        except* ConnectionError as group:
            elapsed = time.perf_counter() - started
            report(group)
        else:
            elapsed = time.perf_counter() - started
            for line in results:
                print(f"   ok      {line}")
        slowest, total = latency(mgr, "ping_latency")
        print(f"\n   all pings done in {elapsed:.2f} s")
        print(f"   slowest ping alone: {slowest:.2f} s; one after another: {total:.2f} s\n")
        print("4. Shut-down: leaving `async with` disconnects the backends, newest first")
    closed = ", ".join(ext.name for ext in reversed(mgr.extensions))
    still_open = [ext.name for ext in mgr if getattr(ext.obj, "connected", False)]
    print(f"   closed, newest first: {closed}; still connected: {still_open or 'none'}")


def report(group: ExceptionGroup[Exception]) -> None:
    """What the group carries: who failed and why, and who succeeded with what."""
    print(f"   except* ConnectionError caught an {type(group).__name__}: {group}")
    if isinstance(group, ExtensionErrorGroup):  # except* keeps longshoreman's subclass
        for ext, exc in group.failures:
            print(f"   FAILED  {ext.name}: {type(exc).__name__}: {exc}")
        for ext, value in group.results:
            print(f"   ok      {ext.name}: {value}")
    print("\n   The group as a traceback shows it (frames left out):\n")
    for line in "".join(traceback.format_exception(group, limit=0)).splitlines():
        print(f"   {line}")


def main() -> int:
    if not show_discovery():
        print(
            "No plugins found. From the repository root, run:\n"
            "    pip install ./examples/demo-plugins .",
            file=sys.stderr,
        )
        return 1
    asyncio.run(service())
    return 0


if __name__ == "__main__":
    sys.exit(main())
