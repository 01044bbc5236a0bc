"""What the breadth tests share: the services' directory, a downstream server, the trace check.

Each service under ``services/`` handles one request with a database query and an outgoing
HTTP call to ``Downstream``; ``assert_one_traced_request`` checks the trace that must come of it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from otel_run.receiver import ReceivedSpan, Receiver

SERVICES = Path(__file__).resolve().parent / "services"
FAST_EXPORT = {
    "OTEL_BSP_SCHEDULE_DELAY": "100",
    "OTEL_BLRP_SCHEDULE_DELAY": "100",
    "OTEL_METRIC_EXPORT_INTERVAL": "500",
}


class Downstream:
    """An HTTP server on 127.0.0.1 that answers 200 and keeps the traceparent of each request."""

    def __init__(self) -> None:
        self.traceparents: list[str] = []
        seen = self.traceparents

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.headers.get("traceparent", ""))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stock"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def assert_one_traced_request(receiver: Receiver, downstream: Downstream, service: str, route: str) -> None:
    """A SERVER span for ``route`` with a sqlite SELECT and an HTTP CLIENT span under it."""

    def server_span() -> ReceivedSpan | None:
        return next(
            (
                s
                for s in receiver.store.spans()
                if s.kind == "SERVER" and s.attributes.get("http.route") == route
            ),
            None,
        )

    def complete() -> bool:
        server = server_span()
        if server is None:
            return False
        names = {(s.kind, s.name.split()[0]) for s in receiver.store.spans() if s.trace_id == server.trace_id}
        return {("CLIENT", "SELECT"), ("CLIENT", "GET")} <= names

    assert receiver.store.wait_for(lambda store: complete(), 20), [
        (s.service, s.kind, s.name, s.attributes.get("http.route")) for s in receiver.store.spans()
    ]
    server = server_span()
    assert server is not None and server.service == service
    in_trace = [s for s in receiver.store.spans() if s.trace_id == server.trace_id]
    select = next(s for s in in_trace if s.name.startswith("SELECT"))
    assert select.attributes["db.system"] == "sqlite"
    client = next(s for s in in_trace if s.kind == "CLIENT" and s.name.startswith("GET"))
    spans_by_id = {s.span_id: s for s in in_trace}

    def under_server(span: ReceivedSpan) -> bool:
        while span.parent_span_id:
            if span.parent_span_id == server.span_id:
                return True
            span = spans_by_id[span.parent_span_id]
        return False

    assert under_server(select) and under_server(client), "database and HTTP spans are not in the request"
    assert downstream.traceparents and downstream.traceparents[-1].split("-")[1:3] == [
        server.trace_id,
        client.span_id,
    ], "the outgoing call did not carry the trace context"
