"""``otel-run receive``: parse addresses, run a Receiver in the foreground, print what arrives."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from types import FrameType
from typing import Any, TextIO

from .address import format_host_port, parse_address
from .facade import DEFAULT_GRPC, DEFAULT_HTTP, Address, ListenError, Receiver
from .jsonl import JsonlWriter
from .render import DEFAULT_SETTLE, ConsoleRenderer
from .store import Store

PREFIX = "otel-run receive:"
DISABLED = ("off", "none")


def _resolve(flag: str, text: str | None, default: Address) -> Address | None:
    """Parse one --http/--grpc value; ``None`` means the default, "off" disables. Raises ``ValueError``."""
    if text is None:
        return default
    if text.strip().lower() in DISABLED:
        return None
    try:
        return parse_address(text, default[1])
    except ValueError as exc:
        raise ValueError(f"{PREFIX} {flag} {exc}") from None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _banner(receiver: Receiver, jsonl: str | None) -> str:
    endpoints: list[str] = []
    with contextlib.suppress(RuntimeError):
        endpoints.append(f"{receiver.http_url} (OTLP/HTTP protobuf+JSON)")
    with contextlib.suppress(RuntimeError):
        endpoints.append(f"{receiver.grpc_target} (OTLP/gRPC)")
    extra = f"; writing JSON lines to {jsonl}" if jsonl else ""
    return f"{PREFIX} listening on {' and '.join(endpoints)}{extra}; Ctrl-C to stop"


def _install_stop_handlers(stop: threading.Event) -> dict[int, Any]:
    """Route SIGINT and SIGTERM to ``stop``; returns the previous handlers (none off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        # signal.signal only works on the main thread; callers there stop via the event.
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def run(
    http: str | None,
    grpc: str | None,
    jsonl: str | None,
    out: TextIO,
    settle: float = DEFAULT_SETTLE,
    *,
    show_logs: bool = False,
    show_metrics: bool = False,
    err: TextIO | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Serve OTLP in the foreground until SIGINT/SIGTERM (or ``stop`` is set); return the exit code.

    ``http`` / ``grpc`` are ``HOST:PORT`` texts (``None`` → 127.0.0.1:4318 / :4317,
    "off" → disabled). Traces print to ``out`` as trees once quiet for ``settle``
    seconds, and all remaining ones on exit; logs and metrics print as a compact summary
    unless ``show_logs`` / ``show_metrics``; ``jsonl`` names a file to append JSON
    lines to. Messages go to ``err`` (stderr). Returns 0 after a clean stop, 1 if
    an address cannot be bound or the JSON lines file cannot be opened, 2 for a
    bad address.
    """
    err = err if err is not None else sys.stderr
    try:
        http_address = _resolve("--http", http, DEFAULT_HTTP)
        grpc_address = _resolve("--grpc", grpc, DEFAULT_GRPC)
    except ValueError as exc:
        print(exc, file=err)
        return 2
    if http_address is None and grpc_address is None:
        print(f"{PREFIX} both --http and --grpc are off; enable at least one", file=err)
        return 2

    writer: JsonlWriter | None = None
    if jsonl:
        try:
            writer = JsonlWriter(jsonl)
        except OSError as exc:
            print(f"{PREFIX} cannot write --jsonl {jsonl}: {exc.strerror or exc}", file=err)
            return 1

    store = Store()
    renderer = ConsoleRenderer(out, settle, show_logs=show_logs, show_metrics=show_metrics)
    store.add_listener(renderer.on_export)
    if writer is not None:
        store.add_listener(writer.on_export)
    receiver = Receiver(http=http_address, grpc=grpc_address, store=store)
    try:
        receiver.start()
    except ListenError as exc:
        flag = "--http" if exc.transport == "http" else "--grpc"
        print(
            f"{PREFIX} cannot listen on {format_host_port(exc.host, exc.port)}: {exc.reason}; "
            f"pick another with {flag} HOST:PORT",
            file=err,
        )
        if writer is not None:
            writer.close()
        return 1

    stopping = stop if stop is not None else threading.Event()
    previous = _install_stop_handlers(stopping)
    try:
        print(_banner(receiver, jsonl), file=err, flush=True)
        # Tick often enough that a trace prints close to `settle` after its last span.
        tick = min(0.25, max(settle / 4, 0.01))
        while not stopping.wait(tick):
            renderer.flush_settled()
    finally:
        receiver.stop()
        renderer.flush_all()
        if writer is not None:
            writer.close()
        # Last, so a second Ctrl-C during the final flush cannot interrupt it.
        _restore_handlers(previous)
    spans, logs, metrics = len(store.spans()), len(store.logs()), len(store.metrics())
    counts = f"{_count(spans, 'span')}, {_count(logs, 'log record')}, {_count(metrics, 'metric')}"
    print(f"{PREFIX} stopped; received {counts}", file=err, flush=True)
    return 0
