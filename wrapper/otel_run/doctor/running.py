"""Which processes booted by otel-run run here now, as ``otel-run status`` reads them."""

from __future__ import annotations

from collections.abc import Mapping


def running(environ: Mapping[str, str]) -> list[tuple[int, str, str]] | None:
    """``(pid, service, verdict)`` of each live booted process of this user; None if unreadable."""
    try:
        from otel_run.status import collect  # here: only this one check needs it

        report = collect.collect(environ)
    except Exception:  # noqa: BLE001 - a pointer to another command must never break doctor
        return None
    return [
        (process.pid, str(process.status.get("service", "?")), process.verdict)
        for process in report.processes
    ]
