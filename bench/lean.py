"""The lean launcher and settings (issue 11, lever 2): what reading the settings and the
``otel-run`` exec cost, against the same commands without them, in fresh processes.

Four pairs, interleaved round by round so that the shared machine's load hits each alike:

- ``python -c pass`` vs importing ``otel_run.config.settings`` and reading
  ``Settings.from_env(os.environ, sys.orig_argv)`` (the boot's first step), both with
  ``-S``-free, ``-I``-free interpreters of ``--venv`` and no otel-run boot directory;
- ``/bin/true`` vs ``otel-run /bin/true`` (the launcher: parse, build the environment, exec);
- with ``--entry-points``: the instrumentor scan (``importlib.metadata``) vs the same
  lookup through ``otel_run.runtime.entrypoints`` with a warm index (``runtime/epindex``),
  in the last ``--venv`` (which must have the index and the instrumentations).

Medians of wall and CPU (user + system, from ``wait4``) per command; CPU is the steadier
figure on a shared machine. ``--venv`` may be given twice to compare two installs
(``--venv before --venv after``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = (
    "import os, sys; from otel_run.config.settings import Settings; "
    "Settings.from_env(os.environ, sys.orig_argv)"
)
SCAN = (
    "from importlib.metadata import entry_points; "
    "[e.name for e in entry_points(group='opentelemetry_instrumentor')]"
)
INDEX = (
    "from otel_run.runtime import entrypoints; "
    "[e.name for e in entrypoints.group('opentelemetry_instrumentor')]"
)


def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``command`` (which must succeed)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    error = process.stderr.read() if process.stderr else b""
    if status != 0:
        raise SystemExit(f"{command} failed ({status}): {error.decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--venv", type=Path, action="append", help="venv(s) with otel-run (default: this one)"
    )
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--entry-points", action="store_true", help="also time the instrumentor lookup")
    args = parser.parse_args()
    venvs: list[Path] = args.venv or [Path(sys.executable).parent.parent]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHON"))}
    cache = tempfile.mkdtemp(prefix="otel-run-bench-cache-")
    env["OTEL_RUN_CACHE_DIR"] = cache
    commands: dict[str, list[str]] = {"/bin/true": ["/bin/true"]}
    for venv in venvs:
        tag = f" [{venv}]" if len(venvs) > 1 else ""
        python = str(venv / "bin" / "python")
        commands[f"python -c pass{tag}"] = [python, "-c", "pass"]
        commands[f"python: settings{tag}"] = [python, "-c", SETTINGS]
        commands[f"otel-run /bin/true{tag}"] = [str(venv / "bin" / "otel-run"), "/bin/true"]
        if args.entry_points and (venv / "bin" / "otel-run").exists() and venv == venvs[-1]:
            commands[f"python: importlib.metadata scan{tag}"] = [python, "-c", SCAN]
            commands[f"python: entrypoints, warm index{tag}"] = [python, "-c", INDEX]
    for command in commands.values():  # warm the page cache and the index
        run(command, env)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, command in commands.items():
            wall, cpu = run(command, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    print(f"load average {os.getloadavg()[0]:.2f}, {args.rounds} interleaved rounds, medians in ms")
    print(f"{'command':<60} {'wall':>8} {'cpu':>8}")
    for name in commands:
        wall, cpu = statistics.median(walls[name]) * 1e3, statistics.median(cpus[name]) * 1e3
        print(f"{name:<60} {wall:8.2f} {cpu:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
