"""End-to-end tests of the OTLP receiver: real sockets, real OTLP, a real subprocess."""

from __future__ import annotations

import base64
import gzip
import importlib.util
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import MetricsServiceStub
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Gauge,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from otel_run.receiver import ListenError, Receiver, Store, run

WRAPPER = Path(__file__).resolve().parents[2] / "wrapper"
FIXTURE_MODULE = Path(__file__).resolve().parents[1] / "receiver_fixture.py"
BANNER = re.compile(
    r"listening on http://127\.0\.0\.1:(\d+) \(OTLP/HTTP protobuf\+JSON\) and 127\.0\.0\.1:(\d+)"
)
PROTOBUF = {"Content-Type": "application/x-protobuf"}


# --- helpers ----------------------------------------------------------------------------------


def _resource(service: str) -> Resource:
    return Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))])


def _trace(
    service: str, trace_id: str, names: tuple[str, str] = ("GET /chain", "GET")
) -> ExportTraceServiceRequest:
    """A two-span trace: a SERVER root and a CLIENT child 1 ms into it."""
    start = time.time_ns()
    root = Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex("00f067aa0ba902b7"),
        name=names[0],
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=start,
        end_time_unix_nano=start + 12_300_000,
    )
    child = Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex("1111111111111111"),
        parent_span_id=root.span_id,
        name=names[1],
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start + 1_000_000,
        end_time_unix_nano=start + 9_100_000,
    )
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(resource=_resource(service), scope_spans=[ScopeSpans(spans=[root, child])])
        ]
    )


def _otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """Encode as OTLP/JSON: proto3 JSON, but with hex ids and integer enums as senders do."""
    document: dict[str, Any] = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document).encode()


class ReceiveProcess:
    """`otel-run receive` (as `python -m otel_run receive`) in a subprocess, its output collected by line."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(WRAPPER), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "otel_run", "receive", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._cond = threading.Condition()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            with self._cond:
                lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, lines: list[str], predicate: Callable[[list[str]], bool], timeout: float) -> bool:
        """Wait until ``predicate(lines)`` holds for a copy of the collected lines."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(list(lines)), timeout)

    def ports(self, timeout: float = 20) -> tuple[int, int]:
        """The HTTP and gRPC ports from the startup line."""
        assert self.wait_for(self.stderr, lambda ls: any(BANNER.search(x) for x in ls), timeout), self.stderr
        match = next(m for m in map(BANNER.search, self.stderr) if m)
        return int(match.group(1)), int(match.group(2))

    def finish(self, signum: int, timeout: float = 15) -> int:
        """Send ``signum`` to the process by PID and return its exit code; readers are drained."""
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that some other socket is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# --- the CLI as a subprocess ------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_receive_prints_trees_and_jsonl_for_every_transport(tmp_path: Path) -> None:
    """Traces sent over HTTP protobuf (gzip), HTTP JSON and gRPC print as trees and land in the JSONL file."""
    jsonl = tmp_path / "spans.jsonl"
    receiver = ReceiveProcess(
        "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--jsonl", str(jsonl), "--settle", "0.2"
    )
    try:
        http_port, grpc_port = receiver.ports()
        ids = {"proto": "aa" * 16, "json": "bb" * 16, "grpc": "cc" * 16}
        reply = requests.post(
            f"http://127.0.0.1:{http_port}/v1/traces",
            data=gzip.compress(_trace("svc-proto", ids["proto"]).SerializeToString()),
            headers={**PROTOBUF, "Content-Encoding": "gzip"},
            timeout=10,
        )
        assert reply.status_code == 200
        reply = requests.post(
            f"http://127.0.0.1:{http_port}/v1/traces",
            data=_otlp_json(_trace("svc-json", ids["json"])),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert (reply.status_code, reply.json()) == (200, {})
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            TraceServiceStub(channel).Export(_trace("svc-grpc", ids["grpc"]), timeout=10)

        headers = [f"trace {trace_id}  (2 spans, 1 service)" for trace_id in ids.values()]
        assert receiver.wait_for(receiver.stdout, lambda ls: all(h in ls for h in headers), 20), (
            receiver.stdout
        )
        block = receiver.stdout.index(headers[0])
        assert receiver.stdout[block + 1 : block + 3] == [
            "  svc-proto  GET /chain  SERVER  12.3 ms",
            "    svc-proto  GET  CLIENT  8.1 ms",
        ]
        assert receiver.finish(signal.SIGTERM) == 0
    finally:
        receiver.kill()
    assert receiver.stderr[-1] == "otel-run receive: stopped; received 6 spans, 0 log records, 0 metrics"
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert {(line["service"], line["transport"]) for line in lines} == {
        ("svc-proto", "http/protobuf"),
        ("svc-json", "http/json"),
        ("svc-grpc", "grpc"),
    }
    assert {line["trace_id"] for line in lines} == set(ids.values())


def _logs(service: str, *bodies: str) -> ExportLogsServiceRequest:
    records = [LogRecord(severity_text="INFO", body=AnyValue(string_value=body)) for body in bodies]
    return ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=_resource(service), scope_logs=[ScopeLogs(log_records=records)])]
    )


def _metrics(service: str, *names: str) -> ExportMetricsServiceRequest:
    metrics = [
        Metric(name=name, gauge=Gauge(data_points=[NumberDataPoint(as_int=1, time_unix_nano=time.time_ns())]))
        for name in names
    ]
    return ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(resource=_resource(service), scope_metrics=[ScopeMetrics(metrics=metrics)])
        ]
    )


def _send_mixed(http_port: int, trace_id: str) -> None:
    """One trace, three log records (one with a terminal escape, as werkzeug's banner has) and metrics."""
    for path, message in (
        ("/v1/logs", _logs("web", "started \x1b[33mdev server\x1b[0m", "GET / 200", "GET /items 200")),
        ("/v1/metrics", _metrics("web", "http.server.duration", "http.server.active_requests")),
        ("/v1/traces", _trace("web", trace_id)),
    ):
        reply = requests.post(
            f"http://127.0.0.1:{http_port}{path}",
            data=message.SerializeToString(),
            headers=PROTOBUF,
            timeout=10,
        )
        assert reply.status_code == 200


@pytest.mark.timeout(60)
@pytest.mark.parametrize("flags", [(), ("--logs", "--metrics")], ids=["default", "verbose"])
def test_receive_shows_trees_and_summarises_logs_and_metrics(flags: tuple[str, ...]) -> None:
    """By default only trace trees and one compact logs/metrics summary print; --logs and
    --metrics print every record and export instead."""
    receiver = ReceiveProcess("--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--settle", "0.2", *flags)
    trace_id = "dd" * 16
    try:
        http_port, _grpc_port = receiver.ports()
        _send_mixed(http_port, trace_id)
        header = f"trace {trace_id}  (2 spans, 1 service)"
        assert receiver.wait_for(receiver.stdout, lambda ls: header in ls, 20), receiver.stdout
        expected = "log  web" if flags else "logs     3 records (web 3); --logs prints each"
        assert receiver.wait_for(receiver.stdout, lambda ls: any(x.startswith(expected) for x in ls), 20), (
            receiver.stdout
        )
        assert receiver.finish(signal.SIGTERM) == 0
    finally:
        receiver.kill()
    out = receiver.stdout
    if flags:
        assert len([line for line in out if line.startswith("log  web")]) == 3
        assert any(line.startswith("metrics  web  2 metrics:") for line in out)
        assert not any(line.startswith("logs     ") for line in out)
    else:
        # The trace and the summary each print once quiet; which comes first depends on timing.
        assert sorted(line for line in out if line.strip()) == sorted(
            [
                header,
                "  web  GET /chain  SERVER  12.3 ms",
                "    web  GET  CLIENT  8.1 ms",
                "logs     3 records (web 3); --logs prints each",
                "metrics  2 names from 1 service (web); --metrics prints each export",
            ]
        )


@pytest.mark.timeout(60)
def test_receive_prints_unsettled_traces_on_sigint() -> None:
    """A trace still waiting to settle is printed when Ctrl-C stops the receiver, which exits 0."""
    receiver = ReceiveProcess("--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--settle", "600")
    try:
        http_port, _ = receiver.ports()
        trace_id = "dd" * 16
        reply = requests.post(
            f"http://127.0.0.1:{http_port}/v1/traces",
            data=_trace("svc", trace_id).SerializeToString(),
            headers=PROTOBUF,
            timeout=10,
        )
        # The reply is sent after the spans are stored, so nothing races the signal.
        assert ExportTraceServiceResponse.FromString(reply.content) == ExportTraceServiceResponse()
        assert not any(line.startswith("trace ") for line in receiver.stdout)
        assert receiver.finish(signal.SIGINT) == 0
    finally:
        receiver.kill()
    assert f"trace {trace_id}  (2 spans, 1 service)" in receiver.stdout


@pytest.mark.parametrize("flag", ["--http", "--grpc"])
@pytest.mark.timeout(60)
def test_receive_reports_a_busy_port_in_one_line(flag: str, busy_port: int) -> None:
    """A port already in use gives exactly one line naming it and the flag to change, and exit 1."""
    other = "--grpc" if flag == "--http" else "--http"
    result = subprocess.run(
        [sys.executable, "-m", "otel_run.receiver", flag, f"127.0.0.1:{busy_port}", other, "127.0.0.1:0"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(WRAPPER)},
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"otel-run receive: cannot listen on 127.0.0.1:{busy_port}: address already in use; "
        f"pick another with {flag} HOST:PORT"
    ]
    assert result.stdout == ""


@pytest.mark.timeout(60)
def test_receive_rejects_a_bad_address() -> None:
    """An unparsable --http value is a usage error (exit 2) that names the flag and the problem."""
    result = subprocess.run(
        [sys.executable, "-m", "otel_run.receiver", "--http", "localhost:http"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(WRAPPER)},
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "otel-run receive: --http port 'http' in 'localhost:http' is not a number from 0 to 65535"
    ]


@pytest.mark.timeout(60)
def test_receiver_imports_neither_grpc_for_http_nor_the_sdk() -> None:
    """HTTP-only use never imports grpc, and no part of the receiver imports the OpenTelemetry SDK."""
    code = (
        "import sys\n"
        "from otel_run.receiver import Receiver\n"
        "Receiver(http=('127.0.0.1', 0), grpc=None).start().stop()\n"
        "assert 'grpc' not in sys.modules, 'grpc imported'\n"
        "import otel_run.receiver.grpc_server, otel_run.receiver.__main__\n"
        "sdk = [m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.exporter'))]\n"
        "assert not sdk, sdk\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(WRAPPER)},
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- the Receiver in-process ------------------------------------------------------------------


@pytest.fixture
def http_receiver() -> Iterator[Receiver]:
    """An HTTP-only receiver on a free port."""
    with Receiver(http=("127.0.0.1", 0), grpc=None) as receiver:
        yield receiver


@pytest.mark.timeout(30)
def test_http_records_headers_and_replies_in_the_request_format(http_receiver: Receiver) -> None:
    """Protobuf and JSON posts get 200 in their own format, and the export headers are kept."""
    url = f"{http_receiver.http_url}/v1/traces"
    reply = requests.post(
        url,
        data=_trace("svc", "ab" * 16).SerializeToString(),
        headers={**PROTOBUF, "Authorization": "Bearer s3cret"},
        timeout=10,
    )
    assert (reply.status_code, reply.headers["Content-Type"]) == (200, "application/x-protobuf")
    assert http_receiver.store.last_headers("traces")["authorization"] == "Bearer s3cret"
    reply = requests.post(
        url,
        data=_otlp_json(_trace("svc", "cd" * 16)),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert (reply.status_code, reply.headers["Content-Type"], reply.content) == (
        200,
        "application/json",
        b"{}",
    )
    assert [s.transport for s in http_receiver.store.spans()] == ["http/protobuf"] * 2 + ["http/json"] * 2


@pytest.mark.parametrize(
    ("request_line", "headers", "body", "expected"),
    [
        ("POST /v1/traces", {"Content-Type": "text/plain"}, b"x", (415, "unsupported Content-Type")),
        ("POST /v1/spans", PROTOBUF, b"", (404, "unknown path /v1/spans")),
        ("POST /v1/logs", PROTOBUF, b"\xff\xff", (400, "not a valid OTLP/protobuf logs request")),
        ("POST /v1/metrics", {"Content-Type": "application/json"}, b"nope", (400, "not valid JSON")),
        ("GET /v1/traces", {}, b"", (405, "POST only")),
    ],
)
@pytest.mark.timeout(30)
def test_http_rejects_bad_requests_with_a_reason(
    http_receiver: Receiver,
    request_line: str,
    headers: dict[str, str],
    body: bytes,
    expected: tuple[int, str],
) -> None:
    """Wrong media type, path, body or method get the matching status and a readable message."""
    method, path = request_line.split()
    reply = requests.request(method, http_receiver.http_url + path, data=body, headers=headers, timeout=10)
    assert (reply.status_code, expected[1] in reply.text) == (expected[0], True), reply.text
    assert http_receiver.store.exports() == []


@pytest.mark.timeout(30)
def test_grpc_records_gzip_exports_of_every_signal_with_metadata() -> None:
    """Gzip-compressed gRPC exports of traces, logs and metrics are stored with their metadata."""
    with Receiver(http=None, grpc=("127.0.0.1", 0)) as receiver:
        logs = ExportLogsServiceRequest(
            resource_logs=[
                ResourceLogs(
                    resource=_resource("svc"),
                    scope_logs=[ScopeLogs(log_records=[LogRecord(body=AnyValue(string_value="hello"))])],
                )
            ]
        )
        gauge = Metric(name="queue.depth", gauge=Gauge(data_points=[NumberDataPoint(as_int=3)]))
        metrics = ExportMetricsServiceRequest(
            resource_metrics=[
                ResourceMetrics(resource=_resource("svc"), scope_metrics=[ScopeMetrics(metrics=[gauge])])
            ]
        )
        metadata = [("authorization", "Bearer g")]
        with grpc.insecure_channel(receiver.grpc_target, compression=grpc.Compression.Gzip) as channel:
            TraceServiceStub(channel).Export(_trace("svc", "ef" * 16), metadata=metadata, timeout=10)
            LogsServiceStub(channel).Export(logs, metadata=metadata, timeout=10)
            MetricsServiceStub(channel).Export(metrics, metadata=metadata, timeout=10)
        store = receiver.store
        assert [e.signal for e in store.exports()] == ["traces", "logs", "metrics"]
        assert {h["authorization"] for h in store.headers()} == {"Bearer g"}
        assert [(log.body, log.transport) for log in store.logs()] == [("hello", "grpc")]
        assert [(m.name, m.data_points) for m in store.metrics()] == [("queue.depth", 1)]
        assert len(store.spans()) == 2


@pytest.mark.timeout(30)
def test_a_busy_port_raises_listen_error_and_leaves_nothing_running(busy_port: int) -> None:
    """When gRPC cannot bind, start raises ListenError and the HTTP server it already started is stopped."""
    receiver = Receiver(http=("127.0.0.1", 0), grpc=("127.0.0.1", busy_port))
    with pytest.raises(ListenError) as raised:
        receiver.start()
    assert (raised.value.transport, raised.value.in_use, raised.value.port) == ("grpc", True, busy_port)
    with pytest.raises(RuntimeError):
        _ = receiver.http_port


@pytest.mark.parametrize("exporter", ["http/protobuf", "http/json", "grpc"])
@pytest.mark.timeout(60)
def test_upstream_sdk_exporters_are_understood(exporter: str) -> None:
    """Spans exported by the upstream OTLP exporters (protobuf, JSON, gRPC) arrive intact."""
    from opentelemetry.sdk.resources import Resource as SdkResource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    with Receiver(http=("127.0.0.1", 0), grpc=("127.0.0.1", 0)) as receiver:
        span_exporter: Any
        if exporter == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter as ProtoExporter,
            )

            span_exporter = ProtoExporter(endpoint=f"{receiver.http_url}/v1/traces")
        elif exporter == "http/json":
            from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonExporter

            span_exporter = JsonExporter(endpoint=f"{receiver.http_url}/v1/traces")
        else:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

            span_exporter = GrpcExporter(endpoint=receiver.grpc_url, insecure=True)
        provider = TracerProvider(resource=SdkResource.create({"service.name": "upstream"}))
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("parent") as parent, tracer.start_as_current_span("child"):
            parent.set_attribute("answer", 42)
        provider.shutdown()
        store: Store = receiver.store
        assert store.wait_for(lambda s: len(s.spans()) == 2, timeout=20)
        child, parent_span = store.spans()
        assert child.transport == exporter
        assert (child.service, child.name, parent_span.name) == ("upstream", "child", "parent")
        assert child.parent_span_id == parent_span.span_id
        assert child.trace_id == format(parent.get_span_context().trace_id, "032x")
        assert parent_span.attributes["answer"] == 42


@pytest.mark.timeout(30)
def test_start_receiver_fixture_gives_a_working_receiver() -> None:
    """tests/receiver_fixture.start_receiver() listens on free ports for both transports."""
    spec = importlib.util.spec_from_file_location("receiver_fixture", FIXTURE_MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    receiver: Receiver = module.start_receiver()
    try:
        assert receiver.http_port > 0 and receiver.grpc_port > 0
        assert receiver.http_url == f"http://127.0.0.1:{receiver.http_port}"
        assert receiver.grpc_url == f"http://127.0.0.1:{receiver.grpc_port}"
        reply = requests.post(
            f"{receiver.http_url}/v1/traces",
            data=_trace("svc", "12" * 16).SerializeToString(),
            headers=PROTOBUF,
            timeout=10,
        )
        assert reply.status_code == 200
        assert receiver.store.wait_for(lambda s: len(s.spans()) == 2, timeout=5)
    finally:
        receiver.stop()


@pytest.mark.timeout(30)
def test_run_in_a_thread_stops_when_its_event_is_set() -> None:
    """run() off the main thread serves HTTP only ('--grpc off') and returns 0 once `stop` is set."""
    out, err, stop = io.StringIO(), io.StringIO(), threading.Event()
    result: list[int] = []
    worker = threading.Thread(
        target=lambda: result.append(run("127.0.0.1:0", "off", None, out, 60, err=err, stop=stop))
    )
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while "listening on" not in err.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)  # StringIO has no way to wait on; poll with a deadline.
        match = re.search(r"http://127\.0\.0\.1:(\d+) \(OTLP/HTTP protobuf\+JSON\); Ctrl-C", err.getvalue())
        assert match, err.getvalue()
        reply = requests.post(
            f"http://127.0.0.1:{match.group(1)}/v1/traces",
            data=_trace("svc", "ee" * 16).SerializeToString(),
            headers=PROTOBUF,
            timeout=10,
        )
        assert reply.status_code == 200
    finally:
        stop.set()
        worker.join(timeout=20)
    assert result == [0]
    assert f"trace {'ee' * 16}  (2 spans, 1 service)" in out.getvalue().splitlines()
