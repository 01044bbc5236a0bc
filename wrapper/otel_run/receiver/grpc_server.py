"""OTLP/gRPC receiver: the three collector services of ``opentelemetry-proto``.

The only module of the receiver that imports ``grpc``, so HTTP-only use never loads it.
"""

from __future__ import annotations

import base64
import errno
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from .address import format_host_port
from .decode import ExportRequest, Signal
from .store import Store

# Bigger than grpc's 4 MiB default: a batch of fat spans from a load test should arrive.
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class _ExportServicer:
    """Implements ``Export`` for one signal by recording into the store.

    Not a subclass of the generated ``*ServiceServicer``: the ``add_*`` functions
    only look up ``.Export``, and the generated bases are untyped.
    """

    def __init__(self, signal: Signal, store: Store, response: Callable[[], Any]) -> None:
        self._signal: Signal = signal
        self._store = store
        self._response = response

    def Export(self, request: ExportRequest, context: grpc.ServicerContext) -> Any:
        self._store.add(self._signal, "grpc", request, _metadata(context))
        return self._response()


def _metadata(context: grpc.ServicerContext) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        # Binary ("-bin") metadata values are bytes; keep them printable.
        text = base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else str(value)
        metadata[str(key).lower()] = text
    return metadata


def _register_services(server: grpc.Server, store: Store) -> None:
    # The generated *_pb2_grpc modules carry no annotations, hence the ignores.
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        _ExportServicer("traces", store, trace_service_pb2.ExportTraceServiceResponse), server
    )
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
        _ExportServicer("metrics", store, metrics_service_pb2.ExportMetricsServiceResponse), server
    )
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(  # type: ignore[no-untyped-call]
        _ExportServicer("logs", store, logs_service_pb2.ExportLogsServiceResponse), server
    )


def _probe_bind(host: str, port: int) -> None:
    # grpc reports a busy port only as a RuntimeError after logging its own
    # multi-line error to stderr; a plain bind first gives a clean OSError.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Same as grpc: a port in TIME_WAIT is fine, a listening one is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


class OtlpGrpcServer:
    """Serve OTLP/gRPC on ``host:port`` (port 0 picks a free one) into ``store``.

    Accepts gzip-compressed requests (grpc decompresses them) and records the
    call metadata as the export's headers. ``start`` raises ``OSError`` when the
    address cannot be bound.
    """

    def __init__(self, host: str, port: int, store: Store, max_workers: int = 8) -> None:
        self._host = host
        self._requested_port = port
        self._store = store
        self._max_workers = max_workers
        self._server: grpc.Server | None = None
        self._port: int | None = None

    @property
    def host(self) -> str:
        """The host given at construction."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port; valid once ``start`` has returned (and after ``stop``)."""
        if self._port is None:
            raise RuntimeError("the OTLP/gRPC server is not started")
        return self._port

    def start(self) -> None:
        """Bind and start serving on grpc's own thread pool."""
        if self._requested_port != 0:
            _probe_bind(self._host, self._requested_port)
        server = grpc.server(
            ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="otlp-grpc"),
            options=[
                # grpc enables SO_REUSEPORT by default, which lets a second
                # receiver silently share a busy port instead of failing.
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ],
        )
        _register_services(server, self._store)
        target = format_host_port(self._host, self._requested_port)
        try:
            bound = server.add_insecure_port(target)
        except RuntimeError:
            # The probe passed, so this is a race or a host grpc cannot resolve.
            raise OSError(errno.EADDRNOTAVAIL, "grpc could not bind the address") from None
        if not bound:
            # Older grpc releases return 0 instead of raising.
            raise OSError(errno.EADDRNOTAVAIL, "grpc could not bind the address")
        server.start()
        self._server, self._port = server, int(bound)

    def stop(self, grace: float = 1.0) -> None:
        """Stop serving, letting in-flight calls finish for up to ``grace`` seconds."""
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace).wait()
