"""A gunicorn worker stopped while it boots stops: its SIGTERM is not swallowed.

Until ``init_signals`` a forked worker runs the master's handlers, which queue a signal in
the worker's copy of the master's queue, where nothing reads it; the worker then lived
until the master's ``graceful_timeout`` (30 s) ran out. The fork hooks that restart the
SDK's threads widen that window from about 1 ms to tens of milliseconds, so a stop that
came just after a worker was replaced hung (``runtime/servers/gunicorn.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from apps import BIN, OTEL_RUN, REPO, free_port, otlp_env
from otel_run.receiver import Receiver
from webstacks import SLOW_EXPORT, WEBAPPS

RUNS = 5
WORKERS = {
    "sync": ("sync", "sample_app.app:app", REPO),
    "uvicornworker": ("uvicorn.workers.UvicornWorker", "starlette_app:app", WEBAPPS),
}


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", sorted(WORKERS))
def test_worker_sigtermed_while_it_boots_stops(kind: str, receiver: Receiver, tmp_path: Path) -> None:
    """SIGTERM to a worker within moments of its fork: it ends within seconds, not at the
    master's 30 s graceful timeout; then the master stops with status 0; 5 runs."""
    worker_class, app, cwd = WORKERS[kind]
    for attempt in range(RUNS):
        port = free_port()
        env = otlp_env(receiver, OTEL_SERVICE_NAME=f"boot-{kind}-{attempt}", **SLOW_EXPORT)
        log = tmp_path / f"{kind}-{attempt}.log"
        argv = [
            OTEL_RUN,
            str(BIN / "gunicorn"),
            "-w",
            "1",
            "-k",
            worker_class,
            "-b",
            f"127.0.0.1:{port}",
            app,
        ]
        with log.open("w") as stderr:
            master = subprocess.Popen(
                argv, env=env, cwd=str(cwd), stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
            )
        try:
            deadline = time.monotonic() + 60
            while not _children(master.pid) and master.poll() is None and time.monotonic() < deadline:
                time.sleep(0.0005)  # as soon as the worker exists: inside its fork hooks
            worker = _children(master.pid)[0]
            os.kill(worker, signal.SIGTERM)
            ended = time.monotonic() + 15
            while not _gone(worker) and time.monotonic() < ended:
                time.sleep(0.05)
            assert _gone(worker), f"run {attempt}: the worker lives on after its SIGTERM\n{log.read_text()}"
            # The master replaces it; the next stop is an ordinary one.
            while len(_children(master.pid)) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)
            master.send_signal(signal.SIGTERM)
            assert master.wait(timeout=20) == 0, log.read_text()
        finally:
            try:
                os.killpg(master.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            master.wait(timeout=10)
