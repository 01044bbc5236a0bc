"""OTLP encoding: otel-run's wire encoder against upstream's, per span and per log record.

    python bench/encode.py [--batch 512] [--rounds 7] [--gil-seconds 3]

Runs one child process under ``otel-run`` (exporting to ``bench/sink.py``) that serves ``sample_app``
on a free 127.0.0.1 port, sends it ``/``, ``/items`` and ``/chain`` requests, and keeps
the spans and log records they produce: the Flask server span, the ``requests`` client
span, the sqlite3 DB span and the app's log lines. Then, in that child:

- CPU µs per span and per log record for batches of ``--batch`` items, upstream
  (``encode_spans(batch).SerializePartialToString()``) and ours interleaved, medians of
  ``--rounds``, on the sample app's items and on synthetic ones with unique values (no
  cache hits), after checking that both give the same bytes;
- the GIL: while a thread encodes batches back to back, how late a thread that sleeps
  1 ms wakes up (p50 / p99 / max), for upstream, ours, and ours yielding the GIL every
  ``--yield-every`` spans: that wait is what a request thread pays.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _capture(requests_per_route: int) -> tuple[list[Any], list[Any]]:
    """Spans and log records of the sample app, served for real on a free port."""
    import requests
    from opentelemetry import _logs, trace
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from werkzeug.serving import make_server

    spans, records = InMemorySpanExporter(), InMemoryLogRecordExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(spans))  # type: ignore[attr-defined]
    _logs.get_logger_provider().add_log_record_processor(SimpleLogRecordProcessor(records))  # type: ignore[attr-defined]
    sys.path.insert(0, str(REPO))
    from sample_app.app import app

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    os.environ["CHAIN_URL"] = base + "/"
    try:
        with requests.Session() as session:
            for _ in range(requests_per_route):
                for path in ("/", "/items", "/chain"):
                    session.get(base + path, timeout=10).raise_for_status()
    finally:
        server.shutdown()
    return list(spans.get_finished_spans()), list(records.get_finished_logs())


def _synthetic_spans(count: int) -> list[Any]:
    """Spans with 15 attributes of unique values, an event and a link each."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Link, SpanContext, SpanKind

    rng = random.Random(7)
    resource = Resource.create({"service.name": "synthetic"})  # shared, as a provider's is
    made = []
    for n in range(count):
        context = SpanContext(rng.getrandbits(128), rng.getrandbits(64), is_remote=False)
        attributes: dict[str, Any] = {f"attr.{i}": f"value-{rng.getrandbits(48):x}" for i in range(8)}
        attributes.update({f"num.{i}": rng.getrandbits(40) for i in range(4)})
        attributes.update({"ratio": rng.random(), "flag": bool(n % 2), "list": [f"x{n}", f"y{n}"]})
        made.append(
            ReadableSpan(
                name=f"operation {n}",
                context=context,
                parent=SpanContext(context.trace_id, rng.getrandbits(64), is_remote=True),
                attributes=attributes,
                events=[Event("step", {"n": n}, timestamp=time.time_ns())],
                links=[Link(SpanContext(rng.getrandbits(128), rng.getrandbits(64), is_remote=True))],
                kind=SpanKind.INTERNAL,
                resource=resource,
                start_time=time.time_ns(),
                end_time=time.time_ns() + 1000,
            )
        )
    return made


def _synthetic_logs(count: int, like: Any) -> list[Any]:
    """Log records with unique bodies and 6 attributes, on the sample app's resource."""
    from opentelemetry._logs import LogRecord, SeverityNumber
    from opentelemetry.sdk._logs import ReadableLogRecord

    rng = random.Random(8)
    return [
        ReadableLogRecord(
            log_record=LogRecord(
                timestamp=time.time_ns(),
                severity_text="INFO",
                severity_number=SeverityNumber.INFO,
                body=f"message {rng.getrandbits(64):x}",
                attributes={f"a{i}": f"v{rng.getrandbits(32):x}" for i in range(6)},
            ),
            resource=like.resource,
            instrumentation_scope=like.instrumentation_scope,
        )
        for _ in range(count)
    ]


def _batch(items: Sequence[Any], size: int) -> list[Any]:
    return [items[n % len(items)] for n in range(size)]


def _per_item_us(encode: Callable[[], Any], items: int, rounds: int) -> list[float]:
    # CPU time of this thread: far less disturbed than wall time by other load on a
    # shared machine (the encoder neither sleeps nor waits, except when yielding).
    times = []
    for _ in range(rounds):
        began = time.thread_time()
        encode()
        times.append((time.thread_time() - began) / items * 1e6)
    return times


def _compare(
    title: str, batch: list[Any], upstream: Callable[[Any], Any], ours: Callable[..., bytes], rounds: int
) -> None:
    assert ours(batch) == upstream(batch).SerializePartialToString(), f"{title}: bytes differ"
    theirs_us: list[float] = []
    ours_us: list[float] = []
    for _ in range(rounds):  # interleaved, so load on the machine hits both alike
        theirs_us += _per_item_us(lambda: upstream(batch).SerializePartialToString(), len(batch), 1)
        ours_us += _per_item_us(lambda: ours(batch), len(batch), 1)
    up, us = statistics.median(theirs_us), statistics.median(ours_us)
    print(f"  {title:<44} upstream {up:7.1f} µs   ours {us:6.1f} µs   {up / us:5.1f}x faster")


def _gil_wait(encode: Callable[[], Any] | None, seconds: float) -> tuple[float, float, float]:
    """How late (ms) a thread sleeping 1 ms wakes while ``encode`` runs back to back."""
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            encode()  # type: ignore[misc]

    worker = threading.Thread(target=work, daemon=True) if encode else None
    if worker:
        worker.start()
        time.sleep(0.05)
    late = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        time.sleep(0.001)
        late.append((time.perf_counter() - began - 0.001) * 1000)
    stop.set()
    if worker:
        worker.join(30)
    late.sort()
    return statistics.median(late), late[int(len(late) * 0.99)], late[-1]


def child(args: argparse.Namespace) -> int:
    """Capture the sample app's telemetry, then time and compare the encoders."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as upstream_logs
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as upstream_spans
    from opentelemetry.trace import SpanKind

    from otel_run.runtime.encode import encode_logs, encode_spans

    spans, records = _capture(args.requests)
    time.sleep(0.5)  # the batch processors export the captured items now, not during the timing
    server = [s for s in spans if s.kind is SpanKind.SERVER]
    client = [s for s in spans if s.kind is SpanKind.CLIENT and "db.system" not in (s.attributes or {})]
    database = [s for s in spans if "db.system" in (s.attributes or {}) and s.name == "SELECT"]
    print(f"bench: captured {len(spans)} spans and {len(records)} log records from sample_app")
    for title, group in (("server", server), ("client", client), ("db", database)):
        print(f"  {title} span {group[0].name!r}: {len(group[0].attributes or {})} attributes")
    size, rounds = args.batch, args.rounds
    print(f"\nCPU µs per item, batches of {size}, median of {rounds} interleaved rounds")
    _compare(
        "sample app: server spans (GET /, /items, /chain)",
        _batch(server, size),
        upstream_spans,
        encode_spans,
        rounds,
    )
    _compare(
        "sample app: client spans (requests)", _batch(client, size), upstream_spans, encode_spans, rounds
    )
    _compare("sample app: DB spans (sqlite3)", _batch(database, size), upstream_spans, encode_spans, rounds)
    _compare("sample app: all spans, as exported", _batch(spans, size), upstream_spans, encode_spans, rounds)
    synthetic = _synthetic_spans(size)
    _compare("synthetic: 15 unique attributes, event, link", synthetic, upstream_spans, encode_spans, rounds)
    _compare("sample app: log records", _batch(records, size), upstream_logs, encode_logs, rounds)
    _compare(
        "synthetic: log records, 6 unique attributes",
        _synthetic_logs(size, records[0]),
        upstream_logs,
        encode_logs,
        rounds,
    )

    batch = _batch(spans, size)
    print(f"\nGIL: lateness of a 1 ms sleep while another thread encodes {size}-span batches (ms)")
    print(f"  {'encoding':<32} {'p50':>6} {'p99':>6} {'max':>6}")
    cases: list[tuple[str, Callable[[], Any] | None]] = [
        ("nothing", None),
        ("upstream", lambda: upstream_spans(batch).SerializePartialToString()),
        ("ours, whole batch", lambda: encode_spans(batch)),
        (f"ours, GIL yielded every {args.yield_every}", lambda: encode_spans(batch, args.yield_every)),
    ]
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in cases}
    for _ in range(3):
        for name, encode in cases:
            results[name].append(_gil_wait(encode, args.gil_seconds / 3))
    for name, runs in results.items():
        p50, p99, worst = (statistics.median(run[i] for run in runs) for i in range(3))
        print(f"  {name:<32} {p50:6.2f} {p99:6.2f} {worst:6.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Start the child under otel-run (or be it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=512, help="items per batch (the SDK's default, 512)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds (default 7)")
    parser.add_argument("--requests", type=int, default=20, help="requests per route to capture (default 20)")
    parser.add_argument("--gil-seconds", type=float, default=3.0, help="seconds per GIL case (default 3)")
    parser.add_argument("--yield-every", type=int, default=32, help="spans between GIL releases (default 32)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    import common  # here: the child runs without bench/ on sys.path's first entry

    bindir = Path(sys.executable).parent
    print(f"bench: {common.machine()}", flush=True)
    with common.sink() as sink:
        # Exporting for real (to the sink), so that otel-run's log tap is on; batches go
        # out 100 ms after the capture, before the timing starts.
        env = common.telemetry_env(
            sink.url,
            OTEL_METRICS_EXPORTER="none",
            OTEL_TRACES_SAMPLER="always_on",
            OTEL_BSP_SCHEDULE_DELAY="100",
            OTEL_BLRP_SCHEDULE_DELAY="100",
        )
        command = [str(bindir / "otel-run"), sys.executable, __file__, "--child"]
        command += argv if argv is not None else sys.argv[1:]
        # The app's own log lines go to stderr: shown only if the child fails.
        done = subprocess.run(
            command, env=env, cwd=str(REPO), timeout=900, check=False, stderr=subprocess.PIPE, text=True
        )
        if done.returncode != 0:
            print(done.stderr[-4000:], file=sys.stderr)
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
