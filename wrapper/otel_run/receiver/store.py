"""The thread-safe store every transport writes into and every consumer reads from."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from .decode import ExportRequest, Signal
from .model import (
    ReceivedLog,
    ReceivedMetric,
    ReceivedSpan,
    Transport,
    flatten_logs,
    flatten_metrics,
    flatten_spans,
)

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Export:
    """One export request as received: the message, its headers, and its flattened records.

    Only the record tuple matching ``signal`` is non-empty. Header names are lowercase.
    """

    signal: Signal
    transport: Transport
    request: ExportRequest = field(repr=False)
    headers: dict[str, str] = field(default_factory=dict)
    spans: tuple[ReceivedSpan, ...] = ()
    logs: tuple[ReceivedLog, ...] = ()
    metrics: tuple[ReceivedMetric, ...] = ()


Listener = Callable[[Export], None]


def make_export(
    signal: Signal, transport: Transport, request: ExportRequest, headers: Mapping[str, str]
) -> Export:
    """Build an ``Export``, flattening the request into records of its signal.

    Raises ``ValueError`` if ``request`` is not the ``Export*ServiceRequest`` of ``signal``.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    if signal == "traces" and isinstance(request, ExportTraceServiceRequest):
        return Export(signal, transport, request, lowered, spans=tuple(flatten_spans(transport, request)))
    if signal == "logs" and isinstance(request, ExportLogsServiceRequest):
        return Export(signal, transport, request, lowered, logs=tuple(flatten_logs(transport, request)))
    if signal == "metrics" and isinstance(request, ExportMetricsServiceRequest):
        metrics = tuple(flatten_metrics(transport, request))
        return Export(signal, transport, request, lowered, metrics=metrics)
    raise ValueError(f"a {type(request).__name__} is not an OTLP {signal} export request")


class Store:
    """Everything received, in arrival order; safe to use from any thread.

    Writers call ``add``; readers get snapshot lists, so iterating never races
    with a transport thread. ``wait_for`` blocks on a condition variable that
    every ``add`` and ``clear`` notifies.
    """

    def __init__(self) -> None:
        # Re-entrant, so a wait_for predicate may call spans() and friends.
        self._cond = threading.Condition(threading.RLock())
        self._exports: list[Export] = []
        self._spans: list[ReceivedSpan] = []
        self._logs: list[ReceivedLog] = []
        self._metrics: list[ReceivedMetric] = []
        self._listeners: list[Listener] = []

    def add(
        self,
        signal: Signal,
        transport: Transport,
        request: ExportRequest,
        headers: Mapping[str, str] | None = None,
    ) -> Export:
        """Record one export request, wake waiters, then call listeners in this thread.

        A listener that raises is logged and skipped: a broken printer must not
        turn into a failed export for the sender.
        """
        export = make_export(signal, transport, request, headers or {})
        with self._cond:
            self._exports.append(export)
            self._spans.extend(export.spans)
            self._logs.extend(export.logs)
            self._metrics.extend(export.metrics)
            listeners = list(self._listeners)
            self._cond.notify_all()
        for listener in listeners:
            try:
                listener(export)
            except Exception:
                _logger.exception("otel-run receive: listener %r failed", listener)
        return export

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(export)`` after each future ``add``, on the transport's thread."""
        with self._cond:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``; unknown listeners are ignored."""
        with self._cond:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def spans(self) -> list[ReceivedSpan]:
        """All spans received so far, in arrival order."""
        with self._cond:
            return list(self._spans)

    def logs(self) -> list[ReceivedLog]:
        """All log records received so far, in arrival order."""
        with self._cond:
            return list(self._logs)

    def metrics(self) -> list[ReceivedMetric]:
        """All metrics received so far (one entry per metric per export), in arrival order."""
        with self._cond:
            return list(self._metrics)

    def exports(self, signal: Signal | None = None) -> list[Export]:
        """All exports received so far, optionally only those of ``signal``."""
        with self._cond:
            return [e for e in self._exports if signal is None or e.signal == signal]

    def requests(self, signal: Signal) -> list[ExportRequest]:
        """The raw ``Export*ServiceRequest`` messages of ``signal``, in arrival order."""
        return [e.request for e in self.exports(signal)]

    def headers(self, signal: Signal | None = None) -> list[dict[str, str]]:
        """The headers (HTTP) or metadata (gRPC) of each export, lowercase names."""
        return [dict(e.headers) for e in self.exports(signal)]

    def last_headers(self, signal: Signal | None = None) -> dict[str, str]:
        """The headers of the most recent export (of ``signal``), or {} if none yet."""
        seen = self.headers(signal)
        return seen[-1] if seen else {}

    def wait_for(self, predicate: Callable[[Store], bool], timeout: float) -> bool:
        """Block until ``predicate(self)`` is true or ``timeout`` seconds pass; return its last value.

        The predicate is re-evaluated after every ``add`` and ``clear``, holding the
        store's lock, so it must be quick and must not wait on other threads.
        """
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def clear(self) -> None:
        """Forget everything received (listeners stay registered)."""
        with self._cond:
            self._exports.clear()
            self._spans.clear()
            self._logs.clear()
            self._metrics.clear()
            self._cond.notify_all()
