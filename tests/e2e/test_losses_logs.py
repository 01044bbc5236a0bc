"""Logs from loguru and from structlog's default logger are exported, with trace context, and the
app's own output is byte-for-byte what it is without otel-run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from apps import PYTHON, clean_env, otlp_env, run, run_script
from otel_run.receiver import Receiver
from otel_run.receiver.model import ReceivedLog

LOGURU_APP = """
import sys
from loguru import logger
from opentelemetry import trace
if len(sys.argv) > 1:
    logger.remove()  # the usual first line of a loguru setup
    logger.add(sys.stdout, level="INFO", format="{level} {message}")
with trace.get_tracer("t").start_as_current_span("request"):
    logger.info("loguru says hello")
    logger.debug("loguru debug")
print("done")
"""

STRUCTLOG_APP = """
import structlog
from opentelemetry import trace
log = structlog.get_logger()
with trace.get_tracer("t").start_as_current_span("request"):
    log.warning("structlog says hello", user="ada")
print("done")
"""


def _plain(source: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "plain.py"
    script.write_text(source)
    return subprocess.run(
        [PYTHON, str(script), *args], env=clean_env(), capture_output=True, text=True, timeout=60, check=False
    )


def _record(receiver: Receiver, text: str) -> ReceivedLog:
    found = [log for log in receiver.store.logs() if text in log.body]
    assert len(found) == 1, [log.body for log in receiver.store.logs()]
    return found[0]


def _without_timestamps(text: str) -> list[str]:
    # loguru's and structlog's default formats start with the time; the rest must be equal
    return [line.split(" ", 2)[-1] for line in text.splitlines()]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("configured", [False, True], ids=["default-sink", "after-remove"])
def test_loguru_records_are_exported_with_trace_context(
    configured: bool, receiver: Receiver, tmp_path: Path
) -> None:
    """loguru records arrive with the active span's trace id; the app prints exactly what it would."""
    args = ["configured"] if configured else []
    (tmp_path / "app.py").write_text(LOGURU_APP)
    result = run([PYTHON, "app.py", *args], otlp_env(receiver), timeout=60, cwd=tmp_path)
    plain = _plain(LOGURU_APP, tmp_path, *args)
    assert result.returncode == plain.returncode == 0, result.stderr
    assert result.stdout == plain.stdout
    ours = [line for line in result.stderr.splitlines() if not line.startswith("otel-run: ")]
    assert _without_timestamps("\n".join(ours)) == _without_timestamps(plain.stderr)
    assert receiver.store.wait_for(lambda s: any("loguru says hello" in r.body for r in s.logs()), 10)
    record = _record(receiver, "loguru says hello")
    span = next(s for s in receiver.store.spans() if s.name == "request")
    assert record.trace_id == span.trace_id and record.span_id == span.span_id
    assert record.severity_text == "INFO"
    # DEBUG goes out only when a sink of the app takes it: the default sink does, INFO-only does not
    debug = [r for r in receiver.store.logs() if "loguru debug" in r.body]
    assert len(debug) == (0 if configured else 1)


@pytest.mark.timeout(60)
def test_structlog_default_logger_records_are_exported(receiver: Receiver, tmp_path: Path) -> None:
    """structlog's default PrintLogger line is exported (level, trace context); stdout is unchanged."""
    result = run_script(STRUCTLOG_APP, otlp_env(receiver), tmp_path)
    plain = _plain(STRUCTLOG_APP, tmp_path)
    assert result.returncode == plain.returncode == 0, result.stderr
    assert _without_timestamps(result.stdout) == _without_timestamps(plain.stdout)
    assert receiver.store.wait_for(lambda s: any("structlog says hello" in r.body for r in s.logs()), 10)
    record = _record(receiver, "structlog says hello")
    assert "user=ada" in record.body and "\x1b[" not in record.body
    span = next(s for s in receiver.store.spans() if s.name == "request")
    assert record.trace_id == span.trace_id
    assert record.severity_text == "WARN"  # the SDK handler maps WARNING to the OTLP name
