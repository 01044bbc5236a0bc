"""Turn what ``otel-run doctor`` found into checks: what is wrong, and the exact fix.

Pure functions of ``Settings``, probe ``Outcome``s, the boot check's facts and the
library inventory; no I/O, so every message is unit-tested. A ``fail`` means some
telemetry would not arrive; a ``warn`` means it arrives, but something deserves a look.
Messages name variables and show URLs redacted; they never hold a header value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from otel_run.endpoints import GRPC_PORT, HTTP_PORT, SIGNAL_PATHS, redact_url
from otel_run.inventory import Library
from otel_run.probe import Outcome
from otel_run.settings import SIGNALS, Settings, SignalSettings

OK, WARN, FAIL = "ok", "warn", "fail"
STATUSES = (OK, WARN, FAIL)
_NOUNS = {"traces": "spans", "metrics": "metrics", "logs": "log records"}
_ITEM = {"traces": "span", "metrics": "metric", "logs": "log record"}


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is ok, warn or fail; ``fix`` says what to change (empty when ok)."""

    name: str
    status: str
    message: str
    fix: str = ""


# --- the environment -----------------------------------------------------------------


def settings_checks(settings: Settings, environ: Mapping[str, str]) -> list[Check]:
    """Checks that need only the parsed settings: disabled SDK, exporters, sampler, bad values."""
    checks: list[Check] = []
    if settings.disabled:
        checks.append(
            Check(
                "sdk",
                FAIL,
                "OTEL_SDK_DISABLED=true: otel-run installs nothing, the app runs with the no-op API "
                "and no telemetry is sent",
                "unset OTEL_SDK_DISABLED (or set it to false)",
            )
        )
    checks.extend(variable_checks(settings.warnings))
    checks.append(service_check(settings))
    checks.extend(exporter_checks(settings))
    checks.append(sampler_check(settings))
    proxy = proxy_check(settings, environ)
    if proxy is not None:
        checks.append(proxy)
    return checks


_TYPO = re.compile(r"^(?P<typed>\S+) is not a known variable and is ignored; did you mean (?P<meant>\S+)\?")
_NAMED = re.compile(r"^(?P<name>OTEL_\w+)")
_MEANT_VALUE = re.compile(r"\(did you mean (?P<value>[\w/]+)\?\)")
_DOUBLED = re.compile(r"already ends in \S+, but .*?; using (?P<url>\S+) as the base")
_NO_PATH = re.compile(r"has no path\b.*?; using (?P<url>[^\s;]+)")
_NO_SCHEME = re.compile(r"has no scheme; assuming (?P<scheme>\w+)://")
_PORT = re.compile(r"uses port \d+, .*?; (?P<fix>use port \d+ or set OTEL_\w+=[\w/]+)")


def variable_checks(warnings: Sequence[str]) -> list[Check]:
    """One warning per problem ``Settings`` found (typos, bad values, endpoint fixes)."""
    if not warnings:
        return [Check("variables", OK, "every OTEL_* variable is valid, and none looks like a typo")]
    return [Check("variables", WARN, warning, variable_fix(warning)) for warning in warnings]


def variable_fix(warning: str) -> str:
    """The change that silences one ``Settings`` warning (which may name several problems)."""
    typo = _TYPO.match(warning)
    if typo:
        return f"rename {typo['typed']} to {typo['meant']}"
    named = _NAMED.match(warning)
    if named is None:
        return ""
    name = named["name"]
    fixes = []
    for pattern, template in (
        (_MEANT_VALUE, "set {name}={value}"),
        (_DOUBLED, "set {name}={url} (the base URL, without /v1/<signal>)"),
        (_NO_PATH, "set {name}={url}"),
        (_PORT, "{fix}"),
        (_NO_SCHEME, "write the scheme in {name} ({scheme}://host:port)"),
    ):
        match = pattern.search(warning)
        if match:
            fixes.append(template.format(name=name, **match.groupdict()))
    return "; ".join(fixes) or f"correct or unset {name}; until then otel-run uses the value named above"


def service_check(settings: Settings) -> Check:
    """How the service is named; a derived name is fine but announced."""
    name = settings.service_name
    if not settings.service_name_derived:
        return Check("service name", OK, f"service.name is {name!r}")
    origin = settings.service_name_origin or ""
    if origin.startswith("Kubernetes"):
        told = f"service.name is derived from the {origin}: {name!r}"
    else:
        told = "service.name is derived at startup from the app's command line (python app.py → app)"
    return Check("service name", OK, told + "; set OTEL_SERVICE_NAME to choose it")


def exporter_checks(settings: Settings) -> list[Check]:
    """Whether each signal is exported to a collector at all."""
    checks: list[Check] = []
    fine: list[str] = []
    for name in SIGNALS:
        signal = settings.signal(name)
        variable = f"OTEL_{name.upper()}_EXPORTER"
        status = FAIL if name == "traces" else WARN
        if not signal.exporters:
            checks.append(
                Check(
                    f"{name} exporter",
                    status,
                    f"{variable}=none: {_NOUNS[name]} are not exported",
                    f"unset {variable} (otlp is the default)",
                )
            )
        elif not signal.otlp and signal.exporters == ("console",):
            checks.append(
                Check(
                    f"{name} exporter",
                    status,
                    f"{variable}=console: {_NOUNS[name]} are printed on the app's stdout, "
                    "not sent to a collector",
                    f"set {variable}=otlp (or otlp,console to keep both)",
                )
            )
        elif not signal.otlp:
            others = ", ".join(signal.exporters)
            checks.append(
                Check(
                    f"{name} exporter",
                    WARN,
                    f"{variable}={others}: {_NOUNS[name]} go to that exporter; "
                    "the live test covers OTLP only",
                    f"set {variable}=otlp to export over OTLP",
                )
            )
        else:
            fine.append(name)
    if fine:
        checks.insert(0, Check("exporters", OK, f"{_join(fine)} are exported over OTLP"))
    return checks


def sampler_check(settings: Settings) -> Check:
    """Whether the sampler records anything."""
    sampler, ratio = settings.sampler, settings.sampler_arg
    shown = sampler if ratio is None else f"{sampler} with OTEL_TRACES_SAMPLER_ARG={ratio:g}"
    fix = "unset OTEL_TRACES_SAMPLER (the default parentbased_always_on records every trace)"
    if sampler == "always_off" or (sampler == "traceidratio" and ratio == 0):
        return Check("sampler", FAIL, f"OTEL_TRACES_SAMPLER={shown} records no span at all", fix)
    if sampler == "parentbased_always_off" or (sampler == "parentbased_traceidratio" and ratio == 0):
        return Check(
            "sampler",
            WARN,
            f"OTEL_TRACES_SAMPLER={shown} records a trace only when the caller's trace is sampled: "
            "a service that starts traces records none",
            fix,
        )
    return Check("sampler", OK, f"{shown} records traces")


def proxy_check(settings: Settings, environ: Mapping[str, str]) -> Check | None:
    """Warn when a proxy variable would route the app's exports, which the live test does not use."""
    no_proxy = environ.get("no_proxy") or environ.get("NO_PROXY") or ""
    for name in SIGNALS:
        signal = settings.signal(name)
        if not signal.otlp:
            continue
        parts = urlsplit(signal.endpoint)
        candidates: tuple[str, ...]
        if signal.protocol == "grpc":
            candidates = ("grpc_proxy", "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY")
        elif parts.scheme == "https":
            candidates = ("https_proxy", "HTTPS_PROXY")
        else:
            candidates = ("http_proxy", "HTTP_PROXY")
        for variable in candidates:
            proxy = environ.get(variable)
            if proxy and not _bypassed(parts.hostname or "", no_proxy):
                host = parts.hostname or ""
                return Check(
                    "proxy",
                    WARN,
                    f"{variable} is set: the app's exporter sends to {host} through the proxy "
                    f"{redact_url(proxy)}, while doctor's live test connects directly",
                    f"if the app's exports fail while the live test passes, add {host} to NO_PROXY",
                )
    return None


def _bypassed(host: str, no_proxy: str) -> bool:
    for entry in (item.strip().lower() for item in no_proxy.split(",")):
        entry = entry.split(":")[0].lstrip(".")
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False


# --- the live test -------------------------------------------------------------------


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
    return (
        signal.endpoint_source
        if signal.endpoint_source.startswith("OTEL_")
        else "OTEL_EXPORTER_OTLP_ENDPOINT"
    )


def _protocol_variable(signal: SignalSettings) -> str:
    return (
        signal.protocol_source
        if signal.protocol_source.startswith("OTEL_")
        else "OTEL_EXPORTER_OTLP_PROTOCOL"
    )


def _host_port(outcome: Outcome) -> str:
    host = f"[{outcome.host}]" if ":" in outcome.host else outcome.host
    return f"{host}:{outcome.port}"


# --- the boot check ------------------------------------------------------------------


def boot_checks(
    facts: Mapping[str, Any] | None,
    error: str,
    exit_code: int | None,
    warnings: Sequence[str],
    other_stderr: Sequence[str],
    settings: Settings,
) -> list[Check]:
    """What a Python started with the app's environment ended up with."""
    boot_warnings = [line for line in warnings if line not in settings.warnings]
    if facts is None:
        return [_no_report(error, exit_code, boot_warnings, other_stderr)]
    checks: list[Check] = []
    boot = facts.get("boot") or {}
    providers = facts.get("providers") or {}
    problems = [str(problem) for problem in boot.get("problems") or ()]
    sdk_provider = bool(providers.get("sdk_provider"))
    provider = str(providers.get("tracer_provider") or "unknown")
    active = list(boot.get("active_signals") or ())
    wanted = [name for name in SIGNALS if settings.signal(name).exporters]

    explained: list[str] = []
    if not sdk_provider:
        explained = problems
        checks.append(
            Check(
                "boot",
                FAIL,
                _no_sdk_message(provider, problems),
                _no_sdk_fix(settings, boot, providers, problems),
            )
        )
    else:
        missing = [name for name in wanted if name not in active]
        if missing:
            reasons = [
                problem
                for problem in problems
                if any(
                    problem.startswith(f"OTEL_{name.upper()}_EXPORTER") or problem.startswith(name)
                    for name in missing
                )
                and "will not be exported" not in problem
            ]
            checks.append(
                Check(
                    "boot",
                    FAIL,
                    f"in the app, {_join(missing)} would not be exported: "
                    + ("; ".join(reasons) or "no exporter could be built"),
                    _problem_fix(reasons),
                )
            )
            explained = reasons
            boot_warnings += [problem for problem in problems if problem not in reasons]
        else:
            exported = f"{_join(active)} have exporters" if active else "no signal is exported"
            checks.append(
                Check(
                    "boot",
                    OK,
                    f"a Python started with the app's environment gets an SDK TracerProvider ({provider}); "
                    f"{exported}",
                )
            )
    if not settings.disabled:
        shown = {check.message for check in checks}
        checks.extend(
            Check("boot warning", WARN, line, _problem_fix([line], default=""))
            for line in dict.fromkeys(boot_warnings)
            if "will not be exported" not in line
            and not any(line in message for message in shown)
            and not any(problem in line for problem in explained)
        )
    checks.extend(_instrumentor_checks(boot))
    checks.append(
        _sitecustomize_check(facts.get("sitecustomize") or {}, bool(boot.get("booted")), other_stderr)
    )
    if sdk_provider:
        guarded = bool(providers.get("guarded"))
        checks.append(
            Check(
                "app's own SDK setup",
                OK if guarded else WARN,
                "if the app sets up its own SDK (trace.set_tracer_provider()), otel-run keeps its own "
                "provider, so each span is exported once, and the app prints one otel-run line saying so "
                "(this check runs no app code, so it cannot see such a call)"
                if guarded
                else "an app that calls trace.set_tracer_provider() itself is not caught",
            )
        )
    return checks


def _no_report(error: str, exit_code: int | None, warnings: Sequence[str], other: Sequence[str]) -> Check:
    strict = [line for line in warnings if "OTEL_RUN_STRICT" in line]
    if exit_code == 70 and strict:
        return Check(
            "boot",
            FAIL,
            f"the app would exit 70 at startup: {strict[-1]}",
            _problem_fix(strict, default="fix the problem named, or unset OTEL_RUN_STRICT"),
        )
    cannot_import = [line for line in warnings if "cannot import otel_run" in line]
    if cannot_import:
        return Check(
            "boot",
            FAIL,
            cannot_import[0],
            "install otel-run into the interpreter the app runs with (pip install otel-run)",
        )
    tail = " | ".join(list(other)[-3:])
    said = f"; it said: {tail}" if tail else ""
    return Check(
        "boot",
        FAIL,
        f"a Python started with the app's environment could not report how it booted ({error}){said}",
        "run 'otel-run python -c pass' to see the error in full; set OTEL_RUN_DEBUG=true for the traceback",
    )


def _no_sdk_message(provider: str, problems: Sequence[str]) -> str:
    why = f" (the boot said: {'; '.join(problems)})" if problems else ""
    return (
        f"a Python started with the app's environment has the global tracer provider {provider}, not an SDK "
        f"TracerProvider: instrumentations create spans and they are dropped{why}"
    )


def _no_sdk_fix(
    settings: Settings, boot: Mapping[str, Any], providers: Mapping[str, Any], problems: Sequence[str]
) -> str:
    if settings.disabled:
        return "unset OTEL_SDK_DISABLED"
    if providers.get("sdk_error"):
        return (
            f"the SDK cannot be imported ({providers['sdk_error']}): "
            "pip install --force-reinstall opentelemetry-sdk otel-run"
        )
    if not boot.get("booted"):
        return (
            "otel-run's boot did not run: start the app as 'otel-run python app.py', or put otel-run's boot "
            "directory first on PYTHONPATH"
        )
    return _problem_fix(problems)


def _problem_fix(
    problems: Sequence[str], default: str = "set OTEL_RUN_DEBUG=true and start the app to see the traceback"
) -> str:
    fixes: list[str] = []
    for problem in problems:
        match = re.search(r"\((pip install [^)]+)\)", problem)
        exporter = re.search(r"(OTEL_[A-Z]+_EXPORTER): exporter '([^']+)' is not installed", problem)
        if match:
            fixes.append(match.group(1))
        elif exporter:
            fixes.append(
                f"set {exporter[1]}=otlp, or install the package that provides the {exporter[2]!r} exporter"
            )
    return "; ".join(dict.fromkeys(fixes)) or default


def _instrumentor_checks(boot: Mapping[str, Any]) -> list[Check]:
    states = boot.get("instrumentations") or {}
    details = boot.get("instrumentation_details") or {}
    checks: list[Check] = []
    for state in ("failed", "skipped"):
        for name in states.get(state) or ():
            checks.append(
                Check(
                    f"instrumentation {name}",
                    WARN,
                    f"{name} is {state}: {details.get(name, '')}".rstrip(": "),
                    f"reinstall or upgrade the {name} instrumentation to match the library, or set "
                    f"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS={name}",
                )
            )
    return checks


def _sitecustomize_check(chain: Mapping[str, Any], booted: bool, other_stderr: Sequence[str]) -> Check:
    following = str(chain.get("next") or "")
    if not booted:
        return Check(
            "sitecustomize",
            FAIL,
            "otel-run's sitecustomize did not run in a Python started with the app's environment",
            "make sure the interpreter imports sitecustomize (no 'python -S' / -I) and can import otel_run",
        )
    if not following:
        return Check(
            "sitecustomize", OK, "otel-run's sitecustomize runs first; there is no other one to chain to"
        )
    if chain.get("next_is_opentelemetry_instrument"):
        return Check(
            "sitecustomize",
            OK,
            f"opentelemetry-instrument's sitecustomize ({following}) is skipped on purpose: otel-run already "
            "configured the SDK",
        )
    if chain.get("next_ran"):
        return Check("sitecustomize", OK, f"the app's own sitecustomize ({following}) runs after otel-run's")
    errors = [line for line in other_stderr if "sitecustomize" in line or "Error" in line]
    said = f": {errors[-1]}" if errors else ""
    return Check(
        "sitecustomize",
        WARN,
        f"the app's own sitecustomize ({following}) was found but did not finish{said}",
        f"fix the error in {following}; run 'otel-run python -c pass' to see it",
    )


# --- instrumentations ----------------------------------------------------------------


def instrumentation_checks(
    libraries: Sequence[Library] | None, instrumented: Sequence[str] | None, settings: Settings
) -> list[Check]:
    """Installed libraries without instrumentation, and versions an instrumentation does not support.

    ``instrumented`` is None when the boot check could not tell which instrumentors are armed.
    """
    if libraries is None:
        return [
            Check(
                "instrumentations",
                WARN,
                "cannot list installed libraries (opentelemetry-instrumentation or packaging is missing)",
                "pip install --force-reinstall otel-run",
            )
        ]
    checks: list[Check] = []
    missing = [lib for lib in libraries if not lib.installed and not lib.for_otel_run]
    ignored = [lib for lib in libraries if not lib.installed and lib.for_otel_run]
    unsupported = [lib for lib in libraries if lib.installed and not lib.supported]
    on = (
        "unknown (the boot check did not report)"
        if instrumented is None
        else ", ".join(instrumented) or "none"
    )
    note = ""
    if ignored:
        names = ", ".join(lib.library for lib in ignored)
        note = f" (not counted: {names}, installed for otel-run itself)"
    if missing:
        shown = ", ".join(f"{lib.library} {lib.version}" for lib in missing)
        checks.append(
            Check(
                "instrumentations",
                WARN,
                f"instrumented on import: {on}. Installed without an instrumentation: {shown}; "
                f"calls through them make no spans{note}",
                "pip install " + " ".join(lib.instrumentation for lib in missing),
            )
        )
    else:
        checks.append(
            Check(
                "instrumentations",
                OK,
                f"instrumented on import: {on}; every installed library that has an instrumentation "
                f"has it{note}",
            )
        )
    for lib in unsupported:
        enabled = [name for name in lib.entry_points if not settings.instrumentation_disabled(name)]
        if enabled:
            checks.append(
                Check(
                    f"instrumentation {enabled[0]}",
                    WARN,
                    f"{lib.library} {lib.version} is installed, but {lib.instrumentation} does not support "
                    "that version: it will be skipped",
                    f"install the {lib.instrumentation} release that supports {lib.library} {lib.version}, "
                    f"or change the {lib.library} version",
                )
            )
    return checks


def _grpc_said(detail: str) -> str:
    """The useful end of a grpcio error: 'failed to connect ...; last error: UNAVAILABLE: ipv4:h:p: X' → X."""
    said = detail.rpartition("last error: ")[2]
    said = re.sub(r"^[A-Z_]+: (?:ipv[46]:)?\S+: ", "", said)
    return _short(said)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _join(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
