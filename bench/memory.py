"""Memory: RSS of the sample app at idle, and over time during a collector outage.

    python bench/memory.py [--rounds 3] [--requests 500] [--outage-requests 6000]

*Idle*: for each side, interleaved over ``--rounds``, start ``[launcher] python
sample_app/app.py`` exporting to ``bench/sink.py``, send ``--requests`` requests (``/`` and
``/items`` alternately), wait ``--settle`` seconds for the batch processors to export,
then read ``VmRSS`` from ``/proc/PID/status`` of the PID we started (otel-run and
opentelemetry-instrument exec, so it is the app's).

*Outage*: the endpoint is a 127.0.0.1 port where nothing listens. Send
``--outage-requests`` requests to ``/``, reading RSS every ``--sample-every`` requests.
Spans and log records are queued (2,048 each by default) and then dropped, so once the
queues are full RSS should stop growing: the goal compares the RSS after half the requests
with the RSS at the end.

Exits 1 if a goal failed (the idle goal is ``targets.py``'s, shared with ``goals.py``, which runs
``idle_rss`` with the other figures of the goals table).
"""

from __future__ import annotations

import argparse
import sys
import time

import common
import targets

GOAL_OUTAGE_GROWTH_MIB = 2.0


def _drive(port: int, count: int, paths: tuple[str, ...], deadline: float) -> None:
    for index in range(count):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} requests did not finish in time")
        status = common.get(port, paths[index % len(paths)])
        if status != 200:
            raise RuntimeError(f"request {index} answered {status}")


def idle_rss(side: common.Side, endpoint: str, requests: int, settle: float) -> float:
    """MiB of RSS after ``requests`` requests (``/`` and ``/items``) and ``settle`` seconds of quiet."""
    port = common.free_port()
    env = side.env(endpoint, PORT=str(port))
    with common.app(side.command("python", "sample_app/app.py"), env, port) as started:
        started.wait_ready("/healthz")
        _drive(port, requests, ("/", "/items"), time.monotonic() + 300)
        # Deliberately idle: the point is to measure at rest, after the batch delay.
        time.sleep(settle)
        return common.rss_kib(started.pid) / 1024


def outage_series(side: common.Side, args: argparse.Namespace) -> list[tuple[int, float]]:
    """(requests sent, MiB of RSS) every ``--sample-every`` requests, with no collector."""
    port = common.free_port()
    env = side.env(common.dead_endpoint(), PORT=str(port))
    series = []
    deadline = time.monotonic() + args.outage_timeout
    with common.app(side.command("python", "sample_app/app.py"), env, port) as started:
        started.wait_ready("/healthz")
        series.append((0, common.rss_kib(started.pid) / 1024))
        sent = 0
        while sent < args.outage_requests:
            batch = min(args.sample_every, args.outage_requests - sent)
            _drive(port, batch, ("/",), deadline)
            sent += batch
            series.append((sent, common.rss_kib(started.pid) / 1024))
    return series


def main(argv: list[str] | None = None) -> int:
    """Measure idle RSS and RSS under an outage; print tables and goals."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved idle rounds (default 3)")
    parser.add_argument("--requests", type=int, default=500, help="requests before the idle reading")
    parser.add_argument("--settle", type=float, default=6.0, help="idle seconds before reading RSS")
    parser.add_argument("--outage-requests", type=int, default=6000, help="requests during the outage")
    parser.add_argument("--sample-every", type=int, default=500, help="requests between RSS readings")
    parser.add_argument("--outage-timeout", type=float, default=240.0, help="seconds allowed per side")
    common.add_side_arguments(parser)
    args = parser.parse_args(argv)
    sides = common.sides(args)
    idle: dict[str, list[float]] = {side.name: [] for side in sides}
    with common.sink() as sink:
        print(f"bench: {common.machine()}; sink at {sink.url} {sink.pinned}".rstrip())
        for round_number in range(1, args.rounds + 1):
            for side in sides:
                idle[side.name].append(idle_rss(side, sink.url, args.requests, args.settle))
            print(f"bench: idle round {round_number}/{args.rounds} done", file=sys.stderr, flush=True)
    outage = {}
    for side in sides:
        outage[side.name] = outage_series(side, args)
        print(f"bench: outage run of {side.name} done", file=sys.stderr, flush=True)

    rss = {name: common.median(values) for name, values in idle.items()}
    print(f"\nidle RSS after {args.requests} requests and {args.settle:g} s (MiB, median of {args.rounds})")
    print(f"  {'side':<9} {'RSS':>7} {'overhead':>9}   all rounds")
    for name in common.SIDES:
        rounds = " ".join(f"{value:.1f}" for value in idle[name])
        print(f"  {name:<9} {rss[name]:7.1f} {rss[name] - rss['plain']:+9.1f}   {rounds}")

    print(
        "\nRSS during a collector outage (MiB) after N requests to /"
        " (endpoint: a 127.0.0.1 port with no listener)"
    )
    counts = [count for count, _ in outage["plain"]]
    print("  " + f"{'N':>6} " + " ".join(f"{name:>9}" for name in common.SIDES))
    for index, count in enumerate(counts):
        print("  " + f"{count:6d} " + " ".join(f"{outage[name][index][1]:9.1f}" for name in common.SIDES))
    half = len(counts) // 2
    growth = {name: outage[name][-1][1] - outage[name][half][1] for name in common.SIDES}
    print(
        f"  growth from N={counts[half]} to N={counts[-1]}: "
        + ", ".join(f"{n} {g:+.1f}" for n, g in growth.items())
    )

    ok = True
    if args.requests == targets.IDLE_REQUESTS:
        ok = targets.verdicts({"idle_rss": rss})
    else:
        print(f"\n(the idle RSS goal is for {targets.IDLE_REQUESTS} requests: not judged)")
    verdicts = common.Verdicts()
    verdicts.at_most(
        f"otel-run RSS growth during the outage, N={counts[half]}..{counts[-1]}",
        growth["otel-run"],
        GOAL_OUTAGE_GROWTH_MIB,
        " MiB",
    )
    return 0 if verdicts.print() and ok else 1


if __name__ == "__main__":
    sys.exit(main())
