"""Instrumentation: what a manager tells an ``instrument=`` object about its plugins.

An instrument is any object with (either of, both optional) ``on_start(event)`` and
``on_end(event)``. Around each plugin **load** (import), **invoke** (``invoke_on_load``),
**enter** and **exit** (async context manager plugins) and **call** (``map``,
``map_method``, dispatch, a driver's call), the manager calls ``on_start`` just before
the plugin's code runs and ``on_end`` just after, both in the task (and context) that
runs it: an instrument may set a context variable in ``on_start`` and reset it in
``on_end``, as :mod:`longshoreman.otel` does with the current span.

Without an instrument nothing here runs: the engine checks for one once per call.
An instrument that raises is logged and ignored: observing never breaks a plugin call.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

from ._report import describe, log_failure

if TYPE_CHECKING:
    from ._entrypoints import EntryPoint
    from ._extension import Extension

__all__ = ["Instrument", "InstrumentPhase", "Observer", "Outcome", "PluginEvent"]

#: What the plugin was doing.
InstrumentPhase: TypeAlias = Literal["load", "invoke", "enter", "call", "exit"]
#: How it ended: returned, raised (``exception``), or was cancelled.
Outcome: TypeAlias = Literal["ok", "error", "cancelled"]


class PluginEvent:
    """One plugin load, invoke, enter, call or exit, as an instrument sees it.

    ``extension`` is ``None`` for a load (the plugin is not an extension yet);
    ``entry_point`` is ``None`` for extensions built by hand (``make_test_instance``).
    ``duration`` (seconds), ``outcome`` and ``exception`` are set before ``on_end``.
    ``state`` is the instrument's own: whatever ``on_start`` wants ``on_end`` to have.
    """

    __slots__ = (
        "duration",
        "entry_point",
        "exception",
        "extension",
        "namespace",
        "outcome",
        "phase",
        "started",
        "state",
    )

    def __init__(
        self,
        namespace: str,
        phase: InstrumentPhase,
        extension: Extension[Any] | None,
        entry_point: EntryPoint | None,
    ) -> None:
        self.namespace: str = namespace
        self.phase: InstrumentPhase = phase
        self.extension: Extension[Any] | None = extension
        self.entry_point: EntryPoint | None = entry_point
        self.started: float = 0.0  # time.perf_counter() when the plugin's code began
        self.duration: float = 0.0
        self.outcome: Outcome = "ok"
        self.exception: BaseException | None = None
        self.state: Any = None

    @property
    def name(self) -> str:
        """The plugin's name."""
        if self.extension is not None:
            return self.extension.name
        return self.entry_point.name if self.entry_point is not None else "?"

    @property
    def target(self) -> str:
        """``module:attr``, as the entry point writes it."""
        if self.extension is not None:
            return self.extension.entry_point_target
        return self.entry_point.value if self.entry_point is not None else "?"

    def __repr__(self) -> str:
        return (
            f"PluginEvent({self.phase} {self.name!r} of {self.namespace!r}: "
            f"{self.outcome}, {self.duration * 1e3:.3f} ms)"
        )


class Instrument(Protocol):
    """The shape of an ``instrument=``; both methods are optional (duck-typed)."""

    def on_start(self, event: PluginEvent, /) -> None: ...

    def on_end(self, event: PluginEvent, /) -> None: ...


class Observer:
    """A manager's instrument, with its methods looked up once."""

    __slots__ = ("_on_end", "_on_start", "instrument", "namespace")

    def __init__(self, instrument: object, namespace: str) -> None:
        self.instrument = instrument
        self.namespace = namespace
        self._on_start = getattr(instrument, "on_start", None)
        self._on_end = getattr(instrument, "on_end", None)

    def start(
        self,
        phase: InstrumentPhase,
        extension: Extension[Any] | None,
        entry_point: EntryPoint | None = None,
    ) -> PluginEvent:
        if entry_point is None and extension is not None:
            entry_point = extension.entry_point
        event = PluginEvent(self.namespace, phase, extension, entry_point)
        if self._on_start is not None:
            self._safely(self._on_start, event)
        event.started = time.perf_counter()
        return event

    def end(
        self, event: PluginEvent, outcome: Outcome, exception: BaseException | None = None
    ) -> None:
        event.duration = time.perf_counter() - event.started
        event.outcome = outcome
        event.exception = exception
        if self._on_end is not None:
            self._safely(self._on_end, event)

    def _safely(self, method: Any, event: PluginEvent) -> None:
        try:
            method(event)
        except Exception as exc:
            source = event.extension or event.entry_point
            log_failure(
                f"instrument {type(self.instrument).__name__}.{method.__name__} failed for "
                f"{event.phase} of {describe(source)}",
                exc,
            )
