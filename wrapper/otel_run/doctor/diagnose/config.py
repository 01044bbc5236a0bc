"""Checks of the environment alone: settings, variables, service name, exporters, sampler, proxy."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from otel_run.config.endpoints import redact_url
from otel_run.config.settings import SIGNALS, Settings
from otel_run.doctor.diagnose.check import _NOUNS, FAIL, OK, WARN, Check, _join


def settings_checks(settings: Settings, environ: Mapping[str, str]) -> list[Check]:
    """Checks that need only the parsed settings: disabled SDK, exporters, sampler, bad values."""
    if settings.config_file is not None:  # the file, not the variables, says what is exported
        from otel_run.doctor.diagnose.configfile import file_checks

        return file_checks(settings, environ)
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
