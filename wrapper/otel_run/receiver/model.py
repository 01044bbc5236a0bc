"""Flattened, typed views of received telemetry, for tests, rendering and JSON lines.

One record per span, log record or metric, carrying what it inherits from its
envelope (transport, resource, scope). The protobuf message stays reachable as
``.span`` / ``.record`` / ``.metric`` for anything the properties do not cover.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Union

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, SeverityNumber
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

Transport = Literal["http/protobuf", "http/json", "grpc"]

AttributeValue = Union[
    str, bool, int, float, bytes, None, list["AttributeValue"], dict[str, "AttributeValue"]
]
Attributes = dict[str, AttributeValue]

UNKNOWN_SERVICE = "unknown_service"


def any_value_to_python(value: AnyValue) -> AttributeValue:
    """Convert an OTLP ``AnyValue`` to the matching Python value (empty → ``None``)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bytes_value":
        return value.bytes_value
    if kind == "array_value":
        return [any_value_to_python(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_to_dict(value.kvlist_value.values)
    return None


def attributes_to_dict(key_values: Iterable[KeyValue]) -> Attributes:
    """Convert repeated ``KeyValue`` to a dict; a repeated key keeps its last value."""
    return {kv.key: any_value_to_python(kv.value) for kv in key_values}


def value_to_text(value: AttributeValue) -> str:
    """Render a value on one line: strings as-is, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def _json_default(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def service_of(resource: Attributes) -> str:
    """Return ``service.name`` from resource attributes, or ``unknown_service``."""
    name = resource.get("service.name")
    return name if isinstance(name, str) and name else UNKNOWN_SERVICE


def _enum_name(enum: Any, number: int, prefix: str) -> str:
    # Proto3 enums are open: a sender may use a number this proto version lacks.
    try:
        full_name: str = enum.Name(number)
    except ValueError:
        return str(number)
    return full_name[len(prefix) :] if full_name.startswith(prefix) else full_name


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as received, with the service and resource it was exported under."""

    transport: Transport
    service: str
    resource: Attributes
    scope: str
    span: Span

    @property
    def trace_id(self) -> str:
        """Trace id as 32 lowercase hex digits ("" if absent)."""
        return self.span.trace_id.hex()

    @property
    def span_id(self) -> str:
        """Span id as 16 lowercase hex digits."""
        return self.span.span_id.hex()

    @property
    def parent_span_id(self) -> str:
        """Parent span id as hex, or "" for a root span."""
        return self.span.parent_span_id.hex()

    @property
    def name(self) -> str:
        """Span name."""
        return self.span.name

    @property
    def kind(self) -> str:
        """Span kind without its prefix: "SERVER", "CLIENT", "INTERNAL", ..."""
        return _enum_name(Span.SpanKind, self.span.kind, "SPAN_KIND_")

    @property
    def attributes(self) -> Attributes:
        """Span attributes as Python values."""
        return attributes_to_dict(self.span.attributes)

    @property
    def start_time_unix_nano(self) -> int:
        """Start time in nanoseconds since the epoch."""
        return self.span.start_time_unix_nano

    @property
    def duration_ms(self) -> float:
        """End minus start, in milliseconds (0.0 if the end precedes the start)."""
        nanos = self.span.end_time_unix_nano - self.span.start_time_unix_nano
        return max(nanos, 0) / 1e6

    @property
    def status_code(self) -> str:
        """Status without its prefix: "UNSET", "OK" or "ERROR"."""
        return _enum_name(Status.StatusCode, self.span.status.code, "STATUS_CODE_")

    @property
    def status_message(self) -> str:
        """Status description ("" if none)."""
        return self.span.status.message


@dataclass(frozen=True)
class ReceivedLog:
    """One log record as received, with the service and resource it was exported under."""

    transport: Transport
    service: str
    resource: Attributes
    scope: str
    record: LogRecord

    @property
    def body(self) -> str:
        """The body as text: a string body verbatim, structured bodies as compact JSON."""
        return value_to_text(any_value_to_python(self.record.body))

    @property
    def severity_text(self) -> str:
        """Severity text as sent ("" if the sender left it out)."""
        return self.record.severity_text

    @property
    def severity(self) -> str:
        """Severity text, or the name derived from the severity number ("INFO", "WARN2")."""
        if self.record.severity_text:
            return self.record.severity_text
        name = _enum_name(SeverityNumber, self.record.severity_number, "SEVERITY_NUMBER_")
        return "" if name == "UNSPECIFIED" else name

    @property
    def trace_id(self) -> str:
        """Trace id as hex, or "" when the record is not correlated with a trace."""
        return self.record.trace_id.hex()

    @property
    def span_id(self) -> str:
        """Span id as hex, or ""."""
        return self.record.span_id.hex()

    @property
    def attributes(self) -> Attributes:
        """Log record attributes as Python values."""
        return attributes_to_dict(self.record.attributes)


@dataclass(frozen=True)
class ReceivedMetric:
    """One metric (with all its data points) as received in one export."""

    transport: Transport
    service: str
    resource: Attributes
    scope: str
    metric: Metric

    @property
    def name(self) -> str:
        """Metric name."""
        return self.metric.name

    @property
    def kind(self) -> str:
        """Data kind: "gauge", "sum", "histogram", "exponential_histogram", "summary" or ""."""
        return self.metric.WhichOneof("data") or ""

    @property
    def unit(self) -> str:
        """Unit as sent ("" if none)."""
        return self.metric.unit

    @property
    def data_points(self) -> int:
        """Number of data points in this export."""
        kind = self.kind
        return len(getattr(self.metric, kind).data_points) if kind else 0

    @property
    def attribute_keys(self) -> tuple[str, ...]:
        """Sorted union of the attribute keys over all data points."""
        kind = self.kind
        if not kind:
            return ()
        keys = {kv.key for point in getattr(self.metric, kind).data_points for kv in point.attributes}
        return tuple(sorted(keys))


def _envelope(resource: Resource) -> tuple[Attributes, str]:
    attributes = attributes_to_dict(resource.attributes)
    return attributes, service_of(attributes)


def flatten_spans(transport: Transport, request: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    """Flatten a trace export into one ``ReceivedSpan`` per span, in request order."""
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource, service = _envelope(resource_spans.resource)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            spans.extend(ReceivedSpan(transport, service, resource, scope, s) for s in scope_spans.spans)
    return spans


def flatten_logs(transport: Transport, request: ExportLogsServiceRequest) -> list[ReceivedLog]:
    """Flatten a logs export into one ``ReceivedLog`` per log record, in request order."""
    logs: list[ReceivedLog] = []
    for resource_logs in request.resource_logs:
        resource, service = _envelope(resource_logs.resource)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope.name
            logs.extend(ReceivedLog(transport, service, resource, scope, r) for r in scope_logs.log_records)
    return logs


def flatten_metrics(transport: Transport, request: ExportMetricsServiceRequest) -> list[ReceivedMetric]:
    """Flatten a metrics export into one ``ReceivedMetric`` per metric, in request order."""
    metrics: list[ReceivedMetric] = []
    for resource_metrics in request.resource_metrics:
        resource, service = _envelope(resource_metrics.resource)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope.name
            metrics.extend(
                ReceivedMetric(transport, service, resource, scope, m) for m in scope_metrics.metrics
            )
    return metrics
