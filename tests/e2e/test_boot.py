"""The boot inside the app's process: chaining, children, instrumentations, own SDKs, bad values."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from apps import PYTHON, clean_env, otlp_env, run, run_script, startup_lines
from otel_run.receiver import Receiver

SQLITE_APP = """
import sqlite3
from opentelemetry import trace
with trace.get_tracer("t").start_as_current_span("parent"):
    cursor = sqlite3.connect(":memory:").cursor()
    cursor.execute("SELECT 1")
print("app ran")
"""


@pytest.mark.timeout(60)
def test_user_sitecustomize_still_runs(receiver: Receiver, tmp_path: Path) -> None:
    """A sitecustomize already on PYTHONPATH runs in the app after ours, and spans still arrive."""
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "sitecustomize.py").write_text("import builtins\nbuiltins.USER_SITECUSTOMIZE = 'ran'\n")
    source = "import builtins, sitecustomize\nprint(builtins.USER_SITECUSTOMIZE, sitecustomize.__file__)\n"
    source += SQLITE_APP
    result = run_script(source, otlp_env(receiver, PYTHONPATH=str(custom)), tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"ran {custom / 'sitecustomize.py'}" in result.stdout
    assert receiver.store.wait_for(lambda store: any(s.name == "parent" for s in store.spans()), 10)


@pytest.mark.timeout(60)
def test_child_python_processes_boot_too(receiver: Receiver, tmp_path: Path) -> None:
    """A Python child started by the app (subprocess) boots and exports under its own derived name,
    and only the app announces itself (a child prints nothing unless something is wrong)."""
    (tmp_path / "worker.py").write_text(SQLITE_APP)
    parent = "import subprocess, sys\nsubprocess.run([sys.executable, 'worker.py'], check=True)\n"
    result = run_script(parent, otlp_env(receiver), tmp_path, name="parent_app.py")
    assert result.returncode == 0, result.stderr
    assert receiver.store.wait_for(lambda store: any(s.name == "SELECT" for s in store.spans()), 10)
    select = next(s for s in receiver.store.spans() if s.name == "SELECT")
    assert select.service == "worker"
    services = [line.split(" (derived")[0] for line in startup_lines(result.stderr)]
    assert services == ["otel-run: service parent_app"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("disabled", ["sqlite3", "*", "flask, SQLITE3"])
def test_disabled_instrumentations_are_not_armed(disabled: str, receiver: Receiver, tmp_path: Path) -> None:
    """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS turns sqlite3 off (by name, case-insensitively, or '*')."""
    result = run_script(
        SQLITE_APP, otlp_env(receiver, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=disabled), tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert receiver.store.wait_for(lambda store: any(s.name == "parent" for s in store.spans()), 10)
    assert [s.name for s in receiver.store.spans()] == ["parent"]
    line = startup_lines(result.stderr)[0]
    assert "sqlite3" not in line


@pytest.mark.timeout(60)
def test_sqlite_is_instrumented_on_import(receiver: Receiver, tmp_path: Path) -> None:
    """Without configuration, the sqlite3 query inside the app's span becomes a child span."""
    result = run_script(SQLITE_APP, otlp_env(receiver), tmp_path)
    assert result.returncode == 0, result.stderr
    assert receiver.store.wait_for(lambda store: len(store.spans()) >= 2, 10)
    spans = {s.name: s for s in receiver.store.spans()}
    assert spans["SELECT"].parent_span_id == spans["parent"].span_id


def _broken_instrumentor(root: Path) -> Path:
    """Install a distribution whose instrumentor raises, as a fake package on a path entry."""
    root.mkdir()
    (root / "broken_instr.py").write_text(
        textwrap.dedent(
            """
            from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

            class BrokenInstrumentor(BaseInstrumentor):
                def instrumentation_dependencies(self):
                    return []

                def _instrument(self, **kwargs):
                    raise RuntimeError("boom in broken_instr")

                def _uninstrument(self, **kwargs):
                    pass
            """
        )
    )
    info = root / "broken_instr-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-instr\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[opentelemetry_instrumentor]\njson = broken_instr:BrokenInstrumentor\n"
    )
    return root


@pytest.mark.timeout(60)
def test_broken_instrumentor_is_reported_and_skipped(receiver: Receiver, tmp_path: Path) -> None:
    """An instrumentor that raises costs one stderr line naming it; the app and other instrumentations run."""
    plugins = _broken_instrumentor(tmp_path / "plugins")
    source = "import json\n" + SQLITE_APP
    result = run_script(source, otlp_env(receiver, PYTHONPATH=str(plugins)), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "app ran" in result.stdout
    lines = [line for line in result.stderr.splitlines() if "instrumentation json" in line]
    assert len(lines) == 1
    assert "boom in broken_instr" in lines[0] and "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=json" in lines[0]
    assert receiver.store.wait_for(lambda store: any(s.name == "SELECT" for s in store.spans()), 10)


OWN_SDK_APP = """
from flask import Flask
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": "hand-written"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=ENDPOINT)))
trace.set_tracer_provider(provider)
FlaskInstrumentor().instrument()

app = Flask(__name__)
FlaskInstrumentor().instrument_app(app)

@app.route("/")
def index():
    return "hi"

for _ in range(3):
    assert app.test_client().get("/").status_code == 200
print("served")
"""


@pytest.mark.timeout(60)
def test_app_with_its_own_sdk_setup_exports_each_span_once(receiver: Receiver, tmp_path: Path) -> None:
    """An app that builds its own TracerProvider and instruments Flask itself still exports each span once."""
    source = f"ENDPOINT = {receiver.http_url + '/v1/traces'!r}\n" + OWN_SDK_APP
    result = run_script(source, otlp_env(receiver, OTEL_SERVICE_NAME="svc"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert receiver.store.wait_for(lambda store: len(store.spans()) >= 3, 10)
    server_spans = [s for s in receiver.store.spans() if s.name == "GET /"]
    assert len(server_spans) == 3
    assert len({s.span_id for s in receiver.store.spans()}) == len(receiver.store.spans())
    notes = result.stderr.splitlines()
    assert sum("set_tracer_provider() with its own TracerProvider" in line for line in notes) == 1
    assert sum("FlaskInstrumentor().instrument()" in line for line in notes) == 1


@pytest.mark.timeout(60)
def test_bad_values_warn_once_each_and_the_app_runs(receiver: Receiver, tmp_path: Path) -> None:
    """Garbage in OTEL_* values gives one warning per variable, naming it; the app's output is unchanged."""
    env = otlp_env(
        receiver,
        OTEL_TRACES_SAMPLER="traceidratio",
        OTEL_TRACES_SAMPLER_ARG="abc",
        OTEL_BSP_MAX_QUEUE_SIZE="-5",
        OTEL_EXPORTER_OTLP_COMPRESSION="zstd",
        OTEL_PROPAGATORS="tracecontext,nonexistent",
        OTEL_SDK_DISABLED="maybe",
        OTEL_SERVIC_NAME="typo",
    )
    result = run_script(SQLITE_APP, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "app ran\n"
    warnings = [line for line in result.stderr.splitlines() if not line.startswith("otel-run: service ")]
    for name in (
        "OTEL_TRACES_SAMPLER_ARG='abc'",
        "OTEL_BSP_MAX_QUEUE_SIZE='-5'",
        "OTEL_EXPORTER_OTLP_COMPRESSION='zstd'",
        "'nonexistent'",
        "OTEL_SDK_DISABLED='maybe'",
        "OTEL_SERVIC_NAME",
    ):
        assert sum(name in line for line in warnings) == 1, (name, warnings)
    assert len(warnings) == 6, warnings
    assert receiver.store.wait_for(lambda store: any(s.name == "SELECT" for s in store.spans()), 10)


@pytest.mark.timeout(60)
def test_console_output_is_identical_with_and_without_otel_run(receiver: Receiver, tmp_path: Path) -> None:
    """Logging (configured, unconfigured, module-level) prints the same with otel-run as without it."""
    source = textwrap.dedent(
        """
        import logging, sys
        logging.getLogger("early").warning("last-resort warning before any config")
        logging.warning("module-level warning configures the root")
        logging.getLogger("app").info("info is below the default level")
        logging.getLogger("app").error("error %s", 42)
        print("stdout line")
        """
    )
    script = tmp_path / "logs_app.py"
    script.write_text(source)
    import subprocess

    plain = subprocess.run(
        [PYTHON, str(script)], env=clean_env(), capture_output=True, text=True, timeout=30, check=False
    )
    traced = run([PYTHON, str(script)], otlp_env(receiver, OTEL_RUN_QUIET="true"), cwd=tmp_path)
    assert (traced.stdout, traced.stderr) == (plain.stdout, plain.stderr)
    assert "last-resort warning" in plain.stderr
    assert receiver.store.wait_for(lambda store: len(store.logs()) >= 3, 10)
    assert [log.body for log in receiver.store.logs()] == [
        "last-resort warning before any config",
        "module-level warning configures the root",
        "error 42",
    ]


@pytest.mark.timeout(60)
def test_startup_line_is_one_line_and_quiet_silences_it(receiver: Receiver, tmp_path: Path) -> None:
    """One startup line names service, endpoint, protocol and sampler; OTEL_RUN_QUIET=true removes it."""
    loud = run_script(SQLITE_APP, otlp_env(receiver, OTEL_SERVICE_NAME="svc"), tmp_path)
    assert loud.stderr.count("\n") == 1
    (line,) = startup_lines(loud.stderr)
    assert line.startswith("otel-run: service svc; traces+metrics+logs → http://127.0.0.1:")
    assert "over http/protobuf; sampler parentbased_always_on" in line
    quiet = run_script(SQLITE_APP, otlp_env(receiver, OTEL_RUN_QUIET="true"), tmp_path)
    assert quiet.stderr == ""


@pytest.mark.timeout(60)
def test_derived_service_name_is_announced(receiver: Receiver, tmp_path: Path) -> None:
    """Without OTEL_SERVICE_NAME the name comes from the script and the line says so."""
    result = run_script(SQLITE_APP, otlp_env(receiver), tmp_path, name="billing.py")
    assert "service billing (derived from script billing.py; set OTEL_SERVICE_NAME" in result.stderr
    assert receiver.store.wait_for(lambda store: bool(store.spans()), 10)
    assert {s.service for s in receiver.store.spans()} == {"billing"}


@pytest.mark.timeout(60)
def test_sdk_disabled_installs_nothing(receiver: Receiver, tmp_path: Path) -> None:
    """OTEL_SDK_DISABLED=true: the app runs with the no-op API and nothing is exported."""
    source = (
        "from opentelemetry import trace\nprint(type(trace.get_tracer_provider()).__name__)\n" + SQLITE_APP
    )
    result = run_script(source, otlp_env(receiver, OTEL_SDK_DISABLED="true"), tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == "ProxyTracerProvider"
    assert result.stderr == "otel-run: OTEL_SDK_DISABLED=true: telemetry is off, nothing was installed\n"
    assert not receiver.store.wait_for(lambda store: bool(store.exports()), 1.5)


@pytest.mark.timeout(60)
def test_booting_twice_is_a_no_op(receiver: Receiver, tmp_path: Path) -> None:
    """Calling the boot again in a booted app changes nothing and prints nothing."""
    source = textwrap.dedent(
        """
        from opentelemetry import trace
        from otel_run.runtime import boot
        before = trace.get_tracer_provider()
        assert boot.is_booted()
        boot.boot()
        assert trace.get_tracer_provider() is before
        print(type(before).__module__)
        """
    )
    result = run_script(source, otlp_env(receiver), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "opentelemetry.sdk.trace\n"
    assert len(startup_lines(result.stderr)) == 1


@pytest.mark.timeout(60)
def test_trace_ids_are_injected_into_log_records(receiver: Receiver, tmp_path: Path) -> None:
    """Inside a span, stdlib log records carry otelTraceID/otelSpanID, usable in the app's own format."""
    source = textwrap.dedent(
        """
        import logging, sys
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s trace=%(otelTraceID)s span=%(otelSpanID)s"))
        log = logging.getLogger("ids")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        from opentelemetry import trace
        with trace.get_tracer("t").start_as_current_span("with-ids") as span:
            log.info("inside")
            context = span.get_span_context()
            print(format(context.trace_id, "032x"), format(context.span_id, "016x"))
        """
    )
    result = run_script(source, otlp_env(receiver), tmp_path)
    assert result.returncode == 0, result.stderr
    logged, ids = result.stdout.splitlines()
    trace_id, span_id = ids.split()
    assert logged == f"inside trace={trace_id} span={span_id}"
    assert receiver.store.wait_for(lambda store: any(log.body == "inside" for log in store.logs()), 10)
    exported = next(log for log in receiver.store.logs() if log.body == "inside")
    assert (exported.trace_id, exported.span_id) == (trace_id, span_id)


@pytest.mark.timeout(60)
def test_exporters_are_not_loaded_until_something_is_exported(receiver: Receiver, tmp_path: Path) -> None:
    """Start-up loads no exporter (no requests, no protobuf); the first batch builds it and arrives."""
    source = textwrap.dedent(
        """
        import sys
        print("requests" in sys.modules, "google.protobuf" in sys.modules)
        from opentelemetry import trace
        with trace.get_tracer("t").start_as_current_span("late"):
            pass
        """
    )
    result = run_script(source, otlp_env(receiver), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False False\n"
    assert receiver.store.wait_for(lambda store: any(s.name == "late" for s in store.spans()), 10)
