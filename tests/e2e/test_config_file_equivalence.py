"""The same OTEL_CONFIG_FILE under otel-run and under upstream ``opentelemetry-instrument``.

Both run one script against one receiver: it starts spans under remote parents whose trace
ids are chosen on both sides of the file's ``trace_id_ratio_based`` threshold (so the
sampler's decision is known in advance, not left to random ids), adds to a counter and
logs a line. Both must export the same signals, the same resource and the same sampled
traces. ``opentelemetry-instrument`` is the one in otel-run's own venv: the same upstream
SDK, ``opentelemetry-configuration`` and instrumentations, and otel-run registers no entry
point that it would load (only the ``otel-run`` console script).

The one difference the test pins down is on purpose: upstream's OTLP exporters still read
``OTEL_EXPORTER_OTLP_HEADERS`` for what the file leaves out; under otel-run the file is
the whole configuration.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from apps import BIN, OTEL_RUN, PYTHON, clean_env
from otel_run.receiver import Receiver

FILE = """file_format: "1.0"
resource:
  attributes:
    - name: service.name
      value: ${SERVICE}
    - name: deployment.environment.name
      value: ${ENVIRONMENT:-test}
  attributes_list: team=payments,tier=${TIER}
propagator:
  composite:
    - tracecontext:
    - baggage:
tracer_provider:
  sampler:
    trace_id_ratio_based:
      ratio: 0.5
  processors:
    - batch:
        exporter:
          otlp_http:
            endpoint: ${COLLECTOR}/v1/traces
meter_provider:
  readers:
    - periodic:
        exporter:
          otlp_http:
            endpoint: ${COLLECTOR}/v1/metrics
logger_provider:
  processors:
    - batch:
        exporter:
          otlp_http:
            endpoint: ${COLLECTOR}/v1/logs
"""
APP = """
import logging, os
from opentelemetry import metrics, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

tracer = trace.get_tracer("compare")
for text in os.environ["TRACE_IDS"].split(","):
    parent = SpanContext(int(text, 16), 0x1234, is_remote=True, trace_flags=TraceFlags(1))
    with tracer.start_as_current_span("compare.op", context=set_span_in_context(NonRecordingSpan(parent))):
        pass
metrics.get_meter("compare").create_counter("compare.count").add(1)
logging.getLogger("compare").warning("compare log")
print("app ran")
"""
# TraceIdRatioBased samples a trace when its low 64 bits are below ratio * 2**64.
SAMPLED = ["0" * 31 + "1", "0" * 16 + "7fffffffffffffff", "ab" * 8 + "0123456789abcdef"]
DROPPED = ["0" * 16 + "8000000000000000", "0" * 16 + "ffffffffffffffff", "cd" * 8 + "fedcba9876543210"]


def _run(
    argv: list[str], service: str, receiver: Receiver, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    env = clean_env(
        OTEL_CONFIG_FILE=str(tmp_path / "otel-config.yaml"),
        SERVICE=service,
        TIER="backend",
        COLLECTOR=receiver.http_url,
        TRACE_IDS=",".join(SAMPLED + DROPPED),
        # Replaced by the file; upstream's exporter still reads it (see the module docstring).
        OTEL_EXPORTER_OTLP_HEADERS="x-from-the-environment=1",
    )
    return subprocess.run(
        [*argv, PYTHON, "app.py"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.timeout(120)
def test_same_signals_resource_and_sampling_as_opentelemetry_instrument(
    receiver: Receiver, tmp_path: Path
) -> None:
    """Traces, metrics and logs; the resource; which traces the file's sampler keeps: all the same."""
    (tmp_path / "otel-config.yaml").write_text(FILE)
    (tmp_path / "app.py").write_text(APP)
    ours = _run([OTEL_RUN], "ours", receiver, tmp_path)
    theirs = _run([str(BIN / "opentelemetry-instrument")], "theirs", receiver, tmp_path)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout) == (0, "app ran\n"), (
        ours.stderr + theirs.stderr
    )
    store = receiver.store
    assert store.wait_for(
        lambda s: (
            {(service, signal) for service in ("ours", "theirs") for signal in ("traces", "metrics", "logs")}
            <= {(item.service, e.signal) for e in s.exports() for item in (*e.spans, *e.metrics, *e.logs)}
        ),
        15,
    ), (ours.stderr, theirs.stderr)

    def resource(service: str) -> dict[str, object]:
        found = {tuple(sorted(span.resource.items())) for span in store.spans() if span.service == service}
        found |= {tuple(sorted(m.resource.items())) for m in store.metrics() if m.service == service}
        found |= {tuple(sorted(log.resource.items())) for log in store.logs() if log.service == service}
        assert len(found) == 1, found  # one resource for the three signals
        attributes = dict(found.pop())
        attributes.pop("service.name")
        return attributes

    assert resource("ours") == resource("theirs")
    assert resource("ours")["tier"] == "backend" and resource("ours")["deployment.environment.name"] == "test"

    def sampled(service: str) -> set[str]:
        return {span.trace_id for span in store.spans() if span.service == service}

    assert sampled("ours") == sampled("theirs") == set(SAMPLED)
    assert {m.name for m in store.metrics() if m.service == "ours"} == {
        m.name for m in store.metrics() if m.service == "theirs"
    }
    assert [log.body for log in store.logs() if log.service == "ours"] == ["compare log"]
    assert [log.body for log in store.logs() if log.service == "theirs"] == ["compare log"]

    sent = {(e.spans[0].service, e.headers.get("x-from-the-environment")) for e in store.exports("traces")}
    assert sent == {("ours", None), ("theirs", "1")}
    assert "Traceback" not in ours.stderr
