"""Exporters and upstream log records wired to a ``Watcher``: what each export carried and got.

``WatchedExporter`` wraps every OTLP exporter (timing each export, counting its items);
``capture_upstream_logs`` takes upstream's exporter and batch-processor records over, so
that a collector outage does not flood stderr.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from otel_run.config.endpoints import redact_url
from otel_run.runtime import memtrim
from otel_run.runtime.exportreason import Destination

if TYPE_CHECKING:
    from otel_run.runtime.exportwatch import Watcher


class _Capture(logging.Handler):
    def __init__(self, watcher: Watcher) -> None:
        super().__init__(logging.DEBUG)
        self.watcher = watcher

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.watcher.upstream_message(record)
        except Exception:  # noqa: BLE001 - reporting must never break exporting
            pass


UPSTREAM_LOGGERS = ("opentelemetry.exporter", "opentelemetry.sdk._shared_internal")


def capture_upstream_logs(watcher: Watcher, keep_upstream_lines: bool) -> None:
    """Route upstream exporter and batch-processor records to ``watcher``.

    With ``keep_upstream_lines`` (OTEL_LOG_LEVEL=debug) they are also printed to stderr
    as upstream's own lines. (Our handler counts as "a handler found", so Python's
    last-resort handler would no longer print them on its own.)
    """
    handler = _Capture(watcher)
    for name in UPSTREAM_LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.propagate = False
        if keep_upstream_lines:
            echo = logging.StreamHandler()
            echo.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
            logger.addHandler(echo)
        elif logger.level == logging.NOTSET or logger.level > logging.WARNING:
            # Failures are WARNING and up; with OTEL_LOG_LEVEL the "opentelemetry" level governs.
            logger.setLevel(logging.WARNING)


def count_items(signal: str, batch: Any) -> int:
    """How many spans, log records or metric points an export carries."""
    if signal != "metrics":
        try:
            return len(batch)
        except TypeError:
            return 1
    points = 0
    for resource_metrics in getattr(batch, "resource_metrics", ()):
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                points += len(getattr(metric.data, "data_points", ()))
    return points


class WatchedExporter:
    """An upstream exporter whose every export outcome is told to a ``Watcher``, and after
    which the C heap's free pages go back to the OS (``memtrim``).

    Everything else (``shutdown``, ``force_flush``, the metric exporter's preferred
    temporality and aggregation read by the metric reader) is the inner exporter's.
    """

    def __init__(self, inner: Any, signal: str, watcher: Watcher) -> None:
        self._inner = inner
        self._signal = signal
        self._watcher = watcher

    @property
    def inner(self) -> Any:
        """The upstream exporter."""
        return self._inner

    def export(self, batch: Any, *args: Any, **kwargs: Any) -> Any:
        """Export through the upstream exporter and record the outcome."""
        if self._watcher.muted:
            return export_result(self._signal, "SUCCESS")
        items = count_items(self._signal, batch)
        self._watcher.begin_export(self._signal, items, self._inner)
        started = time.monotonic()
        try:
            result = self._inner.export(batch, *args, **kwargs)
        except Exception:
            self._watcher.end_export(self._signal, False, items, time.monotonic() - started)
            memtrim.after_export(self._signal, batch)
            raise
        ok = getattr(result, "name", "") == "SUCCESS"
        self._watcher.end_export(self._signal, ok, items, time.monotonic() - started)
        memtrim.after_export(self._signal, batch)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def export_result(signal: str, name: str) -> Any:
    """The SDK's export result ``name`` (SUCCESS, FAILURE) for ``signal``."""
    if signal == "traces":
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult[name]
    if signal == "metrics":
        from opentelemetry.sdk.metrics.export import MetricExportResult

        return MetricExportResult[name]
    from opentelemetry.sdk._logs.export import LogRecordExportResult

    return LogRecordExportResult[name]


def destination_for(
    signal: str, url: str, endpoint_source: str, protocol: str, proxy_variable: str | None = None
) -> Destination:
    """A ``Destination`` with the URL redacted."""
    return Destination(signal, redact_url(url), endpoint_source, protocol, proxy_variable)
