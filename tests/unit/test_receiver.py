"""Unit tests for the receiver's pure parts: decoding, records, rendering, store, addresses."""

from __future__ import annotations

import gzip
import io
import json
import threading
import zlib
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from otel_run.receiver import ReceivedSpan, Store, parse_address
from otel_run.receiver.decode import (
    DecodeError,
    UnsupportedContentType,
    decode,
    encode_response,
)
from otel_run.receiver.jsonl import JsonlWriter
from otel_run.receiver.model import attributes_to_dict, flatten_logs, flatten_metrics, flatten_spans
from otel_run.receiver.render import ConsoleRenderer, format_log, format_metrics, format_trace

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT = "00f067aa0ba902b7"
CHILD_A = "1111111111111111"
CHILD_B = "2222222222222222"
GRANDCHILD = "3333333333333333"
MISSING = "9999999999999999"
PROTOBUF = "application/x-protobuf"


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _span(
    span_id: str, parent: str = "", name: str = "op", start_ms: int = 0, duration_ms: float = 1.0, **kw: int
) -> Span:
    start = 1_700_000_000_000_000_000 + start_ms * 1_000_000
    return Span(
        trace_id=bytes.fromhex(TRACE),
        span_id=bytes.fromhex(span_id),
        parent_span_id=bytes.fromhex(parent),
        name=name,
        start_time_unix_nano=start,
        end_time_unix_nano=start + int(duration_ms * 1_000_000),
        **kw,
    )


def _trace_request(service: str, *spans: Span) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[_kv("service.name", service)]),
                scope_spans=[ScopeSpans(spans=list(spans))],
            )
        ]
    )


def _received(service: str, span: Span) -> ReceivedSpan:
    return ReceivedSpan("http/protobuf", service, {"service.name": service}, "", span)


# --- decode -----------------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_protobuf_body_decodes_to_the_same_message() -> None:
    """A binary protobuf body decodes to an equal ExportTraceServiceRequest."""
    request = _trace_request("svc", _span(ROOT, name="GET /"))
    assert decode("traces", request.SerializeToString(), PROTOBUF, None) == request


@pytest.mark.timeout(10)
def test_gzip_and_deflate_bodies_are_decompressed() -> None:
    """gzip, zlib-wrapped deflate and raw deflate bodies all decode."""
    body = _trace_request("svc", _span(ROOT)).SerializeToString()
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(body) + raw.flush()
    for data, encoding in (
        (gzip.compress(body), "gzip"),
        (zlib.compress(body), "deflate"),
        (raw_deflate, "deflate"),
    ):
        assert decode("traces", data, PROTOBUF, encoding).SerializeToString() == body


@pytest.mark.timeout(10)
def test_json_hex_ids_become_bytes() -> None:
    """OTLP/JSON hex trace, span, parent and link ids decode to the right bytes."""
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "lib"},
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": CHILD_A,
                                "parentSpanId": ROOT,
                                "name": "GET /",
                                "kind": 2,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": 1700000000002000000,
                                "status": {"code": "STATUS_CODE_ERROR"},
                                "links": [{"traceId": TRACE.upper(), "spanId": ROOT}],
                                "someFutureField": True,
                            }
                        ],
                    }
                ],
            }
        ]
    }
    request = decode("traces", json.dumps(document).encode(), "application/json; charset=utf-8", None)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == bytes.fromhex(TRACE)
    assert span.span_id == bytes.fromhex(CHILD_A)
    assert span.parent_span_id == bytes.fromhex(ROOT)
    assert span.links[0].trace_id == bytes.fromhex(TRACE)
    assert span.kind == Span.SPAN_KIND_SERVER
    assert span.status.code == Status.STATUS_CODE_ERROR
    assert span.end_time_unix_nano - span.start_time_unix_nano == 2_000_000


@pytest.mark.timeout(10)
def test_json_log_and_exemplar_ids_become_bytes() -> None:
    """Hex ids in log records and metric exemplars are converted too."""
    logs = {
        "resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": TRACE, "spanId": ROOT, "body": {}}]}]}]
    }
    record = decode("logs", json.dumps(logs).encode(), "application/json", None)
    assert record.resource_logs[0].scope_logs[0].log_records[0].span_id == bytes.fromhex(ROOT)
    point = {"asInt": "3", "exemplars": [{"asInt": "1", "traceId": TRACE, "spanId": ROOT}]}
    metrics = {
        "resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "sum": {"dataPoints": [point]}}]}]}]
    }
    decoded = decode("metrics", json.dumps(metrics).encode(), "application/json", None)
    exemplar = decoded.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0].exemplars[0]
    assert exemplar.trace_id == bytes.fromhex(TRACE)


@pytest.mark.timeout(10)
def test_json_base64_ids_are_rejected_with_a_hint() -> None:
    """A base64 id (the proto3 JSON mapping, not OTLP/JSON) fails with a message that says hex."""
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "S/kvNXezTaajzpKdDg5HNg=="}]}]}]}
    with pytest.raises(DecodeError, match="hex"):
        decode("traces", json.dumps(document).encode(), "application/json", None)


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "message"),
    [
        (b"\xff\xff\xff", PROTOBUF, None, "not a valid OTLP/protobuf traces request"),
        (b"{not json", "application/json", None, "not valid JSON"),
        (b"[1, 2]", "application/json", None, "must be an object"),
        (b'{"resourceSpans": 7}', "application/json", None, "not a valid OTLP/JSON"),
        (b"definitely not gzip", PROTOBUF, "gzip", "not valid gzip"),
        (gzip.compress(b"abc")[:-6], PROTOBUF, "gzip", "truncated"),
        (b"", PROTOBUF, "br", "unsupported Content-Encoding"),
    ],
)
@pytest.mark.timeout(10)
def test_garbage_raises_decode_error(
    body: bytes, content_type: str, encoding: str | None, message: str
) -> None:
    """Undecodable bodies raise DecodeError naming the problem."""
    with pytest.raises(DecodeError, match=message):
        decode("traces", body, content_type, encoding)


@pytest.mark.timeout(10)
def test_unknown_content_type_is_its_own_error() -> None:
    """An unknown or missing Content-Type raises UnsupportedContentType (HTTP 415)."""
    for content_type in ("text/plain", None):
        with pytest.raises(UnsupportedContentType, match="application/x-protobuf"):
            decode("traces", b"", content_type, None)


@pytest.mark.timeout(10)
def test_responses_match_the_request_format() -> None:
    """An empty success response is empty protobuf bytes or the JSON object {}."""
    assert encode_response("logs", "protobuf") == b""
    assert json.loads(encode_response("metrics", "json")) == {}


# --- model ------------------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_attributes_convert_to_python_values() -> None:
    """Every AnyValue kind, nested arrays and maps included, maps to the natural Python value."""
    nested = KeyValueList(values=[_kv("a", 1), KeyValue(key="b", value=AnyValue(bool_value=True))])
    values = [
        _kv("s", "x"),
        _kv("i", 7),
        KeyValue(key="d", value=AnyValue(double_value=1.5)),
        KeyValue(key="y", value=AnyValue(bytes_value=b"\x01")),
        KeyValue(key="l", value=AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1)]))),
        KeyValue(key="m", value=AnyValue(kvlist_value=nested)),
        KeyValue(key="empty", value=AnyValue()),
    ]
    assert attributes_to_dict(values) == {
        "s": "x",
        "i": 7,
        "d": 1.5,
        "y": b"\x01",
        "l": [1],
        "m": {"a": 1, "b": True},
        "empty": None,
    }


@pytest.mark.timeout(10)
def test_received_span_properties() -> None:
    """A flattened span exposes hex ids, kind and status names, duration and attributes."""
    span = _span(CHILD_A, ROOT, "GET /", duration_ms=12.5, kind=Span.SPAN_KIND_SERVER)
    span.status.code = Status.STATUS_CODE_OK
    span.attributes.append(_kv("http.route", "/"))
    (received,) = flatten_spans("grpc", _trace_request("svc", span))
    assert (received.trace_id, received.span_id, received.parent_span_id) == (TRACE, CHILD_A, ROOT)
    assert (received.service, received.transport, received.name) == ("svc", "grpc", "GET /")
    assert (received.kind, received.status_code) == ("SERVER", "OK")
    assert received.duration_ms == pytest.approx(12.5)
    assert received.attributes == {"http.route": "/"}


@pytest.mark.timeout(10)
def test_unknown_enum_numbers_and_missing_service_do_not_fail() -> None:
    """A kind number newer than our proto prints as the number; no service.name gives unknown_service."""
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[Span(name="x", kind=42)])])]
    )
    (received,) = flatten_spans("http/json", request)
    assert (received.kind, received.service, received.parent_span_id) == ("42", "unknown_service", "")


@pytest.mark.timeout(10)
def test_received_log_and_metric_properties() -> None:
    """Logs expose body, severity and ids; metrics expose point counts and attribute keys."""
    record = LogRecord(
        severity_number=9,
        body=AnyValue(kvlist_value=KeyValueList(values=[_kv("k", "v")])),
        trace_id=bytes.fromhex(TRACE),
        attributes=[_kv("code.lineno", 3)],
    )
    logs = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=[record])])]
    )
    (log,) = flatten_logs("http/protobuf", logs)
    assert (log.body, log.severity_text, log.severity, log.trace_id) == ('{"k":"v"}', "", "INFO", TRACE)
    assert log.attributes == {"code.lineno": 3}

    points = [
        NumberDataPoint(as_int=1, attributes=[_kv("b", "1")]),
        NumberDataPoint(attributes=[_kv("a", 1)]),
    ]
    metric = Metric(name="requests", unit="1", sum=Sum(data_points=points))
    request = ExportMetricsServiceRequest(
        resource_metrics=[ResourceMetrics(scope_metrics=[ScopeMetrics(metrics=[metric])])]
    )
    (received,) = flatten_metrics("grpc", request)
    assert (received.name, received.kind, received.data_points, received.attribute_keys) == (
        "requests",
        "sum",
        2,
        ("a", "b"),
    )


# --- render -----------------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_trace_tree_orders_children_by_start_and_marks_orphans() -> None:
    """Children nest under parents in start order; a span with a missing parent is a marked top line."""
    spans = [
        _received("app-2", _span(GRANDCHILD, CHILD_B, "GET /", start_ms=6, duration_ms=2.0, kind=2)),
        _received("app", _span(CHILD_B, ROOT, "GET", start_ms=5, duration_ms=8.1, kind=3)),
        _received("app", _span(CHILD_A, ROOT, "SELECT", start_ms=1, duration_ms=0.5, kind=1)),
        _received("app", _span(ROOT, "", "GET /chain", duration_ms=12.34, kind=2, status=Status(code=1))),
        _received("app", _span("4444444444444444", MISSING, "late", start_ms=20)),
    ]
    assert format_trace(TRACE, spans) == [
        f"trace {TRACE}  (5 spans, 2 services)",
        "  app  GET /chain  SERVER  12.3 ms  OK",
        "    app  SELECT  INTERNAL  0.5 ms",
        "    app  GET  CLIENT  8.1 ms",
        "      app-2  GET /  SERVER  2.0 ms",
        f"  app  late  1.0 ms  [orphan: parent {MISSING} not received]",
    ]


@pytest.mark.timeout(10)
def test_trace_tree_survives_a_parent_cycle() -> None:
    """Two spans naming each other as parent still print, once each."""
    spans = [_received("a", _span(CHILD_A, CHILD_B)), _received("a", _span(CHILD_B, CHILD_A, start_ms=1))]
    lines = format_trace(TRACE, spans)
    assert len(lines) == 3
    assert lines[0] == f"trace {TRACE}  (2 spans, 1 service)"


@pytest.mark.timeout(10)
def test_error_status_shows_its_message() -> None:
    """An ERROR status prints with its description."""
    span = _span(ROOT, status=Status(code=Status.STATUS_CODE_ERROR, message="boom"))
    assert format_trace(TRACE, [_received("a", span)])[1].endswith("ERROR: boom")


@pytest.mark.timeout(10)
def test_log_and_metric_lines() -> None:
    """A log is one line with service, severity, body and short trace id; metrics summarise per service."""
    record = LogRecord(
        severity_text="WARN", body=AnyValue(string_value="two\nlines"), trace_id=bytes.fromhex(TRACE)
    )
    logs = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=[_kv("service.name", "app")]),
                scope_logs=[ScopeLogs(log_records=[record])],
            )
        ]
    )
    (log,) = flatten_logs("grpc", logs)
    assert format_log(log) == "log  app  WARN  two\\nlines  trace=4bf92f35"
    request = ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                resource=Resource(attributes=[_kv("service.name", "app")]),
                scope_metrics=[ScopeMetrics(metrics=[Metric(name="a"), Metric(name="b"), Metric(name="a")])],
            )
        ]
    )
    assert format_metrics(flatten_metrics("grpc", request)) == ["metrics  app  2 metrics: a, b"]


@pytest.mark.timeout(10)
def test_renderer_prints_a_trace_once_it_settles() -> None:
    """Spans wait until their trace is quiet for `settle` seconds; late spans print as a continuation."""
    now = [100.0]
    out = io.StringIO()
    renderer = ConsoleRenderer(out, settle=1.5, clock=lambda: now[0])
    store = Store()
    store.add_listener(renderer.on_export)
    store.add("traces", "grpc", _trace_request("app", _span(ROOT, name="root")))
    now[0] += 1.0
    assert renderer.flush_settled() == 0
    store.add("traces", "grpc", _trace_request("app", _span(CHILD_A, ROOT, name="child")))
    now[0] += 1.0
    assert renderer.flush_settled() == 0
    now[0] += 0.5
    assert renderer.flush_settled() == 1
    assert out.getvalue().splitlines() == [
        f"trace {TRACE}  (2 spans, 1 service)",
        "  app  root  1.0 ms",
        "    app  child  1.0 ms",
    ]
    store.add("traces", "grpc", _trace_request("app", _span(CHILD_B, ROOT, name="late")))
    assert renderer.flush_all() == 1
    assert f"trace {TRACE}  (1 span, 1 service, continued)" in out.getvalue()


# --- store ------------------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_wait_for_wakes_when_another_thread_adds() -> None:
    """wait_for returns True as soon as a matching export arrives from another thread."""
    store = Store()
    adder = threading.Timer(0.05, store.add, ("traces", "grpc", _trace_request("app", _span(ROOT))))
    adder.start()
    try:
        assert store.wait_for(lambda s: len(s.spans()) == 1, timeout=5)
    finally:
        adder.join()


@pytest.mark.timeout(10)
def test_wait_for_times_out_false() -> None:
    """wait_for returns False when the predicate never holds."""
    assert not Store().wait_for(lambda s: bool(s.spans()), timeout=0.05)


@pytest.mark.timeout(10)
def test_store_keeps_headers_requests_and_survives_a_broken_listener() -> None:
    """Headers are kept per export (lowercased); a raising listener does not stop the add."""
    store = Store()

    def broken(_: object) -> None:
        raise RuntimeError("listener bug")

    store.add_listener(broken)
    request = _trace_request("app", _span(ROOT))
    store.add("traces", "http/protobuf", request, {"Authorization": "Bearer t"})
    store.add("logs", "grpc", ExportLogsServiceRequest(), {"x": "1"})
    assert store.last_headers("traces") == {"authorization": "Bearer t"}
    assert store.last_headers() == {"x": "1"}
    assert store.requests("traces") == [request]
    assert [s.name for s in store.spans()] == ["op"]
    store.clear()
    assert (store.spans(), store.exports(), store.last_headers()) == ([], [], {})


# --- jsonl ------------------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_jsonl_writes_one_line_per_span(tmp_path: Path) -> None:
    """Each span becomes one JSON object with hex ids, signal, transport and service."""
    path = tmp_path / "out.jsonl"
    writer = JsonlWriter(str(path))
    store = Store()
    store.add_listener(writer.on_export)
    span = _span(CHILD_A, ROOT, "GET /")
    span.attributes.append(KeyValue(key="raw", value=AnyValue(bytes_value=b"\xab")))
    store.add("traces", "http/json", _trace_request("app", span, _span(ROOT)))
    writer.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0]["signal"] == "traces"
    assert (lines[0]["transport"], lines[0]["service"], lines[0]["name"]) == ("http/json", "app", "GET /")
    assert (lines[0]["trace_id"], lines[0]["parent_span_id"]) == (TRACE, ROOT)
    assert lines[0]["attributes"] == {"raw": "ab"}


# --- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:4318", ("127.0.0.1", 4318)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost", ("localhost", 4318)),
        ("9000", ("127.0.0.1", 9000)),
        (":9000", ("127.0.0.1", 9000)),
        ("[::1]:9000", ("::1", 9000)),
        ("[::1]", ("::1", 4318)),
        ("::1", ("::1", 4318)),
        ("http://localhost:4318/", ("localhost", 4318)),
    ],
)
@pytest.mark.timeout(10)
def test_parse_address_accepts_common_forms(text: str, expected: tuple[str, int]) -> None:
    """HOST:PORT, HOST, PORT, :PORT, [IPV6]:PORT and a pasted http:// URL all parse."""
    assert parse_address(text, 4318) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("localhost:http", "port 'http'"),
        ("localhost:70000", "from 0 to 65535"),
        ("", "empty"),
        ("https://x:1", "TLS"),
        ("[::1", "IPV6"),
        ("http://x:1/v1/traces", "path"),
    ],
)
@pytest.mark.timeout(10)
def test_parse_address_rejects_bad_input_clearly(text: str, message: str) -> None:
    """Bad addresses raise ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=message):
        parse_address(text, 4318)


def test_terminal_control_characters_are_escaped() -> None:
    """An escape sequence in received telemetry is shown escaped, never sent to the terminal raw."""
    from otel_run.receiver.render import printable

    assert printable("\x1b[31mred\x1b[0m and\ttab") == "\\x1b[31mred\\x1b[0m and\ttab"


@pytest.mark.timeout(10)
def test_renderer_summarises_logs_and_metrics_once_quiet() -> None:
    """Logs and metrics are counted, not printed, and summarised once they have been quiet for
    `settle` seconds; the next summary counts only what came after."""
    now = [100.0]
    out = io.StringIO()
    renderer = ConsoleRenderer(out, settle=1.0, clock=lambda: now[0])
    store = Store()
    store.add_listener(renderer.on_export)
    record = LogRecord(severity_text="INFO", body=AnyValue(string_value="hello"))
    for service in ("api", "api", "web"):
        store.add(
            "logs",
            "grpc",
            ExportLogsServiceRequest(
                resource_logs=[
                    ResourceLogs(
                        resource=Resource(attributes=[_kv("service.name", service)]),
                        scope_logs=[ScopeLogs(log_records=[record])],
                    )
                ]
            ),
        )
    now[0] += 0.5
    renderer.flush_settled()
    assert out.getvalue() == ""
    now[0] += 0.5
    renderer.flush_settled()
    assert out.getvalue().splitlines() == ["logs     3 records (api 2, web 1); --logs prints each"]
    now[0] += 5
    renderer.flush_settled()
    renderer.flush_all()
    assert len(out.getvalue().splitlines()) == 1
