"""Why an export failed, in a few words, and what to do about it.

Upstream's messages are long and often generic; these functions turn them into a short
reason (``summarize_reason``, ``best_reason``, ``probe_connect``) and a fix (``hint``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_CREDENTIALS = re.compile(r"//[^/@\s]+@")


@dataclass
class Destination:
    """Where one signal goes, as shown to people, and how to fix a wrong one."""

    signal: str
    url: str
    endpoint_variable: str
    protocol: str
    proxy_variable: str | None = None
    """The proxy variable (``HTTPS_PROXY``, ...) the exporter's requests go through, if any."""


def summarize_reason(text: str) -> str:
    """A short reason from an upstream error message."""
    text = _CREDENTIALS.sub("//***@", text)
    status = re.search(r"code: (\d{3}), reason: ([^,]+?)(?:,|$)", text)
    if status:
        return f"HTTP {status.group(1)} {status.group(2).strip()}"
    grpc_code = re.search(r"StatusCode\.([A-Z_]+)", text)
    if grpc_code:
        details = re.search(r"error details: (.+)$", text)
        suffix = f" ({details.group(1)[:120]})" if details and details.group(1) not in ("None", "") else ""
        return f"gRPC {grpc_code.group(1)}{suffix}"
    errno = re.search(r"\[Errno -?\d+\] (.+?)(?: encountered|[\"')]|$)", text)
    if errno:
        return errno.group(1).strip().lower()
    for needle, reason in (
        ("timed out", "timed out"),
        ("Name or service not known", "name or service not known"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate verify failed"),
        ("SSL", "TLS error"),
        ("RemoteDisconnected", "the server closed the connection without answering"),
        ("BadStatusLine", "the server did not answer with HTTP/1.1 (a gRPC port?)"),
    ):
        if needle in text:
            return reason
    return text[:160]


GENERIC = ("Failed to export", "Shutdown in progress", "Exporter already shutdown")


VAGUE = ("timed out, retries exhausted", "the exporter reported a failure")


def probe_connect(url: str, timeout_s: float = 1.0) -> str | None:
    """Why a TCP connection to ``url``'s host and port fails, or None if it connects.

    Upstream often logs only "Failed to export ... due to timeout, max retries or
    shutdown", dropping the underlying error; one connect attempt names it.
    """
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except ConnectionRefusedError:
        return "connection refused"
    except socket.gaierror:
        return "name or service not known"
    except TimeoutError:
        return "connect timed out"
    except OSError as error:
        return (error.strerror or str(error)).lower()


def best_reason(messages: Sequence[str]) -> str:
    """The most specific reason among one export's upstream messages (the last one is often
    a generic "Failed to export ... due to timeout, max retries or shutdown")."""
    for message in reversed(messages):
        if not message.startswith(GENERIC) or "code:" in message:
            return summarize_reason(message)
    if messages:
        return "timed out, retries exhausted" if "timeout" in messages[-1] else summarize_reason(messages[-1])
    return "the exporter reported a failure"


def hint(destination: Destination, reason: str) -> str:
    """What to do about ``reason`` at ``destination``."""
    lowered = reason.lower()
    if "proxy" in lowered:
        variable = destination.proxy_variable or "HTTP_PROXY/HTTPS_PROXY"
        return (
            f"the exporter connects through the proxy named by {variable}; fix or unset {variable}, "
            "or add the collector's host to NO_PROXY"
        )
    if "rate-limited" in lowered or reason.startswith("HTTP 429"):
        return (
            "the collector is rate-limiting this service; raise its limits or send less "
            "(OTEL_TRACES_SAMPLER=parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG)"
        )
    if reason.startswith(("HTTP 502", "HTTP 503", "HTTP 504")):
        return (
            "the collector (or a gateway before it) is overloaded or restarting; check its health and limits"
        )
    if reason.startswith("HTTP 404"):
        if destination.endpoint_variable.endswith(f"_{destination.signal.upper()}_ENDPOINT"):
            return f"{destination.endpoint_variable} is used as-is; it must end in /v1/{destination.signal}"
        return "check that the collector serves OTLP/HTTP at this URL (usually port 4318)"
    if reason.startswith(("HTTP 401", "HTTP 403")):
        return "the collector refused the credentials; check OTEL_EXPORTER_OTLP_HEADERS"
    if reason.startswith("HTTP 415") or "http/2" in lowered or "grpc port" in lowered:
        return "the port speaks another protocol; check OTEL_EXPORTER_OTLP_PROTOCOL (gRPC 4317, HTTP 4318)"
    if "refused" in lowered:
        return (
            "nothing is listening there; check that the collector is running and the host and port are right"
        )
    if "not known" in lowered or "name resolution" in lowered or "nodename" in lowered:
        return "the host name does not resolve; check the endpoint variable"
    if "tls" in lowered or "ssl" in lowered or "certificate" in lowered:
        return "check http:// versus https:// and OTEL_EXPORTER_OTLP_CERTIFICATE"
    if "unavailable" in lowered and destination.protocol == "grpc":
        return "no gRPC server answered; check the port (4317) and OTEL_EXPORTER_OTLP_PROTOCOL"
    if "timed out" in lowered or "deadline" in lowered:
        return "the collector did not answer in time; check the network or raise OTEL_EXPORTER_OTLP_TIMEOUT"
    return "run 'otel-run doctor' for a diagnosis"
