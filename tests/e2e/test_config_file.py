"""OTEL_CONFIG_FILE end to end: the file is the configuration, and a broken one costs one line.

The README's example file (``sample_app/otel-config.yaml``) runs the sample app against a
real receiver. Each kind of broken file (missing, unreadable, not YAML, not JSON, invalid
against the schema) gives one line naming the file and the place, no traceback, and
leaves the app's output and exit status exactly as without otel-run (or exit 70 under
``OTEL_RUN_STRICT=true``), and nothing is exported from the OTEL_* variables instead.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from apps import BIN, PYTHON, REPO, clean_env, free_port, otlp_env, run_script, server
from otel_run.config.configfile import FAIL_OPEN
from otel_run.receiver import Receiver

EXAMPLE = REPO / "sample_app" / "otel-config.yaml"
APP = """
import logging, sys
from opentelemetry import trace
logging.getLogger("app").warning("a log line")
with trace.get_tracer("app").start_as_current_span("work"):
    pass
print("app ran")
sys.exit(3)
"""
MINIMAL = """file_format: "1.0"
resource:
  attributes:
    - name: service.name
      value: ${SERVICE:-from-file}
tracer_provider:
  processors:
    - simple:
        exporter:
          otlp_http:
            endpoint: ${COLLECTOR}/v1/traces
"""


def _example_env(receiver: Receiver, **extra: str) -> dict[str, str]:
    """The example file pointed at ``receiver``, through the variables the file references."""
    env = {
        "OTEL_CONFIG_FILE": str(EXAMPLE),
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_url,
        "OTEL_SERVICE_NAME": "file-storefront",
        "DEPLOYMENT_ENVIRONMENT": "staging",
        "TRACE_SAMPLE_RATIO": "1",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
    }
    return clean_env(**{**env, **extra})


@pytest.mark.timeout(90)
def test_example_file_exports_traces_metrics_and_logs(receiver: Receiver) -> None:
    """The README's example file sends the sample app's spans, metrics and logs, with its resource."""
    port = free_port()
    env = _example_env(
        receiver,
        PORT=str(port),
        # Replaced by the file: ignored, and said so.
        OTEL_TRACES_SAMPLER="always_off",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:9/v1/traces",
    )
    with server([PYTHON, "sample_app/app.py"], env, port) as app:
        for path in ("/", "/items", "/healthz"):
            assert app.get(path).status_code == 200
        store = receiver.store
        arrived = store.wait_for(
            lambda s: (
                {"GET /", "GET /items"} <= {span.name for span in s.spans()}
                and any(
                    metric.name == "http.server.duration" or "http.server" in metric.name
                    for metric in s.metrics()
                )
                and bool(s.logs())
            ),
            30,
        )
        status = app.stop()
    assert arrived, app.stderr
    assert status == -15
    spans = receiver.store.spans()
    assert "GET /healthz" not in {span.name for span in spans}, "instrumentation/development.python.flask"
    resource = spans[0].resource
    assert resource["service.name"] == "file-storefront"
    assert resource["deployment.environment.name"] == "staging"  # ${env:DEPLOYMENT_ENVIRONMENT}
    assert resource["telemetry.sdk.name"] == "opentelemetry"
    assert {log.service for log in receiver.store.logs()} == {"file-storefront"}
    lines = [line for line in app.stderr.splitlines() if line.startswith("otel-run: ")]
    (startup,) = [line for line in lines if line.startswith("otel-run: configured from ")]
    assert startup.startswith(
        f"otel-run: configured from {EXAMPLE}: service file-storefront; traces+metrics+logs → "
        f"{receiver.http_url} over http/protobuf; sampler parent_based(root: trace_id_ratio_based 1); "
        "instrumenting "
    ), lines
    assert startup.endswith(" more on import)"), startup  # flask is armed for its import, counted
    assert any(
        "is the configuration, so OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_TRACES_SAMPLER are ignored" in line
        for line in lines
    ), lines
    assert "Traceback" not in app.stderr


@pytest.mark.timeout(60)
def test_a_ratio_of_zero_in_the_file_records_no_span(receiver: Receiver, tmp_path: Path) -> None:
    """The file's sampler decides, through ${VAR} substitution typed as a number."""
    done = run_script(APP, _example_env(receiver, TRACE_SAMPLE_RATIO="0"), tmp_path)
    assert done.returncode == 3 and done.stdout == "app ran\n", done.stderr
    assert receiver.store.wait_for(lambda s: bool(s.logs()), 10), done.stderr
    assert receiver.store.spans() == []
    assert "sampler parent_based(root: trace_id_ratio_based 0)" in done.stderr


def _plain(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "app.py").write_text(APP)
    return subprocess.run(
        [PYTHON, "app.py"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )


BROKEN = {
    "missing": (None, "OTEL_CONFIG_FILE={path}: no such file"),
    "directory": ("<dir>", "OTEL_CONFIG_FILE={path}: is a directory, not a file"),
    # Reading a process's own memory at offset 0 fails (EIO) even for root, who reads any file.
    "unreadable": ("<mem>", "OTEL_CONFIG_FILE=/proc/self/mem: cannot be read (Input/output error)"),
    "not utf-8": (
        b'file_format: "1.0"\n# caf\xe9\n',
        "{path}: is not UTF-8 text (invalid continuation byte)",
    ),
    "not yaml": (
        'file_format: "1.0"\ntracer_provider:\n  processors:\n  - batch:\n'
        "      exporter:\n     otlp_http: {}\n",
        "{path} line 6, column 6: not valid YAML: expected <block end>, but found '<block mapping start>'",
    ),
    "not json": (
        '{"file_format": "1.0",\n "tracer_provider": [}\n',
        "{path} line 2, column 22: not valid JSON",
    ),
    "wrong type": (
        MINIMAL.replace("    - simple:", "    - batch:\n        schedule_delay: soon"),
        "{path} line 9 (tracer_provider.processors[0].batch.schedule_delay): 'soon' is not of type 'integer'",
    ),
    "unknown key": (
        MINIMAL.replace("endpoint:", "endpont:"),
        "{path} line 10 (tracer_provider.processors[0].simple.exporter.otlp_http): Additional properties are "
        "not allowed ('endpont' was unexpected)",
    ),
    "no file_format": (MINIMAL.split("\n", 1)[1], "{path} line 1: 'file_format' is a required property"),
    "major version": (
        MINIMAL.replace('"1.0"', '"2.0"'),
        "{path} line 1 (file_format): Unsupported file_format '2.0'",
    ),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_file_costs_one_line_and_changes_nothing(
    case: str, receiver: Receiver, tmp_path: Path
) -> None:
    """One line naming the file, the place and the problem; same output and exit; nothing exported."""
    content, expected = BROKEN[case]
    path = tmp_path / ("otel-config.json" if "json" in case else "otel-config.yaml")
    if content == "<dir>":
        path.mkdir()
    elif content == "<mem>":
        path = Path("/proc/self/mem")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    env = otlp_env(receiver, OTEL_CONFIG_FILE=str(path), COLLECTOR=receiver.http_url)
    without = _plain(tmp_path, clean_env())
    done = run_script(APP, env, tmp_path)
    assert (done.returncode, done.stdout) == (without.returncode, without.stdout) == (3, "app ran\n")
    lines = [line for line in done.stderr.splitlines() if line.startswith("otel-run:")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("otel-run: " + expected.format(path=path)), lines[0]
    assert lines[0].endswith(FAIL_OPEN)
    assert "Traceback" not in done.stderr
    # The app's own log line still reaches its stderr; nothing reached the receiver.
    assert "a log line" in done.stderr
    assert not receiver.store.wait_for(lambda s: bool(s.exports()), 1)

    strict = run_script(APP, {**env, "OTEL_RUN_STRICT": "true"}, tmp_path)
    assert strict.returncode == 70 and strict.stdout == ""
    (line,) = [line for line in strict.stderr.splitlines() if line.startswith("otel-run:")]
    assert line.startswith(
        "otel-run: OTEL_RUN_STRICT=true and telemetry could not be set up (" + expected.format(path=path)
    )
    assert line.endswith("; exiting 70")


@pytest.mark.timeout(60)
def test_a_typo_in_a_component_name_names_the_field_and_the_fix(receiver: Receiver, tmp_path: Path) -> None:
    """``otlp_htp`` passes the schema (plugins are allowed) but is not installed: traces off, one line."""
    path = tmp_path / "otel-config.yaml"
    path.write_text(MINIMAL.replace("otlp_http:", "otlp_htp:"))
    env = clean_env(OTEL_CONFIG_FILE=str(path), OTEL_RUN_QUIET="true", COLLECTOR=receiver.http_url)
    done = run_script(APP, env, tmp_path)
    assert (done.returncode, done.stdout) == (3, "app ran\n")
    lines = [
        line
        for line in done.stderr.splitlines()
        # Not this test's subject: with no exporter built, asyncio's instrumentor can load while
        # wrapt is half-imported (also without a file: OTEL_TRACES_EXPORTER=none on main).
        if line.startswith("otel-run:") and "instrumentation asyncio" not in line
    ]
    assert lines == [
        f"otel-run: {path} line 10 (tracer_provider.processors[0].simple.exporter.otlp_htp): traces are off: "
        "Plugin 'otlp_htp' not found in group 'opentelemetry_traces_exporter'. Make sure the package "
        "providing this plugin is installed; did you mean 'otlp_http'?"
    ], done.stderr


SLOW = {
    "OTEL_BSP_SCHEDULE_DELAY": "60000",
    "OTEL_BLRP_SCHEDULE_DELAY": "60000",
    "OTEL_METRIC_EXPORT_INTERVAL": "60000",
}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("run", range(5))
def test_sigterm_flushes_what_the_file_built(run: int, receiver: Receiver) -> None:
    """Spans batched by the file's processors (60 s delay) arrive at SIGTERM; the status is the app's."""
    port = free_port()
    env = _example_env(receiver, PORT=str(port), OTEL_SERVICE_NAME=f"file-sigterm-{run}", **SLOW)
    with server([PYTHON, "sample_app/app.py"], env, port) as app:
        for _ in range(10):
            assert app.get("/items").status_code == 200
        assert not receiver.store.spans(), "exported before SIGTERM"
        status = app.stop(signal.SIGTERM)
    assert status == -signal.SIGTERM, app.stderr
    assert receiver.store.wait_for(lambda s: len([x for x in s.spans() if x.name == "GET /items"]) == 10, 10)
    assert any(log.body == "listing 3 items" for log in receiver.store.logs())


@pytest.mark.timeout(90)
def test_gunicorn_workers_export_what_the_file_sets_up(receiver: Receiver) -> None:
    """Forked workers build nothing of their own from the environment: the file's exporters keep working."""
    port = free_port()
    env = _example_env(receiver, OTEL_SERVICE_NAME="file-workers")
    args = [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "sample_app.app:app"]
    with server(args, env, port) as app:
        for _ in range(20):
            assert app.get("/items").status_code == 200
        arrived = receiver.store.wait_for(
            lambda s: len([x for x in s.spans() if x.name == "GET /items"]) == 20, 20
        )
        app.stop(signal.SIGTERM)
    assert arrived, app.stderr
    assert {span.service for span in receiver.store.spans()} == {"file-workers"}
    assert (
        len([line for line in app.stderr.splitlines() if line.startswith("otel-run: configured from")]) == 1
    )


LOOP = """
import sys, time
from opentelemetry import trace
tracer = trace.get_tracer("app")
for _ in range(30):
    with tracer.start_as_current_span("work"):
        time.sleep(0.1)
print("app ran")
sys.exit(3)
"""


@pytest.mark.timeout(60)
def test_a_dead_endpoint_in_the_file_is_told_once_and_exit_is_on_time(tmp_path: Path) -> None:
    """The file's exporter is watched: one line naming its URL for many failed exports; exit on time."""
    dead = f"http://127.0.0.1:{free_port()}"
    path = tmp_path / "otel-config.yaml"
    batch = "    - batch:\n        schedule_delay: 100"
    path.write_text(
        MINIMAL.replace("    - simple:", batch).replace("/v1/traces", "/v1/traces\n            timeout: 300")
    )
    env = clean_env(OTEL_CONFIG_FILE=str(path), COLLECTOR=dead, OTEL_RUN_SHUTDOWN_TIMEOUT="2000")
    started = time.monotonic()
    done = run_script(LOOP, env, tmp_path)
    elapsed = time.monotonic() - started
    assert (done.returncode, done.stdout) == (3, "app ran\n")
    told = [
        line
        for line in done.stderr.splitlines()
        if line.startswith(f"otel-run: cannot export traces to {dead}")
    ]
    assert len(told) == 1, done.stderr
    assert "connection refused" in told[0]
    assert "Traceback" not in done.stderr and "Failed to export" not in done.stderr
    assert elapsed < 15, done.stderr


@pytest.mark.timeout(60)
def test_disabled_in_the_file_installs_nothing_and_strict_exits_for_a_broken_section(tmp_path: Path) -> None:
    """``disabled: true`` is the file's OTEL_SDK_DISABLED; under strict mode a broken section exits 70."""
    path = tmp_path / "otel-config.yaml"
    extra = "\ninstrumentation/development:\n  python:\n    flaskk: {excluded_urls: x}\n"
    path.write_text(MINIMAL.replace('file_format: "1.0"', 'file_format: "1.0"\ndisabled: true') + extra)
    done = run_script(APP, clean_env(OTEL_CONFIG_FILE=str(path), COLLECTOR="http://127.0.0.1:9"), tmp_path)
    assert (done.returncode, done.stdout) == (3, "app ran\n")
    lines = [line for line in done.stderr.splitlines() if line.startswith("otel-run:")]
    assert lines[0].startswith(
        f"otel-run: {path} line 16 (instrumentation/development.python.flaskk): no instrumentation "
        "'flaskk' is installed, so these options are not used (installed: "
    )
    assert lines[1:] == [f"otel-run: {path} says disabled: telemetry is off, nothing was installed"]
    path.write_text(MINIMAL.replace("otlp_http:", "otlp_htp:"))
    env = clean_env(OTEL_CONFIG_FILE=str(path), OTEL_RUN_STRICT="true", COLLECTOR="http://127.0.0.1:9")
    strict = run_script(APP, env, tmp_path)
    assert (strict.returncode, strict.stdout) == (70, "")
    assert "did you mean 'otlp_http'?); exiting 70" in strict.stderr
