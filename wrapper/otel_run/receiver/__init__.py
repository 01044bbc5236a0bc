"""A local OTLP receiver (HTTP protobuf/JSON and gRPC), decoding with ``opentelemetry-proto``.

Three uses: ``otel-run receive`` for developers and demos (``run``), the receiving
end of end-to-end tests (``Receiver`` and its ``Store``), and benchmarks.
Never imports the OpenTelemetry SDK; only ``grpc_server`` imports ``grpc``.
"""

from __future__ import annotations

from .address import parse_address
from .decode import DecodeError, Signal
from .facade import ListenError, Receiver
from .foreground import run
from .model import ReceivedLog, ReceivedMetric, ReceivedSpan, Transport
from .store import Export, Store

__all__ = [
    "DecodeError",
    "Export",
    "ListenError",
    "ReceivedLog",
    "ReceivedMetric",
    "ReceivedSpan",
    "Receiver",
    "Signal",
    "Store",
    "Transport",
    "parse_address",
    "run",
]
