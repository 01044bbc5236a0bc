"""Build the OpenTelemetry SDK from ``Settings`` and install it globally.

Everything is built through the upstream SDK and exporters; we only pass the values
``Settings`` parsed. Upstream constructors re-read and re-parse the same variables, and
some raise on values we already rejected with a warning (the gRPC exporter's
``float(OTEL_EXPORTER_OTLP_TRACES_TIMEOUT)``, ``opentelemetry.propagate``'s
``ValueError`` for an unknown propagator at import). So while building, the variables we
parsed are hidden from upstream and every value is passed explicitly.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from otel_run import __version__, entrypoints
from otel_run.exportwatch import WatchedExporter, Watcher, destination_for, export_result
from otel_run.settings import BatchSettings, Settings, SignalSettings

# Variables that Settings parses and hands over explicitly. Others (the instrumentations'
# own, such as OTEL_PYTHON_FLASK_EXCLUDED_URLS) stay visible to upstream.
_HIDDEN_PREFIXES = ("OTEL_BSP_", "OTEL_BLRP_", "OTEL_METRIC_EXPORT_", "OTEL_TRACES_SAMPLER")
_HIDDEN_SUFFIXES = ("_LIMIT",)
_HIDDEN = frozenset(
    {"OTEL_PROPAGATORS", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME", "OTEL_SDK_DISABLED"}
)
_PROPAGATOR_PACKAGES = {
    "b3": "opentelemetry-propagator-b3",
    "b3multi": "opentelemetry-propagator-b3",
    "jaeger": "opentelemetry-propagator-jaeger",
    "xray": "opentelemetry-propagator-aws-xray",
    "ottrace": "opentelemetry-propagator-ot-trace",
}


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


def build(settings: Settings, watcher: Watcher | None = None, *, may_defer: bool = True) -> Built:
    """Build resource, providers, exporters, processors, sampler and propagators.

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

    built = Built(watcher=watcher, defer=may_defer and _can_defer(settings))
    with upstream_sees_only_explicit_values():
        built.metric_preferences = _metric_preferences(settings)
        resource = build_resource(settings)
        built.propagator = _build_propagator(settings, built.problems)
        built.tracer_provider = _build_tracer_provider(settings, resource, built)
        built.meter_provider = _build_meter_provider(settings, resource, built)
        built.logger_provider = _build_logger_provider(settings, resource, built)
    return built


def install(built: Built) -> None:
    """Make the built providers and propagator the global ones."""
    from opentelemetry import _logs, metrics, propagate, trace

    propagate.set_global_textmap(built.propagator)
    trace.set_tracer_provider(built.tracer_provider)
    metrics.set_meter_provider(built.meter_provider)
    _logs.set_logger_provider(built.logger_provider)


def build_resource(settings: Settings) -> Any:
    """The resource: SDK and distro identity, process and host, detected Kubernetes and
    container attributes, then the user's attributes (``OTEL_RESOURCE_ATTRIBUTES``, then
    ``OTEL_SERVICE_NAME``), each later one winning."""
    import platform

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.version import __version__ as sdk_version

    attributes: dict[str, Any] = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": sdk_version,
        "telemetry.distro.name": "otel-run",
        "telemetry.distro.version": __version__,
        "service.instance.id": str(uuid.uuid4()),
        "process.pid": os.getpid(),
        "process.executable.name": os.path.basename(sys.executable),
        "process.runtime.name": sys.implementation.name,
        "process.runtime.version": platform.python_version(),
        "host.name": socket.gethostname(),
    }
    attributes.update(settings.detected_attributes)
    attributes.update(settings.resource_attributes)
    attributes["service.name"] = settings.service_name
    return Resource(attributes)


def _build_propagator(settings: Settings, problems: list[str]) -> Any:
    import opentelemetry.propagate  # noqa: F401 - imported here, where OTEL_PROPAGATORS is hidden
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagators: list[Any] = []
    for name in settings.propagators:
        if name == "tracecontext":
            propagators.append(TraceContextTextMapPropagator())
        elif name == "baggage":
            propagators.append(W3CBaggagePropagator())
        else:
            try:
                propagators.append(entrypoints.load("opentelemetry_propagator", name)())
            except LookupError:
                package = _PROPAGATOR_PACKAGES.get(name)
                fix = f"pip install {package}" if package else "check the spelling"
                problems.append(f"OTEL_PROPAGATORS: propagator {name!r} is not installed ({fix}); skipped it")
    return CompositePropagator(propagators)


def _sampler(settings: Settings) -> Any:
    from opentelemetry.sdk.trace import sampling

    ratio = settings.sampler_arg if settings.sampler_arg is not None else 1.0
    name = settings.sampler
    if name == "always_on":
        return sampling.ALWAYS_ON
    if name == "always_off":
        return sampling.ALWAYS_OFF
    if name == "traceidratio":
        return sampling.TraceIdRatioBased(ratio)
    if name == "parentbased_always_off":
        return sampling.ParentBased(sampling.ALWAYS_OFF)
    if name == "parentbased_traceidratio":
        return sampling.ParentBasedTraceIdRatio(ratio)
    return sampling.ParentBased(sampling.ALWAYS_ON)


def _id_generator(settings: Settings, problems: list[str]) -> Any:
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    if settings.id_generator == "random":
        return RandomIdGenerator()
    try:
        return entrypoints.load("opentelemetry_id_generator", settings.id_generator)()
    except LookupError:
        problems.append(
            f"OTEL_PYTHON_ID_GENERATOR={settings.id_generator!r} is not installed "
            "(pip install opentelemetry-sdk-extension-aws); using random ids"
        )
        return RandomIdGenerator()


def _build_tracer_provider(settings: Settings, resource: Any, built: Built) -> Any:
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    limits = settings.limits
    provider = TracerProvider(
        shutdown_on_exit=False,  # lifecycle shuts down within OTEL_RUN_SHUTDOWN_TIMEOUT
        sampler=_sampler(settings),
        resource=resource,
        id_generator=_id_generator(settings, built.problems),
        span_limits=SpanLimits(
            max_attributes=limits.attribute_count,
            max_events=limits.span_event_count,
            max_links=limits.span_link_count,
            max_span_attributes=limits.span_attribute_count,
            max_event_attributes=limits.event_attribute_count,
            max_link_attributes=limits.link_attribute_count,
            max_attribute_length=limits.attribute_value_length,
            max_span_attribute_length=limits.span_attribute_value_length,
        ),
    )
    for exporter in _exporters(settings.traces, built):
        provider.add_span_processor(BatchSpanProcessor(exporter, **_batch_options(settings.bsp)))
    return provider


def _batch_options(batch: BatchSettings) -> dict[str, Any]:
    """Keyword arguments of the span and log record batch processors; None keeps the SDK default."""
    return {
        "max_queue_size": batch.max_queue_size,
        "schedule_delay_millis": batch.schedule_delay_ms,
        "max_export_batch_size": batch.max_export_batch_size,
        "export_timeout_millis": batch.export_timeout_ms,
    }


def _build_meter_provider(settings: Settings, resource: Any, built: Built) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    readers = [
        PeriodicExportingMetricReader(
            exporter,
            export_interval_millis=settings.metric_export_interval_ms,
            export_timeout_millis=settings.metric_export_timeout_ms,
        )
        for exporter in _exporters(settings.metrics, built)
    ]
    return MeterProvider(metric_readers=readers, resource=resource, shutdown_on_exit=False)


def _build_logger_provider(settings: Settings, resource: Any, built: Built) -> Any:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    for exporter in _exporters(settings.logs, built):
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter, **_batch_options(settings.blrp)))
    return provider


def _exporters(signal: SignalSettings, built: Built) -> list[Any]:
    made = []
    names = built.exporters.setdefault(signal.signal, [])
    for name in signal.exporters:
        try:
            exporter = _exporter(signal, name, built)
        except LookupError:
            built.problems.append(
                f"OTEL_{signal.signal.upper()}_EXPORTER: exporter {name!r} is not installed; "
                "use otlp, console or none"
            )
            continue
        except Exception as error:  # noqa: BLE001 - one broken exporter must not stop the rest
            built.problems.append(f"{signal.signal} exporter {name!r} could not be created: {error}")
            continue
        if getattr(exporter, "built", True) is False:  # a DeferredExporter
            module_name, class_name = _HTTP_CLASSES[(signal.protocol, signal.signal)]
            names.append(f"{module_name}.{class_name} (built on first export)")
        else:
            names.append(type(exporter).__module__ + "." + type(exporter).__qualname__)
        if name == "otlp" and built.watcher is not None:
            exporter = WatchedExporter(exporter, signal.signal, built.watcher)
            built.watcher.destinations[signal.signal] = destination_for(
                signal.signal, signal.endpoint, signal.endpoint_source, signal.protocol
            )
        made.append(exporter)
    return made


def _exporter(signal: SignalSettings, name: str, built: Built) -> Any:
    if name == "console":
        return _console_exporter(signal.signal)
    if name != "otlp":
        return entrypoints.load(f"opentelemetry_{signal.signal}_exporter", name)()
    preferences = _preferences_for(signal, built)
    if signal.protocol == "grpc":
        return _grpc_exporter(signal, preferences)
    if built.defer and not (signal.certificate or signal.client_key or signal.client_certificate):
        from otel_run.deferred import DeferredExporter

        note = built.watcher.note if built.watcher is not None else (lambda _line: None)
        temporality, aggregation = built.metric_preferences
        return DeferredExporter(
            build=lambda: _http_exporter(signal, preferences),
            failure=lambda: export_result(signal.signal, "FAILURE"),
            note=note,
            what=f"{signal.signal} ({signal.protocol})",
            preferred_temporality=temporality if signal.signal == "metrics" else None,
            preferred_aggregation=aggregation if signal.signal == "metrics" else None,
        )
    return _http_exporter(signal, preferences)


def _can_defer(settings: Settings) -> bool:
    """Whether building an HTTP exporter later gives the exporter it would be now.

    Upstream constructors re-read OTEL_EXPORTER_OTLP_* variables; a later build cannot hide
    them (changing os.environ while the app runs would race with its subprocesses), so
    deferral is only for configurations whose every such value Settings accepted.
    Strict mode builds now, so that a failure can still stop the app at start.
    """
    return not settings.strict and not any("OTEL_EXPORTER_OTLP_" in warning for warning in settings.warnings)


def _metric_preferences(settings: Settings) -> tuple[dict[type, Any], dict[type, Any]]:
    """Temporality per instrument and histogram aggregation, as the OTLP metric exporters
    derive them from OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE and
    OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION (the specification's table)."""
    from opentelemetry.sdk.metrics import (
        Counter,
        Histogram,
        ObservableCounter,
        ObservableGauge,
        ObservableUpDownCounter,
        UpDownCounter,
    )
    from opentelemetry.sdk.metrics.export import AggregationTemporality
    from opentelemetry.sdk.metrics.view import (
        ExplicitBucketHistogramAggregation,
        ExponentialBucketHistogramAggregation,
    )

    cumulative, delta = AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA
    mode = settings.metrics_temporality
    temporality: dict[type, Any] = {
        Counter: delta if mode in ("delta", "lowmemory") else cumulative,
        UpDownCounter: cumulative,
        Histogram: delta if mode in ("delta", "lowmemory") else cumulative,
        ObservableCounter: delta if mode == "delta" else cumulative,
        ObservableUpDownCounter: cumulative,
        ObservableGauge: cumulative,
    }
    histogram = (
        ExponentialBucketHistogramAggregation()
        if settings.histogram_aggregation == "base2_exponential_bucket_histogram"
        else ExplicitBucketHistogramAggregation()
    )
    return temporality, {Histogram: histogram}


def _preferences_for(signal: SignalSettings, built: Built) -> dict[str, Any]:
    if signal.signal != "metrics":
        return {}
    temporality, aggregation = built.metric_preferences
    return {"preferred_temporality": temporality, "preferred_aggregation": aggregation}


def _console_exporter(signal: str) -> Any:
    if signal == "traces":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if signal == "metrics":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter()
    from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter

    return ConsoleLogRecordExporter()


_HTTP_CLASSES = {
    ("http/protobuf", "traces"): (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "OTLPSpanExporter",
    ),
    ("http/protobuf", "metrics"): (
        "opentelemetry.exporter.otlp.proto.http.metric_exporter",
        "OTLPMetricExporter",
    ),
    ("http/protobuf", "logs"): ("opentelemetry.exporter.otlp.proto.http._log_exporter", "OTLPLogExporter"),
    ("http/json", "traces"): ("opentelemetry.exporter.otlp.json.http.trace_exporter", "OTLPSpanExporter"),
    ("http/json", "metrics"): ("opentelemetry.exporter.otlp.json.http.metric_exporter", "OTLPMetricExporter"),
    ("http/json", "logs"): ("opentelemetry.exporter.otlp.json.http._log_exporter", "OTLPLogExporter"),
    ("grpc", "traces"): ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "OTLPSpanExporter"),
    ("grpc", "metrics"): ("opentelemetry.exporter.otlp.proto.grpc.metric_exporter", "OTLPMetricExporter"),
    ("grpc", "logs"): ("opentelemetry.exporter.otlp.proto.grpc._log_exporter", "OTLPLogExporter"),
}


def _exporter_class(protocol: str, signal: str) -> Any:
    import importlib

    module_name, class_name = _HTTP_CLASSES[(protocol, signal)]
    return getattr(importlib.import_module(module_name), class_name)


def _http_exporter(signal: SignalSettings, preferences: dict[str, Any]) -> Any:
    cls = _exporter_class(signal.protocol, signal.signal)
    # requests imports netrc inside its first request. Done here, the import happens while
    # forks wait for builds (see deferred.py); done by a batch thread of a gunicorn master
    # in the middle of a fork, it left the worker a module lock that no thread will release,
    # and every export of that worker hung.
    import netrc  # noqa: F401

    if signal.protocol == "http/json":
        from opentelemetry.exporter.otlp.common.http import Compression
    else:
        from opentelemetry.exporter.otlp.proto.http import Compression  # type: ignore[assignment]
    if signal.protocol == "http/protobuf":
        # The exporter's own SDK-internal metrics would ask the global MeterProvider for a
        # meter; when it is built at shutdown that provider may already be shut down.
        from opentelemetry.metrics import NoOpMeterProvider

        preferences = {**preferences, "meter_provider": NoOpMeterProvider()}
    return cls(
        endpoint=signal.endpoint,
        certificate_file=signal.certificate,
        client_key_file=signal.client_key,
        client_certificate_file=signal.client_certificate,
        headers=signal.headers.as_dict(),
        timeout=signal.timeout_s,
        compression=Compression(signal.compression),
        **preferences,
    )


def _grpc_exporter(signal: SignalSettings, preferences: dict[str, Any]) -> Any:
    import grpc

    cls = _exporter_class("grpc", signal.signal)
    credentials: Any | None = None
    if not signal.insecure:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(signal.certificate),
            private_key=_read(signal.client_key),
            certificate_chain=_read(signal.client_certificate),
        )
    compression = grpc.Compression.Gzip if signal.compression == "gzip" else grpc.Compression.NoCompression
    return cls(
        endpoint=signal.endpoint,
        insecure=signal.insecure,
        credentials=credentials,
        headers=signal.headers.as_dict() or None,
        timeout=signal.timeout_s,
        compression=compression,
        **preferences,
    )


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as handle:
        return handle.read()


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
    for module_name, setter_name, kind, items in _SETTERS:
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
    if trace.get_tracer_provider() is built.tracer_provider and _span_exporters(built.tracer_provider):
        active.append("traces")
    if metrics.get_meter_provider() is built.meter_provider and _metric_readers(built.meter_provider):
        active.append("metrics")
    if _logs.get_logger_provider() is built.logger_provider and _log_processors(built.logger_provider):
        active.append("logs")
    return active


def _span_exporters(provider: Any) -> list[Any]:
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

    fresh = Resource({"service.instance.id": str(uuid.uuid4()), "process.pid": os.getpid()})
    for provider in (built.tracer_provider, built.meter_provider, built.logger_provider):
        update = getattr(provider, "_update_resource", None)  # SDK >= 1.39; private, so guarded
        if update is not None:
            update(fresh)


def restart_metric_readers(built: Built) -> None:
    """Start the periodic metric readers' threads again in a child forked outside Python.

    They restart themselves through ``os.register_at_fork``, which uWSGI skips.
    """
    for reader in getattr(built.meter_provider, "_metric_readers", None) or ():
        restart = getattr(reader, "_at_fork_reinit", None)  # private, so guarded
        if restart is not None:
            restart()
