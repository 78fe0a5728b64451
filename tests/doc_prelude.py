"""What the README's and the docs' code fragments take for granted.

The README shows fragments of an application, ``myapp``, that has formatters, sinks and
pools as plugins: they use ``cfg``, ``log``, ``batch`` and plugin classes they do not
define. Every code block of the documentation runs with these names in scope, and
:func:`install` makes the ``myapp.*`` namespaces find real (fake) plugins while a document
runs. The docs' own pages define what they use; this is only for the fragments.

The type check of the snippets (``tests/test_docs.py``) imports this module with
``from doc_prelude import *``, so everything here is typed.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import types
from collections.abc import Generator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.lowlevel

from longshoreman.testing import fake_entry_points

__all__ = [
    "Config",
    "Formatter",
    "MemorySink",
    "Pool",
    "Sink",
    "batch",
    "cfg",
    "enter_context",
    "log",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    """The application's settings, as plugins receive them."""

    name: str = "myapp"
    store: str = "memory"


class Formatter:
    """Plain text: one value per line."""

    def format(self, values: list[str]) -> str:
        return "\n".join(values)


class Csv(Formatter):
    """Comma-separated values."""

    def format(self, values: list[str]) -> str:
        return ",".join(values)


class Sink:
    """Somewhere to write batches; connects asynchronously."""

    def __init__(self, cfg: Config | None = None) -> None:
        self.cfg = cfg
        self.written: list[bytes] = []

    async def write(self, data: bytes) -> int:
        await anyio.lowlevel.checkpoint()
        self.written.append(data)
        return len(data)

    async def flush(self) -> int:
        await anyio.lowlevel.checkpoint()
        return len(self.written)


class MemorySink(Sink):
    """Keeps what it is given in memory."""


class FullDisk(Sink):
    """A sink whose disk is full: its writes fail with an ``OSError``."""

    async def write(self, data: bytes) -> int:
        await anyio.lowlevel.checkpoint()
        raise OSError(28, "No space left on device")


class Pool:
    """A connection pool that answers ``ping``."""

    def __init__(self, cfg: Config | None = None) -> None:
        self.cfg = cfg

    async def ping(self) -> str:
        await anyio.lowlevel.checkpoint()
        return "pong"


cfg = Config()
log = logging.getLogger("myapp")
batch = b"one batch of records"

_stack: ExitStack | None = None


def enter_context(cm: AbstractContextManager[T]) -> T:
    """Enter ``cm`` until the current document has run (for invisible setup blocks)."""
    if _stack is None:
        raise RuntimeError("enter_context() is only available while a document runs")
    return _stack.enter_context(cm)


@contextlib.contextmanager
def install() -> Generator[None]:
    """The ``myapp`` world: fake plugins in its namespaces, ``myapp.s3`` importable."""
    global _stack  # noqa: PLW0603 - one document runs at a time
    package = types.ModuleType("myapp")
    package.__path__ = []
    s3 = types.ModuleType("myapp.s3")
    s3.Sink = MemorySink  # type: ignore[attr-defined]
    with ExitStack() as stack:
        for name, module in (("myapp", package), ("myapp.s3", s3)):
            stack.enter_context(_module(name, module))
        stack.enter_context(fake_entry_points("myapp.formatters", {"plain": Formatter, "csv": Csv}))
        stack.enter_context(
            fake_entry_points("myapp.sinks", {"memory": MemorySink, "disk": FullDisk})
        )
        stack.enter_context(fake_entry_points("myapp.pools", {"main": Pool, "replica": Pool}))
        stack.enter_context(fake_entry_points("myapp.stores", {"memory": MemorySink}))
        _stack = stack
        try:
            yield
        finally:
            _stack = None


@contextlib.contextmanager
def _module(name: str, module: types.ModuleType) -> Generator[None]:
    saved = sys.modules.get(name)
    sys.modules[name] = module
    try:
        yield
    finally:
        if saved is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved
