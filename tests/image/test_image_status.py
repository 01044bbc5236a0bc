"""`otel-run status` from inside a running container, as `kubectl exec` runs it.

`docker exec` is the same thing on one machine: a second process in the container's
namespaces, with the container's environment. Both ways of getting otel-run into a pod are
covered: the golden image (`otel-run` on PATH) and the Operator's layout in a plain Python
(no `otel-run` on PATH, so `python -m otel_run` through the injected PYTHONPATH).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from image_base import BaseImage
from image_engine import Container, Engine
from test_image_operator import injected_volume, instrumentation_manifest, operator_env

from apps import startup_lines
from otel_run.receiver import Receiver

SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(120)\n"


def _wait_ready(container: Container) -> None:
    deadline = time.monotonic() + 60
    while "ready" not in container.read_logs():
        assert container.running(), container.read_logs()
        assert time.monotonic() < deadline, container.read_logs()
        time.sleep(0.2)


def _status_lists(container: Container, argv: list[str], pid: int) -> dict[str, Any]:
    """``docker exec CONTAINER ARGV`` (a ``status --json``) until it lists ``pid`` (bounded)."""
    for _ in range(40):
        done = container.engine.docker("exec", container.name, *argv, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert not startup_lines(done.stderr), "status itself must not boot"
        listed = {entry["pid"]: entry for entry in json.loads(done.stdout)["processes"]}
        if pid in listed:
            return dict(listed[pid])
        time.sleep(0.25)
    raise AssertionError(f"status never listed pid {pid}: {done.stdout}")


@pytest.mark.timeout(600)
def test_status_in_the_image_lists_the_running_app(
    engine: Engine, golden_image: str, receiver: Receiver
) -> None:
    """`docker exec CONTAINER otel-run status` lists the app the image runs (PID 1), idle."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_url, "OTEL_SERVICE_NAME": "sleeper"}
    with engine.container(golden_image, ["python", "-c", SLEEPER], env=env) as app:
        _wait_ready(app)
        entry = _status_lists(app, ["otel-run", "status", "--json"], 1)
        assert entry["verdict"] == "idle", entry
        assert entry["status"]["service"] == "sleeper", entry


@pytest.mark.timeout(600)
def test_status_under_the_operator_layout(
    engine: Engine, golden_image: str, local_base: BaseImage, receiver: Receiver, tmp_path: Path
) -> None:
    """In a plain Python with the Operator's injection, `python -m otel_run status` lists the app."""
    mount = injected_volume(engine, golden_image, tmp_path)
    env = operator_env(instrumentation_manifest(), receiver.http_url)
    with engine.container(local_base.tag, ["python", "-c", SLEEPER], env=env, options=mount) as app:
        _wait_ready(app)
        entry = _status_lists(app, ["python", "-m", "otel_run", "status", "--json"], 1)
        assert entry["verdict"] == "idle", entry
        assert entry["status"]["service"] == "backend", entry
