"""``otel-run doctor``: why telemetry does or does not arrive, with the fix.

``collect(environ)`` gathers facts and returns a ``Report`` (data only): the resolved
configuration (``Settings``), a boot check in a child Python started with the app's
environment (``bootcheck``), a live test that sends a test span, metric and log record
to the configured endpoints (``probe``), and the installed libraries with and without
instrumentation (``inventory``); ``diagnose`` turns them into checks. ``render`` writes
the report as text or JSON. Neither exits nor changes the environment.

Nothing here imports the OpenTelemetry SDK: doctor must work when the SDK is broken.
No header value or URL credential reaches the report: configuration shows header
names and redacted URLs, and every string is scrubbed of the secrets once more.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from otel_run import __version__
from otel_run.config.settings import SIGNALS, Settings, SignalSettings
from otel_run.doctor import bootcheck, diagnose, fileconfig, probe
from otel_run.doctor.diagnose import FAIL, INFO, OK, WARN, Check
from otel_run.doctor.inventory import Library
from otel_run.doctor.running import running

__all__ = ["FAIL", "OK", "WARN", "Check", "Report", "collect", "render"]

_MIN_SECRET = 4
"""Shorter strings are not scrubbed from text: they would wreck every message."""


@dataclass(frozen=True)
class Report:
    """Everything doctor found. ``ok`` is True when telemetry would arrive (no check failed)."""

    ok: bool
    checks: list[Check]
    configuration: dict[str, Any] = field(default_factory=dict)
    """The resolved settings, redacted."""
    boot: dict[str, Any] = field(default_factory=dict)
    """The boot check's facts and the child's otel-run lines."""
    live: list[dict[str, Any]] = field(default_factory=list)
    """One entry per probed signal (``probe.Outcome`` fields)."""
    instrumentation: dict[str, Any] = field(default_factory=dict)
    """Instrumented, missing and unsupported libraries."""
    version: str = __version__

    @property
    def problems(self) -> list[Check]:
        """The failed checks."""
        return [check for check in self.checks if check.status == FAIL]

    @property
    def warnings(self) -> list[Check]:
        """The checks that warn."""
        return [check for check in self.checks if check.status == WARN]


def collect(environ: Mapping[str, str]) -> Report:
    """Check the environment ``environ`` as the app would get it; never raises, never exits.

    The boot check (a child process) and the live test (network) run concurrently, each
    with its own time limit, so the whole takes well under 10 seconds whatever the
    endpoint does.
    """
    settings, checks = fileconfig.resolve(Settings.from_env(environ), environ)  # OTEL_CONFIG_FILE
    checks += diagnose.settings_checks(settings, environ)
    live_processes = running(environ)  # before the boot check starts a booted child of its own

    booted: list[bootcheck.BootFacts] = []
    boot_thread = threading.Thread(
        target=lambda: booted.append(bootcheck.run(environ)), name="otel-run-doctor-boot", daemon=True
    )
    boot_thread.start()
    outcomes = [] if settings.disabled else probe.probe_all(settings, environ)
    boot_thread.join(bootcheck.DEFAULT_TIMEOUT_S + 1)
    boot = booted[0] if booted else bootcheck.BootFacts(None, None, error="the boot check did not finish")

    checks.extend(diagnose.live_checks(outcomes, settings))
    checks.extend(
        diagnose.boot_checks(
            boot.facts, boot.error, boot.exit_code, boot.warnings, boot.other_stderr, settings
        )
    )
    libraries = _libraries(boot.facts)
    instrumented = _instrumented(boot.facts)
    checks.extend(diagnose.instrumentation_checks(libraries, instrumented, settings))
    checks.extend(diagnose.running_checks(live_processes))

    report = Report(
        ok=not any(check.status == FAIL for check in checks),
        checks=checks,
        configuration=configuration(settings),
        boot=_boot_section(boot),
        live=[asdict(outcome) for outcome in outcomes],
        instrumentation=_instrumentation_section(libraries, instrumented, settings),
    )
    return scrub(report, sorted({*secrets(settings), *fileconfig.secrets(settings)}, key=len, reverse=True))


def _libraries(facts: Mapping[str, Any] | None) -> list[Library] | None:
    found = (facts or {}).get("libraries")
    if isinstance(found, list):
        try:
            return [Library(**{**item, "entry_points": tuple(item["entry_points"])}) for item in found]
        except (TypeError, KeyError):
            pass
    try:
        # The child could not list them; this interpreter's view is the next best thing.
        from otel_run.doctor import inventory

        return inventory.scan()
    except Exception:  # noqa: BLE001 - a broken instrumentation package is reported, not raised
        return None


def _instrumented(facts: Mapping[str, Any] | None) -> list[str] | None:
    if facts is None:
        return None
    states = (facts.get("boot") or {}).get("instrumentations")
    if not isinstance(states, dict):
        return []  # the boot stopped before arming any
    return sorted({*(states.get("active") or ()), *(states.get("waiting") or ())})


def configuration(settings: Settings) -> dict[str, Any]:
    """The resolved settings as the app would use them, JSON-ready and redacted."""
    resource = dict(settings.resource_attributes)
    resource["service.name"] = settings.service_name
    signals = {}
    for name in SIGNALS:
        signal = settings.signal(name)
        signals[name] = {
            "exporters": list(signal.exporters),
            "endpoint": signal.shown_endpoint,
            "endpoint_source": signal.endpoint_source,
            "protocol": signal.protocol,
            "protocol_source": signal.protocol_source,
            "headers": [f"{key}=***" for key in _header_names(signal)],
            "timeout_ms": round(signal.timeout_s * 1000),
            "compression": signal.compression,
            "tls": not signal.insecure if signal.protocol == "grpc" else signal.endpoint.startswith("https:"),
            "certificate": signal.certificate,
            "client_certificate": signal.client_certificate,
            "client_key": signal.client_key,
        }
    return {
        "sdk_disabled": settings.disabled,
        "service": {
            "name": settings.service_name,
            "derived": settings.service_name_derived,
            "origin": settings.service_name_origin,
        },
        "resource": resource,
        "signals": signals,
        "sampler": settings.sampler,
        "sampler_arg": settings.sampler_arg,
        "propagators": list(settings.propagators),
        "disabled_instrumentations": sorted(settings.disabled_instrumentations),
        "warnings": list(settings.warnings),
        **fileconfig.configuration(settings),
    }


def _header_names(signal: SignalSettings) -> list[str]:
    return signal.headers.keys()


def _boot_section(boot: bootcheck.BootFacts) -> dict[str, Any]:
    facts = dict(boot.facts or {})
    facts.pop("libraries", None)  # reported under "instrumentation"
    return {
        "ran": boot.facts is not None,
        "exit_code": boot.exit_code,
        "error": boot.error,
        "startup_line": boot.startup_line,
        "warnings": boot.warnings,
        "stderr": boot.other_stderr,
        "elapsed_s": boot.elapsed_s,
        **facts,
    }


def _instrumentation_section(
    libraries: list[Library] | None, instrumented: list[str] | None, settings: Settings
) -> dict[str, Any]:
    libraries = libraries or []
    return {
        "instrumented": instrumented,
        "disabled": sorted(settings.disabled_instrumentations),
        "missing": [lib.as_dict() for lib in libraries if not lib.installed and not lib.for_otel_run],
        "unsupported": [lib.as_dict() for lib in libraries if lib.installed and not lib.supported],
        "libraries": [lib.as_dict() for lib in libraries],
    }


# --- secrets -------------------------------------------------------------------------


def secrets(settings: Settings) -> list[str]:
    """Header values and URL credentials that must never be shown, longest first."""
    found: set[str] = set()
    for name in SIGNALS:
        signal = settings.signal(name)
        found.update(value for _key, value in signal.headers.pairs)
        parts = urlsplit(signal.endpoint)
        found.update(value for value in (parts.username, parts.password) if value)
        found.update(value for _key, value in parse_qsl(parts.query))
    found.update({unquote(value) for value in found})
    return sorted((value for value in found if len(value) >= _MIN_SECRET), key=len, reverse=True)


def scrub(report: Report, hidden: list[str]) -> Report:
    """``report`` with every occurrence of a ``hidden`` string replaced by ``***``."""
    if not hidden:
        return report

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for secret in hidden:
                value = value.replace(secret, "***")
            return value
        if isinstance(value, dict):
            return {clean(key): clean(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(clean(item) for item in value)
        return value

    return replace(
        report,
        checks=[Check(c.name, c.status, clean(c.message), clean(c.fix)) for c in report.checks],
        configuration=clean(report.configuration),
        boot=clean(report.boot),
        live=clean(report.live),
        instrumentation=clean(report.instrumentation),
    )


# --- rendering -----------------------------------------------------------------------

_TAGS = {OK: "ok  ", INFO: "info", WARN: "warn", FAIL: "FAIL"}
_WIDTH = 100


def render(report: Report, as_json: bool = False) -> str:
    """The report as text for people, or as one JSON document for tools."""
    if as_json:
        document = {
            "ok": report.ok,
            "version": report.version,
            "checks": [asdict(check) for check in report.checks],
            "configuration": report.configuration,
            "live": report.live,
            "boot": report.boot,
            "instrumentation": report.instrumentation,
        }
        return json.dumps(document, indent=2, default=str) + "\n"
    lines = [_headline(report), "", f"Configuration ({fileconfig.source(report.configuration)})"]
    lines.extend(_configuration_lines(report.configuration))
    lines += ["", "Checks"]
    for check in report.checks:
        lines.extend(_check_lines(check))
    lines += ["", _verdict(report)]
    return "\n".join(lines) + "\n"


def _headline(report: Report) -> str:
    verdict = "telemetry would arrive" if report.ok else "telemetry would NOT arrive"
    return f"otel-run doctor {report.version}: {verdict}"


def _verdict(report: Report) -> str:
    problems, warnings = len(report.problems), len(report.warnings)
    counts = f"{problems} problem{'s' * (problems != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    if report.ok:
        return f"Result: telemetry would arrive ({counts})."
    return f"Result: telemetry would NOT arrive ({counts}); apply the fix under each FAIL."


def _configuration_lines(config: Mapping[str, Any]) -> list[str]:
    if not config:
        return []
    service = config.get("service") or {}
    name = str(service.get("name"))
    if service.get("derived"):
        origin = str(service.get("origin") or "")
        name = (
            f"{name} (derived from the {origin})"
            if origin.startswith("Kubernetes")
            else "derived at startup from the app's command line"
        )
    resource = {key: value for key, value in (config.get("resource") or {}).items() if key != "service.name"}
    rows = [("service.name", name)]
    if resource:
        rows.append(("resource", ", ".join(f"{key}={value}" for key, value in resource.items())))
    if config.get("sdk_disabled"):
        rows.append(("sdk", "disabled (OTEL_SDK_DISABLED=true)"))
    for signal, facts in (config.get("signals") or {}).items():
        rows.append((signal, _signal_text(facts)))
    sampler = str(config.get("sampler"))
    if config.get("sampler_arg") is not None:
        sampler += f" (ratio {config['sampler_arg']:g})"
    rows.append(("sampler", sampler))
    rows.append(("propagators", ", ".join(config.get("propagators") or ()) or "none"))
    if config.get("disabled_instrumentations"):
        rows.append(("disabled", ", ".join(config["disabled_instrumentations"])))
    rows += fileconfig.rows(config)
    return [f"  {label:<13} {value}" for label, value in rows]


def _signal_text(facts: Mapping[str, Any]) -> str:
    exporters = list(facts.get("exporters") or ())
    if not exporters:
        return "not exported (exporter none)"
    if "otlp" not in exporters:
        return "exporter " + ", ".join(exporters)
    source = facts.get("endpoint_source")
    where = f"{facts.get('endpoint')} ({'default' if source == 'default' else 'from ' + str(source)})"
    text = f"{where} over {facts.get('protocol')}"
    if facts.get("protocol_source") != "default" and not str(source).startswith(
        str(facts["protocol_source"])
    ):
        text += f" (from {facts.get('protocol_source')})"
    extras = [name for name in exporters if name != "otlp"]
    if extras:
        text += f", also {', '.join(extras)}"
    if facts.get("headers"):
        text += f"; headers {', '.join(facts['headers'])}"
    if facts.get("compression") not in (None, "none"):
        text += f"; {facts['compression']}"
    if facts.get("certificate"):
        text += f"; CA {facts['certificate']}"
    return text


def _check_lines(check: Check) -> list[str]:
    import textwrap

    tag = _TAGS.get(check.status, check.status)
    indent = " " * 8
    # URLs and variable names are never split.
    wrapper = textwrap.TextWrapper(
        _WIDTH, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False
    )
    lines = wrapper.wrap(f"  {tag}  {check.name}: {check.message}")
    if check.fix:
        wrapper.initial_indent, wrapper.subsequent_indent = indent, indent + "     "
        lines += wrapper.wrap(f"fix: {check.fix}")
    return lines
