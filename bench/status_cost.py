"""What the live status (``otel-run status``) and the loss metrics cost: with and without, interleaved.

    python bench/status_cost.py [--rounds 5] [--duration 10] [--connections 4]

Two sides, both under otel-run, run ``gunicorn -w 2 sample_app.app:app`` under the same load as
``throughput.py`` (wrk, or its Python fallback), interleaved (with, without, with, ...):

- ``status``: the defaults: each process keeps its status file (here in a temporary
  directory) and offers its loss counts as ``otel.sdk.*`` metrics;
- ``no-status``: ``OTEL_RUN_STATUS_DIR`` names a directory that cannot exist (nothing is
  written) and ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=false`` (no loss metrics).

It prints req/s, p99 and gunicorn's CPU per request for each (medians), their ratios, and,
measured in this process, what one export hook call and one status write cost. Exporting
runs with fast batches (``OTEL_BSP_SCHEDULE_DELAY=200``, ``OTEL_BLRP_SCHEDULE_DELAY=200``,
``OTEL_METRIC_EXPORT_INTERVAL=1000``), so the status is rewritten as often as it can be
(every 2 s per process): the worst case, not the production default.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import common
import throughput

FAST = (
    ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ("OTEL_BLRP_SCHEDULE_DELAY", "200"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
)


def in_process_costs(directory: Path, calls: int = 20_000, writes: int = 500) -> tuple[float, float, float]:
    """Microseconds per export hook call (no write due), and medians of one status write and of
    the boot's part (finding the directory and the first write)."""
    from otel_run.config.settings import Settings
    from otel_run.runtime.exportwatch import Watcher
    from otel_run.runtime.status import Recorder

    settings = Settings.from_env({"OTEL_RUN_STATUS_DIR": str(directory), "OTEL_SERVICE_NAME": "bench"})
    watcher = Watcher(lambda _line: None)
    built: Any = SimpleNamespace(
        exporters={"traces": ["OTLPSpanExporter"]},
        tracer_provider=SimpleNamespace(resource=SimpleNamespace(attributes={"service.instance.id": "x"})),
        logger_provider=None,
        meter_provider=None,
    )
    boot: Any = SimpleNamespace(command=["bench"], instrumentations=None)
    starts = []
    for _ in range(50):
        fresh = Recorder(settings, watcher, built, boot, lambda _line: None)
        began = time.perf_counter()
        fresh.start()
        starts.append(time.perf_counter() - began)
        fresh.close()
    recorder = Recorder(settings, watcher, built, boot, lambda _line: None)
    recorder.start()
    recorder._last_write = time.time() + 3600  # no write falls due: the hook's own cost
    recorder._trailing = threading.Timer(3600, lambda: None)  # as if a trailing write were pending
    began = time.perf_counter()
    for _ in range(calls):
        recorder.on_export("traces", True, 512)
    hook_us = (time.perf_counter() - began) / calls * 1e6
    timings = []
    for index in range(writes):
        recorder._signals["traces"].exported += index + 1  # a change, so every call writes
        began = time.perf_counter()
        recorder._write_if_changed()
        timings.append(time.perf_counter() - began)
    write_us = common.median(timings) * 1e6
    recorder._trailing = None
    recorder.close()
    return hook_us, write_us, common.median(starts) * 1e6


def main(argv: list[str] | None = None) -> int:
    """Run the interleaved rounds and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the two sides (default 5)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per run (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--path", default="/", help="the route to load (default /)")
    parser.add_argument("--python-load", action="store_true", help="use the Python load generator")
    parser.add_argument(
        "--venv", type=Path, default=Path(sys.executable).parent.parent, help="venv with otel-run"
    )
    args = parser.parse_args(argv)
    bindir = args.venv.absolute() / "bin"
    wrk = None if args.python_load else shutil.which("wrk")
    scratch = Path(tempfile.mkdtemp(prefix="otel-run-status-bench-"))
    blocker = scratch / "a-file"
    blocker.write_text("")
    sides = [
        common.Side(
            "status",
            bindir,
            (str(bindir / "otel-run"),),
            (*FAST, ("OTEL_RUN_STATUS_DIR", str(scratch / "status"))),
        ),
        common.Side(
            "no-status",
            bindir,
            (str(bindir / "otel-run"),),
            (
                *FAST,
                ("OTEL_RUN_STATUS_DIR", str(blocker / "status")),
                ("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "false"),
            ),
        ),
    ]
    results: dict[str, list[throughput.Load]] = {side.name: [] for side in sides}
    try:
        with common.sink() as sink:
            print(f"bench: {common.machine()}; sink at {sink.url} {sink.pinned}".rstrip())
            print(
                f"bench: gunicorn -w {args.workers}, GET {args.path}, {args.connections} connections, "
                f"{args.duration:g} s per run, load from {'wrk -t1' if wrk else 'the Python load generator'}"
            )
            for round_number in range(1, args.rounds + 1):
                for side in sides:
                    load = throughput.measure(side, sink.url, args, wrk)
                    results[side.name].append(load)
                    print(
                        f"bench: round {round_number} {side.name:<9} {load.requests_per_s:8.1f} req/s  "
                        f"p99 {load.p99_ms:6.2f} ms  CPU {load.cpu_us_per_request:5.0f} µs/request",
                        file=sys.stderr,
                        flush=True,
                    )
        hook_us, write_us, start_us = in_process_costs(scratch / "micro")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rate = {name: common.median([r.requests_per_s for r in runs]) for name, runs in results.items()}
    p99 = {name: common.median([r.p99_ms for r in runs]) for name, runs in results.items()}
    cpu = {name: common.median([r.cpu_us_per_request for r in runs]) for name, runs in results.items()}
    print(f"\nlive status and loss metrics, medians of {args.rounds} interleaved runs")
    print(f"  {'side':<10} {'req/s':>9} {'p99 ms':>8} {'CPU µs/req':>11}")
    for name in results:
        print(f"  {name:<10} {rate[name]:9.1f} {p99[name]:8.2f} {cpu[name]:11.0f}")
    ratio = {name: values["status"] / values["no-status"] for name, values in (("rate", rate), ("cpu", cpu))}
    print(
        f"  status / no-status: req/s {ratio['rate']:.3f}x, CPU per request {ratio['cpu']:.3f}x, "
        f"p99 {p99['status'] / p99['no-status']:.3f}x"
    )
    print(
        f"  in process: the export hook {hook_us:.2f} µs per export; one status write {write_us:.0f} µs "
        f"(at most one per 2 s per process: {write_us / 2e4:.4f}% of one CPU); at boot {start_us:.0f} µs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
