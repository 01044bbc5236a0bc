"""otel-run exports the same spans and metrics for the sample app as opentelemetry-instrument.

The same routes (``/``, ``/items``, ``/chain``) are requested from the sample app under
otel-run and under upstream ``opentelemetry-instrument`` (from a venv built with the
upstream packages at the versions pyproject.toml pins, by ``bench/baseline.py``), both
exporting to one in-process receiver. Span names, span kinds, span attribute keys, metric
names and metric data-point attribute keys must be the same. Not compared, by design:
resource attributes (otel-run adds ``telemetry.distro.*`` and derives the service name)
and log records (upstream only exports them with
``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED=true``, through a root-logger handler;
otel-run taps ``Logger.callHandlers``; see docs/performance.md).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from apps import PYTHON, REPO, free_port, otlp_env
from otel_run.receiver import Receiver
from otel_run.receiver.model import ReceivedSpan

sys.path.insert(0, str(REPO / "bench"))

import baseline  # bench/ is not a package: found through sys.path

ROUTES = ("/", "/items", "/chain")
Shape = dict[tuple[str, str], frozenset[str]]
# Spans otel-run makes on purpose where upstream makes none: the sample app fills its
# table with sqlite3's Connection.execute/executemany, which upstream does not trace
# (opentelemetry-python-contrib#3082); their keys must still be those of upstream's SELECT.
OURS_ONLY = {("CREATE", "CLIENT"), ("INSERT", "CLIENT")}


@pytest.fixture(scope="module")
def upstream_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scripts dir of a fresh venv with opentelemetry-instrument and the pinned upstream packages."""
    return baseline.ensure(tmp_path_factory.mktemp("baseline") / "venv")


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


@pytest.fixture
def run_app(receiver: Receiver) -> Iterator[Callable[..., None]]:
    """Runs the sample app with a launcher, requests every route, waits for its telemetry."""
    started: list[subprocess.Popen[str]] = []

    def run(launcher: list[str], python: str, service: str, **extra: str) -> None:
        port = free_port()
        env = otlp_env(receiver, PORT=str(port), OTEL_SERVICE_NAME=service, **extra)
        process = _start([*launcher, python, "sample_app/app.py"], env, port)
        started.append(process)
        for route in ROUTES:
            assert requests.get(f"http://127.0.0.1:{port}{route}", timeout=10).status_code == 200, route
        store = receiver.store

        def metric_exports() -> int:
            return len([e for e in store.exports("metrics") if e.metrics and e.metrics[0].service == service])

        # Every metric export after the requests carries every instrument they touched
        # (cumulative temporality); waiting for two rules out one that was mid-collection.
        exported = metric_exports()
        names = {"GET /", "GET /items", "GET /chain", "SELECT"}
        arrived = store.wait_for(
            lambda _: (
                names <= {s.name for s in store.spans() if s.service == service}
                and any(
                    s.kind == "CLIENT" and s.service == service and s.name != "SELECT" for s in store.spans()
                )
                and metric_exports() >= exported + 2
            ),
            30,
        )
        err = _stop(process)
        assert arrived, f"telemetry from {service} did not arrive; its stderr:\n{err}"

    yield run
    for process in started:
        if process.poll() is None:
            _stop(process)


def _span_shape(spans: list[ReceivedSpan]) -> Shape:
    shape: dict[tuple[str, str], set[str]] = {}
    for span in spans:
        shape.setdefault((span.name, span.kind), set()).update(span.attributes)
    return {key: frozenset(keys) for key, keys in shape.items()}


def _metric_shape(receiver: Receiver, service: str) -> dict[str, frozenset[str]]:
    shape: dict[str, set[str]] = {}
    for metric in receiver.store.metrics():
        if metric.service == service:
            shape.setdefault(metric.name, set()).update(metric.attribute_keys)
    return {name: frozenset(keys) for name, keys in shape.items()}


def _differences(ours: Shape, theirs: Shape) -> list[str]:
    lines = [
        f"only otel-run has a {kind} span {name!r}" for name, kind in sorted(ours.keys() - theirs.keys())
    ]
    lines += [
        f"only upstream has a {kind} span {name!r}" for name, kind in sorted(theirs.keys() - ours.keys())
    ]
    for key in sorted(ours.keys() & theirs.keys()):
        if ours[key] != theirs[key]:
            lines.append(
                f"{key[1]} span {key[0]!r}: only otel-run sets {sorted(ours[key] - theirs[key])}, "
                f"only upstream sets {sorted(theirs[key] - ours[key])}"
            )
    return lines


@pytest.mark.timeout(600)
def test_spans_and_metrics_match_opentelemetry_instrument(
    receiver: Receiver, upstream_bin: Path, run_app: Callable[..., None]
) -> None:
    """The sample app's span names, kinds, attribute keys and metric names are upstream's."""
    run = run_app
    run([str(Path(PYTHON).parent / "otel-run")], PYTHON, "ours")
    run(
        [str(upstream_bin / "opentelemetry-instrument")],
        str(upstream_bin / "python"),
        "theirs",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="otlp",
        OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED="true",
    )
    spans = receiver.store.spans()
    ours = _span_shape([s for s in spans if s.service == "ours"])
    theirs = _span_shape([s for s in spans if s.service == "theirs"])
    assert ours.keys() - theirs.keys() == OURS_ONLY
    assert {ours.pop(key) for key in OURS_ONLY} == {theirs[("SELECT", "CLIENT")]}
    assert not _differences(ours, theirs), "\n".join(_differences(ours, theirs))

    our_metrics = _metric_shape(receiver, "ours")
    their_metrics = _metric_shape(receiver, "theirs")
    assert our_metrics.keys() == their_metrics.keys(), (
        f"only otel-run: {sorted(our_metrics.keys() - their_metrics.keys())}; "
        f"only upstream: {sorted(their_metrics.keys() - our_metrics.keys())}"
    )
    assert our_metrics == their_metrics, "metric attribute keys differ"
    assert {"GET /", "GET /items", "GET /chain", "SELECT"} <= {name for name, _ in ours}
