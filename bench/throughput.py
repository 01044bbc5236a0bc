"""Throughput and latency: ``gunicorn -w 2 sample_app.app:app`` under load, three sides interleaved.

    python bench/throughput.py [--rounds 3] [--duration 10] [--connections 4] [--path /]

Each run starts gunicorn (2 sync workers) on a free 127.0.0.1 port for one side, warms it
up for ``--warmup`` seconds, then measures for ``--duration`` seconds with ``wrk`` (Debian
package ``wrk``), then ends gunicorn by its PID. Without wrk a bounded Python load generator
is used instead, and the output says so: it shares the 2 CPUs and the GIL with nothing but
itself, but it is slower than wrk, so its figures are not comparable with wrk's.

Every side exports traces, metrics and logs (100% sampling, parentbased_always_on) over
OTLP/HTTP to ``bench/sink.py``. Prints req/s, p50 and p99 latency and the CPU that
gunicorn (master and workers) used per request (medians over rounds), ratios and
PASS/FAIL per goal (``targets.py``; and no failed request); exits 1 if a goal failed.
``goals.py`` runs ``measure`` with the other figures of the goals table.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import common
import targets

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class Load:
    """One measured run."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_us_per_request: float = 0.0
    """CPU of gunicorn's master and workers per request served: other load on the
    machine disturbs it far less than req/s."""


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"cannot read a latency from {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> Load:
    """Read req/s, p50, p99 and error counts from ``wrk --latency`` output."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if rate is None or p50 is None or p99 is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    total = re.search(r"(\d+) requests in", output)
    count = int(total.group(1)) if total else 0
    return Load(float(rate.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), errors, count)


def run_wrk(wrk: str, url: str, seconds: float, connections: int) -> Load:
    """``wrk -t1`` for ``seconds`` against ``url``."""
    command = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True)
    return parse_wrk(done.stdout)


def run_python(port: int, path: str, seconds: float, connections: int) -> Load:
    """The fallback: ``connections`` threads with keep-alive connections, until ``seconds`` pass."""
    deadline = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors[index] += 1
                if response.will_close:
                    connection.close()
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                connection.close()
            latencies[index].append((time.perf_counter() - began) * 1000)
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    elapsed = time.perf_counter() - began
    every = [value for per_thread in latencies for value in per_thread]
    return Load(
        len(every) / elapsed,
        common.percentile(every, 0.5),
        common.percentile(every, 0.99),
        sum(errors),
        len(every),
    )


def measure(side: common.Side, endpoint: str, args: argparse.Namespace, wrk: str | None) -> Load:
    """Start gunicorn for ``side``, warm it up, measure it, end it by PID."""
    port = common.free_port()
    env = side.env(endpoint)
    argv = side.command(
        "gunicorn",
        "-w",
        str(args.workers),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "sample_app.app:app",
    )
    with common.app(argv, env, port) as started:
        started.wait_ready(args.path)
        url = f"http://127.0.0.1:{port}{args.path}"

        def load(seconds: float) -> Load:
            if wrk is not None:
                return run_wrk(wrk, url, seconds, args.connections)
            return run_python(port, args.path, seconds, args.connections)

        load(args.warmup)
        cpu_before = common.tree_cpu_seconds(started.pid)
        result = load(args.duration)
        cpu_used = common.tree_cpu_seconds(started.pid) - cpu_before
        if started.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited during the run:\n{started.output()}")
        return dataclasses.replace(result, cpu_us_per_request=cpu_used / max(1, result.requests) * 1e6)


def load_generator(args: argparse.Namespace) -> tuple[str | None, str]:
    """``wrk``'s path (None: the Python load generator) and a line saying which is used."""
    wrk = None if args.python_load else shutil.which("wrk")
    if wrk is not None:
        return wrk, "wrk -t1"
    if args.python_load:
        return None, "the Python load generator (--python-load; not comparable with wrk's figures)"
    return None, (
        "the Python load generator (wrk not found: apt-get install wrk; not comparable with wrk's figures)"
    )


def add_load_arguments(parser: argparse.ArgumentParser, duration: float = 10.0) -> None:
    """The options ``measure`` reads: duration, warm-up, connections, workers, path, generator."""
    parser.add_argument(
        "--duration", type=float, default=duration, help=f"seconds measured per run (default {duration:g})"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of load before measuring (default 2)"
    )
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--path", default="/", help="the route to load (default /)")
    parser.add_argument(
        "--python-load", action="store_true", help="use the Python load generator even if wrk exists"
    )


def describe(args: argparse.Namespace, generator: str) -> str:
    """One line saying how the load is made."""
    return (
        f"gunicorn -w {args.workers} (sync), GET {args.path}, {args.connections} connections, "
        f"{args.duration:g} s per run after {args.warmup:g} s warm-up, load from {generator}"
    )


def figures(load: Load) -> dict[str, float]:
    """One run's values of the goals table's figures (``targets`` keys)."""
    return {"rps": load.requests_per_s, "cpu_per_request": load.cpu_us_per_request, "p99": load.p99_ms}


def main(argv: list[str] | None = None) -> int:
    """Run the interleaved rounds, print the table and the goals."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three sides (default 3)")
    add_load_arguments(parser)
    common.add_side_arguments(parser)
    args = parser.parse_args(argv)
    sides = common.sides(args)
    wrk, generator = load_generator(args)
    results: dict[str, list[Load]] = {side.name: [] for side in sides}
    with common.sink() as sink:
        print(f"bench: {common.machine()}; sink at {sink.url} {sink.pinned}".rstrip())
        print(f"bench: {describe(args, generator)}")
        for round_number in range(1, args.rounds + 1):
            for side in sides:
                load = measure(side, sink.url, args, wrk)
                results[side.name].append(load)
                print(
                    f"bench: round {round_number} {side.name:<9} {load.requests_per_s:8.1f} req/s  "
                    f"p50 {load.p50_ms:6.2f} ms  p99 {load.p99_ms:6.2f} ms  errors {load.errors}  "
                    f"CPU {load.cpu_us_per_request:5.0f} µs/request",
                    file=sys.stderr,
                    flush=True,
                )
        received = sink.stats()

    rate = {name: common.median([r.requests_per_s for r in runs]) for name, runs in results.items()}
    p50 = {name: common.median([r.p50_ms for r in runs]) for name, runs in results.items()}
    p99 = {name: common.median([r.p99_ms for r in runs]) for name, runs in results.items()}
    errors = {name: sum(r.errors for r in runs) for name, runs in results.items()}
    cpu = {name: common.median([r.cpu_us_per_request for r in runs]) for name, runs in results.items()}
    print(f"\nthroughput, medians of {args.rounds} runs")
    print(
        f"  {'side':<9} {'req/s':>9} {'vs plain':>9} {'vs upstream':>12} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU µs/req':>11} {'capacity vs plain':>18}"
    )
    for name in common.SIDES:
        print(
            f"  {name:<9} {rate[name]:9.1f} {rate[name] / rate['plain']:8.2f}x "
            f"{rate[name] / rate['upstream']:11.2f}x {p50[name]:8.2f} {p99[name]:8.2f} {errors[name]:7d} "
            f"{cpu[name]:11.0f} {cpu['plain'] / cpu[name]:17.2f}x"
        )
    print(
        "  (capacity: plain's CPU per request / this side's, i.e. the throughput ratio if the"
        " workers were CPU-bound on an otherwise idle machine)"
    )
    print(f"\nload average at the end: {common.load_average()}")
    print(f"sink received {received['requests']} exports, {received['bytes']} bytes")
    ok = targets.verdicts({"rps": rate, "cpu_per_request": cpu, "p99": p99})
    failed = errors["otel-run"]
    print(f"  {'PASS' if not failed else 'FAIL'}  failed requests under otel-run: {failed}")
    return 0 if ok and not errors["otel-run"] else 1


if __name__ == "__main__":
    sys.exit(main())
