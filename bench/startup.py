"""Start-up cost: time to first response of the sample app, and ``python -c pass``.

    python bench/startup.py [--rounds 15] [--venv VENV] [--baseline-venv DIR]

For each side (plain, otel-run, opentelemetry-instrument), interleaved A B C A B C ...:

- *first response*: from spawning ``[launcher] python sample_app/app.py`` to the first 200
  from ``GET /`` (polled every 5 ms on 127.0.0.1), then the app is ended by its PID;
- *python -c pass*: wall time of ``[launcher] python -c pass`` to its exit, which includes
  the exit-time flush.

Each is also reported as CPU time (``/proc/PID/task/*/schedstat`` at the first response;
``getrusage`` of the finished child for ``-c pass``), which other load on the machine
disturbs far less than wall time. The goals are judged on wall time.

All sides export traces, metrics and logs over OTLP/HTTP to ``bench/sink.py``. One round
is run first and thrown away (page cache, bytecode). Prints median, p10 and p90, ratios,
and PASS/FAIL per goal; exits 1 if a goal failed.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

import common

GOAL_FIRST_VS_PLAIN = 1.35
GOAL_FIRST_VS_UPSTREAM = 0.65
GOAL_PASS_SECONDS = 0.1


def first_response(side: common.Side, endpoint: str) -> tuple[float, float]:
    """Seconds from spawn to the first 200 from ``/``, and the app's CPU seconds until then."""
    port = common.free_port()
    env = side.env(endpoint, PORT=str(port))
    with common.app(side.command("python", "sample_app/app.py"), env, port) as started:
        return started.wait_ready("/"), started.cpu_at_ready


def python_pass(side: common.Side, endpoint: str) -> tuple[float, float]:
    """Seconds ``[launcher] python -c pass`` takes to its exit, and its CPU seconds."""
    env = side.env(endpoint)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(
        side.command("python", "-c", "pass"),
        env=env,
        cwd=str(common.REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=60,
    )
    took = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return took, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def _row(name: str, values: list[float], plain: float, upstream: float) -> str:
    mid = common.median(values)
    return (
        f"  {name:<9} {mid * 1000:8.1f} {common.percentile(values, 0.1) * 1000:8.1f} "
        f"{common.percentile(values, 0.9) * 1000:8.1f} {mid / plain:9.2f}x {mid / upstream:10.2f}x"
    )


def report(title: str, results: dict[str, list[float]]) -> tuple[float, float, float]:
    """Print one table; returns the medians of plain, otel-run and upstream."""
    plain, ours, theirs = (common.median(results[name]) for name in common.SIDES)
    print(f"\n{title} (ms, n={len(results['plain'])})")
    print(f"  {'side':<9} {'median':>8} {'p10':>8} {'p90':>8} {'vs plain':>10} {'vs upstream':>11}")
    for name in common.SIDES:
        print(_row(name, results[name], plain, theirs))
    return plain, ours, theirs


def main(argv: list[str] | None = None) -> int:
    """Run the interleaved rounds, print the tables and the goals."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds (default 15)")
    common.add_side_arguments(parser)
    args = parser.parse_args(argv)
    sides = common.sides(args)
    first: dict[str, list[float]] = {side.name: [] for side in sides}
    passes: dict[str, list[float]] = {side.name: [] for side in sides}
    first_cpu: dict[str, list[float]] = {side.name: [] for side in sides}
    passes_cpu: dict[str, list[float]] = {side.name: [] for side in sides}
    with common.sink() as sink:
        print(f"bench: {common.machine()}; sink at {sink.url} {sink.pinned}".rstrip())
        for round_number in range(args.rounds + 1):
            for side in sides:
                took_first, cpu_first = first_response(side, sink.url)
                took_pass, cpu_pass = python_pass(side, sink.url)
                if round_number:  # round 0 warms caches and is not counted
                    first[side.name].append(took_first)
                    passes[side.name].append(took_pass)
                    first_cpu[side.name].append(cpu_first)
                    passes_cpu[side.name].append(cpu_pass)
            print(f"bench: round {round_number}/{args.rounds} done", file=sys.stderr, flush=True)
        received = sink.stats()
    plain, ours, theirs = report("time to first response of sample_app/app.py, wall", first)
    report("  the same, CPU time of the app until its first response", first_cpu)
    _, pass_ours, _ = report("python -c pass, wall", passes)
    report("  the same, CPU time", passes_cpu)
    print(f"\nload average at the end: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    print(f"\nsink received {received['requests']} exports, {received['bytes']} bytes")
    verdicts = common.Verdicts()
    verdicts.at_most("first response, otel-run / plain", ours / plain, GOAL_FIRST_VS_PLAIN, "x")
    verdicts.at_most("first response, otel-run / upstream", ours / theirs, GOAL_FIRST_VS_UPSTREAM, "x")
    verdicts.at_most("otel-run python -c pass", pass_ours, GOAL_PASS_SECONDS, " s")
    return 0 if verdicts.print() else 1


if __name__ == "__main__":
    sys.exit(main())
