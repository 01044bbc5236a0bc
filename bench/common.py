"""What every benchmark shares: the three sides, the sink, processes ended by PID, statistics.

The three sides run the same unmodified ``sample_app`` with the same environment:

- ``plain``: the otel-run venv's Python (or gunicorn), no telemetry;
- ``otel-run``: the same command under ``otel-run`` from that venv;
- ``upstream``: the same command under ``opentelemetry-instrument`` from the baseline venv
  (``bench/baseline.py``), configured to export the same three signals the same way.

Everything listens on and sends to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
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
from dataclasses import dataclass
from pathlib import Path

import baseline

REPO = baseline.REPO
SIDES = ("plain", "otel-run", "upstream")
# Upstream exports logs only when asked to (otel-run does by default). Not given to otel-run:
# there it only makes upstream's logging instrumentor print a "Skipping installation" line.
UPSTREAM_ENV = (("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "true"),)


@dataclass(frozen=True)
class Side:
    """One way of running the app: a scripts directory, a launcher prefix, extra environment."""

    name: str
    bindir: Path
    prefix: tuple[str, ...]
    extra_env: tuple[tuple[str, str], ...] = ()

    def env(self, endpoint: str, **extra: str) -> dict[str, str]:
        """``telemetry_env(endpoint)`` plus this side's own variables, plus ``extra``."""
        return telemetry_env(endpoint, **{**dict(self.extra_env), **extra})

    def command(self, program: str, *args: str) -> list[str]:
        """``[launcher...] BINDIR/program args...``, e.g. ``otel-run .../python app.py``."""
        return [*self.prefix, str(self.bindir / program), *args]


def add_side_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every bench takes to find its venvs."""
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path(sys.executable).parent.parent,
        help="venv with otel-run installed (default: the one running this script)",
    )
    parser.add_argument(
        "--baseline-venv",
        type=Path,
        default=baseline.DEFAULT_VENV,
        help="venv for opentelemetry-instrument, built if missing (default: .bench/baseline-venv)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the otel-run side only, for what-if runs (repeatable)",
    )


def sides(args: argparse.Namespace) -> list[Side]:
    """The plain, otel-run and upstream sides, building the baseline venv if needed."""
    ours = baseline.bin_dir(args.venv.absolute())
    if not (ours / "otel-run").exists():
        raise SystemExit(f"bench: {ours}/otel-run not found; pass --venv with otel-run installed")
    print(f"bench: preparing the baseline venv at {args.baseline_venv} ...", flush=True)
    theirs = baseline.ensure(args.baseline_venv.absolute())
    what_if = tuple((name, value) for name, _, value in (item.partition("=") for item in args.set))
    if what_if:
        print(f"bench: otel-run side runs with {' '.join(args.set)}", flush=True)
    return [
        Side("plain", ours, ()),
        Side("otel-run", ours, (str(ours / "otel-run"),), what_if),
        Side("upstream", theirs, (str(theirs / "opentelemetry-instrument"),), UPSTREAM_ENV),
    ]


def telemetry_env(endpoint: str, **extra: str) -> dict[str, str]:
    """The same environment for every side: all three signals over OTLP/HTTP to ``endpoint``.

    Upstream defaults to gRPC (set to HTTP here) and needs ``UPSTREAM_ENV`` to export logs;
    otel-run does both by default. Batch and export intervals stay at their production
    defaults (5 s spans and logs, 60 s metrics).
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OTEL_") and key not in ("PYTHONPATH", "KUBERNETES_SERVICE_HOST")
    }
    env.update(
        OTEL_SERVICE_NAME="sample-app",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="otlp",
        OTEL_TRACES_SAMPLER="parentbased_always_on",
        OTEL_RUN_QUIET="true",
    )
    # Every side reads cached bytecode; a side that could not write it would pay compiles.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """End ``process`` by its PID: SIGTERM, then SIGKILL after ``timeout``; returns its status."""
    if process.poll() is None:
        try:
            os.kill(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        return process.wait(timeout=10)


class App:
    """A started app process; its output goes to a temporary file, read on failure."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], port: int) -> None:
        self.port = port
        self.cpu_at_ready = 0.0
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the app; closed by stop()
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(argv), env=dict(env), cwd=str(REPO), stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        """The app's PID (otel-run and opentelemetry-instrument exec, so it is the app's)."""
        return self.process.pid

    def output(self) -> str:
        """Everything the app printed so far (last 4 kB)."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4096:]

    def wait_ready(self, path: str = "/", timeout: float = 60.0, interval: float = 0.005) -> float:
        """Poll ``path`` until it answers 200; returns seconds since the process started.

        ``cpu_at_ready`` is then the app's CPU seconds up to that moment.
        """
        deadline = self.started + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited with {self.process.returncode}:\n{self.output()}")
            if get(self.port, path, timeout=1.0) == 200:
                took = time.perf_counter() - self.started
                self.cpu_at_ready = cpu_seconds(self.pid)
                return took
            if time.perf_counter() > deadline:
                raise RuntimeError(f"app did not answer {path} within {timeout}s:\n{self.output()}")
            time.sleep(interval)

    def stop(self) -> int:
        """End the app by its PID."""
        status = stop(self.process)
        self._log.close()
        return status


@contextmanager
def app(argv: Sequence[str], env: Mapping[str, str], port: int) -> Iterator[App]:
    """Start an app, yield it, end it by PID whatever happens."""
    started = App(argv, env, port)
    try:
        yield started
    finally:
        started.stop()


def get(port: int, path: str, timeout: float = 5.0) -> int:
    """GET ``http://127.0.0.1:port/path`` on a fresh connection; the status, or 0 if none."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        connection.close()


class Sink:
    """``bench/sink.py`` in its own process, pinned to one CPU with ``taskset`` if available."""

    def __init__(self, cpu: int | None = None) -> None:
        command = [sys.executable, str(REPO / "bench" / "sink.py")]
        self.pinned = ""
        taskset = shutil.which("taskset")
        if taskset is not None:
            cpu = (os.cpu_count() or 1) - 1 if cpu is None else cpu
            command = [taskset, "-c", str(cpu), *command]
            self.pinned = f"pinned to CPU {cpu}"
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            stop(self.process)
            raise RuntimeError("bench/sink.py did not report its port")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, object]:
        """What the sink received so far."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", "/stats")
            result: dict[str, object] = json.loads(connection.getresponse().read())
            return result
        finally:
            connection.close()

    def stop(self) -> None:
        """End the sink by its PID."""
        stop(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextmanager
def sink() -> Iterator[Sink]:
    """A running sink, ended by PID afterwards."""
    started = Sink()
    try:
        yield started
    finally:
        started.stop()


def dead_endpoint() -> str:
    """An OTLP endpoint on 127.0.0.1 where nothing listens: a collector outage."""
    return f"http://127.0.0.1:{free_port()}"


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by every live thread of ``pid``, from /proc/PID/task/*/schedstat.

    Less sensitive than wall time to other load on the machine; includes the launcher's
    own CPU, since it execs into the app under the same PID.
    """
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as handle:
                total += int(handle.read().split()[0])
        except (OSError, ValueError, IndexError):  # the thread ended meanwhile
            pass
    return total / 1e9


def descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it (gunicorn's master and workers)."""
    found = [pid]
    for current in found:
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    found.extend(int(child) for child in handle.read().split())
            except OSError:
                pass
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its live descendants."""
    total = 0.0
    for member in descendants(pid):
        try:
            total += cpu_seconds(member)
        except OSError:  # ended meanwhile
            pass
    return total


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` in KiB, from /proc (Linux only)."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for PID {pid}")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values``, linearly interpolated."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return percentile(values, 0.5)


class Verdicts:
    """Goals checked against measured values, printed as PASS/FAIL lines."""

    def __init__(self) -> None:
        self.lines: list[tuple[bool, str]] = []

    def at_most(self, what: str, value: float, limit: float, unit: str = "") -> None:
        """Record the goal ``what <= limit``."""
        self._add(value <= limit, f"{what}: {value:.3g}{unit} <= {limit:g}{unit}")

    def at_least(self, what: str, value: float, limit: float, unit: str = "") -> None:
        """Record the goal ``what >= limit``."""
        self._add(value >= limit, f"{what}: {value:.3g}{unit} >= {limit:g}{unit}")

    def _add(self, ok: bool, text: str) -> None:
        self.lines.append((ok, text))

    def print(self) -> bool:
        """Print every goal; True if all passed."""
        print("\ngoals:")
        for ok, text in self.lines:
            print(f"  {'PASS' if ok else 'FAIL'}  {text}")
        return all(ok for ok, _ in self.lines)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, e.g. ``0.52 0.61 0.80``."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def machine() -> str:
    """One line describing where the figures were measured."""
    return (
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {sys.platform}, "
        f"load average {load_average()}"
    )
