"""A cheap OTLP/HTTP sink for the benchmarks: 200 to every POST, nothing decoded.

    python bench/sink.py [--port 0]

Prints the port it listens on (127.0.0.1 only) as the first line of stdout, then serves
until it gets SIGTERM or SIGINT. A real receiver decodes protobuf and would eat CPU the
benchmark is measuring; this one reads the body, counts it and answers with an empty
``Export*ServiceResponse`` (zero bytes is a valid protobuf message). ``GET /stats`` returns
``{"requests": N, "bytes": N, "by_path": {...}}`` as JSON.

HTTP/1.1 keep-alive is supported, since upstream's exporters reuse one ``requests.Session``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes = 0
        self.by_path: dict[str, list[int]] = {}

    def add(self, path: str, size: int) -> None:
        with self.lock:
            self.requests += 1
            self.bytes += size
            entry = self.by_path.setdefault(path, [0, 0])
            entry[0] += 1
            entry[1] += size

    def as_json(self) -> bytes:
        with self.lock:
            by_path = {path: {"requests": n, "bytes": b} for path, (n, b) in self.by_path.items()}
            return json.dumps({"requests": self.requests, "bytes": self.bytes, "by_path": by_path}).encode()


COUNTS = _Counts()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)
        COUNTS.add(self.path, length)
        self.send_response(200)
        self.send_header("Content-Type", self.headers.get("Content-Type") or "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        body = COUNTS.as_json() if self.path == "/stats" else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    """Serve on 127.0.0.1 until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _Handler)
    server.daemon_threads = True

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.5)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
