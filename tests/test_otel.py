"""longshoreman.otel: one span per plugin call, parented to the caller's span, with the
plugin's identity and outcome; checked with the SDK's in-memory exporter."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from longshoreman import ExtensionErrorGroup, ExtensionManager
from longshoreman.otel import OpenTelemetryInstrument
from longshoreman.testing import fake_entry_points

from .conftest import FakeEnv

NS = "ls.otel"


@pytest.fixture
def traced() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


class Sink:
    tracer: trace.Tracer = trace.get_tracer("plugin")

    def __init__(self, name: str) -> None:
        self.name = name

    async def write(self, data: str) -> str:
        await anyio.lowlevel.checkpoint()
        # a span of the plugin's own: it must be a child of longshoreman's call span
        with self.tracer.start_as_current_span(f"inner {self.name}"):
            await anyio.lowlevel.checkpoint()
        if self.name == "s7":
            raise OSError("disk full")
        return f"{self.name}:{data}"


async def test_a_map_over_many_plugins_parents_every_span(
    fake_env: FakeEnv, traced: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = traced
    names = [f"s{i}" for i in range(20)]
    with fake_entry_points(NS, dict.fromkeys(names, Sink)):
        mgr = ExtensionManager[Any](
            NS,
            invoke_on_load=True,
            invoke_args=("?",),
            propagate_map_exceptions=True,
            instrument=OpenTelemetryInstrument(provider, phases={"call"}),
        )
    await mgr
    for ext in mgr.extensions:
        assert ext.obj is not None
        ext.obj.name = ext.name
    Sink.tracer = provider.get_tracer("plugin")  # the plugins' own spans go there too
    tracer = provider.get_tracer("service")
    with (
        tracer.start_as_current_span("handle request") as parent,
        pytest.raises(ExtensionErrorGroup),
    ):
        await mgr.map_method("write", "payload")
    spans = exporter.get_finished_spans()
    calls = [s for s in spans if s.name.startswith("call ")]
    assert sorted(s.name for s in calls) == sorted(f"call {NS}:{n}" for n in names)
    parent_id = parent.get_span_context().span_id
    assert all(s.parent is not None and s.parent.span_id == parent_id for s in calls)
    by_name = {s.attributes["longshoreman.extension"]: s for s in calls if s.attributes}
    for inner in (s for s in spans if s.name.startswith("inner ")):
        owner = inner.name.split()[1]
        assert inner.parent is not None
        context = by_name[owner].get_span_context()
        assert context is not None
        assert inner.parent.span_id == context.span_id
    failed = by_name["s7"]
    Sink.tracer = trace.get_tracer("plugin")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["longshoreman.outcome"] == "error"
    [event] = failed.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "OSError"
    ok = by_name["s0"]
    assert ok.attributes is not None
    assert dict(ok.attributes) == {
        "longshoreman.namespace": NS,
        "longshoreman.phase": "call",
        "longshoreman.extension": "s0",
        "longshoreman.target": ok.attributes["longshoreman.target"],
        "longshoreman.distribution": ok.attributes["longshoreman.distribution"],
        "longshoreman.distribution.version": ok.attributes["longshoreman.distribution.version"],
        "longshoreman.outcome": "ok",
    }
    assert str(ok.attributes["longshoreman.target"]).endswith(":Sink")
    assert ok.status.status_code is StatusCode.UNSET


class Resource:
    async def __aenter__(self) -> Resource:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        pass


async def test_every_phase_makes_a_span(
    fake_env: FakeEnv, traced: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = traced
    with fake_entry_points(NS, {"r": Resource, "missing": "no_such_module:Nope"}):
        logging.getLogger("longshoreman").disabled = True
        try:
            mgr = ExtensionManager[Any](
                NS, invoke_on_load=True, instrument=OpenTelemetryInstrument(provider)
            )
        finally:
            logging.getLogger("longshoreman").disabled = False
    async with mgr:
        await mgr.map(lambda ext: None)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert sorted(spans) == sorted(
        f"{phase} {NS}:{name}"
        for phase, name in [
            ("load", "r"),
            ("load", "missing"),
            ("invoke", "r"),
            ("enter", "r"),
            ("call", "r"),
            ("exit", "r"),
        ]
    )
    assert spans[f"load {NS}:missing"].status.status_code is StatusCode.ERROR
    enter = spans[f"enter {NS}:r"]
    assert enter.parent is not None
    invoke = spans[f"invoke {NS}:r"].get_span_context()
    assert invoke is not None
    assert enter.parent.span_id == invoke.span_id


def test_unknown_phases_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown phases \['calls'\]"):
        OpenTelemetryInstrument(phases={"calls"})  # type: ignore[arg-type]


def test_the_tracing_example_shows_one_request_as_a_tree(
    fake_env: FakeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    import re
    import runpy
    from pathlib import Path

    example = Path(__file__).parent.parent / "examples" / "tracing.py"
    runpy.run_path(str(example), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    shape = [re.sub(r"\(\d+\.\d ms\)", "(…)", line) for line in lines]
    assert shape == [
        "results: ['ok', 'ok']",
        "GET /health  (…)",
        "  call tracing_demo.backends:cache  (…)  outcome=ok",
        "    cache round trip  (…)",
        "  call tracing_demo.backends:database  (…)  outcome=ok",
        "    database round trip  (…)",
        "  call tracing_demo.backends:search  (…)  outcome=error  ERROR",
    ]
