"""The installed globals: kept ours when the app sets its own, verified, refreshed after fork."""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from otel_run.runtime.sdk import Built

_SETTERS = (
    ("opentelemetry.trace", "set_tracer_provider", "TracerProvider", "spans"),
    ("opentelemetry.metrics", "set_meter_provider", "MeterProvider", "metrics"),
    ("opentelemetry._logs", "set_logger_provider", "LoggerProvider", "log records"),
)


def guard_globals(built: Built, note: Any) -> None:
    """Keep our providers global when the app installs its own, with a one-line note.

    Upstream already refuses to replace a global provider, but only logs "Overriding
    of current TracerProvider is not allowed"; the app's hand-written setup then looks
    configured while its provider exports nothing. We say what happened instead.
    """
    import importlib

    ours = {built.tracer_provider, built.meter_provider, built.logger_provider}
    for (module_name, setter_name, kind, items), provider in zip(
        _SETTERS, (built.tracer_provider, built.meter_provider, built.logger_provider), strict=True
    ):
        if provider is None:  # a signal OTEL_CONFIG_FILE leaves out: the app may set its own
            continue
        module = importlib.import_module(module_name)
        original = getattr(module, setter_name)
        if getattr(original, "_otel_run_guard", False):
            continue
        setattr(module, setter_name, _guarded(original, ours, note, setter_name, kind, items))


def _guarded(original: Any, ours: set[Any], note: Any, setter_name: str, kind: str, items: str) -> Any:
    said: list[bool] = []

    def setter(provider: Any) -> None:
        if provider in ours:
            original(provider)
            return
        if not said:
            said.append(True)
            note(
                f"the app called {setter_name}() with its own {kind}; otel-run's stays installed "
                f"(configure it with OTEL_* variables), so {items} are exported once, by otel-run"
            )

    setter._otel_run_guard = True  # type: ignore[attr-defined]
    setter.__doc__ = original.__doc__
    return setter


def verify(built: Built) -> list[str]:
    """The signals whose global provider is ours with an exporter behind it.

    This is what the startup line reports, so it is checked on the live globals.
    """
    from opentelemetry import _logs, metrics, trace

    active = []
    if trace.get_tracer_provider() is built.tracer_provider and _spanexporters_for(built.tracer_provider):
        active.append("traces")
    if metrics.get_meter_provider() is built.meter_provider and _metric_readers(built.meter_provider):
        active.append("metrics")
    if _logs.get_logger_provider() is built.logger_provider and _log_processors(built.logger_provider):
        active.append("logs")
    return active


def _spanexporters_for(provider: Any) -> list[Any]:
    processors = getattr(getattr(provider, "_active_span_processor", None), "_span_processors", ())
    return [exporter for exporter in (_exporter_of(p) for p in processors) if exporter is not None]


def _exporter_of(processor: Any) -> Any:
    return getattr(processor, "span_exporter", None)  # both SDK span processors have it


def _metric_readers(provider: Any) -> list[Any]:
    return list(getattr(provider, "_metric_readers", None) or ())


def _log_processors(provider: Any) -> list[Any]:
    multi = getattr(provider, "_multi_log_record_processor", None)
    return list(getattr(multi, "_log_record_processors", ()))


def refresh_process_resource(built: Built) -> None:
    """In a forked child: a new ``service.instance.id`` and ``process.pid`` on every provider.

    Each gunicorn/uWSGI worker is its own instance; without this they would all report
    the master's identity and their metric streams would collide.
    """
    from opentelemetry.sdk.resources import Resource

    fresh: dict[str, str | int] = {"service.instance.id": str(uuid.uuid4()), "process.pid": os.getpid()}
    for provider in (built.tracer_provider, built.meter_provider, built.logger_provider):
        update = getattr(provider, "_update_resource", None)  # SDK >= 1.39; private, so guarded
        if update is None:
            continue
        attributes = fresh
        if built.from_file:
            # The file chose the resource: refresh only what its detectors put there.
            present = getattr(getattr(provider, "resource", None), "attributes", {})
            attributes = {key: value for key, value in fresh.items() if key in present}
        if attributes:
            update(Resource(attributes))


def restart_metric_readers(built: Built) -> None:
    """Start the periodic metric readers' threads again in a child forked outside Python.

    They restart themselves through ``os.register_at_fork``, which uWSGI skips.
    """
    for reader in getattr(built.meter_provider, "_metric_readers", None) or ():
        restart = getattr(reader, "_at_fork_reinit", None)  # private, so guarded
        if restart is not None:
            restart()
