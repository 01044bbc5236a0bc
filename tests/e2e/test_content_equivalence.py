"""otel-run exports the same spans, metrics and log records as opentelemetry-instrument, WSGI and ASGI.

The same routes are requested from an app under otel-run and under upstream
``opentelemetry-instrument`` (from a venv built with the upstream packages at the versions
pyproject.toml pins, by ``bench/baseline.py``), both exporting to one in-process receiver.
Two apps: the sample app (Flask on its WSGI development server) and a FastAPI app on
uvicorn (``tests/webapps/fastapi_app.py``, the ASGI path).
Compared, after the ports of the run are replaced by placeholders (``contentshape``):
span names, kinds, attribute keys *and values*, status, events, parents and scopes; metric
names, units, descriptions, types, data-point attributes and request counts; log-record
bodies, severities, attributes, trace context and scopes. otel-run's per-request patches
(``otel_run.runtime.patches``) must leave every one of these as upstream makes it.

Not compared, by design: resource attributes (otel-run adds ``telemetry.distro.*``,
derives the service name), timings and ids, and the differences ``contentshape`` lists.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

import contentshape
from apps import PYTHON, REPO, free_port, otlp_env
from otel_run.receiver import Receiver

sys.path.insert(0, str(REPO / "bench"))

import baseline  # bench/ is not a package: found through sys.path


@dataclass(frozen=True)
class App:
    """An app to run under both launchers, the routes to request, and what must arrive."""

    argv: tuple[str, ...]
    """after ``[launcher] python``"""
    routes: tuple[str, ...]
    spans: frozenset[str]
    extra: tuple[str, ...] = ()
    """packages the upstream venv needs beyond the sample app's (``bench/baseline.py``)"""


LOG_BODIES = frozenset({"saying hello", "about to fail on purpose"})
APPS = {
    "wsgi": App(
        ("sample_app/app.py",),
        ("/", "/items", "/chain", "/error", "/"),
        frozenset({"GET /", "GET /items", "GET /chain", "GET /error", "SELECT"}),
    ),
    "asgi": App(
        ("-m", "uvicorn", "--app-dir", "tests/webapps", "fastapi_app:app", "--host", "127.0.0.1"),
        ("/", "/items/7", "/chain", "/error", "/"),
        frozenset({"GET /", "GET /items/{item_id}", "GET /chain", "GET /error"}),
        baseline.ASGI_EXTRA,
    ),
}
# Spans otel-run makes on purpose where upstream makes none: the sample app fills its
# table with sqlite3's Connection.execute/executemany, which upstream does not trace
# (opentelemetry-python-contrib#3082); their keys must still be those of upstream's SELECT.
OURS_ONLY = {("CREATE", "CLIENT"), ("INSERT", "CLIENT")}
# A record only upstream exports: its own start-up warning, caused by the variable the
# upstream side needs to export logs at all (OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED).
UPSTREAM_ONLY_LOG = "Skipping installation of LoggingHandler from `opentelemetry-instrumentation-logging`"
# Loggers that do not propagate to the root logger (uvicorn's own): upstream's handler sits
# on the root and never sees their records; otel-run's log tap exports every record a
# logger accepts (runtime/logs.py), so only otel-run has these.
OURS_ONLY_LOGGERS = ("uvicorn.error", "uvicorn.access")
# Under uvicorn otel-run's asyncio instrumentation (armed when asyncio is imported) counts
# the app's to_thread/coroutine work; opentelemetry-instrument, with the same package
# installed, exports none of these. Not a per-request path of ours: told to the lead.
OURS_ONLY_METRIC_PREFIX = "asyncio."


def _start(argv: list[str], env: dict[str, str], port: int, timeout: float = 60) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        argv, env=env, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"{argv} exited with {process.returncode}:\n{out}\n{err}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            _stop(process)
            raise AssertionError(f"{argv} did not answer on port {port} within {timeout}s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[str]) -> str:
    """End the app by its PID; returns its stderr."""
    if process.poll() is None:
        process.terminate()
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate(timeout=10)
    return err


def _run(receiver: Receiver, app: App, launcher: list[str], python: str, service: str, **extra: str) -> int:
    """Run ``app`` with ``launcher``, request every route, wait for its telemetry; its port."""
    port = free_port()
    env = otlp_env(receiver, PORT=str(port), OTEL_SERVICE_NAME=service, **extra)
    argv = [*launcher, python, *app.argv]
    if "uvicorn" in app.argv:
        argv += ["--port", str(port)]
    process = _start(argv, env, port)
    try:
        for route in app.routes:
            expected = 500 if route == "/error" else 200
            assert requests.get(f"http://127.0.0.1:{port}{route}", timeout=10).status_code == expected, route
        store = receiver.store

        def metric_exports() -> int:
            return len([e for e in store.exports("metrics") if e.metrics and e.metrics[0].service == service])

        # Every metric export after the requests carries every instrument they touched
        # (cumulative temporality); waiting for two rules out one that was mid-collection.
        exported = metric_exports()
        arrived = store.wait_for(
            lambda _: (
                app.spans <= {s.name for s in store.spans() if s.service == service}
                and any(
                    s.kind == "CLIENT" and s.service == service and s.name != "SELECT" for s in store.spans()
                )
                and {log.body for log in store.logs() if log.service == service} >= LOG_BODIES
                and metric_exports() >= exported + 2
            ),
            30,
        )
    finally:
        err = _stop(process)
    assert arrived, f"telemetry from {service} did not arrive; its stderr:\n{err}"
    return port


@pytest.fixture(scope="module", params=sorted(APPS))
def both(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[contentshape.Shape, contentshape.Shape]]:
    """An app's telemetry under otel-run and under upstream, as comparable shapes."""
    app = APPS[request.param]
    upstream_bin = baseline.ensure(tmp_path_factory.mktemp("baseline") / "venv", extra=app.extra)
    from receiver_fixture import start_receiver

    receiver = start_receiver()
    try:
        ours = _run(receiver, app, [str(Path(PYTHON).parent / "otel-run")], PYTHON, "ours")
        theirs = _run(
            receiver,
            app,
            [str(upstream_bin / "opentelemetry-instrument")],
            str(upstream_bin / "python"),
            "theirs",
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_METRICS_EXPORTER="otlp",
            OTEL_LOGS_EXPORTER="otlp",
            OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED="true",
        )
        yield (
            contentshape.shape(receiver.store, "ours", ours),
            contentshape.shape(receiver.store, "theirs", theirs),
        )
    finally:
        receiver.stop()


@pytest.mark.timeout(600)
def test_spans_match_opentelemetry_instrument(both: tuple[contentshape.Shape, contentshape.Shape]) -> None:
    """Span names, kinds, attribute keys and values, status, events, parents and scopes are upstream's."""
    ours, theirs = (dict(side.spans) for side in both)
    if ("SELECT", "CLIENT") in theirs:  # the sample app's database
        assert ours.keys() - theirs.keys() == OURS_ONLY
        select_keys = {key for variant in theirs[("SELECT", "CLIENT")] for key, _ in variant[0]}
        for key in OURS_ONLY:
            assert {k for variant in ours.pop(key) for k, _ in variant[0]} == select_keys
    assert {"GET /", "GET /chain", "GET /error"} <= {name for name, _ in ours}
    assert not contentshape.differences(ours, theirs), "\n".join(contentshape.differences(ours, theirs))


@pytest.mark.timeout(600)
def test_metrics_match_opentelemetry_instrument(both: tuple[contentshape.Shape, contentshape.Shape]) -> None:
    """Metric names, units, types, data-point attributes and request counts are upstream's."""
    ours, theirs = (dict(side.metrics) for side in both)
    for name in [name for name in ours if name.startswith(OURS_ONLY_METRIC_PREFIX)]:
        del ours[name]
    assert {"http.server.duration", "http.server.active_requests", "http.client.duration"} <= ours.keys()
    assert any(value is not None for variants in ours.values() for *_, value in variants)
    assert not contentshape.differences(ours, theirs), "\n".join(contentshape.differences(ours, theirs))


@pytest.mark.timeout(600)
def test_log_records_match_opentelemetry_instrument(
    both: tuple[contentshape.Shape, contentshape.Shape],
) -> None:
    """Log-record bodies, severities, attributes, trace context and scopes are upstream's."""
    ours, theirs = (dict(side.logs) for side in both)
    assert {body for body, *_ in ours} >= LOG_BODIES
    assert [theirs.pop(key) for key in list(theirs) if key[0].startswith(UPSTREAM_ONLY_LOG)]
    for key, variants in list(ours.items()):
        if {scope for *_, scope, _ in variants} <= set(OURS_ONLY_LOGGERS):
            del ours[key]
    assert not contentshape.differences(ours, theirs), "\n".join(contentshape.differences(ours, theirs))
