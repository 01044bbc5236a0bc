"""Upstream's OTLP protobuf exporters (HTTP and gRPC), serializing with otel-run's encoder.

Upstream's ``OTLPSpanExporter.export`` / ``OTLPLogExporter.export``
(opentelemetry-exporter-otlp-proto-http) call their module's ``encode_spans`` /
``encode_logs`` at export time and only ever serialize the result
(``SerializePartialToString()`` / ``SerializeToString()``). Replacing that module-level
name keeps everything else of upstream's ``export`` as it is: the shutdown check, the
exporter's own metrics, the ``max_request_size`` check, compression, retries and
backoff. Subclassing or wrapping ``export`` would have meant copying its body.

If our encoder raises on a batch, upstream's encoder gets the same batch, so no batch is
lost to ours. Inputs upstream treats specially (an attribute it logs and skips, a value
it refuses) take that path silently, since the outcome is upstream's; any other failure
of ours is counted and told once per signal, as an otel-run bug.

The gRPC exporters hand a message object to the gRPC stub; they get our bytes parsed
back into one (``use_for_grpc``), still a fraction of building it in Python.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from otel_run.runtime import report
from otel_run.runtime.encode.logs import encode_logs
from otel_run.runtime.encode.spans import encode_spans
from otel_run.runtime.encode.wire import Unsupported

# Items between two releases of the GIL while a batch is encoded (batch.py). A request
# thread that wants the GIL while a batch thread holds it waits up to the switch
# interval (5 ms) each time; 32 spans take ~0.3 ms, so it waits for that instead.
# bench/encode.py measures it: p50 lateness of a 1 ms sleep 5.2 ms -> 0.12 ms.
YIELD_EVERY = 32
fallbacks: dict[str, int] = {"traces": 0, "logs": 0}
"""Batches our encoder failed on and upstream's encoded, per signal, in this process."""
_told: set[str] = set()
_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # A fork while a batch thread held the lock (telling a fallback) must not leave the
    # child a lock that no thread of it will release.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Serialized:
    """Stands in for the request message where upstream's exporter only serializes it."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def SerializePartialToString(self) -> bytes:
        """The request's bytes."""
        return self.data

    def SerializeToString(self) -> bytes:
        """The request's bytes (proto3 has no required fields, so the same)."""
        return self.data


def with_fallback(
    ours: Callable[..., bytes],
    theirs: Callable[[Sequence[Any]], Any],
    signal: str,
    wrap: Callable[[bytes], Any] = Serialized,
) -> Callable[[Sequence[Any]], Any]:
    """An ``encode_*`` for upstream's exporter module: ``wrap(ours(batch))``, else upstream's
    ``theirs(batch)``."""

    def encode(batch: Sequence[Any]) -> Any:
        try:
            return wrap(ours(batch, YIELD_EVERY))
        except Exception as error:  # noqa: BLE001 - never lose a batch to our encoder
            message = theirs(batch)  # raises where upstream raises; its exporter handles that
            if not isinstance(error, Unsupported):
                _count(signal, error)
            return message

    encode.otel_run_upstream = theirs  # type: ignore[attr-defined]
    return encode


def _count(signal: str, error: Exception) -> None:
    with _lock:
        fallbacks[signal] = fallbacks.get(signal, 0) + 1
        if signal in _told:
            return
        _told.add(signal)
    report.line(
        f"otel-run's {signal} encoder failed on a batch ({type(error).__name__}: {error}); "
        "upstream's encoder took it, and will take any other batch ours fails on. "
        "Please report this otel-run bug."
    )


def use_for_http_protobuf() -> None:
    """Make upstream's http/protobuf span and log exporters serialize with our encoder.

    Idempotent; affects every instance of those exporter classes in the process, which
    is harmless since the bytes are the same.
    """
    from opentelemetry.exporter.otlp.proto.http import _log_exporter, trace_exporter

    _replace(trace_exporter, "encode_spans", encode_spans, "traces", Serialized)
    _replace(_log_exporter, "encode_logs", encode_logs, "logs", Serialized)


def use_for_grpc(signal: str) -> None:
    """The same for upstream's gRPC exporter of ``signal``, which hands a message to the
    gRPC stub: our bytes parsed back into upstream's message (upb parses 512 spans in
    0.4 ms). ``_translate_data`` calls the module's ``encode_*`` on every attempt, as before.
    """
    if signal == "traces":
        from opentelemetry.exporter.otlp.proto.grpc import trace_exporter
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        _replace(trace_exporter, "encode_spans", encode_spans, "traces", ExportTraceServiceRequest.FromString)
    elif signal == "logs":
        from opentelemetry.exporter.otlp.proto.grpc import _log_exporter
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

        _replace(_log_exporter, "encode_logs", encode_logs, "logs", ExportLogsServiceRequest.FromString)


def _replace(
    module: Any, name: str, ours: Callable[..., bytes], signal: str, wrap: Callable[[bytes], Any]
) -> None:
    with _lock:
        current = getattr(module, name)
        if not hasattr(current, "otel_run_upstream"):
            setattr(module, name, with_fallback(ours, current, signal, wrap))
