"""``otel-run status`` output: a tree of processes with a verdict each, as text or JSON."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from otel_run.status.collect import HEALTHY, Process, Report

_SHORT_PROVIDERS = {
    "opentelemetry.sdk.trace.TracerProvider": "SDK",
    "opentelemetry.sdk.metrics._internal.MeterProvider": "SDK",
    "opentelemetry.sdk._logs._internal.LoggerProvider": "SDK",
}
_SIGNALS = ("traces", "metrics", "logs")


def render(report: Report, as_json: bool = False, now: float | None = None) -> str:
    """The report as text for people, or as JSON for tools."""
    if as_json:
        return json.dumps(_as_data(report), indent=2, sort_keys=False) + "\n"
    when = time.time() if now is None else now
    lines = [_headline(report)]
    if report.unavailable is not None:
        return "\n".join(lines) + "\n"
    by_pid = report.by_pid()
    for root in report.roots():
        lines.append("")
        _block(root, by_pid, 0, when, lines, parent_command=None)
    return "\n".join(lines) + "\n"


def _headline(report: Report) -> str:
    if report.unavailable is not None:
        return f"otel-run status: unavailable: {report.unavailable}"
    if not report.processes:
        where = " or ".join(report.directories)
        return f"otel-run status: no live process booted by otel-run (uid {report.uid}; looked in {where})"
    count = len(report.processes)
    noun = "process" if count == 1 else "processes"
    unhealthy = [process for process in report.processes if not process.healthy]
    if not unhealthy:
        return f"otel-run status: {count} live {noun}, every one exporting or idle"
    verdicts: dict[str, int] = {}
    for process in unhealthy:
        verdicts[process.verdict] = verdicts.get(process.verdict, 0) + 1
    told = ", ".join(f"{n} {verdict}" for verdict, n in verdicts.items())
    return f"otel-run status: {count} live {noun}, {told}"


def _block(
    process: Process,
    by_pid: dict[int, Process],
    depth: int,
    now: float,
    lines: list[str],
    parent_command: list[str] | None,
) -> None:
    status = process.status
    lead = "  " * depth + ("└ " if depth else "")
    pad = " " * (len(lead) + len(str(process.pid)) + 2)
    command = [str(arg) for arg in status.get("command") or []]
    shown_command = "" if command == parent_command else "  " + _short_command(command)
    lines.append(f"{lead}{process.pid}  {status.get('service', '?')}  {process.summary}{shown_command}")
    facts = [f"up {_duration(now - float(status.get('started') or now))}"]
    if status.get("instance"):
        facts.append(f"instance {status['instance']}")
    providers = status.get("providers") or {}
    kinds = sorted({_SHORT_PROVIDERS.get(str(kind), str(kind)) for kind in providers.values()})
    if kinds:
        facts.append("providers " + ", ".join(kinds))
    elif status.get("sdk") == "on first telemetry":
        facts.append("SDK not built yet (nothing emitted)")
    lines.append(pad + "; ".join(facts))
    for name in _SIGNALS:
        signal = (status.get("signals") or {}).get(name)
        if signal is not None:
            lines.append(pad + _signal_line(name, signal))
    instrumented = status.get("instrumentations") or []
    lines.append(pad + "instrumenting " + (", ".join(instrumented) if instrumented else "nothing yet"))
    for pid in process.children:
        child = by_pid.get(pid)
        if child is not None:
            _block(child, by_pid, depth + 1, now, lines, command)


def _short_command(command: list[str]) -> str:
    """``/venv/bin/python /venv/bin/gunicorn -w 2 app:app`` as ``gunicorn -w 2 app:app`` (JSON: all)."""
    if not command:
        return "?"
    program = os.path.basename(command[0])
    rest = command[1:]
    if program.startswith("python") and rest and not rest[0].startswith("-"):
        program, rest = os.path.basename(rest[0]), rest[1:]
    return " ".join([program, *rest])


def _signal_line(name: str, signal: dict[str, Any]) -> str:
    exporters = signal.get("exporters") or []
    if not exporters:
        return f"{name:<8} off"
    parts = [f"{int(signal.get('exported') or 0):,} exported"]
    if signal.get("queued") is not None:
        parts.append(f"{int(signal['queued']):,} queued")
    dropped = {reason: int(n) for reason, n in (signal.get("dropped") or {}).items() if n}
    if dropped:
        detail = ", ".join(f"{reason.replace('_', ' ')} {n:,}" for reason, n in dropped.items())
        parts.append(f"{sum(dropped.values()):,} dropped ({detail})")
    else:
        parts.append("0 dropped")
    text = f"{name:<8} " + ", ".join(parts)
    if signal.get("last_success"):
        text += f"; last export {time.strftime('%H:%M:%S', time.localtime(float(signal['last_success'])))}"
    if signal.get("endpoint"):
        text += f"; {signal['endpoint']} ({signal.get('protocol')})"
    else:
        text += "; " + ", ".join(str(exporter).rsplit(".", 1)[-1] for exporter in exporters)
    return text


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def _as_data(report: Report) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "uid": report.uid,
        "directories": report.directories,
        "unavailable": report.unavailable,
        "processes": [
            {
                "pid": process.pid,
                "ppid": process.ppid,
                "verdict": process.verdict,
                "summary": process.summary,
                "healthy": process.verdict in HEALTHY,
                "children": process.children,
                "status": process.status,
            }
            for process in report.processes
        ],
    }
