"""The OTLP/gRPC probe: one call through ``grpcio``, as the app's exporter makes it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_run.config.settings import SignalSettings
from otel_run.doctor.probe.layers import (
    _Clock,
    _connect,
    _resolve,
    _sniff_plaintext,
    _speaks_tls,
    _Stop,
    _Target,
    _tls_layer,
)


def _probe_grpc(
    signal: SignalSettings, target: _Target, payload: bytes, clock: _Clock, environ: Mapping[str, str]
) -> dict[str, Any]:
    addresses = _resolve(target.host, target.port, clock)
    alpn = ""
    if target.tls:
        tls_sock = _tls_layer(addresses, target, signal, clock, environ)
        alpn = tls_sock.selected_alpn_protocol() or ""
        tls_sock.close()
    else:
        _connect(addresses, clock).close()

    import grpc  # here: doctor must work when grpcio is broken or missing

    from otel_run.doctor.testpayload import GRPC_METHODS, accepted

    if target.tls:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(signal.certificate),
            private_key=_read(signal.client_key),
            certificate_chain=_read(signal.client_certificate),
        )
        channel = grpc.secure_channel(f"{target.host_header}", credentials)
    else:
        channel = grpc.insecure_channel(f"{target.host_header}")
    compression = grpc.Compression.Gzip if signal.compression == "gzip" else grpc.Compression.NoCompression
    wait = clock.step()
    try:
        export = channel.unary_unary(GRPC_METHODS[signal.signal])
        # The headers go as the app's exporter sends them (otel_run.runtime.sdk passes them as given).
        metadata = tuple(signal.headers.as_dict().items()) or None
        response, _call = export.with_call(payload, timeout=wait, metadata=metadata, compression=compression)
    except grpc.RpcError as error:
        code = error.code() if callable(getattr(error, "code", None)) else None
        details = str(error.details() if callable(getattr(error, "details", None)) else error)
        name = code.name if code is not None else "UNKNOWN"
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise _Stop("silent", "no gRPC answer", grpc_code=name, waited_s=round(wait, 1)) from None
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
            # A TLS server that did not offer HTTP/2 (ALPN) cannot be a gRPC server.
            if (
                target.tls
                and alpn != "h2"
                and _sniff_plaintext(addresses, target, clock, tls=True) == "http/1.1"
            ):
                raise _Stop("http1_peer", details, grpc_code=name, peer="http/1.1") from None
            if not target.tls:
                peer = _sniff_plaintext(addresses, target, clock)
                if peer == "http/1.1":
                    raise _Stop("http1_peer", details, grpc_code=name, peer=peer) from None
                if peer in ("tls", "") and _speaks_tls(addresses, target, clock):
                    raise _Stop("plaintext_to_tls", details, grpc_code=name, peer="tls") from None
        raise _Stop("grpc_status", details, grpc_code=name) from None
    finally:
        channel.close()
    result = accepted(signal.signal, bytes(response or b""), json_body=False)
    return {"grpc_code": "OK", "peer": "http/2", "rejected": result.rejected, "detail": result.message}


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise _Stop("tls_files", f"{path}: {error.strerror or error}") from error
