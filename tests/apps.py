"""Start real processes under ``otel-run`` for end-to-end tests, and end them by PID."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

from otel_run.receiver import Receiver

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OTEL_RUN = str(BIN / "otel-run")
PYTHON = sys.executable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Where the processes tests start keep their live status (``otel-run status``): this test
# run's own directory, not the machine's /tmp/otel-run-<uid>, where processes of other runs
# would be listed too (doctor reports them).
STATUS_DIR = tempfile.mkdtemp(prefix="otel-run-status-tests-")
atexit.register(shutil.rmtree, STATUS_DIR, True)
# Likewise the entry-point index (runtime/epindex): this run's own, starting cold, so that
# the suite exercises a first scan and then the index, and leaves the user's cache alone.
CACHE_DIR = tempfile.mkdtemp(prefix="otel-run-cache-tests-")
atexit.register(shutil.rmtree, CACHE_DIR, True)


def pids_with_env(name: str, value: str) -> list[int]:
    """PIDs of live processes whose environment holds ``name=value`` exactly (a run's leftovers)."""
    entry = f"{name}={value}".encode()
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:  # ended meanwhile, or not ours to read
                continue
            if entry in environ.split(b"\0"):
                found.append(int(pid))
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any OTEL_* or PYTHONPATH, plus ``extra``.

    ``OTEL_RUN_STATUS_DIR`` and ``OTEL_RUN_CACHE_DIR`` are this test run's own directories
    unless ``extra`` names others.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OTEL_") and key not in ("PYTHONPATH", "KUBERNETES_SERVICE_HOST")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["OTEL_RUN_STATUS_DIR"] = STATUS_DIR
    env["OTEL_RUN_CACHE_DIR"] = CACHE_DIR
    env.update(extra)
    return env


def otlp_env(receiver: Receiver, protocol: str = "http/protobuf", **extra: str) -> dict[str, str]:
    """Environment pointing every signal at ``receiver`` over ``protocol``, exporting fast."""
    endpoint = receiver.grpc_url if protocol == "grpc" else receiver.http_url
    env = clean_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_BLRP_SCHEDULE_DELAY="100",
        OTEL_METRIC_EXPORT_INTERVAL="500",
    )
    env.update(extra)
    return env


def run(
    args: Sequence[str], env: Mapping[str, str], timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``otel-run ARGS`` to completion and capture its output."""
    return subprocess.run(
        [OTEL_RUN, *args],
        env=dict(env),
        cwd=str(cwd or REPO),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_script(
    source: str, env: Mapping[str, str], tmp_path: Path, name: str = "app.py", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Write ``source`` to ``tmp_path/name`` and run ``otel-run python NAME`` there."""
    script = tmp_path / name
    script.write_text(source)
    return run([PYTHON, name], env, timeout=timeout, cwd=tmp_path)


def startup_lines(stderr: str) -> list[str]:
    """The startup lines (service ...) in ``stderr``."""
    return [line for line in stderr.splitlines() if line.startswith("otel-run: service ")]


class Server:
    """A server process started under otel-run, stopped by its PID."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.stdout = ""
        self.stderr = ""

    def get(self, path: str, timeout: float = 10) -> requests.Response:
        """GET ``path`` from the server."""
        return requests.get(self.url + path, timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send ``sig`` to the server's PID and wait for it to end; returns its status."""
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
        try:
            self.stdout, self.stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as expired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.stdout, self.stderr = self.process.communicate(timeout=10)
            # The whole end of its stderr, not pytest's cut of the exception's locals.
            raise AssertionError(
                f"PID {self.process.pid} did not end within {timeout} s of signal {sig}; "
                f"its stderr ends:\n{self.stderr[-6000:]}"
            ) from expired
        finally:
            self._end_leftovers()
        return self.process.returncode

    def _end_leftovers(self) -> None:
        """End any process the server left in its group (a hung worker, a reloader's child)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@contextmanager
def server(
    args: Sequence[str], env: Mapping[str, str], port: int, ready_path: str = "/healthz", timeout: float = 30
) -> Iterator[Server]:
    """Start ``otel-run ARGS`` (which must listen on ``port``), wait until it answers, stop it after."""
    process = subprocess.Popen(
        [OTEL_RUN, *args],
        env=dict(env),
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so workers it leaves behind can be ended
    )
    started = Server(process, port)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                out, err = process.communicate()
                raise AssertionError(f"server exited with {process.returncode}:\n{out}\n{err}")
            try:
                if started.get(ready_path, timeout=1).status_code < 500:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server on port {port} did not answer within {timeout}s")
            time.sleep(0.1)
        yield started
    finally:
        if process.poll() is None:
            started.stop()
