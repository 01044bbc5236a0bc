"""``otel-run doctor`` with ``OTEL_CONFIG_FILE``: the configuration as resolved from the file.

``resolve`` reads the file exactly as the app's boot does (``runtime/sdk/fromfile``: the
upstream ``opentelemetry-configuration`` loader, ``${VAR}`` substitution with doctor's
environment, schema validation) and returns the ``Settings`` it resolves to, so that the
configuration section, the checks and the live test describe the file's exporters,
endpoints, headers, sampler and resource, and the checks of the file itself: valid or
not (the app's one line), what it gets wrong without being invalid, and the ``OTEL_*``
variables that are set but ignored because the file wins.

Only upstream can read the file, so this module imports it (and with it the SDK), late;
when that fails, the failure is the finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from otel_run.config.configfile import FAIL_OPEN, ConfigFileError
from otel_run.config.endpoints import redact_url
from otel_run.config.settings import SIGNALS, Settings
from otel_run.doctor.diagnose.check import FAIL, OK, WARN, Check, _join

_ENVIRONMENT = "what the app gets from this environment"


def resolve(settings: Settings, environ: Mapping[str, str]) -> tuple[Settings, list[Check]]:
    """The settings ``OTEL_CONFIG_FILE`` resolves to, and the checks of the file; never raises.

    Without the variable: ``settings`` and no check. With a file the app cannot use: the
    settings of an app that exports nothing (which is what it gets), and one failed check.
    """
    if settings.config_file is None:
        return settings, []
    path = settings.config_file
    try:
        from otel_run.runtime.sdk import fromfile  # here: it imports the SDK

        resolved, loaded = fromfile.load(settings, environ)
    except ConfigFileError as error:
        return _nothing(settings), [Check("config file", FAIL, f"{error}; {FAIL_OPEN}", _fix(str(error)))]
    except Exception as error:  # noqa: BLE001 - a broken SDK install is a finding
        message = f"{path} cannot be loaded: {type(error).__name__}: {error}"
        return _nothing(settings), [
            Check("config file", FAIL, message, "reinstall otel-run in this environment")
        ]
    file = resolved.file
    assert file is not None  # fromfile.load resolved it
    set_up = [name for name in SIGNALS if resolved.signal(name).exporters]
    checks = [
        Check(
            "config file",
            OK,
            f"{path} (file_format {file.file_format}) is the configuration; it sets up "
            f"{_join(set_up) or 'no signal'} and is valid against the schema",
        )
    ]
    for note in loaded.notes:
        if "is the configuration, so" not in note:
            checks.append(Check("config file", WARN, note, "correct the file where the line says"))
    if file.ignored_variables:
        names = ", ".join(file.ignored_variables)
        checks.append(
            Check(
                "ignored variables",
                WARN,
                f"{names} {'is' if len(file.ignored_variables) == 1 else 'are'} set but ignored: "
                f"{path} (OTEL_CONFIG_FILE) is the configuration, and the file does not reference "
                f"{'it' if len(file.ignored_variables) == 1 else 'them'}",
                f"unset {names}, or use {'it' if len(file.ignored_variables) == 1 else 'them'} in the file "
                f"as ${{{file.ignored_variables[0]}}}",
            )
        )
    return resolved, checks


def _nothing(settings: Settings) -> Settings:
    """The settings of an app that exports nothing: a file it cannot use gives it no telemetry."""
    return settings.replace(
        traces=settings.traces.replace(exporters=()),
        metrics=settings.metrics.replace(exporters=()),
        logs=settings.logs.replace(exporters=()),
    )


def _fix(message: str) -> str:
    if "no such file" in message or "is a directory" in message:
        return (
            "point OTEL_CONFIG_FILE at the configuration file inside this container (mount it), or unset it"
        )
    if "cannot be read" in message:
        return "make the file readable by the app's user"
    return "correct the file where the line says; until then the app runs without telemetry"


def configuration(settings: Settings) -> dict[str, Any]:
    """The file's part of doctor's configuration section (merged over the environment's)."""
    file = settings.file
    if settings.config_file is None:
        return {}
    if file is None:
        return {"config_file": {"path": settings.config_file, "valid": False}}
    return {
        "config_file": {
            "path": file.path,
            "valid": True,
            "file_format": file.file_format,
            "ignored_variables": list(file.ignored_variables),
            "exporters": [
                {
                    "signal": exporter.signal,
                    "kind": exporter.kind,
                    "at": exporter.location,
                    "endpoint": redact_url(exporter.endpoint),
                }
                for exporter in file.exporters
            ],
            "instrumentation": dict(file.instrumentation_options),
        },
        "sampler": file.sampler,
        "sampler_arg": None,
    }


def source(config: Mapping[str, Any]) -> str:
    """Where the configuration section's facts come from, for its heading."""
    file = config.get("config_file") or {}
    return (
        f"what the app gets from {file['path']}, its OTEL_CONFIG_FILE" if file.get("valid") else _ENVIRONMENT
    )


def rows(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Configuration rows only a file has: a file that cannot be used, variables it makes ignored."""
    file = config.get("config_file") or {}
    found = []
    if not file.get("valid", True):
        found.append(("config file", f"{file.get('path')} cannot be used: nothing is exported"))
    if file.get("ignored_variables"):
        found.append(("ignored", ", ".join(file["ignored_variables"]) + " (the file wins)"))
    return found


def secrets(settings: Settings) -> list[str]:
    """Header values and URL credentials of every exporter the file sets up."""
    found: set[str] = set()
    for exporter in settings.file.exporters if settings.file else ():
        found.update(value for _key, value in exporter.headers.pairs)
        parts = urlsplit(exporter.endpoint)
        found.update(value for value in (parts.username, parts.password) if value)
    return sorted(found)
