"""``ExportLogsServiceRequest`` bytes from SDK log records, identical to upstream's
(opentelemetry-exporter-otlp-proto-common ``encode_logs``; proven by
``tests/unit/test_encode_properties.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from otel_run.runtime.encode import wire
from otel_run.runtime.encode.batch import encode_request


def encode_logs(records: Sequence[Any], yield_every: int = 0) -> bytes:
    """What ``encode_logs(records).SerializePartialToString()`` returns upstream.

    Raises where upstream's encoder would log and skip an attribute or fail; the
    caller then uses upstream's encoder.
    """
    return encode_request(records, _record, yield_every)


def _record(readable: Any) -> bytes:
    record = readable.log_record
    parts = []
    timestamp = record.timestamp
    if timestamp:
        parts.append(b"\x09" + wire.fixed64(timestamp))
    # Upstream takes .value, so a bare int severity is left out.
    severity = getattr(record.severity_number, "value", None)
    if severity:
        parts.append(b"\x10" + wire.enum(severity))
    parts.append(wire.string_field(b"\x1a", record.severity_text))
    parts.append(wire.message(b"\x2a", wire.any_value(record.body)))  # set even for None
    parts += wire.attributes(b"\x32", record.attributes)
    dropped = readable.dropped_attributes
    if dropped:
        parts.append(b"\x38" + wire.uint32(dropped))
    flags = int(record.trace_flags)
    if flags:
        parts.append(b"\x45" + wire.fixed32(flags))
    if record.trace_id != 0:
        parts.append(b"\x4a\x10" + record.trace_id.to_bytes(16, "big"))
    if record.span_id != 0:
        parts.append(b"\x52\x08" + record.span_id.to_bytes(8, "big"))
    observed = record.observed_timestamp
    if observed:
        parts.append(b"\x59" + wire.fixed64(observed))
    parts.append(wire.string_field(b"\x62", record.event_name))
    body = b"".join(parts)
    return b"\x12" + wire.length(body) + body
