"""A controllable fake OTLP/HTTP collector on 127.0.0.1, for the outages real ones have.

It answers every POST with the status, delay and headers the test sets (a slow
collector: 200 after 3 s; a rate-limiting one: 429 with Retry-After; an overloaded one:
503), and counts the spans and log records it was sent, decoded with the official
``opentelemetry-proto`` messages. ``Silent`` accepts connections and never answers.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


class FakeCollector:
    """An OTLP/HTTP endpoint whose answers the test controls; ``url`` is its base URL."""

    def __init__(
        self, status: int = 200, delay_s: float = 0.0, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.delay_s = delay_s
        self.headers = dict(headers or {})
        self.requests = 0
        self.spans = 0
        self.logs = 0
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                collector._count(self.path, body)
                time.sleep(collector.delay_s)
                self.send_response(collector.status)
                for name, value in collector.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL, for OTEL_EXPORTER_OTLP_ENDPOINT."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _count(self, path: str, body: bytes) -> None:
        spans = logs = 0
        try:
            if path.endswith("/v1/traces"):
                traces = ExportTraceServiceRequest.FromString(body)
                spans = sum(len(s.spans) for r in traces.resource_spans for s in r.scope_spans)
            elif path.endswith("/v1/logs"):
                records = ExportLogsServiceRequest.FromString(body)
                logs = sum(len(s.log_records) for r in records.resource_logs for s in r.scope_logs)
        except Exception:  # noqa: BLE001 - a body we cannot decode counts as a request only
            pass
        with self._lock:
            self.requests += 1
            self.spans += spans
            self.logs += logs

    def start(self) -> FakeCollector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeCollector:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


class Silent:
    """A port that accepts TCP connections (the kernel's backlog) and never answers."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def __enter__(self) -> Silent:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._socket.close()


def refusing_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
