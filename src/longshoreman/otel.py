"""OpenTelemetry tracing for plugins: one span per plugin load, invoke, enter, call, exit.

.. code-block:: python

    from longshoreman import ExtensionManager
    from longshoreman.otel import OpenTelemetryInstrument

    mgr = ExtensionManager("myapp.sinks", instrument=OpenTelemetryInstrument())

Each span is a child of the span current where the plugin's code runs — for ``map``,
the caller's — and is the current span while the plugin runs, so spans the plugin
makes are its children. Its name is ``"<phase> <namespace>:<extension>"``; its
attributes say which plugin it was and how it ended; a failure is recorded on the span
as an exception event and an error status. Needs ``opentelemetry-api``
(``pip install 'longshoreman[otel]'``); with no SDK configured, the spans cost next to
nothing and go nowhere, as the API promises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import context, trace

from ._instrument import InstrumentPhase, PluginEvent

if TYPE_CHECKING:
    from collections.abc import Collection

__all__ = ["OpenTelemetryInstrument"]

ALL_PHASES: tuple[InstrumentPhase, ...] = ("load", "invoke", "enter", "call", "exit")


class OpenTelemetryInstrument:
    """An ``instrument=`` that makes OpenTelemetry spans.

    Args:
        tracer_provider: where the spans go; the global provider by default.
        phases: which of ``"load"``, ``"invoke"``, ``"enter"``, ``"call"``, ``"exit"``
            make spans (all by default).
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        *,
        phases: Collection[InstrumentPhase] = ALL_PHASES,
    ) -> None:
        from . import __version__

        unknown = set(phases) - set(ALL_PHASES)
        if unknown:
            raise ValueError(f"unknown phases {sorted(unknown)}; choose from {ALL_PHASES}")
        self._tracer = trace.get_tracer("longshoreman", __version__, tracer_provider)
        self._phases = frozenset(phases)

    def on_start(self, event: PluginEvent) -> None:
        if event.phase not in self._phases:
            return
        attributes: dict[str, Any] = {
            "longshoreman.namespace": event.namespace,
            "longshoreman.phase": event.phase,
            "longshoreman.extension": event.name,
            "longshoreman.target": event.target,
        }
        ep = event.entry_point
        if ep is not None and ep.dist is not None:
            attributes["longshoreman.distribution"] = ep.dist.name
            attributes["longshoreman.distribution.version"] = ep.dist.version
        span = self._tracer.start_span(
            f"{event.phase} {event.namespace}:{event.name}", attributes=attributes
        )
        event.state = (span, context.attach(trace.set_span_in_context(span)))

    def on_end(self, event: PluginEvent) -> None:
        if event.state is None:
            return
        span, token = event.state
        event.state = None
        try:
            span.set_attribute("longshoreman.outcome", event.outcome)
            if event.exception is not None and event.outcome == "error":
                span.record_exception(event.exception)
                span.set_status(
                    trace.Status(trace.StatusCode.ERROR, type(event.exception).__qualname__)
                )
            span.end()
        finally:
            context.detach(token)
