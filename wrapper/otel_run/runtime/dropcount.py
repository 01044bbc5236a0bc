"""Every item a signal loses, counted where it is lost: the one place for drop counts.

Counting from upstream's log lines undercounts: the batch processor logs "Queue full,
dropping ..." through a logger with a duplicate filter (one line per 20 s at most), and
only while someone listens. So the batch processors' own drop hook is observed instead:
upstream calls ``ProcessorMetrics.drop_items`` for every item it drops (the queue is
full, or it arrives after shutdown), and we wrap that object, passing each call on.

``SignalCounts`` per signal, by reason:

- ``queue_full``: dropped by the batch processor because its queue was full (the
  collector is slower than the app, or down);
- ``export_failed``: in a batch the collector did not accept;
- ``lost_at_exit``: still queued or in flight when the final flush ran out of time,
  or emitted after it.

``Watcher.snapshot()`` (``exportwatch``) is the public read of these counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REASONS = ("queue_full", "export_failed", "lost_at_exit")
OnDrop = Callable[[str, int], None]
"""Called with (reason, count) for items a batch processor dropped."""


@dataclass
class SignalCounts:
    """Items one signal exported and lost, by cause."""

    exported: int = 0
    """In batches the collector accepted."""
    queue_full: int = 0
    export_failed: int = 0
    lost_at_exit: int = 0

    @property
    def dropped(self) -> int:
        """All items lost."""
        return self.queue_full + self.export_failed + self.lost_at_exit

    def copy(self) -> SignalCounts:
        return SignalCounts(self.exported, self.queue_full, self.export_failed, self.lost_at_exit)

    def breakdown(self) -> str:
        """``queue full 12, failed exports 3`` (the non-zero causes)."""
        parts = [
            (self.queue_full, "queue full"),
            (self.export_failed, "failed exports"),
            (self.lost_at_exit, "lost at exit"),
        ]
        return ", ".join(f"{label} {count:,}" for count, label in parts if count)


class _CountingMetrics:
    """Stands in for a batch processor's ``ProcessorMetrics``; tells every drop, then passes it on."""

    def __init__(self, inner: Any, on_drop: OnDrop) -> None:
        self._inner = inner
        self._on_drop = on_drop

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        try:
            self._on_drop("lost_at_exit" if error_type == "already_shutdown" else "queue_full", count)
        except Exception:  # noqa: BLE001 - counting must never break the app's emit
            pass
        self._inner.drop_items(count, error_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def batch_processor_of(processor: Any) -> Any:
    """The SDK's shared ``BatchProcessor`` inside a span or log record batch processor, or None."""
    return getattr(processor, "_batch_processor", None)  # SDK >= 1.32; private, so guarded


def count_drops(processor: Any, on_drop: OnDrop) -> bool:
    """Make ``processor`` (a BatchSpanProcessor or BatchLogRecordProcessor) tell ``on_drop``
    of every item it drops. False when this SDK's processor has no such hook."""
    inner = batch_processor_of(processor)
    metrics = getattr(inner, "_metrics", None)
    if metrics is None or not hasattr(metrics, "drop_items"):
        return False
    inner._metrics = _CountingMetrics(metrics, on_drop)
    return True


def queued(processor: Any) -> int:
    """How many items wait in ``processor``'s queue now (0 if unknown)."""
    try:
        return len(batch_processor_of(processor)._queue)
    except (AttributeError, TypeError):
        return 0


def queue_size_variable(signal: str) -> str:
    """The variable that sizes ``signal``'s queue."""
    return "OTEL_BLRP_MAX_QUEUE_SIZE" if signal == "logs" else "OTEL_BSP_MAX_QUEUE_SIZE"
