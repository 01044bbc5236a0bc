"""The test span, log record and metric ``otel-run doctor`` sends, and the collector's reply.

The requests are OTLP messages built directly with ``opentelemetry-proto``, not through
the SDK: the live test must work when the SDK is broken, and a sampler that records
nothing must not hide whether the endpoint works. Callers import this module late,
because it imports protobuf.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from otel_run import __version__

TEST_SPAN_NAME = "otel-run doctor test span"
TEST_LOG_BODY = "otel-run doctor test log record"
TEST_METRIC_NAME = "otel_run.doctor.test"
SCOPE_NAME = "otel-run.doctor"

# gRPC method of each signal's OTLP service.
GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
CONTENT_TYPES = {"http/protobuf": "application/x-protobuf", "http/json": "application/json", "grpc": ""}
# OTLP/JSON writes these bytes fields as hex, not as protobuf-JSON's base64.
_HEX_FIELDS = ("traceId", "spanId", "parentSpanId")


class Accepted(NamedTuple):
    """What a successful export answer said: items rejected and the collector's message."""

    rejected: int
    message: str


def request(signal: str, service_name: str, attributes: Sequence[tuple[str, str]]) -> Any:
    """One OTLP export request for ``signal`` holding a single test item."""
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    def kv(key: str, value: str | bool) -> Any:
        if isinstance(value, bool):
            return KeyValue(key=key, value=AnyValue(bool_value=value))
        return KeyValue(key=key, value=AnyValue(string_value=value))

    pairs = dict(attributes)
    pairs["service.name"] = service_name
    pairs["telemetry.distro.name"] = "otel-run"
    pairs["telemetry.distro.version"] = __version__
    resource = Resource(attributes=[kv(key, value) for key, value in pairs.items()])
    scope = InstrumentationScope(name=SCOPE_NAME, version=__version__)
    marker = [kv("otel_run.doctor", True)]
    now = time.time_ns()
    trace_id, span_id = os.urandom(16), os.urandom(8)

    if signal == "traces":
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
        from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

        span = Span(
            trace_id=trace_id,
            span_id=span_id,
            name=TEST_SPAN_NAME,
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=now - 1_000_000,
            end_time_unix_nano=now,
            attributes=marker,
        )
        return ExportTraceServiceRequest(
            resource_spans=[
                ResourceSpans(resource=resource, scope_spans=[ScopeSpans(scope=scope, spans=[span])])
            ]
        )
    if signal == "logs":
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
        from opentelemetry.proto.logs.v1.logs_pb2 import (
            SEVERITY_NUMBER_INFO,
            LogRecord,
            ResourceLogs,
            ScopeLogs,
        )

        record = LogRecord(
            time_unix_nano=now,
            observed_time_unix_nano=now,
            severity_number=SEVERITY_NUMBER_INFO,
            severity_text="INFO",
            body=AnyValue(string_value=TEST_LOG_BODY),
            attributes=marker,
            trace_id=trace_id,
            span_id=span_id,
        )
        return ExportLogsServiceRequest(
            resource_logs=[
                ResourceLogs(resource=resource, scope_logs=[ScopeLogs(scope=scope, log_records=[record])])
            ]
        )
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.metrics.v1.metrics_pb2 import (
        Gauge,
        Metric,
        NumberDataPoint,
        ResourceMetrics,
        ScopeMetrics,
    )

    point = NumberDataPoint(time_unix_nano=now, as_int=1, attributes=marker)
    metric = Metric(name=TEST_METRIC_NAME, unit="1", gauge=Gauge(data_points=[point]))
    return ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(resource=resource, scope_metrics=[ScopeMetrics(scope=scope, metrics=[metric])])
        ]
    )


def encode(message: Any, protocol: str) -> bytes:
    """The request body for ``protocol``: protobuf bytes, or OTLP/JSON for ``http/json``."""
    if protocol != "http/json":
        data: bytes = message.SerializeToString()
        return data
    from google.protobuf import json_format

    document = json_format.MessageToDict(message, use_integers_for_enums=True)
    _base64_ids_to_hex(document)
    return json.dumps(document, separators=(",", ":")).encode()


def _base64_ids_to_hex(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _HEX_FIELDS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _base64_ids_to_hex(value)
    elif isinstance(node, list):
        for item in node:
            _base64_ids_to_hex(item)


_REJECTED = {"traces": "rejected_spans", "metrics": "rejected_data_points", "logs": "rejected_log_records"}


def accepted(signal: str, body: bytes, json_body: bool) -> Accepted:
    """Read the partial success in a 2xx / OK answer; an unreadable body counts as full success."""
    if not body:
        return Accepted(0, "")
    try:
        if json_body:
            document = json.loads(body)
            partial = document.get("partialSuccess") or {}
            camel = "".join(
                word.title() if index else word for index, word in enumerate(_REJECTED[signal].split("_"))
            )
            return Accepted(int(partial.get(camel) or 0), str(partial.get("errorMessage") or ""))
        response = _response_class(signal).FromString(body)
        partial = response.partial_success
        return Accepted(int(getattr(partial, _REJECTED[signal])), str(partial.error_message))
    except Exception:  # noqa: BLE001 - some collectors answer 200 with an empty or non-OTLP body
        return Accepted(0, "")


def _response_class(signal: str) -> Any:
    if signal == "traces":
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        return ExportTraceServiceResponse
    if signal == "logs":
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

        return ExportLogsServiceResponse
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

    return ExportMetricsServiceResponse
