"""Trace a service's plugins with OpenTelemetry, and print the spans of one request.

    pip install 'longshoreman[otel]' opentelemetry-sdk
    python examples/tracing.py

Three backends are plugins of the ``tracing_demo.backends`` namespace (declared here
with ``longshoreman.testing.fake_entry_points``, so the script needs no install). A
health check fans ``ping`` out to all three inside a request span: each plugin call is
a child span of the request, and a span a plugin makes itself is a child of its call.
"""

from __future__ import annotations

from typing import Any

import anyio
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from longshoreman import ExtensionManager
from longshoreman.otel import OpenTelemetryInstrument
from longshoreman.testing import fake_entry_points

NS = "tracing_demo.backends"
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
tracer = provider.get_tracer("tracing-demo")


class Backend:
    latency = 0.01

    def __init__(self, service: str) -> None:
        self.service = service

    async def ping(self) -> str:
        with tracer.start_as_current_span(f"{type(self).__name__.lower()} round trip"):
            await anyio.sleep(self.latency)
        return "ok"


class Cache(Backend):
    latency = 0.005


class Database(Backend):
    latency = 0.03


class Search(Backend):
    async def ping(self) -> str:
        await anyio.sleep(0.01)
        raise ConnectionError("search: connection reset by peer")


def tree(spans: tuple[ReadableSpan, ...]) -> list[str]:
    """The spans as an indented tree, children in start order."""
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        assert span.end_time is not None
        assert span.start_time is not None
        ms = (span.end_time - span.start_time) / 1e6
        attrs: Any = span.attributes or {}
        detail = f"  outcome={attrs['longshoreman.outcome']}" if attrs else ""
        status = "  ERROR" if span.status.status_code is trace.StatusCode.ERROR else ""
        lines.append(f"{'  ' * depth}{span.name}  ({ms:.1f} ms){detail}{status}")
        context = span.get_span_context()
        assert context is not None
        for child in sorted(children.get(context.span_id, []), key=lambda s: s.start_time or 0):
            walk(child, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)
    return lines


async def main() -> None:
    plugins = {"cache": Cache, "database": Database, "search": Search}
    with fake_entry_points(NS, plugins):
        mgr = ExtensionManager[Backend](
            NS,
            invoke_on_load=True,
            invoke_args=("demo-service",),
            instrument=OpenTelemetryInstrument(provider, phases={"call"}),
        )
    await mgr
    with tracer.start_as_current_span("GET /health"):
        results = await mgr.map_method("ping")  # the failure is logged, the rest returned
    print(f"results: {results}")
    print("\n".join(tree(exporter.get_finished_spans())))


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.CRITICAL)  # the failing ping's record is not the point
    anyio.run(main)
