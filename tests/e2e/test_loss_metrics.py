"""Lost telemetry reaches the backend as ``otel.sdk.*`` metrics; the SDK's own work when enabled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps import free_port, otlp_env, run_script
from otel_run.receiver import Receiver
from otel_run.receiver.model import attributes_to_dict

SPANS = 7
APP = f"""
import logging, time
from opentelemetry import metrics, trace
logging.warning("one log record")
tracer = trace.get_tracer("lossy")
metrics.get_meter("lossy").create_counter("app.jobs").add(1)
for i in range({SPANS}):
    with tracer.start_as_current_span("lost"):
        pass
time.sleep(3)  # the failed export, then a metric collection that counts it
"""


def _points(receiver: Receiver, name: str, service: str) -> list[tuple[str, dict[str, Any], int]]:
    """(scope, attributes, value) of every sum data point of metric ``name`` from ``service``."""
    found = []
    for metric in receiver.store.metrics():
        if metric.name == name and metric.service == service and metric.kind == "sum":
            for point in metric.metric.sum.data_points:
                found.append((metric.scope, attributes_to_dict(point.attributes), int(point.as_int)))
    return found


def _env(receiver: Receiver, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Metrics and logs to the receiver; traces to a port where nothing listens."""
    return otlp_env(
        receiver,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"http://127.0.0.1:{free_port()}/v1/traces",
        OTEL_EXPORTER_OTLP_TIMEOUT="500",
        OTEL_SERVICE_NAME="lossy",
        OTEL_RUN_STATUS_DIR=str(tmp_path / "status"),
        **extra,
    )


@pytest.mark.timeout(60)
def test_lost_spans_arrive_as_otel_sdk_exporter_metrics(receiver: Receiver, tmp_path: Path) -> None:
    """By default, spans lost in failed exports are counted in otel.sdk.exporter.span.exported."""
    done = run_script(APP, _env(receiver, tmp_path), tmp_path)
    assert done.returncode == 0, done.stderr
    assert receiver.store.wait_for(
        lambda store: _points(receiver, "otel.sdk.exporter.span.exported", "lossy"), 10
    )
    points = _points(receiver, "otel.sdk.exporter.span.exported", "lossy")
    scope, attributes, value = points[-1]  # cumulative: the last one has the total
    assert scope == "otel-run"
    assert attributes == {
        "otel.component.type": "otlp_http_span_exporter",
        "otel.component.name": "otlp_http_span_exporter/0",
        "error.type": "connection_refused",
    }
    assert value == SPANS
    names = {metric.name for metric in receiver.store.metrics() if metric.name.startswith("otel.sdk.")}
    assert names == {"otel.sdk.exporter.span.exported"}, "only what was lost, nothing for healthy signals"


@pytest.mark.timeout(60)
def test_nothing_lost_means_no_otel_sdk_metrics(receiver: Receiver, tmp_path: Path) -> None:
    """A healthy run exports no otel.sdk.* series at all (the default costs nothing in the backend)."""
    env = otlp_env(receiver, OTEL_SERVICE_NAME="healthy", OTEL_RUN_STATUS_DIR=str(tmp_path / "status"))
    done = run_script(APP, env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert receiver.store.wait_for(
        lambda store: len([s for s in store.spans() if s.name == "lost"]) == SPANS, 10
    )
    assert receiver.store.wait_for(lambda store: _points(receiver, "app.jobs", "healthy"), 10)
    assert [m.name for m in receiver.store.metrics() if m.name.startswith("otel.sdk.")] == []


@pytest.mark.timeout(60)
def test_sdk_internal_metrics_work_under_otel_run(receiver: Receiver, tmp_path: Path) -> None:
    """OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true: upstream's own set, exporters and queues included."""
    env = _env(receiver, tmp_path, OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED="true")
    done = run_script(APP, env, tmp_path)
    assert done.returncode == 0, done.stderr
    expected = {
        "otel.sdk.exporter.span.exported",
        "otel.sdk.exporter.log.exported",
        "otel.sdk.exporter.metric_data_point.exported",
        "otel.sdk.processor.span.processed",
        "otel.sdk.processor.span.queue.capacity",
        "otel.sdk.span.started",
    }

    def arrived(store: Any) -> bool:
        return expected <= {m.name for m in store.metrics() if m.service == "lossy"}

    assert receiver.store.wait_for(arrived, 10), expected - {m.name for m in receiver.store.metrics()}
    scopes = {m.scope for m in receiver.store.metrics() if m.name.startswith("otel.sdk.")}
    assert scopes == {"opentelemetry-sdk"}, "upstream's own, and nothing of ours counted twice"
    failed = [
        (attributes, value)
        for _scope, attributes, value in _points(receiver, "otel.sdk.exporter.span.exported", "lossy")
        if "error.type" in attributes
    ]
    assert failed and failed[-1][1] == SPANS, failed
    assert "Traceback" not in done.stderr and "can not provide a `Meter`" not in done.stderr


@pytest.mark.timeout(60)
def test_sdk_internal_metrics_false_means_none(receiver: Receiver, tmp_path: Path) -> None:
    """OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=false: no otel.sdk.* metrics, not even otel-run's."""
    env = _env(receiver, tmp_path, OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED="false")
    done = run_script(APP, env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert receiver.store.wait_for(lambda store: _points(receiver, "app.jobs", "lossy"), 10)
    assert [m.name for m in receiver.store.metrics() if m.name.startswith("otel.sdk.")] == []
