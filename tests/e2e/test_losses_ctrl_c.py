"""Ctrl-C under a server loses nothing: a terminal sends SIGINT to the whole process group.

``gunicorn -k uvicorn.workers.UvicornWorker`` resets SIGINT to its default action in each
worker (uvicorn#894); uvicorn captures it, shuts down and re-raises it, and the worker died
of it without a flush. The batch delay is 60 s, so only that flush can deliver.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from apps import BIN, OTEL_RUN, free_port, otlp_env
from otel_run.receiver import Receiver
from webstacks import SLOW_EXPORT, WEBAPPS, env_without_boot, server_spans_for, spans_of, wait_for_spans

ROUNDS = 5
ITEMS = 4
WORKERS = 2


def _booted(log: Path) -> bool:
    return log.read_text().count("Application startup complete") >= WORKERS


def _ctrl_c_round(receiver: Receiver, service: str, tmp_path: Path, traced: bool = True) -> tuple[int, str]:
    """Start gunicorn with UvicornWorkers, let every worker boot, answer ITEMS requests, then
    Ctrl-C (SIGINT to its process group); its status and its log."""
    port = free_port()
    env = otlp_env(receiver, OTEL_SERVICE_NAME=service, **SLOW_EXPORT)
    if not traced:
        env = env_without_boot(env)
    argv = [
        str(BIN / "gunicorn"),
        *("-w", str(WORKERS), "-k", "uvicorn.workers.UvicornWorker", "-b", f"127.0.0.1:{port}"),
        "starlette_app:app",
    ]
    log = tmp_path / f"{service}.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [OTEL_RUN, *argv] if traced else argv,
            env=env,
            cwd=str(WEBAPPS),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # its own group: the Ctrl-C reaches gunicorn only
        )
    try:
        # Every worker past its boot: a worker Ctrl-C'd while it boots is gunicorn's own race.
        deadline = time.monotonic() + 40
        while not _booted(log) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _booted(log), log.read_text()
        for _ in range(ITEMS):
            assert requests.get(f"http://127.0.0.1:{port}/items", timeout=10).status_code == 200
        if traced:
            assert not server_spans_for(spans_of(receiver, service), "/items"), "exported before Ctrl-C"
        os.killpg(process.pid, signal.SIGINT)
        status = process.wait(timeout=20)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # whatever it left behind
        except ProcessLookupError:
            pass
        process.wait(timeout=10)
    return status, log.read_text()


def _worker_ends(log: str) -> list[str]:
    """How the master saw its workers end (``Worker (pid:N) was sent SIGINT!``), without PIDs."""
    return sorted(
        re.sub(r"pid:\d+", "pid", line.split("] ")[-1]) for line in log.splitlines() if "was sent" in line
    )


@pytest.mark.timeout(400)
def test_ctrl_c_under_gunicorn_uvicorn_worker_loses_nothing(receiver: Receiver, tmp_path: Path) -> None:
    """Ctrl-C to gunicorn with UvicornWorkers: every request's span arrives, and the status and
    the way the workers end are those of the same command without otel-run; 5 rounds."""
    plain_status, plain_log = _ctrl_c_round(receiver, "plain", tmp_path, traced=False)
    assert _worker_ends(plain_log) == ["Worker (pid) was sent SIGINT!"] * WORKERS, plain_log
    for number in range(ROUNDS):
        service = f"ctrl-c-{number}"
        status, log = _ctrl_c_round(receiver, service, tmp_path)
        assert status == plain_status, log
        assert _worker_ends(log) == _worker_ends(plain_log), log
        assert wait_for_spans(
            receiver, lambda s=service: len(server_spans_for(spans_of(receiver, s), "/items")) >= ITEMS
        ), f"round {number}: {len(server_spans_for(spans_of(receiver, service), '/items'))} of {ITEMS}; {log}"
        assert len(server_spans_for(spans_of(receiver, service), "/items")) == ITEMS
        assert "Traceback" not in log, log
    assert not spans_of(receiver, "plain")
