"""The GIL during a whole span export, part by part: how late a thread sleeping 1 ms wakes up.

    python bench/export_gil.py [--rounds 3] [--seconds 2] [--batch 512]

Runs one child under ``otel-run`` (exporting to ``bench/sink.py``). In it, real SDK spans
like the sample app's server span (13 attributes, from a ``TracerProvider`` of the child's
own, so nothing is exported behind the bench's back) are made ahead of time, batch by
batch; then one thread does one part of an export back to back for ``--seconds`` while
another sleeps 1 ms in a loop and records how late it woke (what a request thread waiting
for the GIL pays). The parts:

- ``nothing``: no export thread (the machine's own noise);
- ``encode``: otel-run's encoder as the exporter calls it (yielding every 32 spans);
- ``send``: the HTTP request of one batch's bytes (upstream's ``_OTLPHTTPClient.export``:
  ``requests``, ``urllib3``, the sink's answer);
- ``free``: dropping a batch of 512 exported spans (what the batch processor does after
  ``export`` returns: the spans' memory is freed in one go, no Python code runs);
- ``export``: the whole ``export()`` of otel-run's exporter (watch, encode, send, memtrim),
  then the batch dropped, as the batch processor does.

Prints p50 / p99 / max lateness and the share of wakes over 1 ms, medians over rounds
(parts interleaved in every round), and each part's CPU per batch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PARTS = ("nothing", "encode", "send", "free", "export")


def _make_spans(count: int) -> list[Any]:
    """``count`` finished server spans with the sample app's attributes, from a provider of our own."""
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import SpanKind

    class Keep(SpanProcessor):
        def __init__(self) -> None:
            self.spans: list[Any] = []

        def on_end(self, span: Any) -> None:
            self.spans.append(span)

    from opentelemetry import trace

    # shutdown_on_exit=False: its atexit hook would keep the provider, so every span, alive.
    provider = TracerProvider(
        resource=trace.get_tracer_provider().resource,  # type: ignore[attr-defined]
        shutdown_on_exit=False,
    )
    keep = Keep()
    provider.add_span_processor(keep)
    tracer = provider.get_tracer("opentelemetry.instrumentation.flask", "0.66b1")
    for n in range(count):
        attributes = {
            "http.method": "GET",
            "http.server_name": "127.0.0.1",
            "http.scheme": "http",
            "net.host.name": "127.0.0.1:8000",
            "http.host": "127.0.0.1:8000",
            "net.host.port": 8000,
            "http.target": "/",
            "net.peer.ip": "127.0.0.1",
            "net.peer.port": 30000 + n % 20000,
            "http.user_agent": "wrk",
            "http.flavor": "1.1",
            "http.route": "/",
        }
        with tracer.start_as_current_span("GET /", kind=SpanKind.SERVER, attributes=attributes) as span:
            span.set_attribute("http.status_code", 200)
    spans, keep.spans = keep.spans, []
    return spans


def _exporter() -> Any:
    """otel-run's span exporter (the WatchedExporter around upstream's OTLP/HTTP one)."""
    from opentelemetry import trace

    trace.get_tracer("bench")  # builds the SDK (otel-run builds on first use)
    provider: Any = trace.get_tracer_provider()
    for processor in provider._active_span_processor._span_processors:
        inner = getattr(processor, "_batch_processor", None)
        if inner is not None:
            return inner._exporter
    raise SystemExit("bench: no batch span processor in the child")


def _sleeper(stop: threading.Event, samples: list[tuple[float, float]]) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        time.sleep(0.001)
        samples.append((began, time.perf_counter()))


def _overlaps(start: float, end: float, windows: list[tuple[float, float]]) -> bool:
    return any(low < end and start < high for low, high in windows)


def _run_part(
    work: Callable[[Any], None] | None, make: Callable[[], Any], seconds: float
) -> tuple[list[float], float, int]:
    """Lateness (ms) of the sleeps that overlapped ``work``, its CPU per call (ms) and how
    many calls. The worker makes its input (``make``) outside the measured windows and rests
    5 ms between steps, so the sleeps that overlap a window are attributable to it."""
    samples: list[tuple[float, float]] = []
    windows: list[tuple[float, float]] = []
    making: list[tuple[float, float]] = []
    stop = threading.Event()
    cpu = [0.0]

    def worker() -> None:
        # As the batch processor does around export(): instrumentations (requests, urllib3)
        # leave the exporter's own HTTP requests alone.
        from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, set_value

        attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        while not stop.is_set():
            began = time.perf_counter()
            item = make()
            making.append((began, time.perf_counter()))
            time.sleep(0.005)
            began, cpu_began = time.perf_counter(), time.thread_time()
            work(item)  # type: ignore[misc]
            cpu[0] += time.thread_time() - cpu_began
            windows.append((began, time.perf_counter()))
            del item
            time.sleep(0.005)

    sleeper = threading.Thread(target=_sleeper, args=(stop, samples))
    threads = [sleeper] + ([threading.Thread(target=worker)] if work is not None else [])
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(60)
    if work is None:
        late = [(woke - began) * 1000 - 1.0 for began, woke in samples]
    else:
        late = [
            (woke - began) * 1000 - 1.0
            for began, woke in samples
            if _overlaps(began, woke, windows) and not _overlaps(began, woke, making)
        ]
    return late, cpu[0] / max(1, len(windows)) * 1000, len(windows)


def child(args: argparse.Namespace) -> None:
    """In the process under otel-run: every part, interleaved, ``--rounds`` times."""
    from opentelemetry.exporter.otlp.proto.http import trace_exporter

    from otel_run.runtime.encode import install

    exporter = _exporter()
    pool: list[list[Any]] = []

    def fresh() -> list[Any]:
        if not pool:
            spans = _make_spans(args.batch * 4)
            pool.extend(spans[i : i + args.batch] for i in range(0, len(spans), args.batch))
        return pool.pop()

    exporter.export(fresh()[:1])  # otel-run builds the exporter (and installs its encoder) now
    upstream = exporter
    while not hasattr(upstream, "_client"):  # DeferredExporter -> WatchedExporter -> upstream's
        upstream = getattr(upstream, "_inner", None)
        if upstream is None:
            raise SystemExit("bench: upstream's OTLP/HTTP span exporter not found in the child")
    encode = trace_exporter.encode_spans  # otel-run's, as upstream's export() calls it

    sample = fresh()
    payload = encode(sample).SerializePartialToString()
    works: dict[str, tuple[Callable[[Any], None] | None, Callable[[], Any]]] = {
        "nothing": (None, lambda: None),
        "encode": (lambda _: encode(sample), lambda: None),
        "send": (lambda _: upstream._client.export(payload), lambda: None),
        "free": (lambda box: box.clear(), lambda: [fresh()]),  # the list held the only reference
        "export": (lambda box: (exporter.export(box[0]), box.clear()), lambda: [fresh()]),
    }
    results: dict[str, list[tuple[float, float, float, float, float]]] = {part: [] for part in PARTS}
    counts = dict.fromkeys(PARTS, 0)
    for round_number in range(args.rounds):
        order = PARTS[round_number % len(PARTS) :] + PARTS[: round_number % len(PARTS)]
        for part in order:
            work, make = works[part]
            late, cpu_ms, calls = _run_part(work, make, args.seconds)
            counts[part] += calls
            if not late:
                continue
            late.sort()
            over = sum(1 for value in late if value > 1.0) / len(late)
            results[part].append((late[len(late) // 2], late[int(len(late) * 0.99)], late[-1], over, cpu_ms))
    print(
        f"yield every {install.YIELD_EVERY} spans; batches of {args.batch}; "
        f"{args.rounds} rounds of {args.seconds:g} s per part"
    )
    head = f"  {'part':<9} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'>1 ms':>7}"
    print(head, f"{'CPU ms/call':>12}")
    for part in PARTS:
        rows = results[part]
        if not rows:
            continue
        p50, p99, most, over, cpu = (statistics.median(column) for column in zip(*rows, strict=True))
        cpu_text = f"{cpu:12.2f}" if part != "nothing" else f"{'':>12}"
        print(
            f"  {part:<9} {counts[part]:6d} {p50:8.2f} {p99:8.2f} {most:8.2f} {100 * over:6.1f}% {cpu_text}"
        )


def main(argv: list[str] | None = None) -> int:
    """Start the sink and the child under otel-run; print the child's table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    sys.path.insert(0, str(REPO / "bench"))
    import common

    bindir = Path(sys.executable).parent
    with common.sink() as sink:
        print(f"bench: {common.machine()}; sink at {sink.url} {sink.pinned}".rstrip(), flush=True)
        extra = dict(item.partition("=")[::2] for item in args.set)
        env = common.telemetry_env(sink.url, OTEL_BSP_SCHEDULE_DELAY="600000", **extra)
        command = [str(bindir / "otel-run"), str(bindir / "python"), __file__, "--child"]
        command += ["--rounds", str(args.rounds), "--seconds", str(args.seconds), "--batch", str(args.batch)]
        timeout = args.rounds * len(PARTS) * (args.seconds + 20) + 60
        done = subprocess.run(command, env=env, cwd=str(REPO), timeout=timeout, check=False)
        print(f"load average at the end: {common.load_average()}")
    return done.returncode


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
