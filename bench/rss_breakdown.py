"""Where the idle RSS of the sample app's dev server goes, plain vs otel-run (no goals).

    python bench/rss_breakdown.py [--requests 500] [--settle 6] [--rounds 1]

1. *In the process*: each side runs ``sample_app/app.py`` exporting to ``bench/sink.py``
   with ``bench/rss_probe/`` as its ``sitecustomize`` (otel-run chains to it). After
   ``--requests`` requests and ``--settle`` s, SIGUSR1 makes the probe write its RSS by
   kind of mapping (C heap main arena and thread arenas, pymalloc's arenas, stacks, each
   shared library), pymalloc's statistics (allocated vs free bytes in its arenas), the
   modules loaded, and how much one ``malloc_trim(0)`` would still return.
2. *Modules alone*: a bare interpreter imports plain's modules, then otel-run's extra ones
   step by step (API, SDK trace, metrics, logs, wrapt, the instrumentation base, the
   instrumentors, the OTLP exporters, otel_run), printing the RSS each step adds. What the
   process holds beyond that is run-time state: queues, buffers, threads, fragmentation.

Medians over ``--rounds``. Everything listens on and sends to 127.0.0.1; every process is
ended by its PID.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

PROBE_DIR = common.REPO / "bench" / "rss_probe"
# Steps of the bare-interpreter import, in dependency order; each step's RSS is what its
# entry modules pull in beyond the steps before.
OT = "opentelemetry."
STEPS = (
    ("API (trace, metrics, _logs, propagate)", f"{OT}trace {OT}metrics {OT}_logs {OT}propagate"),
    ("SDK trace + resources", f"{OT}sdk.resources {OT}sdk.trace {OT}sdk.trace.export"),
    ("SDK metrics", f"{OT}sdk.metrics {OT}sdk.metrics.export"),
    ("SDK logs", f"{OT}sdk._logs {OT}sdk._logs.export"),
    ("wrapt (imports asyncio)", "wrapt"),
    (
        "instrumentation base (packaging, _semconv)",
        f"{OT}instrumentation.instrumentor {OT}instrumentation.utils",
    ),
    ("instrumentors loaded", f"{OT}instrumentation.*"),
    (
        "OTLP/HTTP span+log exporters (protobuf)",
        f"{OT}exporter.otlp.proto.http.trace_exporter {OT}exporter.otlp.proto.http._log_exporter",
    ),
    ("otel_run", "otel_run.*"),
    ("the rest", "*"),
)

# Run in a fresh interpreter: argv[1] is a JSON file {"plain": [...], "steps": [[name, [...]], ...]}.
_IMPORTER = r"""
import gc, importlib, json, sys
def rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
spec = json.load(open(sys.argv[1]))
def load(names):
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass
load(spec["plain"])
gc.collect()
rows = [["plain's modules", rss(), len(sys.modules)]]
for name, names in spec["steps"]:
    before, count = rss(), len(sys.modules)
    load(names)
    gc.collect()
    rows.append([name, rss() - before, len(sys.modules) - count])
print(json.dumps(rows))
"""


def probe(side: common.Side, endpoint: str, requests: int, settle: float) -> dict[str, object]:
    """The probe's report from ``side``'s dev server after ``requests`` requests."""
    port = common.free_port()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "report.json"
        env = side.env(endpoint, PORT=str(port), PYTHONPATH=str(PROBE_DIR), RSS_PROBE_OUT=str(out))
        with common.app(side.command("python", "sample_app/app.py"), env, port) as started:
            started.wait_ready("/healthz")
            for index in range(requests):
                if common.get(port, ("/", "/items")[index % 2]) != 200:
                    raise RuntimeError(f"request {index} failed")
            time.sleep(settle)  # deliberately idle: past the batch delay
            os.kill(started.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 30
            while not out.exists() or not out.read_text().endswith("}"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the probe did not report within 30 s")
                time.sleep(0.05)
            result: dict[str, object] = json.loads(out.read_text())
            return result


def _pick(pattern: str, names: list[str]) -> list[str]:
    if pattern == "*":
        return names
    if pattern.endswith(".*"):
        return [name for name in names if name.startswith(pattern[:-1])]
    return [pattern]


def module_steps(venv_python: Path, plain: list[str], ours: list[str]) -> list[list[object]]:
    """[step, MiB added, modules added] for otel-run's modules over plain's, in a bare interpreter."""
    extra = [name for name in ours if name not in set(plain)]
    steps = [
        [name, [m for pattern in patterns.split() for m in _pick(pattern, extra)]] for name, patterns in STEPS
    ]
    with tempfile.TemporaryDirectory() as scratch:
        spec = Path(scratch) / "spec.json"
        spec.write_text(json.dumps({"plain": plain, "steps": steps}))
        done = subprocess.run(
            [str(venv_python), "-c", _IMPORTER, str(spec)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            cwd=str(common.REPO),
        )
    rows: list[list[object]] = json.loads(done.stdout)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Probe both sides, then import their modules in a bare interpreter; print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="requests before the reading (default 500)")
    parser.add_argument("--settle", type=float, default=6.0, help="idle seconds before it (default 6)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (default 1)")
    common.add_side_arguments(parser)
    args = parser.parse_args(argv)
    # Upstream's sitecustomize does not chain to the probe.
    sides = [side for side in common.sides(args) if side.name != "upstream"]
    reports: dict[str, list[dict[str, object]]] = {side.name: [] for side in sides}
    with common.sink() as sink:
        print(f"bench: {common.machine()}; sink at {sink.url}", flush=True)
        for _ in range(args.rounds):
            for side in sides:
                reports[side.name].append(probe(side, sink.url, args.requests, args.settle))

    def median_of(name: str, get: object) -> float:
        assert callable(get)
        return common.median([float(get(report)) for report in reports[name]])

    print(f"\nRSS after {args.requests} requests and {args.settle:g} s (MiB, median of {args.rounds})")
    kinds = sorted(
        {kind for report in reports["otel-run"] + reports["plain"] for kind in report["mappings"]},  # type: ignore[attr-defined]
        key=lambda kind: -median_of("otel-run", lambda r: r["mappings"].get(kind, 0)),
    )
    print(f"  {'':44} {'plain':>7} {'otel-run':>9} {'extra':>7}")
    rows = [("total (smaps_rollup Rss)", lambda r: r["rss_kib"])]
    rows += [(kind, lambda r, k=kind: r["mappings"].get(k, 0)) for kind in kinds]
    shown_files = 0.0
    for label, get in rows:
        plain, ours = median_of("plain", get) / 1024, median_of("otel-run", get) / 1024
        if label != rows[0][0] and abs(ours - plain) < 0.1:
            shown_files += ours - plain
            continue
        print(f"  {label:44} {plain:7.2f} {ours:9.2f} {ours - plain:+7.2f}")
    print(f"  {'(the rest, each < 0.1 MiB apart)':44} {'':7} {'':9} {shown_files:+7.2f}")
    print("\npymalloc (MiB): arenas, bytes in use, free inside them")
    for name in ("plain", "otel-run"):
        stats = [report["pymalloc"] for report in reports[name]]
        arenas = common.median([s["arenas"] for s in stats])  # type: ignore[index]
        used = common.median([s["allocated_bytes"] for s in stats]) / 2**20  # type: ignore[index]
        free = common.median([s["available_bytes"] + s["unused_pool_bytes"] for s in stats]) / 2**20  # type: ignore[index]
        print(f"  {name:9} {arenas:5.0f} arenas (1 MiB each), {used:6.2f} in use, {free:5.2f} free in them")
    for name in ("plain", "otel-run"):
        trimmed = [report["trimmed_kib"] for report in reports[name] if report["trimmed_kib"] is not None]
        if trimmed:
            print(f"  malloc_trim(0) would still return: {name} {common.median(trimmed) / 1024:.2f} MiB")  # type: ignore[arg-type]

    plain_modules: list[str] = reports["plain"][0]["modules"]  # type: ignore[assignment]
    our_modules: list[str] = reports["otel-run"][0]["modules"]  # type: ignore[assignment]
    steps = module_steps(args.venv.absolute() / "bin" / "python", plain_modules, our_modules)
    print("\nthe same modules imported in a bare interpreter (MiB of RSS each step adds)")
    print(f"  {steps[0][0]:44} {steps[0][1]:7.2f} MiB  {steps[0][2]} modules")
    total = 0.0
    for name, mib, count in steps[1:]:
        total += float(mib)  # type: ignore[arg-type]
        print(f"  {name:44} {mib:+7.2f} MiB  {count} modules")
    rss_of = {name: median_of(name, lambda r: r["rss_kib"]) / 1024 for name in ("plain", "otel-run")}
    process_extra = rss_of["otel-run"] - rss_of["plain"]
    print(f"  {'otel-run modules beyond plain':44} {total:+7.2f} MiB")
    print(f"  {'the rest of the process extra (run time)':44} {process_extra - total:+7.2f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
