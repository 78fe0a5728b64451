"""Four storage backends, as a service might have them as plugins.

Each one is an async context manager: entering it "connects" (here: sleeps for
``connect_latency`` seconds) and exiting it disconnects, so a manager used with
``async with`` connects them all at once and closes them when the service stops.
Each has an async ``ping()``; the search backend's ping fails, to show how a failure is
reported.
"""

from __future__ import annotations

from types import TracebackType

import anyio


class Backend:
    """A pretend network client. Subclasses set a name and their latencies."""

    name = "backend"
    connect_latency = 0.3  # seconds
    ping_latency = 0.2

    def __init__(self, service: str) -> None:
        self.service = service
        self.connected = False

    async def __aenter__(self) -> Backend:
        await anyio.sleep(self.connect_latency)  # pretend to open a connection pool
        self.connected = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await anyio.sleep(0.01)  # pretend to close it
        self.connected = False

    async def ping(self) -> str:
        await anyio.sleep(self.ping_latency)
        return f"{self.name} is up (client for {self.service!r})"


class Postgres(Backend):
    """A PostgreSQL client: the slowest to connect."""

    name = "postgres"
    connect_latency = 0.30
    ping_latency = 0.20


class Redis(Backend):
    """A Redis client: connects and answers quickly."""

    name = "redis"
    connect_latency = 0.10
    ping_latency = 0.05


class ObjectStore(Backend):
    """An S3-style object store client."""

    name = "object-store"
    connect_latency = 0.25
    ping_latency = 0.15


class Search(Backend):
    """Connects fine; its health check fails."""

    name = "search"
    connect_latency = 0.20
    ping_latency = 0.10

    async def ping(self) -> str:
        await anyio.sleep(self.ping_latency)
        raise ConnectionError("search: connection reset by peer")
