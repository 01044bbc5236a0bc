"""OTLP/HTTP receiver: ``POST /v1/{traces,metrics,logs}`` with protobuf or JSON bodies."""

from __future__ import annotations

import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

from .decode import (
    MAX_DECODED_BYTES,
    DecodeError,
    Format,
    Signal,
    UnsupportedContentType,
    content_format,
    decode,
    encode_response,
)
from .model import Transport
from .store import Store

_PATHS: dict[str, Signal] = {"/v1/traces": "traces", "/v1/metrics": "metrics", "/v1/logs": "logs"}
_CONTENT_TYPES: dict[Format, str] = {"protobuf": "application/x-protobuf", "json": "application/json"}
_TRANSPORTS: dict[Format, Transport] = {"protobuf": "http/protobuf", "json": "http/json"}


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that knows its store and speaks IPv6 when given an IPv6 host."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: Store) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.store = store
        self.connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self._connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open (keep-alive) connection: a stopped receiver answers nothing more."""
        with self._connections_lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that
        # can stall for seconds in containers; the name is only used for CGI.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps exporter connections alive; every reply sets Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "otel-run-receive"

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request access log; the receiver prints what it receives instead."""

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        signal = _PATHS.get(path)
        body = self._read_body()
        if body is None:
            return
        if signal is None:
            self._reply_text(404, f"unknown path {path}; OTLP/HTTP uses {', '.join(_PATHS)}")
            return
        try:
            fmt = content_format(self.headers.get("Content-Type"))
            request = decode(
                signal, body, self.headers.get("Content-Type"), self.headers.get("Content-Encoding")
            )
        except UnsupportedContentType as exc:
            self._reply_text(415, str(exc))
            return
        except DecodeError as exc:
            self._reply_text(400, str(exc))
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        cast(_Server, self.server).store.add(signal, _TRANSPORTS[fmt], request, headers)
        self._reply(200, _CONTENT_TYPES[fmt], encode_response(signal, fmt))

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in _PATHS:
            self._reply_text(405, f"{path} accepts POST only", allow="POST")
        else:
            self._reply_text(404, f"unknown path {path}; OTLP/HTTP uses {', '.join(_PATHS)}")

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._reply_text(400, "invalid Content-Length", close=True)
            return None
        if length > MAX_DECODED_BYTES:
            self._reply_text(413, f"body exceeds {MAX_DECODED_BYTES} bytes", close=True)
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self._reply_text(400, "malformed chunked body", close=True)
                return None
            if size == 0:
                # Discard trailers up to the blank line that ends the message.
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_DECODED_BYTES:
                self._reply_text(413, f"body exceeds {MAX_DECODED_BYTES} bytes", close=True)
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _reply_text(self, status: int, message: str, *, allow: str = "", close: bool = False) -> None:
        if close:
            # The rest of the body is unread, so the connection cannot be reused.
            self.close_connection = True
        extra = {"Allow": allow} if allow else {}
        self._reply(status, "text/plain; charset=utf-8", (message + "\n").encode("utf-8"), extra)

    def _reply(
        self, status: int, content_type: str, body: bytes, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class OtlpHttpServer:
    """Serve OTLP/HTTP on ``host:port`` (port 0 picks a free one) into ``store``.

    ``start`` binds (raising ``OSError`` if it cannot) and serves on a daemon
    thread; ``stop`` shuts down, closes the socket and ends the open keep-alive
    connections (so a stopped receiver is an outage for its clients, as a stopped
    collector is). Each connection is handled on its own thread.
    """

    def __init__(self, host: str, port: int, store: Store) -> None:
        self._address = (host, port)
        self._store = store
        self._server: _Server | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        """The host given at construction."""
        return self._address[0]

    @property
    def port(self) -> int:
        """The bound port; valid once ``start`` has returned (and after ``stop``)."""
        if self._port is None:
            raise RuntimeError("the OTLP/HTTP server is not started")
        return self._port

    def start(self) -> None:
        """Bind and start serving; raises ``OSError`` (e.g. EADDRINUSE) if binding fails."""
        self._server = _Server(self._address, self._store)
        self._port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="otlp-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if thread is not None:
            thread.join()
