"""Pre-fork servers and reloaders: every worker exports under its own instance id, nothing twice."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Sequence

import pytest
import requests

from apps import BIN, PYTHON, REPO, free_port, otlp_env, server
from otel_run.receiver import Receiver

WORKERS = 2
CONCURRENCY = 8
PER_THREAD = 10


def _load(url: str) -> None:
    """Concurrent requests (bounded: CONCURRENCY x PER_THREAD, 5 s each) so every worker serves some."""
    errors: list[Exception] = []

    def hammer() -> None:
        # A new connection per request: uWSGI's http-socket closes after each response
        # without saying so, and a reused keep-alive connection is then reset.
        for _ in range(PER_THREAD):
            try:
                requests.get(url + "/items", timeout=5)
            except requests.RequestException as error:
                errors.append(error)

    threads = [threading.Thread(target=hammer) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors[:3]


def _load_until_every_worker_served(receiver: Receiver, url: str, rounds: int = 8) -> None:
    """Which worker accepts a connection is the kernel's choice (a gthread worker can take
    them all): repeat bounded bursts until spans show every worker, at most ``rounds``."""
    for _ in range(rounds):
        _load(url)
        if receiver.store.wait_for(lambda store: len(_instances(receiver)) >= WORKERS, 3):
            return


def _instances(receiver: Receiver, name: str = "GET /items") -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for span in receiver.store.spans():
        if span.name == name:
            found.setdefault(str(span.resource["service.instance.id"]), set()).add(
                int(span.resource["process.pid"])
            )
    return found


def _check_workers(receiver: Receiver, master_pid: int) -> None:
    assert receiver.store.wait_for(lambda store: len(_instances(receiver)) >= WORKERS, 20), _instances(
        receiver
    )
    instances = _instances(receiver)
    pids = set().union(*instances.values())
    assert len(instances) == WORKERS and len(pids) == WORKERS, instances
    assert master_pid not in pids
    assert all(len(pid_set) == 1 for pid_set in instances.values()), "an instance id spans two processes"
    assert receiver.store.wait_for(
        lambda store: (
            len(
                {
                    m.resource["service.instance.id"]
                    for m in store.metrics()
                    if m.name.startswith("http.server") and m.resource.get("service.instance.id") in instances
                }
            )
            == WORKERS
        ),
        20,
    ), "metrics did not arrive from every worker"


GUNICORN_VARIANTS = {
    "sync": ["-w", str(WORKERS)],
    "gthread": ["-w", str(WORKERS), "-k", "gthread", "--threads", "4"],
    "sync-preload": ["-w", str(WORKERS), "--preload"],
    "gthread-preload": ["-w", str(WORKERS), "-k", "gthread", "--threads", "4", "--preload"],
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("variant", sorted(GUNICORN_VARIANTS))
def test_gunicorn_workers_each_export_under_own_instance(variant: str, receiver: Receiver) -> None:
    """Every gunicorn worker exports spans and metrics with its own service.instance.id and pid."""
    port = free_port()
    env = otlp_env(receiver, OTEL_SERVICE_NAME="workers")
    args = [
        str(BIN / "gunicorn"),
        *GUNICORN_VARIANTS[variant],
        "-b",
        f"127.0.0.1:{port}",
        "sample_app.app:app",
    ]
    with server(args, env, port) as app:
        _load_until_every_worker_served(receiver, app.url)
        _check_workers(receiver, app.process.pid)


def _uwsgi_args(port: int, extra: Sequence[str]) -> list[str]:
    return [
        str(BIN / "uwsgi"),
        "--master",
        "--processes",
        str(WORKERS),
        "--http-socket",
        f"127.0.0.1:{port}",
        "--virtualenv",
        str(BIN.parent),
        "--chdir",
        str(REPO),
        "--module",
        "sample_app.app:app",
        "--die-on-term",
        "--disable-logging",
        *extra,
    ]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("lazy", [False, True], ids=["preloaded", "lazy-apps"])
def test_uwsgi_workers_each_export_under_own_instance(lazy: bool, receiver: Receiver) -> None:
    """uWSGI with a master and several processes: every worker exports under its own instance id."""
    port = free_port()
    env = otlp_env(receiver, OTEL_SERVICE_NAME="uwsgi-workers")
    extra = ["--enable-threads", *(["--lazy-apps"] if lazy else [])]
    with server(_uwsgi_args(port, extra), env, port) as app:
        _load_until_every_worker_served(receiver, app.url)
        _check_workers(receiver, app.process.pid)
        app.stop(signal.SIGTERM)
    assert "service uwsgi-workers" in app.stderr


@pytest.mark.timeout(120)
def test_flask_reloader_exports_nothing_twice(receiver: Receiver) -> None:
    """Under the Flask debug reloader the serving child exports the app's telemetry and the
    watcher process exports none of it again: no spans, no metrics, no duplicated log."""
    port = free_port()
    env = otlp_env(receiver, PORT=str(port), FLASK_DEBUG="1", OTEL_SERVICE_NAME="reloading")
    child_pid = 0
    with server([PYTHON, "sample_app/app.py"], env, port) as app:
        watcher_pid = app.process.pid
        for _ in range(5):
            assert app.get("/items").status_code == 200
        assert receiver.store.wait_for(
            lambda store: (
                len([s for s in store.spans() if s.name == "GET /items"]) >= 5
                and any(m.name.startswith("http.server") for m in store.metrics())
            ),
            15,
        )
        time.sleep(1.0)  # a watcher export, if any, would arrive with the child's next batch
        pids = {int(export.resource_pid) for export in _exports_with_pid(receiver)}
        child_pid = next(iter(pids - {watcher_pid}), 0)
    if child_pid:
        try:
            os.kill(child_pid, signal.SIGTERM)  # the watcher's exit leaves its child behind
        except ProcessLookupError:
            pass
    assert child_pid, "the serving child exported nothing"
    assert not [s for s in receiver.store.spans() if int(s.resource["process.pid"]) == watcher_pid]
    assert not [m for m in receiver.store.metrics() if int(m.resource["process.pid"]) == watcher_pid]
    # The watcher alone prints the dev-server banner before it starts watching; exporting
    # that once is right. What it must not do is export a record the child exports too.
    watcher_logs = {
        log.body for log in receiver.store.logs() if int(log.resource["process.pid"]) == watcher_pid
    }
    child_logs = {log.body for log in receiver.store.logs() if int(log.resource["process.pid"]) == child_pid}
    assert not watcher_logs & child_logs
    items = [s for s in receiver.store.spans() if s.name == "GET /items"]
    assert len(items) == len({s.span_id for s in items}) == 5


class _Pid:
    def __init__(self, pid: int) -> None:
        self.resource_pid = pid


def _exports_with_pid(receiver: Receiver) -> list[_Pid]:
    found = [_Pid(int(s.resource["process.pid"])) for s in receiver.store.spans()]
    found += [_Pid(int(m.resource["process.pid"])) for m in receiver.store.metrics()]
    found += [_Pid(int(log.resource["process.pid"])) for log in receiver.store.logs()]
    return found
