"""All three OTLP protocols deliver traces, metrics and logs to a real receiver."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps import otlp_env, run_script
from otel_run.receiver import Receiver

SCRIPT = """
import logging, sys
from opentelemetry import metrics, trace

logging.basicConfig(level=logging.INFO)
with trace.get_tracer("proto-test").start_as_current_span("work"):
    logging.getLogger("proto").info("inside work")
metrics.get_meter("proto-test").create_counter("jobs").add(3)
print("protobuf loaded:", "google.protobuf" in sys.modules)
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json", "grpc"])
def test_every_signal_arrives_over(protocol: str, receiver: Receiver, tmp_path: Path) -> None:
    """A span, a log record and a metric arrive over ``protocol``, flushed at normal exit."""
    result = run_script(SCRIPT, otlp_env(receiver, protocol, OTEL_SERVICE_NAME="proto"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert receiver.store.wait_for(
        lambda store: bool(store.spans() and store.logs() and store.metrics()), 10
    ), result.stderr
    span = next(span for span in receiver.store.spans() if span.name == "work")
    log = next(log for log in receiver.store.logs() if log.body == "inside work")
    assert log.trace_id == span.trace_id
    jobs = next(metric for metric in receiver.store.metrics() if metric.name == "jobs")
    assert jobs.service == "proto"
    transports = {export.transport for export in receiver.store.exports()}
    assert transports == {protocol}
    assert f"over {protocol}" in result.stderr


@pytest.mark.timeout(60)
def test_http_json_path_loads_no_protobuf(receiver: Receiver, tmp_path: Path) -> None:
    """With http/json, neither otel-run nor the exporters import protobuf into the app."""
    result = run_script(SCRIPT, otlp_env(receiver, "http/json"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "protobuf loaded: False" in result.stdout


@pytest.mark.timeout(60)
def test_protocol_defaults_to_http_protobuf(receiver: Receiver, tmp_path: Path) -> None:
    """With no OTEL_EXPORTER_OTLP_PROTOCOL, otel-run uses http/protobuf (upstream defaults to grpc)."""
    env = otlp_env(receiver)
    del env["OTEL_EXPORTER_OTLP_PROTOCOL"]
    result = run_script(SCRIPT, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert receiver.store.wait_for(lambda store: bool(store.spans()), 10), result.stderr
    assert {export.transport for export in receiver.store.exports()} == {"http/protobuf"}


@pytest.mark.timeout(60)
def test_headers_reach_collector_but_never_output(receiver: Receiver, tmp_path: Path) -> None:
    """OTEL_EXPORTER_OTLP_HEADERS is sent to the collector and never printed, nor are URL credentials."""
    env = otlp_env(
        receiver,
        OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20s3cr3t-token,x-tenant=acme",
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=receiver.http_url.replace("http://", "http://user:hunter2@")
        + "/v1/logs",
        OTEL_EXPORTER_OTLP_TIMEOUT="not-a-number",
    )
    result = run_script(SCRIPT, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert receiver.store.wait_for(lambda store: bool(store.spans()), 10), result.stderr
    headers = receiver.store.last_headers("traces")
    assert headers.get("authorization") == "Bearer s3cr3t-token"
    assert headers.get("x-tenant") == "acme"
    output = result.stdout + result.stderr
    assert "s3cr3t" not in output and "hunter2" not in output
    assert "***@127.0.0.1" in result.stderr
