"""The OTLP/HTTP probe: one request over a plain socket, its answer read byte by byte."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from typing import Any

from otel_run import __version__
from otel_run.config.settings import SignalSettings
from otel_run.doctor.probe.layers import (
    _STATUS_LINE,
    _Clock,
    _connect,
    _exchange,
    _headers,
    _resolve,
    _speaks,
    _speaks_tls,
    _Stop,
    _Target,
    _tls_layer,
)


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
    from otel_run.doctor.testpayload import CONTENT_TYPES

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
        from otel_run.doctor.testpayload import accepted

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
        from otel_run.config.endpoints import redact_url

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
