"""The pure parts of loss accounting: drop counts at the source, reasons from HTTP attempts,
proxy variables, cut values, and the lines the watcher writes."""

from __future__ import annotations

import threading

import pytest
import requests

from otel_run.config.envparse import cut
from otel_run.config.proxies import proxy_variable
from otel_run.runtime.exportwatch import Destination, Watcher
from otel_run.runtime.httpwatch import describe, describe_error
from otel_run.runtime.report import _bounded

DEST = Destination("traces", "http://c:4318/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT", "http/protobuf")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _watcher() -> tuple[Watcher, list[str], Clock]:
    lines: list[str] = []
    clock = Clock()
    watcher = Watcher(lines.append, clock=clock)
    watcher.destinations["traces"] = DEST
    return watcher, lines, clock


class _BlockedExporter:
    """An exporter that holds every export until released: the queue behind it fills."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, batch: object) -> object:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.release.wait(10)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()

    def force_flush(self, timeout_millis: int = 0) -> bool:
        return True


@pytest.mark.timeout(30)
def test_every_queue_full_drop_is_counted_at_the_source() -> None:
    """5,000 spans into a queue of 100 behind a stuck exporter: every drop is counted, not 1 per 20 s."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    watcher, _, _ = _watcher()
    exporter = _BlockedExporter()
    processor = BatchSpanProcessor(
        exporter, max_queue_size=100, max_export_batch_size=10, schedule_delay_millis=10
    )
    watcher.watch_processor("traces", processor, 100)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    for _ in range(5000):
        tracer.start_span("s").end()
    queued_now = len(processor._batch_processor._queue)
    counts = watcher.snapshot()["traces"]
    exporter.release.set()
    provider.shutdown()
    # every span is either dropped, queued, or in the one stuck batch (at most one batch of 10)
    assert 5000 - queued_now - 10 <= counts.queue_full <= 5000 - queued_now
    assert counts.dropped == counts.queue_full


def test_lost_at_exit_counts_what_is_still_queued_or_in_flight() -> None:
    """After a flush cut short, the items still queued and the batch in flight are lost at exit."""
    watcher, lines, _ = _watcher()

    class Processor:
        _batch_processor = type("BP", (), {"_queue": [1, 2, 3]})()

    watcher.watch_processor("traces", Processor(), 2048)
    watcher.begin_export("traces", 7)
    watcher.count_lost_at_exit()
    watcher.final_report()
    assert watcher.snapshot()["traces"].lost_at_exit == 10
    assert lines == ["exiting: 10 spans were dropped (lost at exit 10)"]


def test_overflow_is_told_once_from_the_export_thread_then_summarised() -> None:
    """Queue-full drops with successful exports: one line, a summary after a minute, the exit line."""
    watcher, lines, clock = _watcher()
    watcher.dropped("traces", "queue_full", 500)
    assert lines == []  # counted on the app's thread; told by the export thread
    watcher.begin_export("traces", 512)
    watcher.end_export("traces", True, 512, 3.0)
    assert len(lines) == 1 and "the traces queue is full" in lines[0] and "took 3.0 s" in lines[0]
    watcher.dropped("traces", "queue_full", 700)
    clock.now += 61
    watcher.end_export("traces", True, 512, 3.0)
    assert (
        len(lines) == 2
        and lines[1] == "traces: 700 spans dropped in the last 61 s; 1,200 so far (queue full 1,200)"
    )
    watcher.final_report()
    assert lines[2] == "exiting: 1,200 spans were dropped (queue full 1,200)"
    assert watcher.snapshot()["traces"].exported == 1024


def test_snapshot_is_a_copy() -> None:
    """Readers (otel-run status) get a copy they can keep; counting goes on in the watcher."""
    watcher, _, _ = _watcher()
    watcher.dropped("logs", "export_failed", 3)
    snapshot = watcher.snapshot()
    watcher.dropped("logs", "export_failed", 3)
    assert snapshot["logs"].export_failed == 3 and watcher.snapshot()["logs"].export_failed == 6


class _Result:
    def __init__(self, status: int | None, reason: str = "", headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.reason = reason
        self.error = None
        self._headers = headers or {}

    def headers(self) -> dict[str, str]:
        return self._headers


def test_429_with_retry_after_is_rate_limiting() -> None:
    """A 429 says rate-limited and the collector's retry-after, and its fix is not a timeout."""
    attempt = describe(_Result(429, "Too Many Requests", {"retry-after": "30"}))
    assert attempt.reason == (
        "HTTP 429 Too Many Requests (rate-limited; the collector asks to retry after 30 s)"
    )
    from otel_run.runtime.exportreason import hint

    assert "rate-limiting" in hint(DEST, attempt.reason)
    assert "TIMEOUT" not in hint(DEST, attempt.reason)


def test_refused_and_proxy_errors_are_told_apart() -> None:
    """requests' errors: a refused connection, and a proxy that refuses, named as such."""
    refused = requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused"))
    assert describe_error(refused).refused and describe_error(refused).reason == "connection refused"
    proxy = requests.exceptions.ProxyError(ConnectionRefusedError(111, "Connection refused"))
    attempt = describe_error(proxy)
    assert attempt.via_proxy and attempt.reason == "cannot go through the proxy (connection refused)"
    from otel_run.runtime.exportreason import hint

    dest = Destination(
        "traces", "http://c:4318/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT", "http/protobuf", "HTTP_PROXY"
    )
    fix = hint(dest, attempt.reason)
    assert "HTTP_PROXY" in fix and "NO_PROXY" in fix and "collector running" not in fix


def test_proxy_variable_as_requests_picks_it() -> None:
    """Lower case first, then upper case, then all_proxy; no_proxy wins."""
    assert proxy_variable("http://c:4318", {"HTTP_PROXY": "http://p:3128"}) == "HTTP_PROXY"
    assert proxy_variable("http://c:4318", {"http_proxy": "x", "HTTP_PROXY": "y"}) == "http_proxy"
    assert proxy_variable("https://c", {"HTTP_PROXY": "x"}) is None
    assert proxy_variable("https://c", {"ALL_PROXY": "x"}) == "ALL_PROXY"
    assert proxy_variable("http://c.svc:4318", {"HTTP_PROXY": "x", "NO_PROXY": "svc"}) is None


def test_long_values_are_cut_with_their_length() -> None:
    """A 100 KB value becomes 80 characters, an ellipsis and its length, wherever a line shows it."""
    assert cut("short") == "short"
    assert cut("x" * 102_400) == "x" * 80 + "… (102,400 characters)"
    line = _bounded("service " + "x" * 102_400 + " and traces → http://c")
    assert len(line) < 200 and line.endswith("characters) and traces → http://c")
    assert len(_bounded("word " * 30_000)) < 2100
