"""Start-up cost: time to first response of the sample app, and ``python -c pass``.

    python bench/startup.py [--rounds 15] [--venv VENV] [--baseline-venv DIR]

For each side (plain, otel-run, opentelemetry-instrument), interleaved A B C A B C ...:

- *first response*: from spawning ``[launcher] python sample_app/app.py`` to the first 200
  from ``GET /`` (polled every 5 ms on 127.0.0.1), then the app is ended by its PID;
- *python -c pass*: wall time of ``[launcher] python -c pass`` to its exit, which includes
  the exit-time flush; and, in a separate run, its peak RSS (``bench/peak.py``: ``VmHWM``
  read as it exits).

Each is also reported as CPU time (user+sys: ``/proc/PID/task/*/schedstat`` at the first
response; ``wait4``'s rusage of the finished child for ``-c pass``), which other load on
the machine disturbs far less than wall time. The goals (``targets.py``) are judged on
wall time.

All sides export traces, metrics and logs over OTLP/HTTP to ``bench/sink.py``. One round
is run first and thrown away (page cache, bytecode). Prints median, p10 and p90, ratios,
and PASS/FAIL per goal; exits 1 if a goal failed. ``goals.py`` runs these with the other
figures of the goals table.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import common
import peak
import targets

PASS_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Exit:
    """One finished ``python -c pass``: wall seconds and CPU seconds (user+sys)."""

    wall: float
    cpu: float


def first_response(side: common.Side, endpoint: str) -> tuple[float, float]:
    """Seconds from spawn to the first 200 from ``/``, and the app's CPU seconds until then."""
    port = common.free_port()
    env = side.env(endpoint, PORT=str(port))
    with common.app(side.command("python", "sample_app/app.py"), env, port) as started:
        return started.wait_ready("/"), started.cpu_at_ready


def _reap(process: subprocess.Popen[bytes], began: float) -> tuple[float, os.struct_rusage]:
    """Wait (at most ``PASS_TIMEOUT_S``) for the child; its wall seconds and rusage.

    A pidfd tells the moment the child exits without polling, and ``wait4`` gives that child's
    own rusage (``RUSAGE_CHILDREN`` would mix in every child reaped so far). The pidfd keeps the
    PID from being reused before ``wait4``, so the SIGKILL on timeout can only reach our child.
    """
    pidfd = os.pidfd_open(process.pid)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(PASS_TIMEOUT_S * 1000):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        _, status, usage = os.wait4(process.pid, 0)
        took = time.perf_counter() - began
    finally:
        os.close(pidfd)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{process.args} exited with {process.returncode}")
    return took, usage


def python_pass(side: common.Side, endpoint: str) -> Exit:
    """``[launcher] python -c pass`` to its exit: wall and CPU seconds."""
    began = time.perf_counter()
    process = subprocess.Popen(
        side.command("python", "-c", "pass"),
        env=side.env(endpoint),
        cwd=str(common.REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    took, usage = _reap(process, began)
    return Exit(took, usage.ru_utime + usage.ru_stime)


def python_pass_peak_rss(side: common.Side, endpoint: str) -> float:
    """Peak RSS of ``[launcher] python -c pass`` in MiB (NaN where the bench cannot trace it)."""
    kib = peak.peak_rss_kib(side.command("python", "-c", "pass"), side.env(endpoint), str(common.REPO))
    return float("nan") if kib is None else kib / 1024


def measure_round(sides: list[common.Side], endpoint: str, into: dict[str, dict[str, list[float]]]) -> None:
    """One interleaved round of the start-up figures (``targets`` keys, in ms and MiB) into ``into``."""
    for side in sides:
        wall, cpu = first_response(side, endpoint)
        done = python_pass(side, endpoint)
        for key, value in (
            ("first_wall", wall * 1000),
            ("first_cpu", cpu * 1000),
            ("pass_wall", done.wall * 1000),
            ("pass_cpu", done.cpu * 1000),
            ("pass_peak_rss", python_pass_peak_rss(side, endpoint)),
        ):
            into.setdefault(key, {}).setdefault(side.name, []).append(value)


def report(title: str, results: dict[str, list[float]]) -> None:
    """Print one figure's table: median, p10, p90 and ratios for the three sides."""
    plain, theirs = common.median(results["plain"]), common.median(results["upstream"])
    print(f"\n{title} (n={len(results['plain'])})")
    print(f"  {'side':<9} {'median':>8} {'p10':>8} {'p90':>8} {'vs plain':>10} {'vs upstream':>11}")
    for name in common.SIDES:
        values = results[name]
        mid = common.median(values)
        print(
            f"  {name:<9} {mid:8.1f} {common.percentile(values, 0.1):8.1f} "
            f"{common.percentile(values, 0.9):8.1f} {mid / plain:9.2f}x {mid / theirs:10.2f}x"
        )


def main(argv: list[str] | None = None) -> int:
    """Run the interleaved rounds, print the tables and the goals."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds (default 15)")
    common.add_side_arguments(parser)
    args = parser.parse_args(argv)
    sides = common.sides(args)
    results: dict[str, dict[str, list[float]]] = {}
    with common.sink() as sink:
        print(f"bench: {common.machine()}; sink at {sink.url} {sink.pinned}".rstrip())
        measure_round(sides, sink.url, {})  # round 0 warms caches and is not counted
        for round_number in range(1, args.rounds + 1):
            measure_round(sides, sink.url, results)
            print(f"bench: round {round_number}/{args.rounds} done", file=sys.stderr, flush=True)
        received = sink.stats()
    for figure in targets.FIGURES:
        if figure.key in results:
            report(f"{figure.title} ({figure.unit})", results[figure.key])
    print(f"\nload average at the end: {common.load_average()}")
    print(f"sink received {received['requests']} exports, {received['bytes']} bytes")
    medians = {key: {n: common.median(v) for n, v in by_side.items()} for key, by_side in results.items()}
    return 0 if targets.verdicts(medians) else 1


if __name__ == "__main__":
    sys.exit(main())
