"""The exporters of each signal: OTLP (HTTP or gRPC, watched, perhaps deferred), console, or a plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_run.config.envparse import show
from otel_run.config.settings import Settings, SignalSettings
from otel_run.runtime import entrypoints, httpwatch
from otel_run.runtime.exportpath import QuietExporter
from otel_run.runtime.exportwatch import WatchedExporter, destination_for, export_result

if TYPE_CHECKING:
    from otel_run.runtime.sdk import Built


def exporters_for(signal: SignalSettings, built: Built) -> list[Any]:
    made = []
    names = built.exporters.setdefault(signal.signal, [])
    for name in signal.exporters:
        try:
            exporter = _exporter(signal, name, built)
        except LookupError:
            built.problems.append(
                f"OTEL_{signal.signal.upper()}_EXPORTER: exporter {show(name)} is not installed; "
                "use otlp, console or none"
            )
            continue
        except Exception as error:  # noqa: BLE001 - one broken exporter must not stop the rest
            built.problems.append(f"{signal.signal} exporter {name!r} could not be created: {error}")
            continue
        if getattr(exporter, "built", True) is False:  # a DeferredExporter
            module_name, class_name = HTTP_CLASSES[(signal.protocol, signal.signal)]
            names.append(f"{module_name}.{class_name} (built on first export)")
        else:
            names.append(type(exporter).__module__ + "." + type(exporter).__qualname__)
        if name == "otlp" and built.watcher is not None:
            exporter = WatchedExporter(exporter, signal.signal, built.watcher)
            built.watcher.destinations[signal.signal] = destination_for(
                signal.signal, signal.endpoint, signal.endpoint_source, signal.protocol, signal.proxy_variable
            )
        made.append(QuietExporter(exporter))
    return made


def _exporter(signal: SignalSettings, name: str, built: Built) -> Any:
    if name == "console":
        return _console_exporter(signal.signal)
    if name != "otlp":
        return entrypoints.load(f"opentelemetry_{signal.signal}_exporter", name)()
    preferences = _preferences_for(signal, built)
    if signal.protocol == "grpc":
        return _grpc_exporter(signal, {**preferences, "meter_provider": _meter_for_exporter(built)})
    if built.defer and not (signal.certificate or signal.client_key or signal.client_certificate):
        from otel_run.runtime.deferred import DeferredExporter

        note = built.watcher.note if built.watcher is not None else (lambda _line: None)
        temporality, aggregation = built.metric_preferences
        return DeferredExporter(
            build=lambda: _http_exporter(signal, preferences, built),
            failure=lambda: export_result(signal.signal, "FAILURE"),
            note=note,
            what=f"{signal.signal} ({signal.protocol})",
            preferred_temporality=temporality if signal.signal == "metrics" else None,
            preferred_aggregation=aggregation if signal.signal == "metrics" else None,
        )
    return _http_exporter(signal, preferences, built)


def can_defer(settings: Settings) -> bool:
    """Whether building an HTTP exporter later gives the exporter it would be now.

    Upstream constructors re-read OTEL_EXPORTER_OTLP_* variables; a later build cannot hide
    them (changing os.environ while the app runs would race with its subprocesses), so
    deferral is only for configurations whose every such value Settings accepted.
    Strict mode builds now, so that a failure can still stop the app at start.
    """
    return not settings.strict and not any("OTEL_EXPORTER_OTLP_" in warning for warning in settings.warnings)


def metric_preferences(settings: Settings) -> tuple[dict[type, Any], dict[type, Any]]:
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


HTTP_CLASSES = {
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

    module_name, class_name = HTTP_CLASSES[(protocol, signal)]
    return getattr(importlib.import_module(module_name), class_name)


def meter_for_sdk(built: Built) -> Any:
    """The meter provider for the SDK's own ``otel.sdk.*`` metrics, or None for upstream's default.

    With OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true, ours, handed over explicitly (the
    global one is not installed yet while we build); otherwise None (upstream then makes
    no-op metrics anyway).
    """
    return built.meter_provider if built.sdk_internal_metrics else None


def _meter_for_exporter(built: Built) -> Any:
    """For an exporter's own metrics: ours when asked for, the global proxy before ours exists.

    An exporter built on its first export may be built during the final flush, when the
    meter provider is already shut down: asked for a meter then, it would say so on stderr,
    so it gets a no-op one.
    """
    provider = meter_for_sdk(built)
    if provider is not None and getattr(provider, "_shutdown", False):  # private, so guarded
        from opentelemetry.metrics import NoOpMeterProvider

        return NoOpMeterProvider()
    return provider


def _http_exporter(signal: SignalSettings, preferences: dict[str, Any], built: Built) -> Any:
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
        from otel_run.runtime.encode.install import use_for_http_protobuf

        preferences = {**preferences, "meter_provider": _meter_for_exporter(built)}
        # Spans and log records are serialized by otel-run's encoder (same bytes, a
        # fraction of the CPU and GIL time); see runtime/encode/install.py for how.
        use_for_http_protobuf()
    exporter = cls(
        endpoint=signal.endpoint,
        certificate_file=signal.certificate,
        client_key_file=signal.client_key,
        client_certificate_file=signal.client_certificate,
        headers=signal.headers.as_dict(),
        timeout=signal.timeout_s,
        compression=Compression(signal.compression),
        **preferences,
    )
    watcher = built.watcher
    if watcher is not None:
        httpwatch.observe(exporter, watcher.http_attempt, lambda: watcher.exiting)
    return exporter


def _grpc_exporter(signal: SignalSettings, preferences: dict[str, Any]) -> Any:
    import grpc

    from otel_run.runtime.encode.install import use_for_grpc

    use_for_grpc(signal.signal)  # as for http/protobuf: otel-run's encoder, upstream's exporter
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
