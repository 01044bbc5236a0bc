"""The layers both protocols cross: DNS, TCP connect, TLS, and a look at what a port speaks."""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from otel_run.config.settings import SignalSettings

_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL")
_STATUS_LINE = re.compile(rb"^HTTP/(\d)\.(\d) (\d{3})")
_MAX_REPLY = 65536


class _Target(NamedTuple):
    host: str
    port: int
    path: str
    tls: bool
    host_header: str


class _Stop(Exception):
    """Ends a probe with a finding."""

    def __init__(self, kind: str, detail: str = "", **facts: Any) -> None:
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail
        self.facts = facts


class _Clock:
    def __init__(self, budget: float, step: float) -> None:
        self.deadline = time.monotonic() + budget
        self.step_limit = step

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def step(self) -> float:
        """How long the next network step may wait: the export timeout, within the budget."""
        return max(0.05, min(self.left(), self.step_limit))


def _resolve(host: str, port: int, clock: _Clock) -> list[Any]:
    # getaddrinfo has no timeout and can hang for many seconds on a silent DNS
    # server; a daemon thread lets the probe give up on time.
    box: dict[str, Any] = {}

    def lookup() -> None:
        try:
            box["found"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            box["error"] = error

    wait = clock.step()
    thread = threading.Thread(target=lookup, name="otel-run-doctor-dns", daemon=True)
    thread.start()
    thread.join(wait)
    if thread.is_alive():
        raise _Stop("dns_timeout", f"looking up {host} took longer than {wait:.1f}s", waited_s=round(wait, 1))
    if "error" in box:
        error = box["error"]
        raise _Stop("dns", f"{host}: {getattr(error, 'strerror', None) or error}")
    found: list[Any] = box["found"]
    return found


def _connect(addresses: list[Any], clock: _Clock) -> socket.socket:
    failure = _Stop("unreachable", "no address to connect to")
    for family, kind, proto, _name, address in addresses:
        sock = socket.socket(family, kind, proto)
        wait = clock.step()
        sock.settimeout(wait)
        try:
            sock.connect(address)
            return sock
        except ConnectionRefusedError:
            failure = _Stop("refused", "connection refused")
        except TimeoutError:
            failure = _Stop("connect_timeout", f"no answer within {wait:.1f}s", waited_s=round(wait, 1))
        except OSError as error:
            failure = _Stop("unreachable", error.strerror or str(error))
        sock.close()
    raise failure


def _tls_context(signal: SignalSettings, environ: Mapping[str, str]) -> ssl.SSLContext:
    # The same trust store as the app's exporter: the configured CA file, else what
    # requests (OTLP/HTTP) or grpcio (OTLP/gRPC) would use.
    if signal.protocol == "grpc":
        override = environ.get("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH")
    else:
        override = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
    cafile = signal.certificate or override or _certifi()
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as error:
        raise _Stop("tls_files", f"CA certificate file {cafile}: {_ssl_reason(error)}") from error
    if signal.client_certificate:
        try:
            context.load_cert_chain(signal.client_certificate, signal.client_key or None)
        except (OSError, ssl.SSLError) as error:
            raise _Stop(
                "tls_files", f"client certificate {signal.client_certificate}: {_ssl_reason(error)}"
            ) from error
    context.set_alpn_protocols(["h2"] if signal.protocol == "grpc" else ["http/1.1"])
    return context


def _unverified() -> ssl.SSLContext:
    """A client context that completes any handshake: for asking what a port speaks."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _certifi() -> str | None:
    try:
        import certifi  # requests' trust store; grpcio bundles the same Mozilla roots
    except ImportError:
        return None
    where: str = certifi.where()
    return where


def _ssl_reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    return str(reason or getattr(error, "strerror", None) or error)


def _handshake(sock: socket.socket, context: ssl.SSLContext, target: _Target, clock: _Clock) -> ssl.SSLSocket:
    wait = clock.step()
    sock.settimeout(wait)
    try:
        return context.wrap_socket(sock, server_hostname=target.host)
    except ssl.SSLCertVerificationError as error:
        raise _Stop("tls_verify", str(error.verify_message or error.reason or error)) from error
    except ssl.SSLError as error:
        reason = str(error.reason or error)
        if reason in _NOT_TLS:
            raise _Stop("tls_to_plaintext", f"the TLS handshake got a non-TLS answer ({reason})") from error
        raise _Stop("tls_error", f"TLS handshake failed ({reason})") from error
    except TimeoutError as error:
        raise _Stop(
            "silent", f"no TLS handshake answer within {wait:.1f}s", waited_s=round(wait, 1)
        ) from error
    except OSError as error:
        raise _Stop("tls_error", f"the connection closed during the TLS handshake ({error})") from error


def _tls_layer(
    addresses: list[Any], target: _Target, signal: SignalSettings, clock: _Clock, environ: Mapping[str, str]
) -> ssl.SSLSocket:
    """Connect and complete a verified TLS handshake, or stop with what the port speaks."""
    context = _tls_context(signal, environ)
    sock = _connect(addresses, clock)
    try:
        return _handshake(sock, context, target, clock)
    except _Stop as stop:
        sock.close()
        if stop.kind in ("tls_to_plaintext", "tls_error"):
            peer = _sniff_plaintext(addresses, target, clock)
            if peer in ("http/1.1", "http/2"):
                raise _Stop("tls_to_plaintext", stop.detail, peer=peer) from None
        raise


def _sniff_plaintext(addresses: list[Any], target: _Target, clock: _Clock, *, tls: bool = False) -> str:
    """What the port answers to an HTTP/1.1 request: ``http/1.1``, ``http/2``, ``tls`` or empty.

    With ``tls`` the request goes inside TLS, without checking the certificate.
    """
    if clock.left() < 0.1:
        return ""
    try:
        sock = _connect(addresses, clock)
    except _Stop:
        return ""
    try:
        if tls:
            sock.settimeout(clock.step())
            sock = _unverified().wrap_socket(sock, server_hostname=target.host)
        request = f"POST {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\nContent-Length: 0\r\n\r\n"
        data, _end, _wait = _exchange(sock, request.encode(), clock)
        return _speaks(data)
    except OSError:
        return ""
    finally:
        sock.close()


def _speaks_tls(addresses: list[Any], target: _Target, clock: _Clock) -> bool:
    """Whether the port completes a TLS handshake (certificate not checked)."""
    if clock.left() < 0.1:
        return False
    try:
        sock = _connect(addresses, clock)
    except _Stop:
        return False
    try:
        sock.settimeout(clock.step())
        _unverified().wrap_socket(sock, server_hostname=target.host).close()
        return True
    except (OSError, ssl.SSLError):
        return False
    finally:
        sock.close()


def _speaks(data: bytes) -> str:
    if data.startswith(b"HTTP/1."):
        return "http/1.1"
    # An HTTP/2 server's first frame is SETTINGS (type 4) or GOAWAY (type 7) on stream 0.
    if data.startswith(b"PRI * HTTP/2.0") or (
        len(data) >= 9 and data[3] in (0x04, 0x07) and data[5:9] == b"\0\0\0\0"
    ):
        return "http/2"
    # A TLS record: alert (21) or handshake (22), version 3.x.
    if len(data) >= 2 and data[0] in (0x15, 0x16) and data[1] == 0x03:
        return "tls"
    return "other" if data else ""


def _exchange(sock: socket.socket, request: bytes, clock: _Clock) -> tuple[bytes, str, float]:
    """Send ``request`` and read the answer: bytes, ``complete``/``closed``/``timeout``, seconds allowed."""
    wait = clock.step()
    until = time.monotonic() + wait
    data = b""
    try:
        sock.settimeout(wait)
        sock.sendall(request)
        while True:
            sock.settimeout(max(0.01, until - time.monotonic()))
            chunk = sock.recv(_MAX_REPLY)
            if not chunk:
                return data, "closed", wait
            data += chunk
            if _complete(data):
                return data, "complete", wait
    except TimeoutError:
        return data, "timeout", wait
    except OSError:
        # A reset or a broken pipe: the server hung up, maybe after answering.
        return data, "closed", wait


def _complete(data: bytes) -> bool:
    if len(data) >= _MAX_REPLY or not data.startswith(b"HTTP/"):
        return bool(data)
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    headers = _headers(head)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return body.endswith(b"0\r\n\r\n")
    return len(body) >= int(headers.get("content-length", "0") or 0)


def _headers(head: bytes) -> dict[str, str]:
    result = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        result[name.strip().lower()] = value.strip()
    return result
