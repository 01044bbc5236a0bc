"""Drive ``sample_app.app`` in-process through its WSGI callable; run under each side by hotspots.py.

    [launcher] python bench/wsgi_driver.py --requests 3000 [--path /] [--cprofile FILE]

No server and no sockets: each request is one call of ``app.wsgi_app``'s outermost
WSGI callable (which the Flask instrumentation wraps) with a fresh environ, so the time
per request is the app plus whatever the telemetry layer adds, including the exporter
threads competing for the GIL. Prints one JSON line: wall and CPU (all threads of the
process) microseconds per request for each of ``--batches`` equal batches, and, with
``--cprofile``, dumps a cProfile of the measured requests to FILE.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sample_app.app import app


def environ(path: str) -> dict[str, Any]:
    """A minimal WSGI environ for ``GET path`` from 127.0.0.1."""
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "bench/1",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def call(path: str) -> None:
    """One request through the app's WSGI callable; raises unless it answers 200."""
    status: list[str] = []

    def start_response(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status.append(code)
        return lambda data: None

    body = app(environ(path), start_response)
    try:
        for _ in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    if not status or not status[0].startswith("200"):
        raise RuntimeError(f"GET {path} answered {status}")


def main(argv: list[str] | None = None) -> int:
    """Warm up, then time (and optionally profile) the requests."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--path", default="/")
    parser.add_argument("--cprofile", default="")
    args = parser.parse_args(argv)
    for _ in range(args.warmup):
        call(args.path)
    per_batch = max(1, args.requests // args.batches)
    profile = cProfile.Profile() if args.cprofile else None
    timings = []
    cpu = []
    for _ in range(args.batches):
        if profile is not None:
            profile.enable()
        began, began_cpu = time.perf_counter(), time.process_time()
        for _ in range(per_batch):
            call(args.path)
        timings.append((time.perf_counter() - began) / per_batch * 1e6)
        cpu.append((time.process_time() - began_cpu) / per_batch * 1e6)
        if profile is not None:
            profile.disable()
    if profile is not None:
        profile.dump_stats(args.cprofile)
    result = {
        "path": args.path,
        "requests": per_batch * args.batches,
        "us_per_request": timings,
        "cpu_us": cpu,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
