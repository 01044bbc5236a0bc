"""The export side's CPU per request, by part, in a gunicorn worker under wrk (no goals).

    python bench/export_cpu.py [--rounds 3] [--duration 8] [--sleeper] [--set NAME=VALUE]

``throughput.py``'s setup for the otel-run side only (gunicorn -w 2, wrk -t1 -c4, ``GET /``,
three signals over OTLP/HTTP to ``bench/sink.py``), with ``bench/export_probe`` as the
app's ``sitecustomize``: the export path's functions are timed in thread CPU, and each
worker writes its counters when asked, before and after the measured load. Prints, per
request (summed over both workers, divided by the requests wrk made): every thread's CPU,
each export stage's CPU (inclusive, and what is left of it after its callees), the batch
sizes, the encoder's cache misses, garbage collections per thread. With ``--sleeper`` a
thread in each worker sleeps 1 ms in a loop and the table shows how late it woke, by
what the batch threads were doing when it got the GIL back (the probe's own thread costs
CPU: compare CPU figures only between runs without it).

``--set`` gives the app extra environment (``PYTHONPATH`` is the probe's; put another
``sitecustomize`` in ``EXPORT_PROBE_NEXT``'s directory to chain one more). Rounds are
separate gunicorn runs; figures are medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import common
import throughput

PROBE = Path(__file__).resolve().parent / "export_probe"
# Parent -> children, for the exclusive figures; a stage's own figure is what is left of
# its CPU after its children's.
TREE = {
    "1 processor._export": ["2 watched.export", "2 memtrim.trim"],
    "2 watched.export": [
        "3 otlp.export traces",
        "3 otlp.export logs",
        "3 watch.begin_export",
        "3 watch.end_export",
        "3 memtrim.after_export",
    ],
    "3 otlp.export traces": ["4 encode", "4 http client.export"],
    "3 otlp.export logs": ["4 encode", "4 http client.export"],
    "4 http client.export": ["5 transport.request"],
    "5 transport.request": ["6 requests Session.request"],
    "6 requests Session.request": ["7 requests Session.send"],
    "7 requests Session.send": ["8 requests HTTPAdapter.send"],
    "8 requests HTTPAdapter.send": ["9 urllib3 urlopen"],
}


def _snapshot(directory: Path, name: str, pids: list[int], timeout: float = 10.0) -> dict[int, dict]:
    (directory / f"snap-{name}").touch()
    deadline = time.monotonic() + timeout
    found: dict[int, dict] = {}
    while time.monotonic() < deadline and len(found) < len(pids):
        for pid in pids:
            path = directory / f"{name}-{pid}.json"
            if pid not in found and path.exists():
                found[pid] = json.loads(path.read_text())
        time.sleep(0.02)
    if len(found) < len(pids):
        raise RuntimeError(f"workers {sorted(set(pids) - set(found))} wrote no snapshot {name}")
    return found


def _delta(before: dict, after: dict, key: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for name, values in after[key].items():
        old = before[key].get(name)
        if isinstance(values, list):
            out[name] = [v - (old[i] if old else 0) for i, v in enumerate(values)]
        else:
            out[name] = [values - (old or 0)]
    return out


def one_run(args: argparse.Namespace, sink_url: str, wrk: str | None) -> dict:
    """One gunicorn run: the deltas over the measured load, summed over workers."""
    with tempfile.TemporaryDirectory(prefix="export-cpu-") as tmp:
        directory = Path(tmp)
        bindir = args.venv.absolute() / "bin"
        extra = dict(item.partition("=")[::2] for item in args.set)
        env = common.telemetry_env(
            sink_url,
            PYTHONPATH=str(PROBE),
            EXPORT_PROBE_DIR=str(directory),
            EXPORT_PROBE_SLEEPER="1" if args.sleeper else "0",
            **extra,
        )
        port = common.free_port()
        argv = [
            str(bindir / "otel-run"),
            str(bindir / "gunicorn"),
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "sample_app.app:app",
        ]
        url = f"http://127.0.0.1:{port}{args.path}"

        def load(seconds: float) -> throughput.Load:
            if wrk is not None:
                return throughput.run_wrk(wrk, url, seconds, args.connections)
            return throughput.run_python(port, args.path, seconds, args.connections)

        with common.app(argv, env, port) as started:
            started.wait_ready(args.path)
            load(args.warmup)
            workers = [pid for pid in common.descendants(started.pid) if pid != started.pid]
            before = _snapshot(directory, "a", workers)
            tree_before = common.tree_cpu_seconds(started.pid)
            measured = load(args.duration)
            tree_used = common.tree_cpu_seconds(started.pid) - tree_before
            after = _snapshot(directory, "b", workers)
            if started.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited during the run:\n{started.output()}")
    sums: dict[str, dict[str, list[int]]] = {"threads": {}, "counters": {}, "gc": {}, "late": {}}
    for pid in workers:
        for key, into_key in sums.items():
            for name, values in _delta(before[pid], after[pid], key).items():
                into = into_key.setdefault(name, [0] * len(values))
                for index, value in enumerate(values):
                    into[index] += value
    worker_cpu = sum(after[pid]["process_cpu_ns"] - before[pid]["process_cpu_ns"] for pid in workers)
    return {
        "requests": measured.requests,
        "rps": measured.requests_per_s,
        "p99_ms": measured.p99_ms,
        "errors": measured.errors,
        "probe_dir": str(directory),
        "tree_cpu_us": tree_used * 1e6,
        "worker_cpu_ns": worker_cpu,
        "edges": before[workers[0]]["late_edges_us"],
        **sums,
    }


def _print_run(run: dict) -> None:
    requests = max(1, run["requests"])

    def per(ns: float) -> float:
        return ns / 1000 / requests

    print(
        f"  {run['requests']} requests, {run['rps']:.0f} req/s, p99 {run['p99_ms']:.2f} ms, "
        f"CPU (master + workers) {run['tree_cpu_us'] / requests:.0f} µs/request, "
        f"workers {per(run['worker_cpu_ns']):.0f}"
    )
    print("  threads, CPU µs/request:")
    for name, (ns,) in sorted(run["threads"].items(), key=lambda item: -item[1][0]):
        print(f"    {name:<40} {per(ns):8.1f}")
    counters = run["counters"]
    print("  export stages: calls, items/call, CPU µs/request inclusive, own (minus callees), wall µs/call")
    for name in sorted(counters):
        calls, cpu, wall, items = (counters[name] + [0, 0, 0, 0])[:4]
        if not calls:
            continue
        if len(counters[name]) < 4 or (cpu == 0 and wall == 0):
            print(f"    {name:<40} {calls:8d}  ({calls / requests:.2f} per request)")
            continue
        stage, _, thread = name.partition(" @")
        children = sum(counters.get(f"{child} @{thread}", [0, 0])[1] for child in TREE.get(stage, []))
        per_call = f"{items / calls:6.0f}" if items else "      "
        print(
            f"    {name:<40} {calls:6d} {per_call} {per(cpu):8.1f} {per(cpu - children):8.1f} "
            f"{wall / calls / 1000:9.0f}"
        )
    if run["gc"]:
        print("  garbage collections: count, ms total, ms max, µs/request")
        for name, (count, ns, longest) in sorted(run["gc"].items()):
            print(f"    {name:<40} {count:6d} {ns / 1e6:8.1f} {longest / 1e6:7.2f} {per(ns):7.1f}")
    if run["late"]:
        edges = run["edges"]
        labels = [f"<{edge / 1000:g}ms" if edge < 1 << 60 else "more" for edge in edges]
        print("  1 ms sleeper, lateness by what the batch threads were in:")
        print(f"    {'phase':<40} {'wakes':>7} " + " ".join(f"{label:>7}" for label in labels))
        for name, buckets in sorted(run["late"].items()):
            total = sum(buckets)
            if not total:
                continue
            shares = " ".join(f"{100 * count / total:6.1f}%" for count in buckets)
            print(f"    {name:<40} {total:7d} {shares}")


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print each one's table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sleeper", action="store_true", help="also run the 1 ms sleeper")
    parser.add_argument("--json", type=Path, help="write every round's figures here")
    throughput.add_load_arguments(parser, duration=8.0)
    parser.add_argument("--venv", type=Path, default=Path(sys.executable).parent.parent)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    wrk, generator = throughput.load_generator(args)
    runs = []
    with common.sink() as sink:
        print(f"bench: {common.machine()}; sink at {sink.url} {sink.pinned}".rstrip())
        print(f"bench: {throughput.describe(args, generator)}; otel-run side only, probe loaded")
        for number in range(1, args.rounds + 1):
            run = one_run(args, sink.url, wrk)
            runs.append(run)
            print(f"\nround {number} (load average {common.load_average()}):")
            _print_run(run)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
