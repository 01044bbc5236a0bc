"""Export trouble is told once, summarised at most once a minute, and its recovery announced."""

from __future__ import annotations

import logging
import sys

import pytest

from otel_run.runtime.exportwatch import Destination, Watcher, best_reason, hint, summarize_reason

DEST = Destination(
    "traces", "http://collector:4318/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT", "http/protobuf"
)


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


def _fail(
    watcher: Watcher, items: int, message: str = "Failed to export spans batch code: 503, reason: Busy"
) -> None:
    watcher.begin_export()
    record = logging.LogRecord("opentelemetry.exporter.x", logging.ERROR, __file__, 1, message, None, None)
    watcher.upstream_message(record)
    watcher.end_export("traces", False, items)


def test_first_failure_is_one_line_with_url_reason_and_fix() -> None:
    """The first failed export prints one line naming the URL, the reason and what to do."""
    watcher, lines, _ = _watcher()
    _fail(watcher, 10)
    _fail(watcher, 10)
    assert len(lines) == 1
    assert "cannot export traces to http://collector:4318/v1/traces: HTTP 503 Busy" in lines[0]


def test_summary_at_most_once_a_minute_with_counts() -> None:
    """Failures keep being counted; a summary line appears only after 60 s, with the total dropped."""
    watcher, lines, clock = _watcher()
    _fail(watcher, 10)
    for _ in range(50):
        clock.now += 1
        _fail(watcher, 10)
    assert len(lines) == 1  # 50 s later: still nothing new
    clock.now += 11
    _fail(watcher, 10)
    assert len(lines) == 2
    assert "still cannot export traces" in lines[1] and "520 spans dropped so far" in lines[1]
    clock.now += 5
    _fail(watcher, 10)
    assert len(lines) == 2


def test_queue_overflow_is_counted_not_printed() -> None:
    """Upstream's per-item 'Queue full' warnings become a count, not lines."""
    watcher, lines, _ = _watcher()
    for _ in range(1000):
        record = logging.LogRecord(
            "opentelemetry.sdk._shared_internal",
            logging.WARNING,
            __file__,
            1,
            "Queue full, dropping %s.",
            ("Span",),
            None,
        )
        watcher.upstream_message(record)
    assert lines == []
    assert watcher.counts["traces"].queue_full == 1000


def test_recovery_is_announced_once_with_the_drop_count() -> None:
    """The first success after failures says the export works again and how much was lost."""
    watcher, lines, clock = _watcher()
    _fail(watcher, 7)
    clock.now += 30
    watcher.begin_export()
    watcher.end_export("traces", True, 5)
    watcher.begin_export()
    watcher.end_export("traces", True, 5)
    assert len(lines) == 2
    assert "exporting traces to http://collector:4318/v1/traces again after 30 s; 7 spans" in lines[1]


def test_muted_watcher_has_nothing_to_say() -> None:
    """A reloader's watcher process (muted) reports nothing at exit."""
    watcher, lines, _ = _watcher()
    watcher.final_report()
    assert lines == []


def test_reasons_are_short_and_credential_free() -> None:
    """Upstream messages are reduced to a short reason, with URL credentials removed."""
    assert (
        summarize_reason("Failed to export spans batch code: 404, reason: Not Found") == "HTTP 404 Not Found"
    )
    refused = (
        "Transient error HTTPConnectionPool(host='h', port=9): Max retries exceeded with url: /v1/traces "
        "(Caused by NewConnectionError(\"HTTPConnection(host='h', port=9): Failed to establish a new "
        'connection: [Errno 111] Connection refused")) encountered while exporting spans batch'
    )
    assert summarize_reason(refused) == "connection refused"
    grpc = "Failed to export traces to h:4317, error code: StatusCode.UNAVAILABLE, error details: no route"
    assert summarize_reason(grpc) == "gRPC UNAVAILABLE (no route)"
    assert "secret" not in summarize_reason("error posting to http://user:secret@h/v1/traces")


def test_the_specific_reason_beats_the_generic_last_line() -> None:
    """'Failed to export ... due to timeout, max retries' does not hide the transient error before it."""
    messages = [
        "Transient error [Errno -2] Name or service not known encountered while exporting spans batch",
        "Failed to export spans batch due to timeout, max retries or shutdown.",
    ]
    assert best_reason(messages) == "name or service not known"


def test_hints_name_the_variable_to_fix() -> None:
    """A 404 on a signal endpoint names that variable and the path it needs."""
    signal_endpoint = Destination(
        "traces", "http://c:4318/", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http/protobuf"
    )
    assert hint(signal_endpoint, "HTTP 404 Not Found") == (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as-is; it must end in /v1/traces"
    )
    assert "OTEL_EXPORTER_OTLP_HEADERS" in hint(DEST, "HTTP 401 Unauthorized")
    assert "nothing is listening" in hint(DEST, "connection refused")


def test_uwsgi_without_threads_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    """A uWSGI interpreter reporting has_threads=0 is recognised (uWSGI < 2.0.28 without enable-threads)."""
    import types

    from otel_run.runtime.servers import uwsgi as uwsgi_support

    fake = types.ModuleType("uwsgi")
    fake.has_threads = 0  # type: ignore[attr-defined]
    fake.opt = {"master": True}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "uwsgi", fake)
    assert uwsgi_support.threads_disabled()
    assert uwsgi_support.forks_skip_python_hooks()
    fake.has_threads = 1  # type: ignore[attr-defined]
    fake.opt = {"py-call-osafterfork": True}  # type: ignore[attr-defined]
    assert not uwsgi_support.threads_disabled()
    assert not uwsgi_support.forks_skip_python_hooks()
