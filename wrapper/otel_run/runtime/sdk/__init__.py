"""Build the OpenTelemetry SDK from ``Settings`` and install it globally.

Everything is built through the upstream SDK and exporters; we only pass the values
``Settings`` parsed. Upstream constructors re-read and re-parse the same variables, and
some raise on values we already rejected with a warning (the gRPC exporter's
``float(OTEL_EXPORTER_OTLP_TRACES_TIMEOUT)``, ``opentelemetry.propagate``'s
``ValueError`` for an unknown propagator at import). So while building, the variables we
parsed are hidden from upstream and every value is passed explicitly.

The build is split by what it makes: ``resource`` (resource, sampler, propagators),
``exporters``, ``providers`` (providers and their processors) and ``globals`` (the
installed globals: guarding, verifying, refreshing after fork).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from otel_run.config.settings import Settings
from otel_run.runtime import sigmask
from otel_run.runtime.exportwatch import Watcher
from otel_run.runtime.sdk.exporters import can_defer, metric_preferences
from otel_run.runtime.sdk.globals import (
    guard_globals,
    refresh_process_resource,
    restart_metric_readers,
    verify,
)
from otel_run.runtime.sdk.providers import build_logger_provider, build_meter_provider, build_tracer_provider
from otel_run.runtime.sdk.resource import build_propagator, build_resource

SIGNALS = ("traces", "metrics", "logs")

__all__ = [
    "SIGNALS",
    "Built",
    "build",
    "build_resource",
    "guard_globals",
    "install",
    "refresh_process_resource",
    "restart_metric_readers",
    "upstream_sees_only_explicit_values",
    "verify",
]

# Variables that Settings parses and hands over explicitly. Others (the instrumentations'
# own, such as OTEL_PYTHON_FLASK_EXCLUDED_URLS) stay visible to upstream.
_HIDDEN_PREFIXES = ("OTEL_BSP_", "OTEL_BLRP_", "OTEL_METRIC_EXPORT_", "OTEL_TRACES_SAMPLER")
_HIDDEN_SUFFIXES = ("_LIMIT",)
_HIDDEN = frozenset(
    {"OTEL_PROPAGATORS", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME", "OTEL_SDK_DISABLED"}
)


def _hidden(name: str) -> bool:
    return (
        name in _HIDDEN
        or name.startswith("OTEL_EXPORTER_OTLP_")
        or name.startswith(_HIDDEN_PREFIXES)
        or (name.startswith("OTEL_") and name.endswith(_HIDDEN_SUFFIXES))
    )


@contextmanager
def upstream_sees_only_explicit_values() -> Iterator[None]:
    """Hide the variables Settings parsed while upstream objects are constructed."""
    saved = {name: value for name, value in os.environ.items() if _hidden(name)}
    for name in saved:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(saved)


@dataclass
class Built:
    """What ``build`` made, before it is installed."""

    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None
    propagator: Any = None
    exporters: dict[str, list[str]] = field(default_factory=dict)
    """Per signal, the exporter class names actually attached."""
    problems: list[str] = field(default_factory=list)
    """One line each: a component that could not be built, and the fix."""
    watcher: Watcher | None = None
    defer: bool = False
    """Whether HTTP exporters may be built on their first export (see ``deferred``)."""
    metric_preferences: tuple[dict[type, Any], dict[type, Any]] = ({}, {})
    from_file: bool = False
    """Built from OTEL_CONFIG_FILE (``filebuild``): a provider the file leaves out is None."""
    told_off: list[str] = field(default_factory=list)
    """Signals whose section of OTEL_CONFIG_FILE could not be built (already in ``problems``)."""
    sdk_internal_metrics: bool = False
    """OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true: upstream's ``otel.sdk.*`` metrics go to
    our meter provider (``meter_for_sdk``)."""


def build(settings: Settings, watcher: Watcher | None = None, *, may_defer: bool = True) -> Built:
    """Build resource, providers, exporters, processors, sampler and propagators.

    With an OTEL_CONFIG_FILE (``settings.file``, read by ``fromfile``) upstream builds them
    from the file (``filebuild``), and nothing is deferred.

    OTLP exporters are wrapped so that ``watcher`` hears of every export's outcome.
    With ``may_defer`` HTTP exporters may be built on their first export (``deferred``).
    A component that cannot be built is left out and described in ``problems``; only
    a broken SDK installation raises.
    """
    # The SDK's providers re-detect resources in a forked child using a thread pool.
    # Fork hooks run in registration order, and concurrent.futures.thread holds its
    # global lock across fork until its own hook releases it in the child: if the
    # providers register first (the zero-code case, where the app imports the pool
    # later), every gunicorn worker deadlocks on its first fork. Importing it first
    # puts its hook ahead of theirs.
    import concurrent.futures.thread  # noqa: F401

    if settings.file is not None:
        from otel_run.runtime.sdk import filebuild

        return filebuild.build(settings, watcher)
    built = Built(watcher=watcher, defer=may_defer and can_defer(settings))
    built.sdk_internal_metrics = settings.sdk_internal_metrics is True
    # The batch and metric threads started here must not take SIGTERM from the main thread.
    with upstream_sees_only_explicit_values(), sigmask.blocked():
        built.metric_preferences = metric_preferences(settings)
        resource = build_resource(settings)
        built.propagator = build_propagator(settings, built.problems)
        # The meter provider first: the tracer and logger providers and their processors
        # take it for the SDK's own metrics (through the global proxy instead, the
        # processors' queue capacity, recorded once at construction, would be lost).
        built.meter_provider = build_meter_provider(settings, resource, built)
        built.tracer_provider = build_tracer_provider(settings, resource, built)
        built.logger_provider = build_logger_provider(settings, resource, built)
    return built


def install(built: Built) -> None:
    """Make the built providers and propagator the global ones."""
    from opentelemetry import _logs, metrics, propagate, trace

    propagate.set_global_textmap(built.propagator)
    # None: OTEL_CONFIG_FILE leaves that signal out, and its global stays the API's no-op.
    if built.tracer_provider is not None:
        trace.set_tracer_provider(built.tracer_provider)
    if built.meter_provider is not None:
        metrics.set_meter_provider(built.meter_provider)
    if built.logger_provider is not None:
        _logs.set_logger_provider(built.logger_provider)
