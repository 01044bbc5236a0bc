"""Checks of the live test: what each probe ``Outcome`` means, and the exact fix."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from otel_run.config.endpoints import GRPC_PORT, HTTP_PORT, SIGNAL_PATHS
from otel_run.config.settings import Settings, SignalSettings
from otel_run.doctor.diagnose.check import _ITEM, _NOUNS, FAIL, OK, WARN, Check, _join, _short
from otel_run.doctor.probe import Outcome


def live_checks(outcomes: Sequence[Outcome], settings: Settings) -> list[Check]:
    """One check per distinct answer; signals that got the same answer share a check."""
    groups: dict[tuple[Any, ...], list[Outcome]] = {}
    for outcome in outcomes:
        key: tuple[Any, ...] = (
            outcome.kind,
            outcome.http_status,
            outcome.grpc_code,
            outcome.protocol,
            outcome.host,
            outcome.port,
        )
        if outcome.http_status == 404 or outcome.rejected:
            # Paths differ per signal, and so do their fixes.
            key += (outcome.url, outcome.detail)
        groups.setdefault(key, []).append(outcome)
    checks: list[Check] = []
    for group in groups.values():
        first = group[0]
        names = [outcome.signal for outcome in group]
        status, message, fix = explain(first, settings.signal(first.signal))
        if len(group) > 1 and first.delivered:
            items = _join([_ITEM[name] for name in names])
            answer = f"HTTP {first.http_status}" if first.http_status else "gRPC OK"
            message = f"{_base_url(first)} accepted the test {items} over {first.protocol} ({answer})"
        elif len(group) > 1:
            message = message.replace(first.url, _base_url(first))
        checks.append(Check(f"{', '.join(names)} endpoint", status, message, fix))
    return checks


def _base_url(outcome: Outcome) -> str:
    path = SIGNAL_PATHS[outcome.signal]
    if outcome.protocol != "grpc" and outcome.url.endswith(path):
        return outcome.url[: -len(path)]
    return outcome.url


def explain(outcome: Outcome, signal: SignalSettings) -> tuple[str, str, str]:
    """Status, message and fix for one probe outcome."""
    kind = outcome.kind
    where = _host_port(outcome)
    endpoint_var = _endpoint_variable(signal)
    protocol_var = _protocol_variable(signal)
    item = _ITEM[outcome.signal]
    answer = f"HTTP {outcome.http_status}" if outcome.http_status else f"gRPC {outcome.grpc_code or 'OK'}"

    if kind == "accepted":
        if outcome.rejected:
            return (
                WARN,
                f"{outcome.url} accepted the request over {outcome.protocol} ({answer}) but rejected "
                f"{outcome.rejected} item(s): {outcome.detail or 'no reason given'}",
                "read the collector's log: it dropped data it received",
            )
        return (OK, f"{outcome.url} accepted the test {item} over {outcome.protocol} ({answer})", "")
    if kind == "refused":
        fix = f"start the collector, or set {endpoint_var} to the address it listens on"
        if outcome.host in ("localhost", "127.0.0.1", "::1"):
            fix += (
                "; in a container, localhost is the container itself: use the collector's Service "
                "name, or the node's IP for a node agent"
            )
        return (FAIL, f"nothing is listening at {where} (connection refused)", fix)
    if kind == "dns":
        return (
            FAIL,
            f"the host name {outcome.host!r} does not resolve ({outcome.detail})",
            f"correct the host in {endpoint_var}; in Kubernetes a Service is reached as "
            "<service>.<namespace> (or <service>.<namespace>.svc.cluster.local)",
        )
    if kind == "dns_timeout":
        return (
            FAIL,
            f"looking up {outcome.host!r} got no answer in time ({outcome.detail})",
            "check the DNS servers this container uses (/etc/resolv.conf), or use an IP address",
        )
    if kind == "connect_timeout":
        return (
            FAIL,
            f"no answer to the TCP connection to {where} ({outcome.detail}): packets are dropped by a "
            "firewall or network policy, or the host is down",
            f"allow traffic from here to {where}, or correct {endpoint_var}",
        )
    if kind == "unreachable":
        return (FAIL, f"cannot reach {where}: {outcome.detail}", f"check the address in {endpoint_var}")
    if kind == "silent":
        what = "gRPC answer" if outcome.protocol == "grpc" else "answer"
        return (
            FAIL,
            f"{where} accepted the connection but sent no {what} within {outcome.waited_s:g}s",
            f"make sure {where} is the collector's OTLP port ({GRPC_PORT} for grpc, {HTTP_PORT} for HTTP), "
            "not another service or a proxy that holds connections; if the collector is only slow, "
            f"raise OTEL_EXPORTER_OTLP_TIMEOUT (now {signal.timeout_s * 1000:g} ms)",
        )
    if kind == "closed":
        return (
            FAIL,
            f"{where} closed the connection without answering",
            f"make sure {endpoint_var} names the collector's OTLP port; if the collector expects TLS, use https://",
        )
    if kind == "tls_to_plaintext":
        speaks = f" (it speaks {outcome.peer} without TLS)" if outcome.peer else ""
        fix = f"use http:// in {endpoint_var}"
        if outcome.protocol == "grpc":
            fix += " (or set OTEL_EXPORTER_OTLP_INSECURE=true for an endpoint written without a scheme)"
        return (
            FAIL,
            f"the endpoint uses TLS, but {where} speaks plain text{speaks}",
            fix + ", or enable TLS on the collector",
        )
    if kind == "plaintext_to_tls":
        return (
            FAIL,
            f"{where} expects TLS, but the endpoint uses plain text (http://)",
            f"use https:// in {endpoint_var}; if the collector's certificate is not from a public CA, "
            "also set OTEL_EXPORTER_OTLP_CERTIFICATE=/path/to/ca.pem",
        )
    if kind == "tls_verify":
        detail = outcome.detail
        if "mismatch" in detail or "hostname" in detail.lower():
            fix = f"use a host name the certificate was issued for in {endpoint_var}"
        elif signal.certificate:
            fix = (
                f"OTEL_EXPORTER_OTLP_CERTIFICATE={signal.certificate} does not hold the CA that signed the "
                "collector's certificate: point it at that CA's PEM file"
            )
        else:
            fix = (
                "set OTEL_EXPORTER_OTLP_CERTIFICATE to the PEM file of the CA that signed the collector's "
                "certificate (for a self-signed certificate, the certificate itself)"
            )
        return (FAIL, f"the TLS certificate of {where} is not trusted: {detail}", fix)
    if kind == "tls_error":
        return (
            FAIL,
            f"the TLS handshake with {where} failed: {outcome.detail}",
            "check the collector's TLS settings; if it requires a client certificate, set "
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY",
        )
    if kind == "tls_files":
        return (
            FAIL,
            f"a TLS file cannot be used: {outcome.detail}; the app's exporter cannot connect either",
            "point OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE and _CLIENT_KEY at readable PEM "
            "files inside this container",
        )
    if kind == "http2_peer":
        return (
            FAIL,
            f"{where} speaks HTTP/2 only, as an OTLP/gRPC port does, but the protocol is {outcome.protocol}: "
            "the collector cannot read the request",
            f"set {protocol_var}=grpc to keep this port, or point {endpoint_var} at the collector's "
            f"OTLP/HTTP port ({HTTP_PORT} by default)",
        )
    if kind == "http1_peer":
        return (
            FAIL,
            f"{where} speaks HTTP/1.1, as an OTLP/HTTP port does, but the protocol is grpc "
            f"(gRPC says: {_grpc_said(outcome.detail)})",
            f"set {protocol_var}=http/protobuf to keep this port, or point {endpoint_var} at the "
            f"collector's OTLP/gRPC port ({GRPC_PORT} by default)",
        )
    if kind == "http_status":
        return _explain_http(outcome, signal, endpoint_var)
    if kind == "grpc_status":
        return _explain_grpc(outcome, signal, endpoint_var)
    if kind == "garbage":
        return (
            FAIL,
            f"{where} answered with something that is neither HTTP nor TLS ({outcome.detail}): "
            "it is not an OTLP port",
            f"point {endpoint_var} at the collector's OTLP port",
        )
    return (
        FAIL,
        f"the live test could not run: {outcome.detail}",
        "reinstall otel-run in this environment (pip install --force-reinstall otel-run)",
    )


def _explain_http(outcome: Outcome, signal: SignalSettings, endpoint_var: str) -> tuple[str, str, str]:
    status = outcome.http_status or 0
    said = f": {_short(outcome.detail)}" if outcome.detail else ""
    noun = _NOUNS[outcome.signal]
    if status == 401:
        return (FAIL, f"{outcome.url} answered 401 Unauthorized{said}", _auth_fix(signal, "401"))
    if status == 403:
        return (
            FAIL,
            f"{outcome.url} answered 403 Forbidden{said}: the credentials are known but may not send {noun}",
            "check the token's permissions (scopes, tenant, ingestion key) in OTEL_EXPORTER_OTLP_HEADERS",
        )
    if status == 404:
        return (FAIL, f"{outcome.url} answered 404 Not Found{said}", _not_found_fix(outcome, signal))
    if status == 405:
        return (
            FAIL,
            f"{outcome.url} answered 405 Method Not Allowed: it does not take OTLP requests "
            "(a UI, health or metrics port?)",
            f"point {endpoint_var} at the collector's OTLP/HTTP port ({HTTP_PORT} by default)",
        )
    if status == 415 or (status == 400 and outcome.protocol == "http/json"):
        return (
            FAIL,
            f"{outcome.url} answered {status}{said}: it does not read {outcome.protocol}",
            f"set {_protocol_variable(signal)}=http/protobuf, which every OTLP/HTTP collector reads",
        )
    if 300 <= status < 400:
        return (
            FAIL,
            f"{outcome.url} answered {status}{said}",
            f"set {endpoint_var} to the final URL; exporters do not follow redirects reliably",
        )
    if status in (429, 502, 503, 504):
        return (
            FAIL,
            f"{outcome.url} answered {status}{said}: the collector (or a gateway in front of it) is "
            "overloaded or not ready",
            "check the collector's health, memory limiter and log; the app's exporter retries these",
        )
    return (
        FAIL,
        f"{outcome.url} answered {status}{said}",
        "read the collector's log for why it refused the request",
    )


def _explain_grpc(outcome: Outcome, signal: SignalSettings, endpoint_var: str) -> tuple[str, str, str]:
    code = outcome.grpc_code or "UNKNOWN"
    where = _host_port(outcome)
    said = f" ({_grpc_said(outcome.detail)})" if outcome.detail else ""
    noun = _NOUNS[outcome.signal]
    if code == "UNAUTHENTICATED":
        return (FAIL, f"{where} answered gRPC UNAUTHENTICATED{said}", _auth_fix(signal, "UNAUTHENTICATED"))
    if code == "PERMISSION_DENIED":
        return (
            FAIL,
            f"{where} answered gRPC PERMISSION_DENIED{said}: the credentials are known but may not "
            f"send {noun}",
            "check the token's permissions (scopes, tenant, ingestion key) in OTEL_EXPORTER_OTLP_HEADERS",
        )
    if code == "UNIMPLEMENTED":
        return (
            FAIL,
            f"{where} speaks gRPC but has no OTLP {outcome.signal} service{said}",
            f"point {endpoint_var} at the collector's OTLP/gRPC port ({GRPC_PORT} by default), and make "
            f"sure its otlp receiver is in a {outcome.signal} pipeline",
        )
    if code in ("RESOURCE_EXHAUSTED", "UNAVAILABLE"):
        return (
            FAIL,
            f"{where} answered gRPC {code}{said}",
            f"make sure the collector is running and {endpoint_var} names its OTLP/gRPC port; "
            "check its log and memory limiter",
        )
    return (
        FAIL,
        f"{where} answered gRPC {code}{said}",
        "read the collector's log for why it refused the request",
    )


def _auth_fix(signal: SignalSettings, answer: str) -> str:
    keys = signal.headers.keys()
    if not keys:
        return (
            "the collector requires credentials and none were sent: set "
            "OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20<token> (or the header your collector "
            "or vendor expects; values are percent-decoded, so write a space as %20)"
        )
    shown = ", ".join(f"{key}=***" for key in keys)
    return (
        f"the collector answered {answer} to the headers sent ({shown}): check the token's value in "
        "OTEL_EXPORTER_OTLP_HEADERS (wrong or expired? a space must be written as %20) and the header name"
    )


def _not_found_fix(outcome: Outcome, signal: SignalSettings) -> str:
    parts = urlsplit(outcome.url)
    root = f"{parts.scheme}://{parts.netloc}"
    path = SIGNAL_PATHS[outcome.signal]
    specific = f"OTEL_EXPORTER_OTLP_{outcome.signal.upper()}_ENDPOINT"
    if signal.endpoint_source == specific:
        return (
            f"{specific} is used as-is, so it must be the full URL ending in {path}: "
            f"set {specific}={root}{path} (or the path your collector or vendor documents)"
        )
    return (
        f"set OTEL_EXPORTER_OTLP_ENDPOINT to the collector's base URL (e.g. {root}); otel-run appends "
        f"{path}. For a collector that serves {outcome.signal} elsewhere, set {specific} to the full URL"
    )


def _endpoint_variable(signal: SignalSettings) -> str:
    # A variable, or the field of OTEL_CONFIG_FILE the endpoint comes from ("c.yaml tracer_provider...").
    return "OTEL_EXPORTER_OTLP_ENDPOINT" if signal.endpoint_source == "default" else signal.endpoint_source


def _protocol_variable(signal: SignalSettings) -> str:
    return (
        signal.protocol_source
        if signal.protocol_source.startswith("OTEL_")
        else "OTEL_EXPORTER_OTLP_PROTOCOL"
    )


def _host_port(outcome: Outcome) -> str:
    host = f"[{outcome.host}]" if ":" in outcome.host else outcome.host
    return f"{host}:{outcome.port}"


def _grpc_said(detail: str) -> str:
    """The useful end of a grpcio error: 'failed to connect ...; last error: UNAVAILABLE: ipv4:h:p: X' → X."""
    said = detail.rpartition("last error: ")[2]
    said = re.sub(r"^[A-Z_]+: (?:ipv[46]:)?\S+: ", "", said)
    return _short(said)
