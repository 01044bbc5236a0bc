"""Export trouble, told once: the first failure, a summary a minute, the recovery.

Upstream exporters log three lines per failed batch and the batch processor one line
per dropped item, so a collector outage floods stderr. We take those records over:
inside an export they become the reason for that export's failure; "Queue full"
records become a per-signal drop count. People see one line when trouble starts
(the URL, the reason and the fix), at most one summary a minute while it lasts, and
one line when it recovers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from otel_run.config.endpoints import redact_url
from otel_run.runtime.exportreason import (
    GENERIC,
    VAGUE,
    Destination,
    best_reason,
    hint,
    probe_connect,
    summarize_reason,
)

__all__ = ["Destination", "Watcher", "best_reason", "hint", "probe_connect", "summarize_reason"]

Note = Callable[[str], None]
SUMMARY_INTERVAL_S = 60.0
_ITEM_NAMES = {"traces": "spans", "metrics": "metric points", "logs": "log records"}
_EXPORTING_TO_SIGNAL = {
    "span": "traces",
    "spans": "traces",
    "log": "logs",
    "logrecord": "logs",
    "logs": "logs",
}


@dataclass
class SignalCounts:
    """Items one signal lost, by cause."""

    failed: int = 0
    """In batches the collector did not accept."""
    overflow: int = 0
    """Dropped because the queue was full (the collector too slow or down)."""

    @property
    def dropped(self) -> int:
        """All items lost."""
        return self.failed + self.overflow


@dataclass
class _Trouble:
    since: float
    reason: str
    last_summary: float
    signals: set[str] = field(default_factory=set)


class Watcher:
    """Counts and reports export trouble for the process's exporters."""

    def __init__(
        self,
        note: Note,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = SUMMARY_INTERVAL_S,
    ) -> None:
        self.note = note
        self.clock = clock
        self.interval_s = interval_s
        self.counts: dict[str, SignalCounts] = {}
        self.destinations: dict[str, Destination] = {}
        self._trouble: dict[str, _Trouble] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self.muted = False
        """True in a process whose telemetry another process re-creates (a reloader's watcher)."""
        self.last_reason: str | None = None
        """The latest upstream complaint, from any thread (an export may still be retrying)."""
        self.on_export: Callable[[str, bool, int], None] | None = None
        """Told ``(signal, ok, items)`` after each export, on the exporting thread (``status``)."""

    def after_fork(self) -> None:
        """In a forked child: fresh lock and no inherited trouble (its reports were the parent's)."""
        self._lock = threading.Lock()
        self._local = threading.local()
        self._trouble = {}
        self.counts = {}

    # -- what exporters and the log capture tell us -------------------------------

    def begin_export(self) -> None:
        """An export starts on this thread: collect upstream's messages as its reason."""
        self._local.messages = []

    def end_export(self, signal: str, ok: bool, items: int) -> None:
        """An export finished (``ok`` or not) with ``items`` items."""
        messages: list[str] = getattr(self._local, "messages", None) or []
        self._local.messages = None
        reason = best_reason(messages)
        if ok:
            self._recovered(signal)
        else:
            self._failed(signal, items, reason)
        listener = self.on_export
        if listener is not None:
            try:
                listener(signal, ok, items)
            except Exception:  # noqa: BLE001 - the status must never break exporting
                pass

    def failure(self, signal: str) -> str | None:
        """Why ``signal``'s exports are failing now, or None when its last export succeeded."""
        trouble = self._trouble.get(signal)
        return None if trouble is None else trouble.reason

    def upstream_message(self, record: logging.LogRecord) -> None:
        """A record from an upstream exporter or batch processor."""
        message = record.getMessage()
        if message.startswith("Queue full, dropping"):
            exporting = str(record.args[0] if isinstance(record.args, tuple) and record.args else "")
            signal = _EXPORTING_TO_SIGNAL.get(exporting.lower().replace(" ", ""), "traces")
            self._overflow(signal)
            return
        if not message.startswith(GENERIC) or "code:" in message:
            self.last_reason = summarize_reason(message)
        messages = getattr(self._local, "messages", None)
        if messages is not None:
            messages.append(message)
        elif record.levelno >= logging.WARNING:
            self.note(f"{record.name}: {summarize_reason(message)}")

    # -- state changes ---------------------------------------------------------------

    def _destination(self, signal: str) -> Destination:
        return self.destinations.get(signal) or Destination(signal, "?", "OTEL_EXPORTER_OTLP_ENDPOINT", "?")

    def _failed(self, signal: str, items: int, reason: str) -> None:
        if reason in VAGUE and signal not in self._trouble:
            probed = probe_connect(self._destination(signal).url)
            if probed is not None:
                reason = probed
        now = self.clock()
        with self._lock:
            self.counts.setdefault(signal, SignalCounts()).failed += items
            trouble = self._trouble.get(signal)
            if trouble is None:
                trouble = self._trouble[signal] = _Trouble(since=now, reason=reason, last_summary=now)
                first = True
            else:
                if reason not in VAGUE or trouble.reason in VAGUE:
                    # A vague "timed out, retries exhausted" does not replace a cause we know.
                    trouble.reason = reason
                first = False
            due = not first and now - trouble.last_summary >= self.interval_s
            if due:
                trouble.last_summary = now
        destination = self._destination(signal)
        if first:
            self.note(
                f"cannot export {signal} to {destination.url}: {reason}; {hint(destination, reason)}. "
                f"Dropping {_ITEM_NAMES.get(signal, 'items')} until it recovers "
                f"(summary at most once a minute)"
            )
        elif due:
            self._summary(signal, now)

    def _overflow(self, signal: str) -> None:
        now = self.clock()
        with self._lock:
            self.counts.setdefault(signal, SignalCounts()).overflow += 1
            trouble = self._trouble.get(signal)
            due = trouble is not None and now - trouble.last_summary >= self.interval_s
            if due and trouble is not None:
                trouble.last_summary = now
        if due:
            self._summary(signal, now)

    def _summary(self, signal: str, now: float) -> None:
        trouble = self._trouble.get(signal)
        counts = self.counts.get(signal, SignalCounts())
        if trouble is None:
            return
        url = self._destination(signal).url
        self.note(
            f"still cannot export {signal} to {url} after {now - trouble.since:.0f} s "
            f"({trouble.reason}); {counts.dropped} {_ITEM_NAMES.get(signal, 'items')} dropped so far"
        )

    def _recovered(self, signal: str) -> None:
        with self._lock:
            trouble = self._trouble.pop(signal, None)
            counts = self.counts.get(signal, SignalCounts())
        if trouble is not None:
            self.note(
                f"exporting {signal} to {self._destination(signal).url} again after "
                f"{self.clock() - trouble.since:.0f} s; {counts.dropped} {_ITEM_NAMES.get(signal, 'items')} "
                "were dropped while it failed"
            )

    def stuck_hint(self) -> str:
        """Why a flush may not have finished: the latest complaint and its fix, or ''."""
        if self.last_reason is None:
            return ""
        destination = self.destinations.get("traces") or next(iter(self.destinations.values()), None)
        if destination is None:
            return f"; last error: {self.last_reason}"
        fix = hint(destination, self.last_reason)
        return f"; last error from {destination.url}: {self.last_reason}; {fix}"

    def final_report(self) -> None:
        """At exit: one line per signal that lost items and is still failing."""
        for signal, trouble in list(self._trouble.items()):
            counts = self.counts.get(signal, SignalCounts())
            self.note(
                f"exiting with {signal} export still failing ({trouble.reason}); "
                f"{counts.dropped} {_ITEM_NAMES.get(signal, 'items')} were dropped"
            )


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
    """An upstream exporter whose every export outcome is told to a ``Watcher``.

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
        self._watcher.begin_export()
        try:
            result = self._inner.export(batch, *args, **kwargs)
        except Exception:
            self._watcher.end_export(self._signal, False, items)
            raise
        self._watcher.end_export(self._signal, getattr(result, "name", "") == "SUCCESS", items)
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


def destination_for(signal: str, url: str, endpoint_source: str, protocol: str) -> Destination:
    """A ``Destination`` with the URL redacted."""
    return Destination(signal, redact_url(url), endpoint_source, protocol)
