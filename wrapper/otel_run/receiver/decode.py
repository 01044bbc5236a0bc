"""Decode OTLP export requests from HTTP bodies, and encode the replies.

Pure functions over bytes: no sockets, no threads. Messages are the official
``opentelemetry-proto`` classes, so what we accept is what the collector accepts.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any, Literal, Union

from google.protobuf import json_format
from google.protobuf.message import DecodeError as _ProtobufDecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

Signal = Literal["traces", "metrics", "logs"]
Format = Literal["protobuf", "json"]
ExportRequest = Union[ExportTraceServiceRequest, ExportMetricsServiceRequest, ExportLogsServiceRequest]
ExportResponse = Union[ExportTraceServiceResponse, ExportMetricsServiceResponse, ExportLogsServiceResponse]

SIGNALS: tuple[Signal, ...] = ("traces", "metrics", "logs")

# A local receiver should not be knocked over by a gzip bomb; the collector's
# default request limit is of the same order.
MAX_DECODED_BYTES = 64 * 1024 * 1024

_REQUESTS: dict[str, type[ExportRequest]] = {
    "traces": ExportTraceServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "logs": ExportLogsServiceRequest,
}
_RESPONSES: dict[str, type[ExportResponse]] = {
    "traces": ExportTraceServiceResponse,
    "metrics": ExportMetricsServiceResponse,
    "logs": ExportLogsServiceResponse,
}

# OTLP/JSON deviates from the proto3 JSON mapping in one place: trace and span
# ids are hex strings, not base64. These are every such field name, in both the
# lowerCamelCase and the original spelling (json_format accepts either).
_ID_BYTES = {
    "traceId": 16,
    "trace_id": 16,
    "spanId": 8,
    "span_id": 8,
    "parentSpanId": 8,
    "parent_span_id": 8,
}


class DecodeError(ValueError):
    """A request body could not be decoded; the message says why, for a 400 reply."""


class UnsupportedContentType(DecodeError):
    """The Content-Type is neither OTLP protobuf nor OTLP JSON (HTTP 415)."""


def request_class(signal: Signal) -> type[ExportRequest]:
    """Return the ``Export*ServiceRequest`` class for ``signal``."""
    return _REQUESTS[signal]


def content_format(content_type: str | None) -> Format:
    """Map a Content-Type header to ``"protobuf"`` or ``"json"``.

    Parameters such as ``; charset=utf-8`` are ignored. Raises
    ``UnsupportedContentType`` for anything else, including a missing header.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("application/x-protobuf", "application/protobuf"):
        return "protobuf"
    if media == "application/json":
        return "json"
    raise UnsupportedContentType(
        f"unsupported Content-Type {content_type!r}; OTLP/HTTP uses "
        "'application/x-protobuf' or 'application/json'"
    )


def decompress(body: bytes, content_encoding: str | None) -> bytes:
    """Undo ``Content-Encoding`` (identity, gzip or deflate), bounded by ``MAX_DECODED_BYTES``."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return _inflate(body, zlib.MAX_WBITS | 16, "gzip")
    if encoding == "deflate":
        # RFC 9110 "deflate" is zlib-wrapped, but some clients send raw deflate.
        try:
            return _inflate(body, zlib.MAX_WBITS, "deflate")
        except DecodeError:
            return _inflate(body, -zlib.MAX_WBITS, "deflate")
    raise DecodeError(f"unsupported Content-Encoding {content_encoding!r}; use gzip, deflate or none")


def _inflate(body: bytes, wbits: int, name: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, MAX_DECODED_BYTES)
    except zlib.error as exc:
        raise DecodeError(f"body is not valid {name} data: {exc}") from None
    if inflater.unconsumed_tail:
        raise DecodeError(f"decompressed body exceeds {MAX_DECODED_BYTES} bytes")
    if not inflater.eof:
        raise DecodeError(f"body is truncated {name} data")
    return data


def decode(
    signal: Signal, body: bytes, content_type: str | None, content_encoding: str | None
) -> ExportRequest:
    """Decode one OTLP/HTTP export body into its ``Export*ServiceRequest``.

    Raises ``UnsupportedContentType`` for an unknown media type and ``DecodeError``
    for anything that is not a valid, possibly compressed, request of that signal.
    """
    fmt = content_format(content_type)
    data = decompress(body, content_encoding)
    if fmt == "protobuf":
        return decode_protobuf(signal, data)
    return decode_json(signal, data)


def decode_protobuf(signal: Signal, data: bytes) -> ExportRequest:
    """Parse binary protobuf; raises ``DecodeError`` on a corrupt wire format."""
    message = request_class(signal)()
    try:
        message.ParseFromString(data)
    except _ProtobufDecodeError as exc:
        raise DecodeError(f"body is not a valid OTLP/protobuf {signal} request: {exc}") from None
    return message


def decode_json(signal: Signal, data: bytes) -> ExportRequest:
    """Parse OTLP/JSON: hex ids, integer or named enums, unknown fields ignored."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DecodeError(f"OTLP/JSON body must be an object, got {type(document).__name__}")
    _hex_ids_to_base64(document)
    message = request_class(signal)()
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise DecodeError(f"body is not a valid OTLP/JSON {signal} request: {exc}") from None
    return message


def _hex_ids_to_base64(node: Any) -> None:
    # The id names are unique to id fields across the OTLP schema (user attribute
    # names live in "key" values, never in dict keys), so a generic walk finds
    # spans, links, log records and metric exemplars alike.
    if isinstance(node, dict):
        for key, value in node.items():
            size = _ID_BYTES.get(key)
            if size is not None and isinstance(value, str):
                node[key] = _hex_to_base64(key, value, size)
            else:
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)


def _hex_to_base64(key: str, value: str, size: int) -> str:
    if value == "":
        return ""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise DecodeError(
            f"{key} {value!r} is not {size * 2} hex digits (OTLP/JSON encodes ids as hex, not base64)"
        )
    return base64.b64encode(raw).decode("ascii")


def encode_response(signal: Signal, fmt: Format) -> bytes:
    """Encode an empty (fully successful) ``Export*ServiceResponse`` in ``fmt``."""
    response = _RESPONSES[signal]()
    if fmt == "protobuf":
        data: bytes = response.SerializeToString()
        return data
    text: str = json_format.MessageToJson(response)
    return text.encode("utf-8")


__all__ = [
    "SIGNALS",
    "DecodeError",
    "ExportRequest",
    "Format",
    "Signal",
    "UnsupportedContentType",
    "content_format",
    "decode",
    "decode_json",
    "decode_protobuf",
    "decompress",
    "encode_response",
    "request_class",
]
