"""Under otel-run, spans and log records sent over http/protobuf or gRPC are encoded by
otel-run's encoder, and a real receiver gets exactly what upstream's encoder would have sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from apps import otlp_env, run_script
from otel_run.receiver import Receiver

SCRIPT = """
import logging, os, sys
from opentelemetry import _logs, trace
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

spans, records = InMemorySpanExporter(), InMemoryLogRecordExporter()
trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(spans))
_logs.get_logger_provider().add_log_record_processor(SimpleLogRecordProcessor(records))
logging.basicConfig(level=logging.INFO)
tracer = trace.get_tracer("encoder-test", "1.2.3")
for n in range(40):
    with tracer.start_as_current_span("GET /items", kind=SpanKind.SERVER, attributes={
        "http.method": "GET", "http.status_code": 200, "ratio": -0.0, "ok": True,
        "tags": ["a", "ü"], "big": -(2**63), "n": n,
    }) as server:
        server.add_event("cache miss", {"key": "items"})
        link = Link(server.get_span_context())
        with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, links=[link]) as db:
            db.set_status(Status(StatusCode.ERROR, "timeout"))
        logging.getLogger("shop").warning("slow %d", n, extra={"order": n})
trace.get_tracer_provider().force_flush()
_logs.get_logger_provider().force_flush()
if os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc import _log_exporter, trace_exporter
else:
    from opentelemetry.exporter.otlp.proto.http import _log_exporter, trace_exporter
ours = [hasattr(f, "otel_run_upstream") for f in (trace_exporter.encode_spans, _log_exporter.encode_logs)]
print("ours:", *ours)
with open(sys.argv[0] + ".spans", "wb") as out:
    out.write(encode_spans(spans.get_finished_spans()).SerializeToString())
with open(sys.argv[0] + ".logs", "wb") as out:
    out.write(encode_logs(records.get_finished_logs()).SerializeToString())
"""


def _items(
    requests: list[ExportTraceServiceRequest] | list[ExportLogsServiceRequest], field: str
) -> set[bytes]:
    """Every (resource, scope, item) of the requests, each serialized: batches may split anyhow."""
    found = set()
    for request in requests:
        for resource in getattr(request, f"resource_{field}"):
            for scoped in getattr(resource, f"scope_{field}"):
                items = scoped.spans if field == "spans" else scoped.log_records
                for item in items:
                    found.add(
                        resource.resource.SerializeToString()
                        + scoped.scope.SerializeToString()
                        + item.SerializeToString()
                    )
    return found


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_receiver_gets_upstreams_bytes_from_our_encoder(
    protocol: str, receiver: Receiver, tmp_path: Path
) -> None:
    """80 spans and 40 log records arrive exactly as upstream's encoder would have written them."""
    result = run_script(SCRIPT, otlp_env(receiver, protocol, OTEL_SERVICE_NAME="encoder"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ours: True True" in result.stdout, result.stdout + result.stderr
    assert "encoder failed" not in result.stderr
    expected_spans = ExportTraceServiceRequest.FromString((tmp_path / "app.py.spans").read_bytes())
    expected_logs = ExportLogsServiceRequest.FromString((tmp_path / "app.py.logs").read_bytes())
    assert receiver.store.wait_for(lambda store: len(store.spans()) >= 80 and len(store.logs()) >= 40, 10)
    want_spans = _items([expected_spans], "spans")
    assert len(want_spans) == 80
    assert _items(receiver.store.requests("traces"), "spans") == want_spans  # type: ignore[arg-type]
    want_logs = {item for item in _items([expected_logs], "logs") if b"slow " in item}
    assert len(want_logs) == 40
    got_logs = {item for item in _items(receiver.store.requests("logs"), "logs") if b"slow " in item}  # type: ignore[arg-type]
    assert got_logs == want_logs
