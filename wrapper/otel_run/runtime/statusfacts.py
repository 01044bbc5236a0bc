"""Facts about this process for its status file: identity, providers, queues, command line.

Read at each status write; private SDK attributes are reached through guarded lookups.
"""

from __future__ import annotations

import os
import sys

from otel_run.config.endpoints import redact_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from otel_run.runtime.exportwatch import Watcher
    from otel_run.runtime.sdk import Built

_MAX_ARGS = 24
_MAX_ARG_CHARS = 200


def shown_command(command: list[str]) -> list[str]:
    """The command line, credentials in URLs hidden, long values cut."""
    shown = []
    for arg in command[:_MAX_ARGS]:
        if "@" in arg and "://" in arg:
            key, sep, value = arg.partition("=") if arg.startswith("-") else ("", "", arg)
            arg = key + sep + redact_url(value)
        shown.append(arg if len(arg) <= _MAX_ARG_CHARS else arg[: _MAX_ARG_CHARS - 3] + "...")
    if len(command) > _MAX_ARGS:
        shown.append(f"... ({len(command) - _MAX_ARGS} more)")
    return shown


def start_ticks() -> int | None:
    """When this process started, in clock ticks since boot (``/proc``): with the PID, its identity."""
    try:
        with open(f"/proc/{os.getpid()}/stat", "rb") as handle:
            fields = handle.read().rpartition(b")")[2].split()
        return int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def exe() -> str | None:
    """The running executable: after an ``exec`` without a new boot it is another program."""
    try:
        return os.readlink(f"/proc/{os.getpid()}/exe")
    except OSError:
        return None


def instance_id(built: Built | None) -> str | None:
    """``service.instance.id`` of the resource (new in a forked child)."""
    if built is None:
        return None
    try:
        value = built.tracer_provider.resource.attributes.get("service.instance.id")
    except AttributeError:
        return None
    return None if value is None else str(value)


def provider_types() -> dict[str, str]:
    """The class of each global provider, as the app sees it."""
    found = {}
    for signal, module_name, getter in (
        ("traces", "opentelemetry.trace", "get_tracer_provider"),
        ("metrics", "opentelemetry.metrics", "get_meter_provider"),
        ("logs", "opentelemetry._logs", "get_logger_provider"),
    ):
        module = sys.modules.get(module_name)
        if module is not None:
            provider = getattr(module, getter)()
            found[signal] = f"{type(provider).__module__}.{type(provider).__qualname__}"
    return found


def queued(built: Built | None, signal: str) -> int | None:
    """Items waiting in the signal's batch processors (private SDK attributes, so guarded)."""
    if built is None:
        return 0
    if signal == "traces":
        multi = getattr(built.tracer_provider, "_active_span_processor", None)
        processors = getattr(multi, "_span_processors", ())
    elif signal == "logs":
        multi = getattr(built.logger_provider, "_multi_log_record_processor", None)
        processors = getattr(multi, "_log_record_processors", ())
    else:
        return None
    total = 0
    for processor in processors:
        queue = getattr(getattr(processor, "_batch_processor", None), "_queue", None)
        if queue is not None:
            total += len(queue)
    return total


def dropped_by_reason(watcher: Watcher | None, signal: str) -> dict[str, int]:
    """The watcher's counts of ``signal``'s lost items, by reason (either spelling of its fields)."""
    counts = watcher.counts.get(signal) if watcher is not None else None

    def first(*names: str) -> int:
        for name in names:
            if hasattr(counts, name):
                return int(getattr(counts, name))
        return 0

    return {
        "queue_full": first("queue_full", "overflow"),
        "export_failed": first("export_failed", "failed"),
        "lost_at_exit": first("lost_at_exit"),
    }


def signature(snapshot: dict[str, Any]) -> tuple[Any, ...]:
    """What counts as a change: counts, failures, instrumentations (not the queue or the clock)."""
    per_signal = tuple(
        (s["exported"], tuple(s["dropped"].values()), s["failing_since"], s["error"])
        for s in snapshot["signals"].values()
    )
    return (per_signal, tuple(snapshot["instrumentations"]), snapshot["muted"])
