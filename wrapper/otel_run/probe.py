"""The live test of ``otel-run doctor``: send one test item per signal and record what answered.

Each probe walks the layers an export crosses, so that a failure names the layer:
DNS, TCP connect, TLS handshake (when the endpoint uses TLS), then one OTLP export with
the configured protocol, headers, compression and certificates. OTLP/HTTP is spoken
over a plain socket rather than through ``requests``, because the bytes a server sends
back are the diagnosis: an OTLP/gRPC port answers an HTTP/1.1 request with an HTTP/2
SETTINGS frame, a TLS port with a TLS alert. OTLP/gRPC goes through ``grpcio``, as the
app's exporter does. When an answer is ambiguous, a second short look ("sniff") at the
same port tells what it speaks.

Every probe finishes within its budget (short socket timeouts, DNS in a daemon thread,
gRPC deadlines), so a dead or silent endpoint cannot stall ``otel-run doctor``.
Results are facts (``Outcome``); ``otel_run.diagnose`` turns them into advice.
"""

from __future__ import annotations

import gzip
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from otel_run import __version__
from otel_run.settings import Settings, SignalSettings

PROBE_BUDGET_S = 5.0
"""Wall time one probe may take, whatever the endpoint does."""

KINDS = (
    "accepted",  # the collector took the test item (2xx / gRPC OK)
    "refused",  # nothing listens on the port
    "dns",  # the host name does not resolve
    "dns_timeout",  # the lookup did not finish in time
    "connect_timeout",  # no answer to the TCP connection (dropped packets)
    "unreachable",  # no route, network down
    "silent",  # connected, but no answer in time
    "closed",  # connected, then closed without an answer
    "tls_to_plaintext",  # TLS was used, the port speaks plain text
    "plaintext_to_tls",  # plain text was used, the port speaks TLS
    "tls_verify",  # the server's certificate was not trusted
    "tls_error",  # another TLS failure
    "tls_files",  # a configured certificate or key file cannot be used
    "http_status",  # an HTTP answer other than 2xx
    "http2_peer",  # an HTTP/1.1 request got an HTTP/2 answer: an OTLP/gRPC port
    "http1_peer",  # a gRPC call reached a port that speaks HTTP/1.1: an OTLP/HTTP port
    "grpc_status",  # a gRPC status other than OK
    "garbage",  # an answer that is neither HTTP nor TLS
    "local_error",  # doctor could not build or send the request
)

# OpenSSL's reasons for "the answer to my ClientHello was not TLS".
_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL")
_STATUS_LINE = re.compile(rb"^HTTP/(\d)\.(\d) (\d{3})")
_MAX_REPLY = 65536


@dataclass(frozen=True)
class Outcome:
    """What happened when one signal's test item was sent. Holds no secret."""

    signal: str
    protocol: str
    url: str
    """The endpoint, credentials redacted."""
    host: str
    port: int
    tls: bool
    kind: str
    """One of ``KINDS``."""
    detail: str = ""
    http_status: int | None = None
    grpc_code: str | None = None
    peer: str = ""
    """What the port was seen to speak: ``http/1.1``, ``http/2``, ``tls`` or empty."""
    rejected: int = 0
    """Items the collector accepted the request for but dropped (OTLP partial success)."""
    waited_s: float = 0.0
    """How long the last step waited before giving up, for timeouts."""
    elapsed_s: float = 0.0

    @property
    def delivered(self) -> bool:
        """Whether the collector accepted the test item."""
        return self.kind == "accepted" and self.rejected == 0


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


def probe_all(
    settings: Settings, environ: Mapping[str, str], budget: float = PROBE_BUDGET_S
) -> list[Outcome]:
    """Probe every signal exported over OTLP, concurrently; never raises."""
    signals = [settings.signal(name) for name in ("traces", "metrics", "logs")]
    signals = [signal for signal in signals if signal.otlp]
    if not signals:
        return []
    with ThreadPoolExecutor(max_workers=len(signals), thread_name_prefix="otel-run-doctor") as pool:
        futures = [
            pool.submit(probe, signal, settings.service_name, settings.resource_attributes, environ, budget)
            for signal in signals
        ]
        return [future.result() for future in futures]


def probe(
    signal: SignalSettings,
    service_name: str,
    attributes: Sequence[tuple[str, str]],
    environ: Mapping[str, str],
    budget: float = PROBE_BUDGET_S,
) -> Outcome:
    """Send one test item for ``signal`` as the app's exporter would; never raises."""
    started = time.monotonic()
    target = _target(signal)
    clock = _Clock(budget, signal.timeout_s)
    kind, facts = "accepted", {}
    try:
        try:
            from otel_run import testpayload  # here: it imports protobuf

            payload = testpayload.encode(
                testpayload.request(signal.signal, service_name, attributes), signal.protocol
            )
        except Exception as error:  # a broken install is a finding, not a crash
            raise _Stop(
                "local_error", f"cannot build the test request: {type(error).__name__}: {error}"
            ) from error
        if signal.protocol == "grpc":
            facts = _probe_grpc(signal, target, payload, clock, environ)
        else:
            facts = _probe_http(signal, target, payload, clock, environ)
    except _Stop as stop:
        kind, facts = stop.kind, {"detail": stop.detail, **stop.facts}
    except Exception as error:  # noqa: BLE001 - doctor reports, it does not crash
        kind, facts = "local_error", {"detail": f"{type(error).__name__}: {error}"}
    return Outcome(
        signal=signal.signal,
        protocol=signal.protocol,
        url=signal.shown_endpoint,
        host=target.host,
        port=target.port,
        tls=target.tls,
        kind=kind,
        elapsed_s=round(time.monotonic() - started, 3),
        **facts,
    )


def _target(signal: SignalSettings) -> _Target:
    parts = urlsplit(signal.endpoint)
    host = parts.hostname or "localhost"
    grpc = signal.protocol == "grpc"
    tls = not signal.insecure if grpc else parts.scheme == "https"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        # The gRPC exporter hands host without port to grpcio, which then uses 443.
        port = 443 if tls or grpc else 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    shown_host = f"[{host}]" if ":" in host else host
    return _Target(host, port, path, tls, f"{shown_host}:{port}")


# --- layers shared by both protocols -------------------------------------------------


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


# --- OTLP/HTTP -----------------------------------------------------------------------


def _probe_http(
    signal: SignalSettings, target: _Target, payload: bytes, clock: _Clock, environ: Mapping[str, str]
) -> dict[str, Any]:
    addresses = _resolve(target.host, target.port, clock)
    sock = _tls_layer(addresses, target, signal, clock, environ) if target.tls else _connect(addresses, clock)
    try:
        data, end, wait = _exchange(sock, _http_request(signal, target, payload), clock)
    finally:
        sock.close()
    return _read_http_answer(signal, target, data, end, wait, addresses, clock)


def _http_request(signal: SignalSettings, target: _Target, payload: bytes) -> bytes:
    from otel_run.testpayload import CONTENT_TYPES

    headers = {
        "Host": target.host_header,
        "User-Agent": f"otel-run-doctor/{__version__}",
        "Content-Type": CONTENT_TYPES[signal.protocol],
        "Connection": "close",
    }
    body = payload
    if signal.compression == "gzip":
        body, headers["Content-Encoding"] = gzip.compress(payload), "gzip"
    elif signal.compression == "deflate":
        body, headers["Content-Encoding"] = zlib.compress(payload), "deflate"
    headers["Content-Length"] = str(len(body))
    headers.update(signal.headers.as_dict())
    head = f"POST {target.path} HTTP/1.1\r\n" + "".join(
        f"{key}: {value}\r\n" for key, value in headers.items()
    )
    return (head + "\r\n").encode("utf-8") + body


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


def _read_http_answer(
    signal: SignalSettings,
    target: _Target,
    data: bytes,
    end: str,
    wait: float,
    addresses: list[Any],
    clock: _Clock,
) -> dict[str, Any]:
    peer = _speaks(data)
    if peer == "http/2":
        raise _Stop("http2_peer", "the port answered an HTTP/1.1 request with an HTTP/2 frame", peer=peer)
    if peer == "tls":
        raise _Stop("plaintext_to_tls", "the port answered plain text with a TLS alert", peer=peer)
    if peer == "other":
        raise _Stop("garbage", f"the answer is not HTTP: {_printable(data[:32])}")
    if not data:
        if end == "timeout":
            raise _Stop("silent", f"connected, but no answer within {wait:.1f}s", waited_s=round(wait, 1))
        if not target.tls and _speaks_tls(addresses, target, clock):
            raise _Stop(
                "plaintext_to_tls", "the port closed a plain-text request and accepts TLS", peer="tls"
            )
        raise _Stop("closed", "the server closed the connection without answering")
    match = _STATUS_LINE.match(data)
    if match is None:
        raise _Stop("garbage", f"the answer is not HTTP: {_printable(data[:32])}")
    status = int(match.group(3))
    head, _, body = data.partition(b"\r\n\r\n")
    headers = _headers(head)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    if 200 <= status < 300:
        from otel_run.testpayload import accepted

        json_body = "json" in headers.get("content-type", "")
        result = accepted(signal.signal, body, json_body)
        return {
            "http_status": status,
            "peer": "http/1.1",
            "rejected": result.rejected,
            "detail": result.message,
        }
    text = _printable(body[:300])
    if 300 <= status < 400 and headers.get("location"):
        from otel_run.endpoints import redact_url

        text = f"redirects to {redact_url(headers['location'])}"
    if status == 400 and not target.tls and "HTTPS" in text:
        # Go's TLS servers answer plain HTTP with "400 Client sent an HTTP request to an HTTPS server".
        raise _Stop("plaintext_to_tls", text, http_status=status, peer="tls")
    raise _Stop("http_status", text, http_status=status, peer="http/1.1")


def _unchunk(body: bytes) -> bytes:
    result = b""
    while body:
        size_line, sep, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            return result or body
        if not sep or size == 0:
            break
        result += rest[:size]
        body = rest[size + 2 :]
    return result


def _printable(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    text = "".join(char if char.isprintable() else " " for char in text)
    return " ".join(text.split())


# --- OTLP/gRPC -----------------------------------------------------------------------


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

    from otel_run.testpayload import GRPC_METHODS, accepted

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
        # The headers go as the app's exporter sends them (otel_run.sdk passes them as given).
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
