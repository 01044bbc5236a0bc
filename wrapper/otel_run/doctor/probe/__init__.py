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
Results are facts (``Outcome``); ``otel_run.doctor.diagnose`` turns them into advice.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from otel_run.config.settings import Settings, SignalSettings
from otel_run.doctor.probe.grpc import _probe_grpc
from otel_run.doctor.probe.http import _probe_http
from otel_run.doctor.probe.layers import _Clock, _Stop, _Target

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
            from otel_run.doctor import testpayload  # here: it imports protobuf

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
