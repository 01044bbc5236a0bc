"""Checks of a configuration that comes from ``OTEL_CONFIG_FILE``: what the file exports and samples.

The environment's checks name variables (``OTEL_TRACES_EXPORTER=none``); these name the
file's sections instead. Pure functions of the resolved ``Settings``.
"""

from __future__ import annotations

from collections.abc import Mapping

from otel_run.config.settings import SIGNALS, Settings
from otel_run.doctor.diagnose.check import _NOUNS, FAIL, OK, WARN, Check, _join

_SECTIONS = {"traces": "tracer_provider", "metrics": "meter_provider", "logs": "logger_provider"}


def file_checks(settings: Settings, environ: Mapping[str, str]) -> list[Check]:
    """Service name, exporters and sampler as the file sets them up (nothing when it cannot be used)."""
    from otel_run.doctor.diagnose.config import proxy_check, variable_checks

    checks = variable_checks(settings.warnings) if settings.warnings else []
    file = settings.file
    if file is None:  # the file cannot be used: its own check says so, and nothing else applies
        return checks
    if file.sdk_disabled:
        checks.append(
            Check("sdk", FAIL, f"{file.path} says disabled: true: nothing is installed", "remove it")
        )
    checks.append(_service_check(settings))
    fine = [name for name in SIGNALS if settings.signal(name).otlp]
    if fine:
        checks.append(Check("exporters", OK, f"{_join(fine)} are exported over OTLP"))
    for name in SIGNALS:
        signal, section = settings.signal(name), _SECTIONS[name]
        if not signal.exporters:
            checks.append(
                Check(
                    f"{name} exporter",
                    FAIL if name == "traces" else WARN,
                    f"{file.path} has no {section} with a processor or reader: {_NOUNS[name]} are "
                    "not exported",
                    f"add a {section} with an otlp_http exporter (see the README's example file)",
                )
            )
        elif not signal.otlp:
            checks.append(
                Check(
                    f"{name} exporter",
                    WARN,
                    f"{file.path} exports {_NOUNS[name]} with {', '.join(signal.exporters)} only, not to "
                    "a collector; the live test covers OTLP only",
                    f"add an otlp_http exporter to {section}",
                )
            )
    checks.append(_sampler_check(settings))
    proxy = proxy_check(settings, environ)
    return checks if proxy is None else [*checks, proxy]


def _service_check(settings: Settings) -> Check:
    assert settings.file is not None
    if settings.service_name.startswith("unknown_service"):
        return Check(
            "service name",
            WARN,
            f"{settings.file.path} sets no service.name, so the service is {settings.service_name!r}",
            "add to resource.attributes: - name: service.name, value: <your service>",
        )
    return Check("service name", OK, f"service.name is {settings.service_name!r} (from {settings.file.path})")


def _sampler_check(settings: Settings) -> Check:
    assert settings.file is not None
    shown, name, ratio = settings.file.sampler, settings.sampler, settings.sampler_arg
    fix = f"in {settings.file.path}, use tracer_provider.sampler parent_based with root always_on"
    if name == "always_off" or (name == "traceidratio" and ratio == 0):
        return Check("sampler", FAIL, f"the file's sampler {shown} records no span at all", fix)
    if name == "parentbased_always_off" or (name == "parentbased_traceidratio" and ratio == 0):
        return Check(
            "sampler",
            WARN,
            f"the file's sampler {shown} records a trace only when the caller's trace is sampled: a "
            "service that starts traces records none",
            fix,
        )
    return Check("sampler", OK, f"{shown} records traces")
