"""Exit cost of a short job when the collector is down: a refused connection is an answer.

    python bench/dead_collector.py [--rounds 5] [--venv VENV] [--baseline-venv DIR]

A job that logs one line (and one that also makes a span) runs to its exit on each side
(plain, otel-run, opentelemetry-instrument), interleaved, against a healthy collector
(``bench/sink.py``) and against an endpoint on 127.0.0.1 where nothing listens. Prints the
median wall time of each, and judges the goal: under otel-run a refused endpoint costs at
most 0.2 s more than a healthy one (issue 10, item 14). Exits 1 if the goal failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

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


def run_job(side: common.Side, endpoint: str, source: str) -> float:
    """Wall seconds of ``[launcher] python -c SOURCE`` to its exit."""
    began = time.perf_counter()
    subprocess.run(
        side.command("python", "-c", source),
        env=side.env(endpoint),
        cwd=str(common.REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    """Run the interleaved rounds, print the medians and the goal."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (default 5)")
    common.add_side_arguments(parser)
    args = parser.parse_args(argv)
    sides = common.sides(args)
    times: dict[tuple[str, str, str], list[float]] = {}
    with common.sink() as sink:
        print(f"bench: {common.machine()}; sink at {sink.url} {sink.pinned}".rstrip())
        endpoints = {"healthy": sink.url, "refused": common.dead_endpoint()}
        for round_number in range(args.rounds + 1):
            for job, source in JOBS.items():
                for state, endpoint in endpoints.items():
                    for side in sides:
                        took = run_job(side, endpoint, source)
                        if round_number:  # round 0 warms caches and is not counted
                            times.setdefault((job, state, side.name), []).append(took)
            print(f"bench: round {round_number}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"\nexit of a short job, wall seconds, median of {args.rounds} (p10-p90)")
    print(f"  {'job':<9} {'collector':<9} " + " ".join(f"{side.name:>18}" for side in sides))
    for job in JOBS:
        for state in ("healthy", "refused"):
            cells = []
            for side in sides:
                values = times[(job, state, side.name)]
                cells.append(
                    f"{common.median(values):6.2f} ({common.percentile(values, 0.1):.2f}-"
                    f"{common.percentile(values, 0.9):.2f})"
                )
            print(f"  {job:<9} {state:<9} " + " ".join(f"{cell:>18}" for cell in cells))
    verdicts = common.Verdicts()
    for job in JOBS:
        extra = common.median(times[(job, "refused", "otel-run")]) - common.median(
            times[(job, "healthy", "otel-run")]
        )
        verdicts.at_most(f"{job}: otel-run, refused minus healthy", extra, GOAL_EXTRA_SECONDS, " s")
    return 0 if verdicts.print() else 1


if __name__ == "__main__":
    sys.exit(main())
