"""At exit, a refused gRPC connection is an answer: the exporter's backoff ends at once.

The OTLP/HTTP exporters are stopped at their transport (``httpwatch``). A gRPC exporter
retries UNAVAILABLE with a backoff (1 s, 2 s, 4 s ...) until its timeout; at the final
flush, with nothing listening, that only held the process up. Its retry loop waits on an
event between attempts (SDK 1.45, private, so guarded), which ``stop_retries`` sets.

An export that began failing before the flush started (its retry is asleep when the
process starts to exit) is remembered by the watcher and stopped when the flush begins.
"""

from __future__ import annotations


def unavailable(message: str) -> bool:
    """Whether upstream's message is a gRPC export failing to reach its server."""
    lowered = message.lower()
    return "connection refused" in lowered or "unavailable" in lowered


def refused(message: str, exporter: object) -> bool:
    """Whether a gRPC export's failure was a refused connection.

    gRPC says so ("Connection refused") once its channel has tried to connect; the first
    call on a fresh channel (an SDK built just before exit) fails with a bare UNAVAILABLE,
    so then one quick connect to the endpoint asks the question itself.
    """
    lowered = message.lower()
    if "connection refused" in lowered:
        return True
    if "unavailable" not in lowered:
        return False
    endpoint = str(getattr(exporter, "_endpoint", "") or "")  # private, so guarded
    host, _, port = endpoint.split("://", 1)[-1].partition("/")[0].rpartition(":")
    if not host or not port.isdigit():
        return False
    import socket

    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=0.25).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def stop_retries(exporter: object) -> None:
    """End the gRPC exporter's backoff now (its next wait returns at once)."""
    event = getattr(exporter, "_shutdown_in_progress", None)
    if event is not None and hasattr(event, "set"):
        event.set()
