"""The SDK is built when telemetry is first needed (issue 11, levers 1 and 3), and nothing is lost.

A process that emits nothing never imports the SDK; each trigger (the API asked for a provider
or tracer, an instrumented library imported, the first log record, loguru, a meter, a second
thread racing the first) still exports everything, and warnings that only a build could find
are still printed at start-up.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from apps import OTEL_RUN, PYTHON, otlp_env, run, run_script, startup_lines
from otel_run.receiver import Receiver

NOTHING_LOADED = """
import sys
loaded = sorted(name for name in sys.modules if name.startswith(("opentelemetry", "logging", "asyncio")))
print(loaded)
"""


@pytest.mark.timeout(60)
def test_a_process_that_emits_nothing_imports_no_sdk(receiver: Receiver, tmp_path: Path) -> None:
    result = run_script(NOTHING_LOADED, otlp_env(receiver), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n", result.stdout
    (line,) = startup_lines(result.stderr)
    assert "traces+metrics+logs → " in line  # announced at boot, from the settings


@pytest.mark.timeout(60)
def test_the_seed_probe_still_finds_an_sdk_provider(receiver: Receiver, tmp_path: Path) -> None:
    probe = "from opentelemetry import trace; print(type(trace.get_tracer_provider()).__module__)"
    done = subprocess.run(
        [OTEL_RUN, PYTHON, "-c", probe],
        env=otlp_env(receiver),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "opentelemetry.sdk.trace\n"), done.stderr


TRIGGERS = {
    # each app emits exactly one span named "work", and nothing before its trigger
    "get_tracer": (
        "from opentelemetry import trace\nwith trace.get_tracer('t').start_as_current_span('work'): pass\n"
    ),
    "from-import": (
        "from opentelemetry.trace import get_tracer\n"
        "with get_tracer('t').start_as_current_span('work'): pass\n"
    ),
    "provider": (
        "from opentelemetry import trace\n"
        "provider = trace.get_tracer_provider()\n"
        "with provider.get_tracer('t').start_as_current_span('work'): pass\n"
    ),
    "library": "import sqlite3\nsqlite3.connect(':memory:').execute('SELECT 1 AS work')\n",
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("trigger", sorted(TRIGGERS))
def test_every_trigger_builds_and_nothing_is_lost(receiver: Receiver, tmp_path: Path, trigger: str) -> None:
    result = run_script(TRIGGERS[trigger], otlp_env(receiver, OTEL_BSP_SCHEDULE_DELAY="60000"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert receiver.store.wait_for(lambda store: len(store.spans()) >= 1, 10), result.stderr
    (span,) = receiver.store.spans()
    assert span.name in ("work", "SELECT"), span.name
    assert span.service == "app"


FIRST_RECORD = """
import logging
logging.basicConfig(format="%(levelname)s %(message)s trace=%(otelTraceID)s", level=logging.INFO)
logging.getLogger("shop").info("first record")
"""


@pytest.mark.timeout(60)
def test_the_first_log_record_builds_is_exported_and_formats(receiver: Receiver, tmp_path: Path) -> None:
    """The record that triggers the build carries the logging instrumentation's fields already
    (the app's format names one), and is exported, once."""
    result = run_script(FIRST_RECORD, otlp_env(receiver, OTEL_BLRP_SCHEDULE_DELAY="60000"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "INFO first record trace=0\n" in result.stderr, result.stderr
    assert "Logging error" not in result.stderr
    assert receiver.store.wait_for(lambda store: len(store.logs()) >= 1, 10), result.stderr
    assert [log.body for log in receiver.store.logs()] == ["first record"]


RACE = """
import threading
from opentelemetry import trace

gate = threading.Barrier(4)

def work(number):
    gate.wait()
    with trace.get_tracer("t").start_as_current_span(f"work-{number}"):
        pass

threads = [threading.Thread(target=work, args=(number,)) for number in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


@pytest.mark.timeout(180)
def test_threads_racing_to_the_first_span_lose_nothing(receiver: Receiver, tmp_path: Path) -> None:
    """Four threads ask for a tracer at once: one builds, the others wait; every span arrives."""
    for round_number in range(5):
        receiver.store.clear()
        result = run_script(RACE, otlp_env(receiver, OTEL_BSP_SCHEDULE_DELAY="60000"), tmp_path)
        assert result.returncode == 0, result.stderr
        assert receiver.store.wait_for(lambda store: len(store.spans()) >= 4, 10), round_number
        assert sorted(span.name for span in receiver.store.spans()) == [f"work-{n}" for n in range(4)]


COLLECTOR = """
import gc, sys
if sys.argv[1:] == ["off"]:
    gc.disable()
thresholds = gc.get_threshold()
import sqlite3  # the first instrumented import: the SDK is built here, the collector paused
sqlite3.connect(":memory:").execute("SELECT 1 AS work")
print(gc.isenabled(), gc.get_threshold() == thresholds)
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("argument", "expected"), [("on", "True True\n"), ("off", "False True\n")])
def test_the_build_leaves_the_apps_garbage_collector_as_it_found_it(
    receiver: Receiver, tmp_path: Path, argument: str, expected: str
) -> None:
    """The collector is paused only while the SDK is built (runtime/ondemand.py): on again
    afterwards, with the same thresholds, and off still for an app that turned it off."""
    script = tmp_path / "app.py"
    script.write_text(COLLECTOR)
    result = run([PYTHON, "app.py", argument], otlp_env(receiver), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, expected), result.stderr
    assert receiver.store.wait_for(lambda store: len(store.spans()) >= 1, 10), result.stderr
    assert [span.name for span in receiver.store.spans()] == ["SELECT"]


METER = """
from opentelemetry import metrics
metrics.get_meter("shop").create_counter("orders").add(3)
"""


@pytest.mark.timeout(60)
def test_a_meter_builds_and_its_metric_is_flushed_at_exit(receiver: Receiver, tmp_path: Path) -> None:
    result = run_script(METER, otlp_env(receiver, OTEL_METRIC_EXPORT_INTERVAL="600000"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert receiver.store.wait_for(lambda store: any(m.name == "orders" for m in store.metrics()), 10)


LOGURU = """
import sys
from loguru import logger
logger.remove()
logger.add(sys.stdout, format="{message}")
logger.info("paid")
"""


@pytest.mark.timeout(60)
def test_loguru_records_build_and_are_exported(receiver: Receiver, tmp_path: Path) -> None:
    result = run_script(LOGURU, otlp_env(receiver), tmp_path)
    assert (result.returncode, result.stdout) == (0, "paid\n"), result.stderr
    assert receiver.store.wait_for(lambda store: any(log.body == "paid" for log in store.logs()), 10)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("variable", "value", "warning"),
    [
        ("OTEL_PROPAGATORS", "tracecontext,b3multi", "propagator 'b3multi' is not installed"),
        ("OTEL_TRACES_EXPORTER", "zipkin", "exporter 'zipkin' is not installed"),
    ],
)
def test_warnings_a_build_finds_are_still_printed_at_start(
    receiver: Receiver, tmp_path: Path, variable: str, value: str, warning: str
) -> None:
    """A configuration that can warn at build time is built at boot: a process that never emits
    still hears of it, before its first line."""
    result = run_script("print('ran')\n", otlp_env(receiver, **{variable: value}), tmp_path)
    assert (result.returncode, result.stdout) == (0, "ran\n"), result.stderr
    assert warning in result.stderr, result.stderr
