"""``bench/export_cpu.py``'s probe, loaded into the app as its ``sitecustomize``.

otel-run chains to it. It wraps the export path's functions with thread-CPU counters
(``time.thread_time_ns``; inclusive: a caller's figure contains its callees'), counts the
encoder's cache misses, times garbage collections per thread, and, when
``$EXPORT_PROBE_DIR/snap-NAME`` appears, writes ``$EXPORT_PROBE_DIR/NAME-PID.json``: the
counters, every thread's CPU (``pthread_getcpuclockid``) by thread name, and, with
``EXPORT_PROBE_SLEEPER=1``, how late a thread sleeping 1 ms woke up, split by what the
batch threads were doing when it got the GIL back.

Wrapped once per export or per HTTP request, never per item (the cache counters count
misses only), so the probe adds a few µs per export.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from typing import Any

_DIR = os.environ.get("EXPORT_PROBE_DIR", "")
_SLEEPER = os.environ.get("EXPORT_PROBE_SLEEPER") == "1"
_thread_ns = time.thread_time_ns
_perf_ns = time.perf_counter_ns

counters: dict[str, list[int]] = {}
"""category -> [calls, thread CPU ns, wall ns, items]"""
_phase = threading.local()
# What the batch threads are in, for the sleeper: thread name -> innermost category.
current: dict[str, str] = {}
_LATE_EDGES_US = (100, 250, 500, 1000, 2000, 3000, 5000, 10000, 1 << 62)
late: dict[str, list[int]] = {}
"""phase -> counts of sleeper lateness per bucket of _LATE_EDGES_US"""
gc_ns: dict[str, list[int]] = {}


_SHORT = {"OtelBatchSpanRecordProcessor": "spans", "OtelBatchLogRecordProcessor": "logs"}


def _wrap(owner: object, name: str, category: str, items: bool = False) -> None:
    original = getattr(owner, name)

    def wrapped(*args: object, **kwargs: object) -> object:
        thread = threading.current_thread().name
        outer = current.get(thread, "")
        current[thread] = category
        cpu, wall = _thread_ns(), _perf_ns()
        try:
            return original(*args, **kwargs)
        finally:
            cpu, wall = _thread_ns() - cpu, _perf_ns() - wall
            key = f"{category} @{_SHORT.get(thread, thread)}"
            entry = counters.get(key)
            if entry is None:
                entry = counters[key] = [0, 0, 0, 0]
            entry[0] += 1
            entry[1] += cpu
            entry[2] += wall
            if items:
                try:
                    entry[3] += len(args[-1])  # type: ignore[arg-type]
                except TypeError:
                    pass
            current[thread] = outer

    wrapped.__name__ = getattr(original, "__name__", name)
    setattr(owner, name, wrapped)


def _hot(owner: object, name: str, raw: Any) -> None:
    """Every 4th call, encode the same batch twice more, at once, without yielding: the
    encoder on data it has just read (caches warm), for comparison."""
    original = getattr(owner, name)
    calls = [0]

    def hot(batch: object, yield_every: int = 0) -> object:
        result = original(batch, yield_every)
        calls[0] += 1
        if calls[0] % 4 == 0:
            thread = _SHORT.get(threading.current_thread().name, "?")
            for label in ("hot re-encode 1", "hot re-encode 2"):
                cpu = _thread_ns()
                raw(batch, 0)
                entry = counters.setdefault(f"{label} @{thread}", [0, 0, 0, 0])
                entry[0] += 1
                entry[1] += _thread_ns() - cpu
                entry[3] += len(batch)  # type: ignore[arg-type]
        return result

    setattr(owner, name, hot)


def _count(owner: object, name: str, category: str) -> None:
    original = getattr(owner, name)

    def counted(*args: object, **kwargs: object) -> object:
        entry = counters.get(category)
        if entry is None:
            entry = counters[category] = [0, 0, 0, 0]
        entry[0] += 1
        return original(*args, **kwargs)

    setattr(owner, name, counted)


def _install() -> None:
    from opentelemetry.exporter.http.transport import _requests as transport
    from opentelemetry.exporter.otlp.common import http as otlp_http
    from opentelemetry.exporter.otlp.proto.http import _log_exporter, trace_exporter
    from opentelemetry.sdk import _shared_internal as shared
    from requests import adapters, sessions
    from urllib3 import connectionpool

    from otel_run.runtime import exportwatch, memtrim, watched
    from otel_run.runtime.encode import install, wire

    _wrap(shared.BatchProcessor, "_export", "1 processor._export")
    _wrap(watched.WatchedExporter, "export", "2 watched.export", items=True)
    _wrap(trace_exporter.OTLPSpanExporter, "export", "3 otlp.export traces", items=True)
    _wrap(_log_exporter.OTLPLogExporter, "export", "3 otlp.export logs", items=True)
    if os.environ.get("EXPORT_PROBE_YIELD"):
        install.YIELD_EVERY = int(os.environ["EXPORT_PROBE_YIELD"])
    raw = {"encode_spans": install.encode_spans, "encode_logs": install.encode_logs}
    _wrap(install, "encode_spans", "4 encode")
    _wrap(install, "encode_logs", "4 encode")
    if os.environ.get("EXPORT_PROBE_HOT") == "1":
        for name, function in raw.items():
            _hot(install, name, function)
    _wrap(otlp_http._OTLPHTTPClient, "export", "4 http client.export")
    _wrap(transport.RequestsHTTPTransport, "request", "5 transport.request")
    _wrap(sessions.Session, "request", "6 requests Session.request")
    _wrap(sessions.Session, "send", "7 requests Session.send")
    _wrap(adapters.HTTPAdapter, "send", "8 requests HTTPAdapter.send")
    _wrap(connectionpool.HTTPConnectionPool, "urlopen", "9 urllib3 urlopen")
    _wrap(exportwatch.Watcher, "begin_export", "3 watch.begin_export")
    _wrap(exportwatch.Watcher, "end_export", "3 watch.end_export")
    _wrap(memtrim, "after_export", "3 memtrim.after_export")
    _wrap(memtrim, "trim", "2 memtrim.trim")
    _count(wire, "_remember", "cache miss (cached after)")
    _count(wire, "_entry", "KeyValue encoded (miss or uncached)")


def _on_gc(phase: str, info: dict[str, int]) -> None:
    thread = threading.current_thread().name
    if phase == "start":
        _phase.gc = _perf_ns()
        return
    began = getattr(_phase, "gc", 0)
    if began:
        entry = gc_ns.setdefault(f"{thread} gen{info.get('generation')}", [0, 0, 0])
        took = _perf_ns() - began
        entry[0] += 1
        entry[1] += took
        entry[2] = max(entry[2], took)


def _threads() -> dict[str, int]:
    out: dict[str, int] = {}
    for thread in threading.enumerate():
        try:
            clock = time.pthread_getcpuclockid(thread.ident or 0)
            ns = time.clock_gettime_ns(clock)
        except (OSError, OverflowError):
            continue
        name = thread.name
        out[name] = out.get(name, 0) + ns
    return out


def _process_cpu_ns() -> int:
    return time.process_time_ns()


def _snapshot(name: str) -> None:
    data = {
        "pid": os.getpid(),
        "process_cpu_ns": _process_cpu_ns(),
        "threads": _threads(),
        "counters": {key: list(value) for key, value in counters.items()},
        "gc": {key: list(value) for key, value in gc_ns.items()},
        "late": {key: list(value) for key, value in late.items()},
        "late_edges_us": list(_LATE_EDGES_US),
    }
    path = os.path.join(_DIR, f"{name}-{os.getpid()}.json")
    with open(path + ".tmp", "w") as out:
        json.dump(data, out)
    os.replace(path + ".tmp", path)


def _poll() -> None:
    seen: set[str] = set()
    while True:
        time.sleep(0.25)
        try:
            names = [entry[5:] for entry in os.listdir(_DIR) if entry.startswith("snap-")]
        except OSError:
            continue
        for name in names:
            if name not in seen:
                seen.add(name)
                _snapshot(name)


def _sleeper() -> None:
    while True:
        began = _perf_ns()
        time.sleep(0.001)
        lateness_us = (_perf_ns() - began) // 1000 - 1000
        busy = sorted({phase for thread, phase in current.items() if phase and thread != "probe-sleeper"})
        phase = " + ".join(busy) if busy else "(no export running)"
        buckets = late.get(phase)
        if buckets is None:
            buckets = late[phase] = [0] * len(_LATE_EDGES_US)
        for index, edge in enumerate(_LATE_EDGES_US):
            if lateness_us < edge:
                buckets[index] += 1
                break


def _start_threads() -> None:
    counters.clear()
    current.clear()
    late.clear()
    gc_ns.clear()
    threading.Thread(target=_poll, name="probe-poll", daemon=True).start()
    if _SLEEPER:
        threading.Thread(target=_sleeper, name="probe-sleeper", daemon=True).start()


if _DIR:
    _install()
    gc.callbacks.append(_on_gc)
    os.register_at_fork(after_in_child=_start_threads)
