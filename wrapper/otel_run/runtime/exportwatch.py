"""Export trouble, told once: the first failure or overflow, a summary a minute, the recovery, the exit.

Upstream exporters log three lines per failed batch and the batch processor one line
per dropped item, so a collector outage floods stderr. We take those records over and
count every lost item where it is lost (``dropcount``): in a full queue, in a failed
export, or at exit. People see one line when trouble starts (the URL, the reason and
the fix), at most one summary a minute while it lasts, one line when exports work
again, and one line per signal that lost items at exit.

The reason for a failed OTLP/HTTP export comes from the request itself (``httpwatch``:
status, ``Retry-After``, proxy, refused); upstream's messages are the fallback (gRPC).
Lines are written from the export threads, never from the app's request threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from otel_run.runtime import grpcwatch
from otel_run.runtime.dropcount import SignalCounts, queue_size_variable, queued
from otel_run.runtime.exportreason import (
    GENERIC,
    VAGUE,
    Destination,
    best_reason,
    hint,
    probe_connect,
    summarize_reason,
)
from otel_run.runtime.httpwatch import Attempt
from otel_run.runtime.watched import (
    UPSTREAM_LOGGERS,
    WatchedExporter,
    capture_upstream_logs,
    count_items,
    destination_for,
    export_result,
)

__all__ = [
    "UPSTREAM_LOGGERS",
    "Destination",
    "SignalCounts",
    "WatchedExporter",
    "Watcher",
    "best_reason",
    "capture_upstream_logs",
    "count_items",
    "destination_for",
    "export_result",
    "hint",
    "probe_connect",
    "summarize_reason",
]

Note = Callable[[str], None]
SUMMARY_INTERVAL_S = 60.0
ITEM_NAMES = {"traces": "spans", "metrics": "metric points", "logs": "log records"}
_ONE = {"traces": "span", "metrics": "metric point", "logs": "log record"}


def items(signal: str, count: int) -> str:
    """``1 span``, ``2,049 spans``, ``3 log records``."""
    name = _ONE.get(signal, "item") if count == 1 else ITEM_NAMES.get(signal, "items")
    return f"{count:,} {name}"


_EXPORTING_TO_SIGNAL = {
    "span": "traces",
    "spans": "traces",
    "log": "logs",
    "logrecord": "logs",
    "logs": "logs",
}


@dataclass
class _Trouble:
    since: float
    reason: str


class _Signal:
    """What the watcher knows of one signal besides its counts."""

    def __init__(self, now: float) -> None:
        self.failing: _Trouble | None = None
        self.told_overflow = False
        self.last_summary = now
        self.dropped_at_summary = 0
        self.last_duration_s = 0.0
        self.in_flight = 0
        self.processors: list[object] = []
        self.queue_limit: int | None = None


class Watcher:
    """Counts and reports export trouble for the process's exporters."""

    def __init__(
        self,
        note: Note,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = SUMMARY_INTERVAL_S,
    ) -> None:
        self.note = note
        self.clock = clock
        self.interval_s = interval_s
        self.counts: dict[str, SignalCounts] = {}
        """Per signal: items exported and lost, by cause. Read it with ``snapshot()``."""
        self.destinations: dict[str, Destination] = {}
        self._signals: dict[str, _Signal] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self.muted = False
        """True in a process whose telemetry another process re-creates (a reloader's watcher)."""
        self.exiting = False
        """True once the final flush has begun (``begin_exit``): a refused connection ends an
        export at once."""
        self._unavailable: dict[int, tuple[object, str]] = {}
        """gRPC exporters whose export in progress failed to connect (``grpcwatch``)."""
        self.last_reason: str | None = None
        """The latest reason an export failed, from any signal."""
        self.on_export: Callable[[str, bool, int], None] | None = None
        """Told ``(signal, ok, items)`` after each export, on the exporting thread (``status``)."""
        self._counted_at_source: set[str] = set()

    def after_fork(self) -> None:
        """In a forked child: fresh lock, no inherited trouble or counts (they were the parent's)."""
        self._lock = threading.Lock()
        self._local = threading.local()
        kept = {name: (state.processors, state.queue_limit) for name, state in self._signals.items()}
        self._signals = {}
        for name, (processors, limit) in kept.items():
            state = self._state(name)
            state.processors, state.queue_limit = processors, limit
        self.counts = {}
        self.exiting = False
        self._unavailable = {}
        self.last_reason = None

    # -- the public read ---------------------------------------------------------------

    def snapshot(self) -> dict[str, SignalCounts]:
        """A copy of the counts per signal (traces, metrics, logs): exported, queue_full,
        export_failed, lost_at_exit and their sum ``dropped``."""
        with self._lock:
            return {name: counts.copy() for name, counts in self.counts.items()}

    # -- what processors, exporters and the log capture tell us ---------------------------

    def watch_processor(self, signal: str, processor: object, queue_limit: int | None) -> None:
        """Count every item ``processor`` (a span or log record batch processor) drops."""
        from otel_run.runtime.dropcount import count_drops

        state = self._state(signal)
        state.processors.append(processor)
        state.queue_limit = queue_limit
        if count_drops(processor, lambda reason, count: self.dropped(signal, reason, count)):
            self._counted_at_source.add(signal)

    def dropped(self, signal: str, reason: str, count: int = 1) -> None:
        """``count`` items of ``signal`` were lost for ``reason`` (on any thread, the app's too:
        this only counts; lines are written by the export thread)."""
        with self._lock:
            counts = self.counts.setdefault(signal, SignalCounts())
            setattr(counts, reason, getattr(counts, reason) + count)

    def begin_export(self, signal: str = "", items: int = 0, exporter: object = None) -> None:
        """An export of ``items`` by ``exporter`` starts on this thread: collect upstream's
        messages as its reason."""
        self._local.messages = []
        self._local.attempt = None
        self._local.exporter = exporter
        if signal:
            self._state(signal).in_flight = items

    def begin_exit(self) -> None:
        """The final flush begins: an export already retrying a refused connection stops now."""
        self.exiting = True
        for exporter, message in list(self._unavailable.values()):
            if grpcwatch.refused(message, exporter):
                grpcwatch.stop_retries(exporter)

    def http_attempt(self, attempt: Attempt) -> None:
        """One HTTP request of the export running on this thread got ``attempt``."""
        self._local.attempt = attempt

    def end_export(self, signal: str, ok: bool, items: int, duration_s: float = 0.0) -> None:
        """An export finished (``ok`` or not) with ``items`` items after ``duration_s``."""
        messages: list[str] = getattr(self._local, "messages", None) or []
        attempt: Attempt | None = getattr(self._local, "attempt", None)
        self._local.messages = None
        self._unavailable.pop(id(getattr(self._local, "exporter", None)), None)
        state = self._state(signal)
        state.in_flight = 0
        state.last_duration_s = duration_s
        if ok:
            with self._lock:
                self.counts.setdefault(signal, SignalCounts()).exported += items
            self._recovered(signal)
        else:
            reason = attempt.reason if attempt is not None and not attempt.ok else best_reason(messages)
            self._failed(signal, items, reason)
        self._tell(signal)
        listener = self.on_export
        if listener is not None:
            try:
                listener(signal, ok, items)
            except Exception:  # noqa: BLE001 - the status must never break exporting
                pass

    def failure(self, signal: str) -> str | None:
        """Why ``signal``'s exports are failing now, or None when its last export succeeded."""
        state = self._signals.get(signal)
        trouble = state.failing if state is not None else None
        return None if trouble is None else trouble.reason

    def upstream_message(self, record: logging.LogRecord) -> None:
        """A record from an upstream exporter or batch processor."""
        message = record.getMessage()
        if message.startswith("Queue full, dropping"):
            exporting = str(record.args[0] if isinstance(record.args, tuple) and record.args else "")
            signal = _EXPORTING_TO_SIGNAL.get(exporting.lower().replace(" ", ""), "traces")
            if signal not in self._counted_at_source:  # an SDK without the drop hook
                self.dropped(signal, "queue_full")
            return
        if not message.startswith(GENERIC) or "code:" in message:
            self.last_reason = summarize_reason(message)
        messages = getattr(self._local, "messages", None)
        if messages is not None:
            messages.append(message)
            exporter = getattr(self._local, "exporter", None)
            if grpcwatch.unavailable(message) and exporter is not None:
                if self.exiting and grpcwatch.refused(message, exporter):
                    grpcwatch.stop_retries(exporter)
                elif not self.exiting:
                    self._unavailable[id(exporter)] = (exporter, message)  # see begin_exit
        elif record.levelno >= logging.WARNING:
            self.note(f"{record.name}: {summarize_reason(message)}")

    # -- state changes ---------------------------------------------------------------

    def _state(self, signal: str) -> _Signal:
        state = self._signals.get(signal)
        if state is None:
            state = self._signals[signal] = _Signal(self.clock())
        return state

    def _destination(self, signal: str) -> Destination:
        return self.destinations.get(signal) or Destination(signal, "?", "OTEL_EXPORTER_OTLP_ENDPOINT", "?")

    def _failed(self, signal: str, items: int, reason: str) -> None:
        state = self._state(signal)
        if reason in VAGUE and state.failing is None:
            probed = probe_connect(self._destination(signal).url)
            if probed is not None:
                reason = probed
        self.last_reason = reason
        self.dropped(signal, "export_failed", items)
        if state.failing is not None:
            if reason not in VAGUE or state.failing.reason in VAGUE:
                # A vague "timed out, retries exhausted" does not replace a cause we know.
                state.failing.reason = reason
            return
        state.failing = _Trouble(since=self.clock(), reason=reason)
        destination = self._destination(signal)
        self.note(
            f"cannot export {signal} to {destination.url}: {reason}; {hint(destination, reason)}. "
            f"Dropping {ITEM_NAMES.get(signal, 'items')} until it recovers (summary at most once a minute)"
        )

    def _recovered(self, signal: str) -> None:
        state = self._state(signal)
        trouble, state.failing = state.failing, None
        if trouble is not None:
            counts = self.counts.get(signal, SignalCounts())
            self.note(
                f"exporting {signal} to {self._destination(signal).url} again after "
                f"{self.clock() - trouble.since:.0f} s; {items(signal, counts.dropped)} "
                f"{'was' if counts.dropped == 1 else 'were'} dropped while it failed"
            )

    def _tell(self, signal: str) -> None:
        """From the export thread: the first overflow line, and the summary once a minute."""
        state = self._state(signal)
        counts = self.counts.get(signal, SignalCounts())
        kind = ITEM_NAMES.get(signal, "items")
        if counts.queue_full and not state.told_overflow and state.failing is None:
            state.told_overflow = True
            state.last_summary, state.dropped_at_summary = self.clock(), counts.dropped
            limit = f"={state.queue_limit}" if state.queue_limit else ""
            self.note(
                f"the {signal} queue is full ({queue_size_variable(signal)}{limit}): "
                f"{self._destination(signal).url} takes {kind} more slowly than the app makes them "
                f"(the last export took {state.last_duration_s:.1f} s); dropping {kind} "
                "(summary at most once a minute)"
            )
        now = self.clock()
        if now - state.last_summary < self.interval_s or counts.dropped == state.dropped_at_summary:
            return
        elapsed = now - state.last_summary
        new = counts.dropped - state.dropped_at_summary
        state.last_summary, state.dropped_at_summary = now, counts.dropped
        if state.failing is not None:
            self.note(
                f"still cannot export {signal} to {self._destination(signal).url} after "
                f"{now - state.failing.since:.0f} s ({state.failing.reason}); "
                f"{items(signal, counts.dropped)} dropped so far ({counts.breakdown()})"
            )
        else:
            self.note(
                f"{signal}: {items(signal, new)} dropped in the last {elapsed:.0f} s; "
                f"{counts.dropped:,} so far ({counts.breakdown()})"
            )

    # -- at exit -----------------------------------------------------------------------

    def count_lost_at_exit(self) -> None:
        """After the final flush: what is still queued or in flight is lost."""
        for signal, state in list(self._signals.items()):
            left = state.in_flight + sum(queued(processor) for processor in state.processors)
            state.in_flight = 0
            if left:
                self.dropped(signal, "lost_at_exit", left)

    def stuck_hint(self) -> str:
        """Why a flush may not have finished: the latest complaint and its fix, or ''."""
        if self.last_reason is None:
            return ""
        failing = [name for name, state in self._signals.items() if state.failing is not None]
        destination = self.destinations.get(failing[0] if failing else "traces")
        destination = destination or next(iter(self.destinations.values()), None)
        if destination is None:
            return f"; last error: {self.last_reason}"
        fix = hint(destination, self.last_reason)
        return f"; last error from {destination.url}: {self.last_reason}; {fix}"

    def final_report(self) -> None:
        """At exit: one line per signal that lost items or is still failing."""
        if self.muted:
            return
        for signal in ("traces", "metrics", "logs"):
            counts = self.counts.get(signal, SignalCounts())
            state = self._signals.get(signal)
            failing = state.failing if state is not None else None
            if not counts.dropped and failing is None:
                continue
            lost = f"{items(signal, counts.dropped)} {'was' if counts.dropped == 1 else 'were'} dropped"
            if counts.dropped:
                lost += f" ({counts.breakdown()})"
            if failing is not None:
                self.note(f"exiting with {signal} export still failing ({failing.reason}); {lost}")
            else:
                self.note(f"exiting: {lost}")
