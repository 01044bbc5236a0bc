"""JSON lines output: one object per span, log record or metric, for scripts and benchmarks."""

from __future__ import annotations

import json
import threading
from typing import Any, TextIO

from .model import ReceivedLog, ReceivedMetric, ReceivedSpan, any_value_to_python
from .store import Export


def _json_default(value: object) -> str:
    # Attribute values may be bytes; ids are hex elsewhere, so bytes are too.
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def span_line(span: ReceivedSpan) -> dict[str, Any]:
    """The JSON object written for one span."""
    return {
        "signal": "traces",
        "transport": span.transport,
        "service": span.service,
        "scope": span.scope,
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "name": span.name,
        "kind": span.kind,
        "start_time_unix_nano": span.span.start_time_unix_nano,
        "end_time_unix_nano": span.span.end_time_unix_nano,
        "duration_ms": span.duration_ms,
        "status_code": span.status_code,
        "status_message": span.status_message,
        "attributes": span.attributes,
        "resource": span.resource,
    }


def log_line(log: ReceivedLog) -> dict[str, Any]:
    """The JSON object written for one log record (``body`` keeps its structure)."""
    return {
        "signal": "logs",
        "transport": log.transport,
        "service": log.service,
        "scope": log.scope,
        "time_unix_nano": log.record.time_unix_nano,
        "severity_text": log.severity,
        "severity_number": log.record.severity_number,
        "body": any_value_to_python(log.record.body),
        "trace_id": log.trace_id,
        "span_id": log.span_id,
        "attributes": log.attributes,
        "resource": log.resource,
    }


def metric_line(metric: ReceivedMetric) -> dict[str, Any]:
    """The JSON object written for one metric of one export (a summary, not the points)."""
    return {
        "signal": "metrics",
        "transport": metric.transport,
        "service": metric.service,
        "scope": metric.scope,
        "name": metric.name,
        "kind": metric.kind,
        "unit": metric.unit,
        "data_points": metric.data_points,
        "attribute_keys": list(metric.attribute_keys),
        "resource": metric.resource,
    }


class JsonlWriter:
    """Appends one JSON line per received record to ``path``; register ``on_export`` as a listener.

    The file is opened in append mode, so several runs can share it; each export
    is written under a lock and flushed, so readers never see half a line.
    """

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._file: TextIO | None = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def on_export(self, export: Export) -> None:
        """Write one line per span, log record or metric of ``export``."""
        objects: list[dict[str, Any]] = [span_line(s) for s in export.spans]
        objects += [log_line(r) for r in export.logs]
        objects += [metric_line(m) for m in export.metrics]
        if not objects:
            return
        text = "".join(json.dumps(o, default=_json_default, sort_keys=True) + "\n" for o in objects)
        with self._lock:
            if self._file is None:
                return
            self._file.write(text)
            self._file.flush()

    def close(self) -> None:
        """Close the file; later exports are dropped. Safe to call twice."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
