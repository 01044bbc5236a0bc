"""otel-run's OTLP encoder: what the bytes mean, what it leaves to upstream, how it slices.

Byte-for-byte identity with upstream is proven in ``test_encode_properties.py``; these
tests read our bytes back with the official ``opentelemetry-proto`` messages and check
each field against the SDK objects, independently of upstream's encoder.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as upstream_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceState

from otel_run.runtime.encode import Unsupported, batch, encode_logs, encode_spans, install, wire

pytestmark = pytest.mark.timeout(30)
RESOURCE = Resource({"service.name": "shop", "host.cores": 2}, "https://opentelemetry.io/schemas/1.26.0")
SCOPE = InstrumentationScope("opentelemetry.instrumentation.flask", "0.66b1", "https://s", {"lib": "flask"})
PARENT = SpanContext(0xABC, 0x1234, is_remote=True, trace_state=TraceState([("vendor", "x1")]))


def _span(name: str = "GET /items", attributes: dict[str, Any] | None = None, **extra: Any) -> ReadableSpan:
    values: dict[str, Any] = {
        "name": name,
        "context": SpanContext(0xABC, 0x5678, is_remote=False, trace_state=TraceState([("vendor", "x1")])),
        "parent": PARENT,
        "resource": RESOURCE,
        "attributes": attributes if attributes is not None else {"http.route": "/items"},
        "kind": SpanKind.SERVER,
        "start_time": 1_700_000_000_000_000_000,
        "end_time": 1_700_000_000_001_000_000,
        "instrumentation_scope": SCOPE,
    }
    return ReadableSpan(**{**values, **extra})


def _plain(value: AnyValue) -> Any:
    """An AnyValue as Python data."""
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_plain(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {item.key: _plain(item.value) for item in value.kvlist_value.values}
    return None if which is None else getattr(value, which)


def test_span_bytes_read_back_as_the_span() -> None:
    """Every field of a span, its event, link and status decodes to what the SDK held."""
    attributes = {
        "s": "ünïcode ✓",
        "b": False,
        "i": -(2**63),
        "f": -0.0,
        "nan": math.nan,
        "raw": b"\x00\xff",
        "seq": ("a", "b"),
        "nested": {"k": [1, {"deep": None}]},
        "empty": [],
    }
    span = _span(
        attributes=attributes,
        events=[Event("retry", {"attempt": 2}, timestamp=5)],
        links=[Link(PARENT, {"why": "batch"})],
        status=Status(StatusCode.ERROR, "boom"),
    )
    request = ExportTraceServiceRequest.FromString(encode_spans([span]))
    (resource_spans,) = request.resource_spans
    assert resource_spans.schema_url == RESOURCE.schema_url
    assert {kv.key: _plain(kv.value) for kv in resource_spans.resource.attributes} == dict(
        RESOURCE.attributes
    )
    (scope_spans,) = resource_spans.scope_spans
    assert (scope_spans.scope.name, scope_spans.scope.version, scope_spans.schema_url) == (
        SCOPE.name,
        SCOPE.version,
        "https://s",
    )
    (decoded,) = scope_spans.spans
    assert decoded.trace_id == (0xABC).to_bytes(16, "big")
    assert decoded.span_id == (0x5678).to_bytes(8, "big")
    assert decoded.parent_span_id == (0x1234).to_bytes(8, "big")
    assert decoded.trace_state == "vendor=x1"
    assert (decoded.name, decoded.kind) == ("GET /items", 2)
    assert (decoded.start_time_unix_nano, decoded.end_time_unix_nano) == (span.start_time, span.end_time)
    got = {kv.key: _plain(kv.value) for kv in decoded.attributes}
    assert math.isnan(got.pop("nan")) and math.copysign(1.0, got["f"]) == -1.0
    expected = {k: v for k, v in attributes.items() if k != "nan"}
    assert got == {**expected, "seq": ["a", "b"]}
    assert decoded.flags == 0x300  # HAS_IS_REMOTE | IS_REMOTE: the parent is remote
    assert (decoded.events[0].name, decoded.events[0].time_unix_nano) == ("retry", 5)
    assert decoded.links[0].span_id == (0x1234).to_bytes(8, "big") and decoded.links[0].flags == 0x300
    assert (decoded.status.code, decoded.status.message) == (2, "boom")


def test_a_root_span_has_no_parent_and_local_flags() -> None:
    """No parent: no parent_span_id, and flags say only that remoteness is known."""
    request = ExportTraceServiceRequest.FromString(encode_spans([_span(parent=None)]))
    (span,) = request.resource_spans[0].scope_spans[0].spans
    assert span.parent_span_id == b"" and span.flags == 0x100


def test_log_bytes_read_back_as_the_record() -> None:
    """A log record's body, severity, trace context and event name decode to what the SDK held."""
    record = LogRecord(
        timestamp=10,
        observed_timestamp=11,
        severity_text="WARN",
        severity_number=SeverityNumber.WARN,
        body={"msg": "low stock", "left": 3},
        attributes={"code.function.name": "order"},
        event_name="stock.low",
    )
    readable = ReadableLogRecord(log_record=record, resource=RESOURCE, instrumentation_scope=SCOPE)
    request = ExportLogsServiceRequest.FromString(encode_logs([readable]))
    (decoded,) = request.resource_logs[0].scope_logs[0].log_records
    assert (decoded.time_unix_nano, decoded.observed_time_unix_nano) == (10, 11)
    assert (decoded.severity_text, decoded.severity_number) == ("WARN", SeverityNumber.WARN.value)
    assert _plain(decoded.body) == {"msg": "low stock", "left": 3}
    assert decoded.event_name == "stock.low"
    assert decoded.trace_id == b"" and decoded.span_id == b""  # no current span


@pytest.mark.parametrize(
    ("attributes", "why"),
    [
        ({"lone": "\ud800"}, "a lone surrogate is not UTF-8"),
        ({"big": 2**63}, "beyond int64"),
        ({"small": [-(2**63) - 1]}, "beyond int64, nested"),
        ({"what": object()}, "not an attribute type"),
        ({7: "seven"}, "a key that is not a string"),
    ],
)
def test_what_upstream_skips_or_refuses_is_left_to_upstream(attributes: dict[Any, Any], why: str) -> None:
    """Upstream logs and skips such an attribute (or raises): ours raises Unsupported, so the
    caller hands the batch to upstream's encoder and the outcome is upstream's."""
    with pytest.raises(Unsupported):
        encode_spans([_span(attributes=attributes)])


def test_a_log_body_of_no_attribute_type_is_left_to_upstream() -> None:
    """Upstream raises on such a body; ours too, with Unsupported."""
    readable = ReadableLogRecord(log_record=LogRecord(body=object()), resource=RESOURCE)
    with pytest.raises(Unsupported):
        encode_logs([readable])


def test_slices_yield_the_gil_and_change_no_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    """With yield_every=N the encoder sleeps(0) after every N spans; the bytes are the same."""
    spans = [_span(name=f"span {n}", resource=Resource({"n": n % 2})) for n in range(10)]
    whole = encode_spans(spans)
    pauses: list[float] = []
    monkeypatch.setattr(batch.time, "sleep", pauses.append)
    assert encode_spans(spans, yield_every=3) == whole
    assert pauses == [0, 0, 0]


def test_a_failing_encoder_hands_the_batch_to_upstream_and_says_so_once(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in our encoder loses no batch: upstream's encodes it; one line, a count per batch."""
    monkeypatch.setitem(install.fallbacks, "traces", 0)
    monkeypatch.setattr(install, "_told", set())

    def broken(batch: Any, yield_every: int) -> bytes:
        raise KeyError("oops")

    encode = install.with_fallback(broken, lambda batch: ("upstream's message", batch), "traces")
    assert encode(["span"]) == ("upstream's message", ["span"])
    assert encode(["span"]) == ("upstream's message", ["span"])
    assert install.fallbacks["traces"] == 2
    lines = [line for line in capfd.readouterr().err.splitlines() if "encoder failed" in line]
    assert len(lines) == 1 and "otel-run's traces encoder failed on a batch (KeyError" in lines[0]


def test_what_upstream_treats_specially_goes_to_upstream_silently(capfd: pytest.CaptureFixture[str]) -> None:
    """An attribute upstream logs and skips is upstream's business: no line, no count."""
    before = install.fallbacks["traces"]
    encode = install.with_fallback(encode_spans, upstream_spans, "traces")
    span = _span(attributes={"ok": 1, "bad": object()})
    message = encode([span])
    assert message.SerializeToString() == upstream_spans([span]).SerializeToString()
    assert install.fallbacks["traces"] == before
    assert "encoder failed" not in capfd.readouterr().err


def test_our_encoder_serves_upstreams_http_exporter_module() -> None:
    """After installing, the http/protobuf exporter modules' encode_* return our bytes."""
    from opentelemetry.exporter.otlp.proto.http import _log_exporter, trace_exporter

    install.use_for_http_protobuf()
    install.use_for_http_protobuf()  # idempotent: upstream's stays one level down
    spans = [_span(), _span(name="other")]
    encoded = trace_exporter.encode_spans(spans)  # type: ignore[attr-defined]
    assert isinstance(encoded, install.Serialized)
    assert encoded.SerializePartialToString() == upstream_spans(spans).SerializePartialToString()
    assert trace_exporter.encode_spans.otel_run_upstream is upstream_spans  # type: ignore[attr-defined]
    assert not hasattr(_log_exporter.encode_logs.otel_run_upstream, "otel_run_upstream")  # type: ignore[attr-defined]


def test_the_exporters_encoder_yields_the_gil_every_32_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    """What upstream's exporter calls releases the GIL after every 32 spans of a batch."""
    pauses: list[float] = []
    monkeypatch.setattr(batch.time, "sleep", pauses.append)
    encode = install.with_fallback(encode_spans, upstream_spans, "traces")
    spans = [_span(name=f"span {n}") for n in range(100)]
    assert encode(spans).SerializeToString() == upstream_spans(spans).SerializeToString()
    assert install.YIELD_EVERY == 32 and pauses == [0, 0, 0]


def test_our_encoder_serves_upstreams_grpc_exporter_modules() -> None:
    """After installing for gRPC, the exporter modules' encode_* return upstream's message."""
    from opentelemetry.exporter.otlp.proto.grpc import trace_exporter

    install.use_for_grpc("traces")
    install.use_for_grpc("metrics")  # nothing to do: metrics stay upstream's
    spans = [_span(), _span(name="other")]
    assert trace_exporter.encode_spans(spans) == upstream_spans(spans)  # type: ignore[attr-defined]
    assert trace_exporter.encode_spans.otel_run_upstream is upstream_spans  # type: ignore[attr-defined]


def test_the_attribute_cache_stays_small() -> None:
    """Long values are not cached and the cache is cleared when full: its memory is bounded."""
    wire._STR_ENTRIES.clear()
    encode_spans([_span(attributes={"db.statement": "x" * 1000, "http.route": "/"})])
    assert ("db.statement", "x" * 1000) not in wire._STR_ENTRIES
    assert ("http.route", "/") in wire._STR_ENTRIES
    for n in range(wire._MAX_ENTRIES + 10):
        encode_spans([_span(attributes={"user.id": f"u{n}"})])
    assert 0 < len(wire._STR_ENTRIES) <= wire._MAX_ENTRIES


def test_peer_ports_are_encoded_but_never_cached() -> None:
    """A peer port (new on every connection) is encoded as upstream does, and kept out of
    the int cache, which keeps the values that repeat."""
    wire._INT_ENTRIES.clear()
    spans = [
        _span(attributes={"net.peer.port": 40000 + n, "client.port": 50000 + n, "http.status_code": 200})
        for n in range(50)
    ]
    assert encode_spans(spans) == upstream_spans(spans).SerializePartialToString()
    cached = {key for key, _ in wire._INT_ENTRIES}
    assert "http.status_code" in cached
    assert not cached & {"net.peer.port", "client.port"}
