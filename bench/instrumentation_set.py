"""Start-up cost of shipping every instrumentation: the full set against the previous one.

    python bench/instrumentation_set.py [--rounds 15]

Two venvs under ``.bench/`` (built on first use, reused while their requirements are the
same), with the same otel-run wheel (built from this tree at every run) and the same app
dependencies (flask, requests, gunicorn, with the dev extra's bounds); they differ only in
the instrumentations installed:

- ``previous``: the set otel-run shipped before issue 9: flask, wsgi, requests, urllib3,
  urllib, sqlite3, logging, threading;
- ``full``: every instrumentation pyproject.toml depends on now.

Interleaved (previous, full, previous, full, ...), each round measures the time to the
first response of ``otel-run python sample_app/app.py`` and the run time of ``otel-run
python -c pass``, as wall time and as CPU time (``bench/startup.py`` does the measuring).
Round 0 warms caches and is not counted. Prints medians, p10, p90 and the full/previous
ratio; the goal (at most 5 % apart) is judged on CPU time, which other load on a shared
machine disturbs far less than wall time. Exits 1 if it is not met.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import venv
from pathlib import Path

import baseline
import common
import startup
import tomllib

PREVIOUS_SET = ("flask", "wsgi", "requests", "urllib3", "urllib", "sqlite3", "logging", "threading")
_INSTRUMENTATION = "opentelemetry-instrumentation-"
_APP_DEPENDENCIES = ("flask", "requests", "gunicorn")
GOAL_RATIO = 1.05
_MARKER = "otel-run-set.txt"


def _requirement_name(requirement: str) -> str:
    for index, char in enumerate(requirement):
        if char in "<>=!~[; ":
            return requirement[:index].lower()
    return requirement.lower()


def requirements(which: str, pyproject: Path = baseline.PYPROJECT) -> list[str]:
    """The pip requirements of side ``which`` (previous or full), besides otel-run itself."""
    project = tomllib.loads(pyproject.read_text())["project"]
    dependencies: list[str] = project["dependencies"]
    kept = []
    for requirement in dependencies:
        name = _requirement_name(requirement)
        dropped = name.startswith(_INSTRUMENTATION) and name[len(_INSTRUMENTATION) :] not in PREVIOUS_SET
        if which == "previous" and dropped:
            continue
        kept.append(requirement)
    dev = {_requirement_name(item): item for item in project["optional-dependencies"]["dev"]}
    return [*kept, *(dev[name] for name in _APP_DEPENDENCIES)]


def _pip(command: list[str]) -> None:
    """Run pip; its output (this machine's index warnings included) is shown only if it fails."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode:
        raise SystemExit(f"bench: {' '.join(command[:6])} ... failed:\n{done.stderr[-3000:]}")


def build_wheel(out: Path) -> Path:
    """otel-run's wheel from this tree, in ``out``."""
    for old in out.glob("otel_run-*.whl"):
        old.unlink()
    _pip([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(out), str(common.REPO)])
    return next(out.glob("otel_run-*.whl"))


def ensure(which: str, wheel: Path) -> Path:
    """The venv of side ``which`` with its requirements and this wheel; returns its scripts directory."""
    path = common.REPO / ".bench" / f"set-{which}"
    bindir = baseline.bin_dir(path)
    wanted = "\n".join([sys.version, *requirements(which)]) + "\n"
    digest = hashlib.sha256(wanted.encode()).hexdigest()
    marker = path / _MARKER
    pip = [sys.executable, "-m", "pip", "--python", str(bindir / "python"), "install", "--quiet"]
    if not (marker.is_file() and marker.read_text().strip() == digest):
        venv.EnvBuilder(clear=True, with_pip=False, symlinks=True).create(path)
        _pip([*pip, *requirements(which)])
        marker.write_text(digest + "\n")
    _pip([*pip, "--no-deps", "--force-reinstall", str(wheel)])
    return bindir


def _installed(bindir: Path) -> int:
    done = subprocess.run(
        [
            str(bindir / "python"),
            "-c",
            "from importlib.metadata import entry_points as e;"
            "print(len({x.name for x in e(group='opentelemetry_instrumentor')}))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(done.stdout)


def _table(title: str, results: dict[str, list[float]]) -> float:
    previous, full = (common.median(results[name]) for name in ("previous", "full"))
    print(f"\n{title} (ms, n={len(results['previous'])})")
    print(f"  {'side':<9} {'median':>8} {'p10':>8} {'p90':>8} {'vs previous':>12}")
    for name in ("previous", "full"):
        values = results[name]
        mid = common.median(values)
        print(
            f"  {name:<9} {mid * 1000:8.1f} {common.percentile(values, 0.1) * 1000:8.1f} "
            f"{common.percentile(values, 0.9) * 1000:8.1f} {mid / previous:11.3f}x"
        )
    return full / previous


def main(argv: list[str] | None = None) -> int:
    """Build or reuse both venvs, run the interleaved rounds, print the tables and the goal."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds (default 15)")
    args = parser.parse_args(argv)
    wheel = build_wheel(common.REPO / ".bench" / "wheel")
    print("bench: preparing .bench/set-previous and .bench/set-full ...", flush=True)
    sides = []
    for which in ("previous", "full"):
        bindir = ensure(which, wheel)
        sides.append(common.Side(which, bindir, (str(bindir / "otel-run"),)))
        print(f"bench: {which}: {_installed(bindir)} instrumentations installed", flush=True)
    measures = ("first", "first_cpu", "pass", "pass_cpu")
    results: dict[str, dict[str, list[float]]] = {m: {s.name: [] for s in sides} for m in measures}
    with common.sink() as sink:
        print(f"bench: {common.machine()}; sink at {sink.url} {sink.pinned}".rstrip())
        for round_number in range(args.rounds + 1):
            for side in sides:
                first = startup.first_response(side, sink.url)
                passed = startup.python_pass(side, sink.url)
                if round_number:
                    values = (*first, passed.wall, passed.cpu)
                    for measure, value in zip(measures, values, strict=True):
                        results[measure][side.name].append(value)
            print(f"bench: round {round_number}/{args.rounds} done", file=sys.stderr, flush=True)
    first_wall = _table("time to first response of sample_app/app.py, wall", results["first"])
    first_cpu = _table("  the same, CPU time of the app until its first response", results["first_cpu"])
    pass_wall = _table("otel-run python -c pass, wall", results["pass"])
    pass_cpu = _table("  the same, CPU time", results["pass_cpu"])
    print(f"\nwall ratios (full/previous): first response {first_wall:.3f}x, -c pass {pass_wall:.3f}x")
    verdicts = common.Verdicts()
    verdicts.at_most("first response CPU, full / previous", first_cpu, GOAL_RATIO, "x")
    verdicts.at_most("python -c pass CPU, full / previous", pass_cpu, GOAL_RATIO, "x")
    return 0 if verdicts.print() else 1


if __name__ == "__main__":
    sys.exit(main())
