"""The sample app's container under gunicorn: every process exports, and `docker stop` loses nothing.

Each case runs twice: as `docker run` runs it by default, and as the Kubernetes manifest
(``deploy/k8s/sample-app.yaml``) runs it: its user and group, a read-only root filesystem, an
in-memory ``/tmp``, no capabilities, no privilege escalation. Those options are read from
the manifest, so the test follows it when it changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
import requests
import yaml
from image_engine import Container, Engine

from apps import REPO, free_port
from otel_run.receiver import Receiver

MANIFEST = REPO / "deploy" / "k8s" / "sample-app.yaml"
WORKERS = 2
STOP_RUNS = 5  # docker stop is a signal race: repeat it
STOP_REQUESTS = 20
SLOW_EXPORT = {
    # Nothing is exported on a timer during the test: only the flush at docker stop can deliver.
    "OTEL_BSP_SCHEDULE_DELAY": "60000",
    "OTEL_BLRP_SCHEDULE_DELAY": "60000",
    "OTEL_METRIC_EXPORT_INTERVAL": "60000",
}
FAST_EXPORT = {
    "OTEL_BSP_SCHEDULE_DELAY": "100",
    "OTEL_BLRP_SCHEDULE_DELAY": "100",
    "OTEL_METRIC_EXPORT_INTERVAL": "500",
}


def kubernetes_options(manifest: dict[str, Any]) -> list[str]:
    """`docker run` options for what the Deployment's pod and container security contexts say."""
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pod_security, security = pod.get("securityContext", {}), container.get("securityContext", {})
    options = ["--user", f"{pod_security['runAsUser']}:{pod_security.get('runAsGroup', 0)}"]
    if security.get("readOnlyRootFilesystem"):
        options.append("--read-only")
    for capability in security.get("capabilities", {}).get("drop", []):
        options += ["--cap-drop", capability]
    if security.get("allowPrivilegeEscalation") is False:
        options += ["--security-opt", "no-new-privileges"]
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        empty_dir = volumes[mount["name"]]["emptyDir"]
        size = str(empty_dir.get("sizeLimit", "")).replace("Mi", "m").replace("Gi", "g")
        options += ["--tmpfs", f"{mount['mountPath']}" + (f":size={size}" if size else "")]
    return options


def _deployment() -> dict[str, Any]:
    documents = list(yaml.safe_load_all(MANIFEST.read_text(encoding="utf-8")))
    deployment: dict[str, Any] = next(doc for doc in documents if doc["kind"] == "Deployment")
    return deployment


MODES = {"docker-run": [], "kubernetes-manifest": kubernetes_options(_deployment())}


def gunicorn_command(engine: Engine, image: str, port: int) -> list[str]:
    """The image's own CMD, listening on ``port`` on 127.0.0.1 instead of 0.0.0.0:8000."""
    command = [str(part) for part in engine.inspect(image)["Cmd"]]
    bind = command.index("-b") + 1
    command[bind] = f"127.0.0.1:{port}"
    return command


def start_options(mode: str) -> Sequence[str]:
    """The `docker run` options of ``mode``."""
    return MODES[mode]


def _load(url: str, rounds: int = 8) -> None:
    """Bounded concurrent bursts (8 threads x 10 requests, at most ``rounds``) so every worker serves."""
    errors: list[Exception] = []

    def hammer() -> None:
        for _ in range(10):
            try:
                requests.get(url + "/items", timeout=5)
            except requests.RequestException as error:
                errors.append(error)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors[:3]


def _worker_pids(receiver: Receiver) -> set[int]:
    return {int(s.resource["process.pid"]) for s in receiver.store.spans() if s.name == "GET /items"}


def _assert_non_root(container: Container, expected_uid: int) -> None:
    # The first worker can answer /healthz before the master has forked the last one
    # (gunicorn spawns them one by one; a fork also waits for an exporter being built on
    # the master's batch thread), so wait for all of them, bounded.
    deadline = time.monotonic() + 15
    processes = container.processes()
    while len(processes) < 1 + WORKERS and time.monotonic() < deadline:
        time.sleep(0.1)
        processes = container.processes()
    assert len(processes) == 1 + WORKERS, processes
    assert {uid for uid, _ in processes} == {expected_uid}, processes


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", sorted(MODES))
def test_master_and_every_worker_export(
    mode: str, engine: Engine, sample_image: str, receiver: Receiver
) -> None:
    """As uid 10001, gunicorn's master exports logs and each worker spans, metrics and logs."""
    port = free_port()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_url,
        "OTEL_SERVICE_NAME": "sample-app",
        "PORT": str(port),
        **FAST_EXPORT,
    }
    command = gunicorn_command(engine, sample_image, port)
    with engine.container(sample_image, command, env=env, options=start_options(mode)) as app:
        url = f"http://127.0.0.1:{port}"
        app.wait_http(url + "/healthz")
        _assert_non_root(app, 10001)
        for _ in range(8):
            _load(url)
            if receiver.store.wait_for(lambda store: len(_worker_pids(receiver)) >= WORKERS, 3):
                break
        assert requests.get(url + "/chain", timeout=10).json()["downstream_status"] == 200
        workers = _worker_pids(receiver)
        assert len(workers) == WORKERS, workers
        assert receiver.store.wait_for(
            lambda store: (
                {int(m.resource["process.pid"]) for m in store.metrics() if m.name.startswith("http.server")}
                >= workers
            ),
            20,
        ), "http.server metrics did not arrive from every worker"
        assert app.stop() == 0, app.logs

    spans = receiver.store.spans()
    assert {s.name for s in spans} >= {"GET /items", "SELECT", "GET /chain", "GET /"}
    assert {s.service for s in spans} == {"sample-app"}
    logs = receiver.store.logs()
    by_pid: dict[int, set[str]] = {}
    for log in logs:
        by_pid.setdefault(int(log.resource["process.pid"]), set()).add(str(log.body))
    # otel-run execs gunicorn, so the master is the container's PID 1; its last line is
    # written during docker stop, so it also shows the master's own flush on SIGTERM.
    master = by_pid.get(1, set())
    assert any(body.startswith("Listening at: ") for body in master), by_pid
    assert "Shutting down: Master" in master, by_pid
    for worker in workers:
        assert {f"Booting worker with pid: {worker}", "listing 3 items"} <= by_pid.get(worker, set()), by_pid


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", sorted(MODES))
def test_docker_stop_loses_no_span(mode: str, engine: Engine, sample_image: str, receiver: Receiver) -> None:
    """Every request served before `docker stop` arrives, flushed by the SIGTERM path (5 runs)."""
    for run in range(STOP_RUNS):
        receiver.store.clear()
        port = free_port()
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_url,
            "OTEL_SERVICE_NAME": f"stop-{run}",
            "PORT": str(port),
            **SLOW_EXPORT,
        }
        command = gunicorn_command(engine, sample_image, port)
        with engine.container(sample_image, command, env=env, options=start_options(mode)) as app:
            url = f"http://127.0.0.1:{port}"
            app.wait_http(url + "/healthz")
            for _ in range(STOP_REQUESTS):
                assert requests.get(url + "/items", timeout=5).status_code == 200
            assert not [s for s in receiver.store.spans() if s.name == "GET /items"], "exported before stop"
            assert app.stop() == 0, app.logs
        assert receiver.store.wait_for(
            lambda store: len([s for s in store.spans() if s.name == "GET /items"]) >= STOP_REQUESTS, 10
        ), f"run {run}: {len(receiver.store.spans())} spans\n{app.logs}"
        items = [s for s in receiver.store.spans() if s.name == "GET /items"]
        assert len(items) == STOP_REQUESTS, f"run {run}"
        assert len([log for log in receiver.store.logs() if log.body == "listing 3 items"]) == STOP_REQUESTS
