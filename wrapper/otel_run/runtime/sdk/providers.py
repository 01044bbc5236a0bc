"""The tracer, meter and logger providers with their batch processors and readers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_run.config.settings import BatchSettings, Settings
from otel_run.runtime.sdk.exporters import exporters_for, meter_for_sdk
from otel_run.runtime.sdk.resource import id_generator, sampler

if TYPE_CHECKING:
    from otel_run.runtime.sdk import Built

_SDK_QUEUE_SIZE = 2048  # the batch processors' default max queue size


def build_tracer_provider(settings: Settings, resource: Any, built: Built) -> Any:
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    limits = settings.limits
    provider = TracerProvider(
        shutdown_on_exit=False,  # lifecycle shuts down within OTEL_RUN_SHUTDOWN_TIMEOUT
        sampler=sampler(settings),
        resource=resource,
        meter_provider=meter_for_sdk(built),
        id_generator=id_generator(settings, built.problems),
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
    for exporter in exporters_for(settings.traces, built):
        processor = BatchSpanProcessor(
            exporter, **_batch_options(settings.bsp), meter_provider=meter_for_sdk(built)
        )
        _count_drops(built, "traces", processor, settings.bsp)
        provider.add_span_processor(processor)
    return provider


def _count_drops(built: Built, signal: str, processor: Any, batch: BatchSettings) -> None:
    if built.watcher is not None:
        built.watcher.watch_processor(signal, processor, batch.max_queue_size or _SDK_QUEUE_SIZE)


def _batch_options(batch: BatchSettings) -> dict[str, Any]:
    """Keyword arguments of the span and log record batch processors; None keeps the SDK default."""
    return {
        "max_queue_size": batch.max_queue_size,
        "schedule_delay_millis": batch.schedule_delay_ms,
        "max_export_batch_size": batch.max_export_batch_size,
        "export_timeout_millis": batch.export_timeout_ms,
    }


def build_meter_provider(settings: Settings, resource: Any, built: Built) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    readers = [
        PeriodicExportingMetricReader(
            exporter,
            export_interval_millis=settings.metric_export_interval_ms,
            export_timeout_millis=settings.metric_export_timeout_ms,
        )
        for exporter in exporters_for(settings.metrics, built)
    ]
    return MeterProvider(metric_readers=readers, resource=resource, shutdown_on_exit=False)


def build_logger_provider(settings: Settings, resource: Any, built: Built) -> Any:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    provider = LoggerProvider(resource=resource, shutdown_on_exit=False, meter_provider=meter_for_sdk(built))
    for exporter in exporters_for(settings.logs, built):
        processor = BatchLogRecordProcessor(
            exporter, **_batch_options(settings.blrp), meter_provider=meter_for_sdk(built)
        )
        _count_drops(built, "logs", processor, settings.blrp)
        provider.add_log_record_processor(processor)
    return provider
