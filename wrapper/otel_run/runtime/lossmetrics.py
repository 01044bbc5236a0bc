"""Lost telemetry as metrics, under the SDK self-observability names, so a backend can alert.

The semantic conventions' ``otel.sdk.*`` metrics count every processed and exported item,
with ``error.type`` on the failed ones. The SDK emits them only with
``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true`` (and then otel-run lets it, see
``sdk/exporters``). When that variable is unset, otel-run reports the failed part only, from
its own counts:

- ``otel.sdk.processor.span.processed`` / ``otel.sdk.processor.log.processed`` with
  ``error.type=queue_full``: dropped because the batch queue was full;
- ``otel.sdk.exporter.span.exported`` / ``.log.exported`` / ``.metric_data_point.exported``
  with ``error.type`` the failure's cause (``503``, ``UNAVAILABLE``, ``connection_refused``,
  ``timeout``, ...): in exports that failed for good.

They are observable counters read at each metric collection (nothing per item), and a
series appears only once something is lost: a healthy service exports none of them. Set
``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=false`` for none at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from otel_run import __version__

_UNITS = {"traces": "{span}", "logs": "{log_record}", "metrics": "{data_point}"}
_EXPORTED = {
    "traces": "otel.sdk.exporter.span.exported",
    "logs": "otel.sdk.exporter.log.exported",
    "metrics": "otel.sdk.exporter.metric_data_point.exported",
}
_PROCESSED = {"traces": "otel.sdk.processor.span.processed", "logs": "otel.sdk.processor.log.processed"}
_PROCESSORS = {"traces": "batching_span_processor", "logs": "batching_log_processor"}
_EXPORTER_KIND = {"traces": "span", "logs": "log", "metrics": "metric"}
_TRANSPORT = {"http/protobuf": "otlp_http", "http/json": "otlp_http_json", "grpc": "otlp_grpc"}


def error_type(reason: str) -> str:
    """A short, low-cardinality ``error.type`` for one of otel-run's failure reasons."""
    status = re.match(r"HTTP (\d{3})", reason)
    if status:
        return status.group(1)
    grpc = re.match(r"gRPC ([A-Z_]+)", reason)
    if grpc:
        return grpc.group(1)
    lowered = reason.lower()
    for needle, kind in (
        ("refused", "connection_refused"),
        ("timed out", "timeout"),
        ("not known", "name_resolution"),
        ("name resolution", "name_resolution"),
        ("tls", "tls"),
        ("certificate", "tls"),
        ("closed the connection", "connection_closed"),
        ("reset", "connection_reset"),
    ):
        if needle in lowered:
            return kind
    return "_OTHER"


def register(
    meter_provider: Any,
    queue_full: Callable[[str], int],
    failed_by_type: Callable[[str], dict[str, int]],
    protocols: dict[str, str],
) -> None:
    """Offer the loss counts as observable counters on ``meter_provider``'s ``otel-run`` meter.

    ``queue_full(signal)`` gives the items a full batch queue dropped; ``failed_by_type(signal)``
    the items lost in failed exports by ``error.type``; ``protocols`` the OTLP protocol of each
    watched signal (for ``otel.component.type``).
    """
    from opentelemetry.metrics import CallbackOptions, Observation

    meter = meter_provider.get_meter("otel-run", __version__)

    def overflowed(signal: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        component = _PROCESSORS[signal]
        attributes = {"otel.component.type": component, "otel.component.name": f"{component}/0"}

        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            dropped = queue_full(signal)
            return [Observation(dropped, {**attributes, "error.type": "queue_full"})] if dropped else []

        return observe

    def failed(signal: str, protocol: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        component = f"{_TRANSPORT.get(protocol, 'otlp')}_{_EXPORTER_KIND[signal]}_exporter"
        attributes = {"otel.component.type": component, "otel.component.name": f"{component}/0"}

        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            return [
                Observation(count, {**attributes, "error.type": kind})
                for kind, count in sorted(failed_by_type(signal).items())
                if count
            ]

        return observe

    for signal, protocol in sorted(protocols.items()):
        meter.create_observable_counter(
            _EXPORTED[signal],
            callbacks=[failed(signal, protocol)],
            unit=_UNITS[signal],
            description="Items in exports that failed for good (otel-run: failed ones only).",
        )
        if signal in _PROCESSED:
            meter.create_observable_counter(
                _PROCESSED[signal],
                callbacks=[overflowed(signal)],
                unit=_UNITS[signal],
                description="Items dropped by a full batch queue (otel-run: dropped ones only).",
            )
