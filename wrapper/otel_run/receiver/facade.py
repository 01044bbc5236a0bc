"""``Receiver``: one object that runs the HTTP and gRPC servers over a shared ``Store``."""

from __future__ import annotations

import errno
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from .address import format_host_port
from .http_server import OtlpHttpServer
from .store import Store

if TYPE_CHECKING:
    from .grpc_server import OtlpGrpcServer

Address = tuple[str, int]

DEFAULT_HTTP: Address = ("127.0.0.1", 4318)
DEFAULT_GRPC: Address = ("127.0.0.1", 4317)


class ListenError(Exception):
    """A server could not bind its address; ``reason`` is short and lowercase."""

    def __init__(self, transport: Literal["http", "grpc"], host: str, port: int, cause: OSError) -> None:
        self.transport: Literal["http", "grpc"] = transport
        self.host = host
        self.port = port
        self.in_use = cause.errno == errno.EADDRINUSE
        self.reason = "address already in use" if self.in_use else (cause.strerror or str(cause)).lower()
        super().__init__(f"cannot listen on {format_host_port(host, port)}: {self.reason}")


class Receiver:
    """A local OTLP receiver: HTTP (protobuf and JSON) and/or gRPC into one ``Store``.

    Pass ``None`` for a transport to disable it; port 0 picks a free port, read
    back from ``http_port`` / ``grpc_port`` after ``start``. Use as a context
    manager or call ``start`` / ``stop``. ``start`` raises ``ListenError`` (and
    leaves nothing running) when an address cannot be bound.
    """

    def __init__(
        self,
        http: Address | None = DEFAULT_HTTP,
        grpc: Address | None = DEFAULT_GRPC,
        store: Store | None = None,
    ) -> None:
        if http is None and grpc is None:
            raise ValueError("Receiver needs at least one of http and grpc")
        self.store = store if store is not None else Store()
        self._http_address = http
        self._grpc_address = grpc
        self._http: OtlpHttpServer | None = None
        self._grpc: OtlpGrpcServer | None = None

    def start(self) -> Receiver:
        """Bind and serve every configured transport; returns ``self``."""
        try:
            if self._http_address is not None:
                host, port = self._http_address
                server = OtlpHttpServer(host, port, self.store)
                try:
                    server.start()
                except OSError as exc:
                    raise ListenError("http", host, port, exc) from exc
                self._http = server
            if self._grpc_address is not None:
                # Here, not at module level, so HTTP-only use never imports grpc.
                from .grpc_server import OtlpGrpcServer

                host, port = self._grpc_address
                grpc_server = OtlpGrpcServer(host, port, self.store)
                try:
                    grpc_server.start()
                except OSError as exc:
                    raise ListenError("grpc", host, port, exc) from exc
                self._grpc = grpc_server
        except ListenError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both servers and release their ports; safe to call twice."""
        http, grpc = self._http, self._grpc
        self._http, self._grpc = None, None
        if grpc is not None:
            grpc.stop()
        if http is not None:
            http.stop()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _running_http(self) -> OtlpHttpServer:
        if self._http is None:
            raise RuntimeError("OTLP/HTTP is not running on this Receiver")
        return self._http

    def _running_grpc(self) -> OtlpGrpcServer:
        if self._grpc is None:
            raise RuntimeError("OTLP/gRPC is not running on this Receiver")
        return self._grpc

    @property
    def http_port(self) -> int:
        """The bound OTLP/HTTP port; raises ``RuntimeError`` if HTTP is disabled or not started."""
        return self._running_http().port

    @property
    def grpc_port(self) -> int:
        """The bound OTLP/gRPC port; raises ``RuntimeError`` if gRPC is disabled or not started."""
        return self._running_grpc().port

    @property
    def http_url(self) -> str:
        """Base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` over HTTP, e.g. ``http://127.0.0.1:4318``."""
        server = self._running_http()
        return f"http://{format_host_port(server.host, server.port)}"

    @property
    def grpc_target(self) -> str:
        """``host:port`` for ``grpc.insecure_channel``, e.g. ``127.0.0.1:4317``."""
        server = self._running_grpc()
        return format_host_port(server.host, server.port)

    @property
    def grpc_url(self) -> str:
        """Endpoint for ``OTEL_EXPORTER_OTLP_ENDPOINT`` over gRPC, e.g. ``http://127.0.0.1:4317``.

        The ``http://`` scheme is how OTLP/gRPC exporters are told to use an insecure channel.
        """
        return f"http://{self.grpc_target}"
