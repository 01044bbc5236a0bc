"""Human-readable console output: traces as indented trees; logs and metrics summarised.

Formatting is pure (``format_trace``, ``format_log``, ``format_metrics``,
``format_summary``); the ``ConsoleRenderer`` only buffers and decides when to print.
By default logs and metrics are counted into one compact summary per quiet spell, so
the trees stay readable; ``show_logs`` / ``show_metrics`` print each one instead.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TextIO

from .model import ReceivedLog, ReceivedMetric, ReceivedSpan
from .store import Export

INDENT = "  "
DEFAULT_SETTLE = 1.5
# Remember this many printed trace ids, so late spans are marked as a continuation.
_PRINTED_MEMORY = 10_000


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters escaped: telemetry is untrusted input, and an
    escape sequence in a span name or log body must not drive the reader's terminal."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _order_key(span: ReceivedSpan) -> tuple[int, str]:
    return (span.start_time_unix_nano, span.span_id)


def format_span(span: ReceivedSpan, depth: int, missing_parent: str = "") -> str:
    """One tree line: service, name, kind, duration, and status unless UNSET.

    ``missing_parent`` (hex) marks an orphan whose parent span never arrived.
    """
    parts = [span.service, span.name or "(unnamed)"]
    if span.kind != "UNSPECIFIED":
        parts.append(span.kind)
    parts.append(f"{span.duration_ms:.1f} ms")
    if span.status_code == "ERROR":
        parts.append(f"ERROR: {span.status_message}" if span.status_message else "ERROR")
    elif span.status_code != "UNSET":
        parts.append(span.status_code)
    if missing_parent:
        parts.append(f"[orphan: parent {missing_parent} not received]")
    return INDENT * depth + "  ".join(parts)


def format_trace(trace_id: str, spans: Sequence[ReceivedSpan], continued: bool = False) -> list[str]:
    """Render one trace as a header line and an indented tree of its spans.

    Roots and siblings are ordered by start time (then span id). A span whose
    parent is not among ``spans`` is shown at top level, marked as an orphan; a
    parent cycle cannot hang the renderer (those spans also print as orphans).
    """
    by_id: dict[str, ReceivedSpan] = {}
    for span in spans:
        by_id.setdefault(span.span_id, span)
    children: dict[str, list[ReceivedSpan]] = {}
    tops: list[ReceivedSpan] = []
    for span in spans:
        parent = span.parent_span_id
        if parent and parent in by_id and parent != span.span_id:
            children.setdefault(parent, []).append(span)
        else:
            tops.append(span)

    services = {span.service for span in spans}
    noun = "span" if len(spans) == 1 else "spans"
    service_noun = "service" if len(services) == 1 else "services"
    suffix = ", continued" if continued else ""
    lines = [f"trace {trace_id}  ({len(spans)} {noun}, {len(services)} {service_noun}{suffix})"]
    printed: set[int] = set()

    def walk(top: ReceivedSpan, missing_parent: str) -> None:
        # An explicit stack: a pathological chain of spans must not hit the recursion limit.
        stack = [(top, 1, missing_parent)]
        while stack:
            span, depth, missing = stack.pop()
            if id(span) in printed:
                continue
            printed.add(id(span))
            lines.append(format_span(span, depth, missing))
            kids = sorted(children.get(span.span_id, ()), key=_order_key)
            stack.extend((child, depth + 1, "") for child in reversed(kids))

    for span in sorted(tops, key=_order_key):
        walk(span, "" if span.parent_span_id in ("", span.span_id) else span.parent_span_id)
    # Whatever is left sits on a parent cycle: show it rather than drop it.
    for span in sorted(spans, key=_order_key):
        if id(span) not in printed:
            walk(span, span.parent_span_id)
    return lines


def format_log(log: ReceivedLog) -> str:
    """One line per log record; newlines in the body are escaped to keep it one line."""
    body = log.body.replace("\r", "\\r").replace("\n", "\\n")
    line = f"log  {log.service}  {log.severity or '-'}  {body}"
    if log.trace_id:
        line += f"  trace={log.trace_id[:8]}"
    return line


def format_metrics(metrics: Sequence[ReceivedMetric]) -> list[str]:
    """One summary line per service in an export: how many metrics and their names."""
    names: dict[str, list[str]] = {}
    for metric in metrics:
        service_names = names.setdefault(metric.service, [])
        if metric.name not in service_names:
            service_names.append(metric.name)
    lines = []
    for service, metric_names in names.items():
        noun = "metric" if len(metric_names) == 1 else "metrics"
        lines.append(f"metrics  {service}  {len(metric_names)} {noun}: {', '.join(metric_names)}")
    return lines


def format_summary(log_counts: dict[str, int], metric_names: dict[str, set[str]]) -> list[str]:
    """The compact lines that stand for the logs and metrics received since the last ones."""
    lines = []
    if log_counts:
        total = sum(log_counts.values())
        per_service = ", ".join(f"{service} {count}" for service, count in sorted(log_counts.items()))
        noun = "record" if total == 1 else "records"
        lines.append(f"logs     {total} {noun} ({per_service}); --logs prints each")
    if metric_names:
        names = len(set().union(*metric_names.values()))
        services = len(metric_names)
        lines.append(
            f"metrics  {names} {'name' if names == 1 else 'names'} from {services} "
            f"{'service' if services == 1 else 'services'} ({', '.join(sorted(metric_names))}); "
            "--metrics prints each export"
        )
    return lines


class _Pending:
    __slots__ = ("last_seen", "spans")

    def __init__(self, now: float) -> None:
        self.spans: list[ReceivedSpan] = []
        self.last_seen = now


class ConsoleRenderer:
    """Prints what a ``Store`` receives to ``out``; register ``on_export`` as a store listener.

    Spans are buffered per trace id and a trace prints once no span of it has arrived
    for ``settle`` seconds: call ``flush_settled`` periodically, and ``flush_all`` at
    the end. Logs and metrics are counted and summarised once they too have been quiet
    for ``settle`` seconds, or printed at once with ``show_logs`` / ``show_metrics``.
    Safe to call from several threads; each write is flushed.
    """

    def __init__(
        self,
        out: TextIO,
        settle: float = DEFAULT_SETTLE,
        clock: Callable[[], float] = time.monotonic,
        *,
        show_logs: bool = False,
        show_metrics: bool = False,
    ) -> None:
        self._out = out
        self._settle = settle
        self._clock = clock
        self._show_logs = show_logs
        self._show_metrics = show_metrics
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._printed: OrderedDict[str, None] = OrderedDict()
        self._log_counts: dict[str, int] = {}
        self._metric_names: dict[str, set[str]] = {}
        self._counted_at = 0.0

    def on_export(self, export: Export) -> None:
        """Buffer the export's spans; print its logs and metrics now, or count them."""
        lines = [format_log(log) for log in export.logs] if self._show_logs else []
        if self._show_metrics:
            lines += format_metrics(export.metrics)
        with self._lock:
            now = self._clock()
            if export.logs and not self._show_logs:
                for log in export.logs:
                    self._log_counts[log.service] = self._log_counts.get(log.service, 0) + 1
                self._counted_at = now
            if export.metrics and not self._show_metrics:
                for metric in export.metrics:
                    self._metric_names.setdefault(metric.service, set()).add(metric.name)
                self._counted_at = now
            for span in export.spans:
                pending = self._pending.get(span.trace_id)
                if pending is None:
                    pending = self._pending[span.trace_id] = _Pending(now)
                pending.spans.append(span)
                pending.last_seen = now
            self._write(lines)

    def flush_settled(self) -> int:
        """Print every trace quiet for at least ``settle`` seconds; return how many printed."""
        with self._lock:
            now = self._clock()
            ready = [tid for tid, p in self._pending.items() if now - p.last_seen >= self._settle]
            printed = self._print_traces(ready)
            if now - self._counted_at >= self._settle:
                self._print_summary()
            return printed

    def flush_all(self) -> int:
        """Print every buffered trace regardless of age, then the summary; return how many printed."""
        with self._lock:
            printed = self._print_traces(list(self._pending))
            self._print_summary()
            return printed

    def _print_summary(self) -> None:
        self._write(format_summary(self._log_counts, self._metric_names))
        self._log_counts, self._metric_names = {}, {}

    def _print_traces(self, trace_ids: list[str]) -> int:
        for trace_id in trace_ids:
            pending = self._pending.pop(trace_id)
            continued = trace_id in self._printed
            self._write(format_trace(trace_id or "(no trace id)", pending.spans, continued))
            self._remember(trace_id)
        return len(trace_ids)

    def _remember(self, trace_id: str) -> None:
        self._printed[trace_id] = None
        self._printed.move_to_end(trace_id)
        while len(self._printed) > _PRINTED_MEMORY:
            self._printed.popitem(last=False)

    def _write(self, lines: list[str]) -> None:
        if not lines:
            return
        self._out.write("".join(printable(line) + "\n" for line in lines))
        self._out.flush()
