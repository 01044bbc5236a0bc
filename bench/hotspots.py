"""Where the time goes: imports at start-up, and the per-request path, for the three sides.

    python bench/hotspots.py imports    # -X importtime: what each side imports beyond plain
    python bench/hotspots.py requests   # in-process WSGI requests: µs each, then cProfile
    python bench/hotspots.py boot       # cProfile of otel-run's boot (sitecustomize)

Everything exports to ``bench/sink.py``. The figures are for reading, not for goals:
the goals live in startup.py, throughput.py and memory.py.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import common

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")
# Per-request counts worth watching (see docs/performance.md).
_WATCHED = (
    ("os.environ reads", "<frozen os>", "__getitem__"),
    ("attribute value cleaning", "opentelemetry/attributes/__init__.py", "_clean_attribute_value"),
    (
        "wsgi collect_request_attributes",
        "opentelemetry/instrumentation/wsgi/__init__.py",
        "collect_request_attributes",
    ),
    ("logging.LogRecord created", "logging/__init__.py", "__init__"),
    ("metric attribute hashing", "_view_instrument_match.py", "_hash_attributes"),
)


def _env(side: common.Side, endpoint: str) -> dict[str, str]:
    return side.env(endpoint)


def _importtime(side: common.Side, endpoint: str, code: str) -> list[tuple[int, int, str]]:
    done = subprocess.run(
        side.command("python", "-X", "importtime", "-c", code),
        env=_env(side, endpoint),
        cwd=str(common.REPO),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            rows.append((int(match.group(1)), len(match.group(3)) // 2, match.group(4)))
    return rows


def _group(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:3]) if parts[0] == "opentelemetry" else parts[0]


def imports(sides: list[common.Side], endpoint: str) -> None:
    """Print, per side, what it imports beyond plain, grouped by package."""
    for title, code in (
        ("python -c pass", "pass"),
        ("import sample_app.app", "import sample_app.app, os; os._exit(0)"),
    ):
        # Second run of each: the first may compile bytecode.
        runs = {
            side.name: (_importtime(side, endpoint, code), _importtime(side, endpoint, code))[1]
            for side in sides
        }
        plain = {name for _, _, name in runs["plain"]}
        print(f"\n{title}: self import time (ms, -X importtime, inflated by the measurement)")
        for side in sides[1:]:
            rows = runs[side.name]
            extra = [(us, name) for us, _, name in rows if name not in plain]
            total = sum(us for us, _, _ in rows) / 1000
            print(
                f"  {side.name}: {len(rows)} modules, {total:.1f} ms in all; "
                f"{len(extra)} not imported by plain, {sum(us for us, _ in extra) / 1000:.1f} ms"
            )
            groups: dict[str, int] = {}
            for us, name in extra:
                groups[_group(name)] = groups.get(_group(name), 0) + us
            top = sorted(groups.items(), key=lambda item: -item[1])[:15]
            print("    " + ", ".join(f"{name} {us / 1000:.1f}" for name, us in top))


def _driver(
    side: common.Side, endpoint: str, args: argparse.Namespace, profile_to: str = ""
) -> tuple[float, float]:
    command = side.command(
        "python", "bench/wsgi_driver.py", "--requests", str(args.requests), "--path", args.path
    )
    if profile_to:
        command += ["--cprofile", profile_to]
    done = subprocess.run(
        command,
        env=_env(side, endpoint),
        cwd=str(common.REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        timeout=600,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return common.median(result["us_per_request"]), common.median(result["cpu_us"])


def _per_request(stats: pstats.Stats, requests: int, top: int) -> None:
    table = stats.stats  # type: ignore[attr-defined]
    for label, file_part, function in _WATCHED:
        calls = sum(
            primitive
            for (path, _, name), (primitive, *_rest) in table.items()
            if file_part in path and name == function
        )
        print(f"    {label}: {calls / requests:.1f} per request")
    rows = sorted(table.items(), key=lambda item: -item[1][2])[:top]
    print(f"    top {top} by own time (µs per request under cProfile, calls per request):")
    for (path, line, name), (primitive, _, own, _cumulative, _) in rows:
        short = re.sub(r".*/site-packages/", "", path)
        print(f"      {own / requests * 1e6:7.1f}  {primitive / requests:6.1f}  {short}:{line}({name})")


def requests(sides: list[common.Side], endpoint: str, args: argparse.Namespace) -> None:
    """Time in-process requests per side (interleaved), then profile the instrumented sides."""
    timings: dict[str, list[float]] = {side.name: [] for side in sides}
    cpu: dict[str, list[float]] = {side.name: [] for side in sides}
    for _ in range(args.rounds):
        for side in sides:
            wall, used = _driver(side, endpoint, args)
            timings[side.name].append(wall)
            cpu[side.name].append(used)
    plain, plain_cpu = common.median(timings["plain"]), common.median(cpu["plain"])
    print(
        f"\nGET {args.path} through the WSGI callable, in-process: µs per request (median of {args.rounds})"
    )
    print(f"  {'side':<9} {'wall':>7} {'overhead':>9} {'CPU':>7} {'overhead':>9}")
    for side in sides:
        wall, used = common.median(timings[side.name]), common.median(cpu[side.name])
        print(f"  {side.name:<9} {wall:7.1f} {wall - plain:+9.1f} {used:7.1f} {used - plain_cpu:+9.1f}")
    if args.top <= 0:
        return
    with tempfile.TemporaryDirectory() as tmp:
        for side in sides:
            target = os.path.join(tmp, f"{side.name}.prof")
            _driver(side, endpoint, args, target)
            print(f"\n  cProfile, {side.name}:")
            _per_request(pstats.Stats(target), args.requests, args.top)


def boot(sides: list[common.Side], endpoint: str, top: int) -> None:
    """cProfile otel-run's sitecustomize: ``python -S`` then ``site.main()`` under the profiler."""
    ours = next(side for side in sides if side.name == "otel-run")
    boot_dir = subprocess.run(
        [str(ours.bindir / "python"), "-c", "from otel_run.launch import boot_dir; print(boot_dir())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    env = dict(_env(ours, endpoint), PYTHONPATH=boot_dir, OTEL_RUN_BOOT_DIR=boot_dir)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "boot.prof"
        code = (
            "import cProfile, site, sys; p = cProfile.Profile(); p.enable(); site.main(); "
            f"p.disable(); p.dump_stats({str(target)!r})"
        )
        subprocess.run([str(ours.bindir / "python"), "-S", "-c", code], env=env, check=True, timeout=120)
        stats = pstats.Stats(str(target))
    table = stats.stats  # type: ignore[attr-defined]
    rows = [item for item in table.items() if "otel_run" in item[0][0] or "opentelemetry" in item[0][0]]
    rows.sort(key=lambda item: -item[1][3])
    print(f"\notel-run boot under cProfile: top {top} otel_run/opentelemetry functions by cumulative ms")
    for (path, line, name), (_, _, _, cumulative, _) in rows[:top]:
        short = re.sub(r".*/site-packages/", "", path)
        print(f"  {cumulative * 1000:7.1f}  {short}:{line}({name})")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen profile."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("imports", "requests", "boot"))
    parser.add_argument("--requests", type=int, default=3000, help="requests per driver run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--path", default="/", help="route for 'requests'")
    parser.add_argument("--top", type=int, default=25, help="rows of profile to print (0: no cProfile)")
    common.add_side_arguments(parser)
    args = parser.parse_args(argv)
    sides = common.sides(args)
    with common.sink() as sink:
        print(f"bench: {common.machine()}; sink at {sink.url} {sink.pinned}".rstrip())
        if args.what == "imports":
            imports(sides, sink.url)
        elif args.what == "requests":
            requests(sides, sink.url, args)
        else:
            boot(sides, sink.url, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
