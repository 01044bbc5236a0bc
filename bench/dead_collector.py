"""Exit cost when the collector is down: a refused connection is an answer, a silent one is bounded.

    python bench/dead_collector.py [--rounds 5] [--budget-ms 2000] [--venv VENV] [--baseline-venv DIR]

Two measurements, each interleaved over the sides (plain, otel-run, opentelemetry-instrument)
and the collector's states, so that load on the machine hits them alike:

- **a short job** that logs one line (and one that also makes a span), run to its exit;
- **gunicorn's whole stop**: ``gunicorn -w 2 sample_app.app:app`` answers a few requests,
  then the master gets SIGTERM; the time until the master has exited (workers included).

The collector is healthy (``bench/sink.py``), *refused* (a port on 127.0.0.1 where nothing
listens) or *silent* (accepts connections and never answers). Every side runs with
``OTEL_RUN_SHUTDOWN_TIMEOUT`` = ``--budget-ms``. Upstream is not run against the silent
collector: it waits out ``OTEL_EXPORTER_OTLP_TIMEOUT`` (10 s) per signal, one after the other.

Goals (issue 10, item 14), on the medians, for otel-run:

- refused minus healthy is at most 0.2 s (the job, and gunicorn's stop);
- silent minus healthy is at most the budget plus 0.2 s: a job's flush, and gunicorn's
  master and workers together, fit in one budget (not the master's after the workers').

Prints PASS/FAIL per goal; exits 1 if one failed.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import common

GOAL_EXTRA_SECONDS = 0.2
JOBS = {
    "log": "import logging; logging.getLogger('job').warning('one line')",
    "log+span": (
        "import logging; from opentelemetry import trace\n"
        "with trace.get_tracer('job').start_as_current_span('work'):\n"
        "    logging.getLogger('job').warning('one line')"
    ),
}
STATES = ("healthy", "refused", "silent")
GUNICORN = "gunicorn -w 2"
REQUESTS = 5
"""Requests gunicorn answers before its stop, so that every worker has telemetry to flush."""


class SilentCollector:
    """Accepts TCP connections on 127.0.0.1 and never answers; holds them until closed."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(connection)

    def close(self) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()


@contextmanager
def silent_collector() -> Iterator[SilentCollector]:
    started = SilentCollector()
    try:
        yield started
    finally:
        started.close()


def run_job(side: common.Side, env: dict[str, str], source: str) -> float:
    """Wall seconds of ``[launcher] python -c SOURCE`` to its exit."""
    began = time.perf_counter()
    subprocess.run(
        side.command("python", "-c", source),
        env=env,
        cwd=str(common.REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )
    return time.perf_counter() - began


def gunicorn_stop(side: common.Side, env: dict[str, str]) -> float:
    """Wall seconds from SIGTERM to gunicorn's master (and so its workers) having exited."""
    port = common.free_port()
    argv = side.command(
        "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "sample_app.app:app"
    )
    started = common.App(argv, env, port)
    try:
        started.wait_ready("/healthz")
        for _ in range(REQUESTS):
            if common.get(port, "/items") != 200:
                raise RuntimeError(f"gunicorn did not answer /items:\n{started.output()}")
        began = time.perf_counter()
        status = common.stop(started.process, timeout=60)
        took = time.perf_counter() - began
    finally:
        started.stop()
    if status != 0:
        raise RuntimeError(f"{side.name}: gunicorn exited with {status}")
    return took


def _cell(values: list[float]) -> str:
    return (
        f"{common.median(values):6.2f} ({common.percentile(values, 0.1):.2f}-"
        f"{common.percentile(values, 0.9):.2f})"
    )


def _table(
    title: str, rows: list[str], sides: list[common.Side], times: dict[tuple[str, str, str], list[float]]
) -> None:
    print(f"\n{title}")
    print(f"  {'':<15} {'collector':<9} " + " ".join(f"{side.name:>18}" for side in sides))
    for row in rows:
        for state in STATES:
            cells = [
                _cell(times[(row, state, side.name)]) if (row, state, side.name) in times else "not run"
                for side in sides
            ]
            print(f"  {row:<15} {state:<9} " + " ".join(f"{cell:>18}" for cell in cells))


def main(argv: list[str] | None = None) -> int:
    """Run the interleaved rounds, print the medians and the goals."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument(
        "--budget-ms", type=int, default=2000, help="OTEL_RUN_SHUTDOWN_TIMEOUT for every run (default 2000)"
    )
    common.add_side_arguments(parser)
    args = parser.parse_args(argv)
    sides = common.sides(args)
    budget_s = args.budget_ms / 1000
    times: dict[tuple[str, str, str], list[float]] = {}
    with common.sink() as sink, silent_collector() as silent:
        print(f"bench: {common.machine()}; sink at {sink.url} {sink.pinned}".rstrip())
        print(f"bench: OTEL_RUN_SHUTDOWN_TIMEOUT={args.budget_ms} on every side")
        endpoints = {"healthy": sink.url, "refused": common.dead_endpoint(), "silent": silent.url}
        for round_number in range(args.rounds + 1):
            measured: list[tuple[str, str, str, float]] = []
            for state, endpoint in endpoints.items():
                for side in sides:
                    if state == "silent" and side.name == "upstream":
                        continue
                    env = side.env(endpoint, OTEL_RUN_SHUTDOWN_TIMEOUT=str(args.budget_ms))
                    for job, source in JOBS.items():
                        measured.append((job, state, side.name, run_job(side, env, source)))
                    measured.append((GUNICORN, state, side.name, gunicorn_stop(side, env)))
            if round_number:  # round 0 warms caches and is not counted
                for job, state, name, took in measured:
                    times.setdefault((job, state, name), []).append(took)
            print(f"bench: round {round_number}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"bench: load average at the end {common.machine().rpartition('load average ')[2]}")
    _table(f"exit of a short job, wall seconds, median of {args.rounds} (p10-p90)", list(JOBS), sides, times)
    _table(
        f"{GUNICORN}: SIGTERM to exit, wall seconds, median of {args.rounds} (p10-p90)",
        [GUNICORN],
        sides,
        times,
    )
    verdicts = common.Verdicts()
    for row in (*JOBS, GUNICORN):
        healthy = common.median(times[(row, "healthy", "otel-run")])
        refused = common.median(times[(row, "refused", "otel-run")])
        silent_s = common.median(times[(row, "silent", "otel-run")])
        verdicts.at_most(
            f"{row}: otel-run, refused minus healthy", refused - healthy, GOAL_EXTRA_SECONDS, " s"
        )
        verdicts.at_most(
            f"{row}: otel-run, silent minus healthy (budget {budget_s:g} s)",
            silent_s - healthy,
            budget_s + GOAL_EXTRA_SECONDS,
            " s",
        )
    return 0 if verdicts.print() else 1


if __name__ == "__main__":
    sys.exit(main())
