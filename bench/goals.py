"""Every figure of issue 11's goals table, plain / otel-run / upstream side by side, with PASS/FAIL.

    python bench/goals.py [--rounds 5] [--duration 10] [--quick] [--json FILE]

One run measures all of it, the three sides interleaved in every round (their order rotated
from round to round), with the same functions the single-purpose benches use:

- ``startup.measure_round`` (``--startup-per-round`` times a round): time to first response of
  ``[launcher] python sample_app/app.py``, and ``[launcher] python -c pass`` to its exit with
  its peak RSS; both also as CPU time (user+sys of the child);
- ``throughput.measure``: ``gunicorn -w 2 sample_app.app:app`` under ``--duration`` seconds of
  load (wrk, else a bounded Python load generator) after ``--warmup``: req/s, p99, and
  gunicorn's CPU per request;
- ``memory.idle_rss``: RSS of the dev server after 500 requests and ``--settle`` s of quiet.

A warm-up round of the start-up figures comes first and is not counted. Every side exports
traces, metrics and logs (100% sampled) over OTLP/HTTP to ``bench/sink.py`` on 127.0.0.1.
The goals (``targets.py``) are judged on the medians; for the start-up figures on the median
wall time, as the goals are stated, with the CPU time printed alongside (wall time is noisy
on a shared machine; CPU time much less so). Prints one table, the load average before and
after, the Python version and the otel-run commit; ``--json FILE`` writes the same as JSON.
Exits 1 if any goal fails. ``--quick`` is a smoke setting (about a minute): its figures
are too few to judge anything by.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import common
import memory
import startup
import targets
import throughput

IDLE_REQUESTS = targets.IDLE_REQUESTS
BENCH_OWN_LOAD = 2
DEFAULTS = {"rounds": 5, "duration": 10.0, "warmup": 2.0, "startup_per_round": 3, "settle": 6.0}
QUICK = {"rounds": 1, "duration": 1.0, "warmup": 1.0, "startup_per_round": 2, "settle": 1.0}
Samples = dict[str, dict[str, list[float]]]


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The options; ``--quick`` replaces the defaults of the options not given."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="measured rounds (default 5; quick 1)")
    parser.add_argument(
        "--startup-per-round",
        type=int,
        default=None,
        help="start-up measurements per side in each round (default 3; quick 2)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        help="idle seconds before reading the idle RSS (default 6, past the 5 s batch delay; quick 1)",
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run; figures not meaningful")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write results as JSON")
    throughput.add_load_arguments(parser)
    common.add_side_arguments(parser)
    parser.set_defaults(duration=None, warmup=None)  # throughput.py's defaults, unless --quick
    args = parser.parse_args(argv)
    for name, value in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, QUICK[name] if args.quick else value)
    if args.rounds < 1 or args.startup_per_round < 1:
        parser.error("--rounds and --startup-per-round must be at least 1")
    return args


def _git(*command: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(common.REPO), *command], capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def commit() -> dict[str, Any]:
    """The commit of the tree the bench runs from, and whether the tree has changes on top."""
    return {
        "id": _git("rev-parse", "HEAD") or "unknown",
        "subject": _git("log", "-1", "--format=%s"),
        "date": _git("log", "-1", "--format=%cI"),
        "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def installed_matches_tree(bindir: Path) -> bool | None:
    """Whether the venv's installed otel_run is this tree's ``wrapper/otel_run`` (None: unknown).

    The benches run the installed package, so figures from a stale install describe other code.
    """
    done = subprocess.run(
        [str(bindir / "python"), "-c", "import os, otel_run; print(os.path.dirname(otel_run.__file__))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    if done.returncode:
        return None
    installed = Path(done.stdout.strip())
    source = common.REPO / "wrapper" / "otel_run"
    for path in source.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            twin = installed / path.relative_to(source)
            if not twin.is_file() or twin.read_bytes() != path.read_bytes():
                return False
    return True


def _add(samples: Samples, key: str, side: str, value: float) -> None:
    samples.setdefault(key, {}).setdefault(side, []).append(value)


def run(
    sides: list[common.Side], endpoint: str, args: argparse.Namespace, wrk: str | None, loads: list[float]
) -> Samples:
    """Every round of every figure, the sides interleaved; returns the samples by figure and side.

    ``loads`` gets the 1-minute load average at the end of each round.
    """
    samples: Samples = {}
    startup.measure_round(sides, endpoint, {})  # warm-up: page cache, bytecode; not counted
    errors: dict[str, int] = {side.name: 0 for side in sides}
    for number in range(1, args.rounds + 1):
        order = sides[number % len(sides) :] + sides[: number % len(sides)]
        for _ in range(args.startup_per_round):
            startup.measure_round(order, endpoint, samples)
        for side in order:
            load = throughput.measure(side, endpoint, args, wrk)
            errors[side.name] += load.errors
            for key, value in throughput.figures(load).items():
                _add(samples, key, side.name, value)
        for side in order:
            _add(samples, "idle_rss", side.name, memory.idle_rss(side, endpoint, IDLE_REQUESTS, args.settle))
        loads.append(os.getloadavg()[0])
        print(
            f"bench: round {number}/{args.rounds} done, load average {common.load_average()}",
            file=sys.stderr,
            flush=True,
        )
    samples["failed_requests"] = {name: [float(count)] for name, count in errors.items()}
    return samples


def medians(samples: Samples) -> dict[str, dict[str, float]]:
    """The median of every figure for every side."""
    return {
        key: {side: common.median(values) for side, values in by_side.items()}
        for key, by_side in samples.items()
    }


def _number(value: float, decimals: int) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{decimals}f}"


def table(mid: Mapping[str, Mapping[str, float]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The table's lines, and every goal's verdict as data."""
    head = (
        f"{'figure':<48} {'unit':<5} {'plain':>8} {'otel-run':>9} {'upstream':>9} "
        f"{'ours-plain':>11} {'ours/plain':>10} {'ours/upstr':>10}  {'goal':<18} {'measured':>10}  verdict"
    )
    lines = [head, "-" * len(head)]
    verdicts: list[dict[str, Any]] = []
    for figure in targets.FIGURES:
        values = mid[figure.key]
        plain, ours, theirs = (values[side] for side in common.SIDES)
        row = (
            f"{figure.title:<48} {figure.unit:<5} {_number(plain, figure.decimals):>8} "
            f"{_number(ours, figure.decimals):>9} {_number(theirs, figure.decimals):>9} "
            f"{ours - plain:>+11.{figure.decimals}f} {ours / plain:>9.2f}x {ours / theirs:>9.2f}x"
        )
        goals = [goal for goal in targets.GOALS if goal.figure == figure.key]
        if not goals:
            lines.append(f"{row}  {'(not judged)':<18}")
        for index, goal in enumerate(goals):
            passed = goal.passed(values)
            verdicts.append(
                {
                    "figure": figure.key,
                    "title": figure.title.strip(),
                    "goal": goal.text(),
                    "value": goal.value(values),
                    "limit": goal.limit,
                    "passed": passed,
                }
            )
            lead = row if index == 0 else " " * len(row)
            lines.append(f"{lead}  {goal.text():<18} {goal.show(values):>10}  {'PASS' if passed else 'FAIL'}")
    failed = mid["failed_requests"][targets.OURS]
    verdicts.append(
        {
            "figure": "failed_requests",
            "title": "failed requests under load, otel-run",
            "goal": "= 0",
            "value": failed,
            "limit": 0,
            "passed": failed == 0,
        }
    )
    lines.append(
        f"{'failed requests under load (all rounds)':<48} {'':<5} {mid['failed_requests']['plain']:>8.0f} "
        f"{failed:>9.0f} {mid['failed_requests']['upstream']:>9.0f} {'':>11} {'':>10} {'':>10}  "
        f"{'= 0':<18} {failed:>10.0f}  {'PASS' if failed == 0 else 'FAIL'}"
    )
    return lines, verdicts


def spread(samples: Samples) -> list[str]:
    """Per figure and side: the number of samples and their p10..p90."""
    lines = ["spread of the samples (n, p10..p90):"]
    for figure in targets.FIGURES:
        parts = []
        for side in common.SIDES:
            values = samples[figure.key][side]
            low, high = common.percentile(values, 0.1), common.percentile(values, 0.9)
            parts.append(f"{side} {len(values)}: {low:.{figure.decimals}f}..{high:.{figure.decimals}f}")
        lines.append(f"  {figure.title.strip():<48} " + "; ".join(parts))
    return lines


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None, so the JSON is strict."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _loads(values: tuple[float, ...] | list[float]) -> str:
    return " ".join(f"{value:.2f}" for value in values)


def header(run_info: Mapping[str, Any]) -> list[str]:
    """What the figures came from: commit, install, Python, load average, settings."""
    info, options = run_info["commit"], run_info["options"]
    dirty = " + uncommitted changes" if info["uncommitted_changes"] else ""
    install = {True: "matches the tree", False: "DIFFERS from the tree (pip install . first)"}
    quick = " (--quick: a smoke run, not a measurement)" if options["quick"] else ""
    load = run_info["load_average"]
    lines = [
        f"issue 11 goals: medians of {options['rounds']} round(s){quick}",
        f"  otel-run commit {info['id'][:12]} ({info['date']}) {info['subject']}{dirty}",
        f"  installed otel-run {install.get(run_info['installed_matches_tree'], 'unknown')}",
        f"  Python {run_info['python']}, {run_info['cpus']} CPUs; load average before "
        f"{_loads(load['before'])}, after {_loads(load['after'])}; {run_info['seconds']:.0f} s",
        "  start-up goals are judged on the median wall time; the CPU rows (user+sys of the child)"
        " are shown alongside, not judged",
        f"  {run_info['load']}; idle RSS after {IDLE_REQUESTS} requests and {options['settle']:g} s",
    ]
    lines.append(f"  1-minute load average after each round: {_loads(run_info['load_by_round'])}")
    if run_info["busy"]:
        lines.append(
            "  NOTE: other work shared the CPUs (load average before the run above the CPU count, or"
            f" during it above the CPU count + {BENCH_OWN_LOAD}, the bench's own): wall times, req/s"
            " and p99 are inflated; compare the CPU rows"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure every figure, print the table, write the JSON; 1 if a goal failed."""
    args = parse(argv)
    load_before = os.getloadavg()
    cpus = os.cpu_count() or 1
    loads: list[float] = []
    began = time.monotonic()
    sides = common.sides(args)
    wrk, generator = throughput.load_generator(args)
    with common.sink() as sink:
        print(f"bench: {common.machine()}; sink at {sink.url} {sink.pinned}".rstrip(), flush=True)
        print(f"bench: {throughput.describe(args, generator)}", flush=True)
        samples = run(sides, sink.url, args, wrk, loads)
        received = sink.stats()
    mid = medians(samples)
    lines, verdicts = table(mid)
    passed = all(verdict["passed"] for verdict in verdicts)
    options = ("rounds", "startup_per_round", "duration", "warmup", "connections", "workers", "settle")
    document = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "commit": commit(),
        "installed_matches_tree": installed_matches_tree(sides[1].bindir),
        "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
        "seconds": time.monotonic() - began,
        "load_by_round": loads,
        # The bench itself keeps about 2 runnable (load generator, workers) while it runs.
        "busy": load_before[0] > cpus or max(loads) > cpus + BENCH_OWN_LOAD,
        "options": {
            **{name: getattr(args, name) for name in options},
            "idle_requests": IDLE_REQUESTS,
            "quick": args.quick,
            "set": args.set,
        },
        "load": throughput.describe(args, generator),
        "judged_on": "median wall time (CPU time reported alongside)",
        "figures": [
            {
                "key": figure.key,
                "title": figure.title.strip(),
                "unit": figure.unit,
                "judged": figure.judged,
                "median": mid[figure.key],
                "samples": samples[figure.key],
            }
            for figure in targets.FIGURES
        ],
        "failed_requests": mid["failed_requests"],
        "goals": verdicts,
        "passed": passed,
        "sink": received,
    }
    failed = sum(not verdict["passed"] for verdict in verdicts)
    print("\n" + "\n".join(header(document)) + "\n")
    print("\n".join(lines) + "\n")
    print("\n".join(spread(samples)))
    print(f"\nsink received {received['requests']} exports, {received['bytes']} bytes")
    print(f"\n{'ALL GOALS PASS' if passed else f'{failed} of {len(verdicts)} goals FAIL'}")
    if args.json is not None:
        args.json.write_text(json.dumps(_finite(document), indent=2, allow_nan=False) + "\n")
        print(f"bench: results written to {args.json}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
