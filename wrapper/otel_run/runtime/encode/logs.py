"""``ExportLogsServiceRequest`` bytes from SDK log records, identical to upstream's
(opentelemetry-exporter-otlp-proto-common ``encode_logs``; proven by
``tests/unit/test_encode_properties.py``)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk._logs import ReadableLogRecord

from otel_run.runtime.encode import wire
from otel_run.runtime.encode.batch import encode_request

# Field 2 (severity_number) for each member; UNSPECIFIED (0) is proto3's default, left out.
_pack_fixed64 = struct.Struct("<Q").pack
# "LEN 0a LEN" ahead of a string body of n UTF-8 bytes, both lengths one byte.
_STRING_BODY_HEADS = [bytes((n + 2, 0x0A, n)) for n in range(0x7E)]
_SEVERITIES = {
    member: b"\x10" + wire.enum(member.value) if member.value else b"" for member in SeverityNumber
}


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
        parts.append(b"\x09" + _pack_fixed64(timestamp))
    severity = record.severity_number
    if type(severity) is SeverityNumber:
        parts.append(_SEVERITIES[severity])  # Enum's .value is a Python-level descriptor
    else:
        # Upstream takes .value, so a bare int severity is left out.
        value = getattr(severity, "value", None)
        if value:
            parts.append(b"\x10" + wire.enum(value))
    parts.append(wire.string_field(b"\x1a", record.severity_text))
    body = record.body
    if type(body) is str and len(body) < 0x7E:
        # "2a LEN 0a LEN UTF-8", both lengths one byte; a longer UTF-8 takes the general path.
        data = wire.text(body)
        size = len(data)
        parts.append(b"\x2a" + _STRING_BODY_HEADS[size] + data if size < 0x7E else _body(body))
    else:
        parts.append(_body(body))  # set even for None
    attributes = record.attributes
    parts += wire.attributes(b"\x32", attributes)
    if type(readable) is ReadableLogRecord:
        dropped = attributes.dropped if isinstance(attributes, BoundedAttributes) else 0
    else:
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
        parts.append(b"\x59" + _pack_fixed64(observed))
    event_name = record.event_name
    if event_name:
        parts.append(wire.string_field(b"\x62", event_name))
    encoded = b"".join(parts)
    return b"\x12" + wire.length(encoded) + encoded


def _body(body: Any) -> bytes:
    return wire.message(b"\x2a", wire.any_value(body))
