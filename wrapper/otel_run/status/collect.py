"""Read the live status files, drop the dead, give each process a verdict (data only).

A status file is trusted only if it belongs to this user, has the current format, and
its PID is alive and still the same process: same start time in ``/proc`` (a PID can
be reused) and same executable (a forked child may ``exec`` another program), and not
a zombie. Files of dead processes (SIGKILL leaves them behind) are removed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from otel_run.config import statusdir
from otel_run.config.secrets import scrub, secret_values
from otel_run.config.settings import Settings

EXPORTING = "exporting"
IDLE = "idle"
FAILING = "failing"
DROPPING = "dropping"
HEALTHY = (EXPORTING, IDLE)
_MAX_FILE_BYTES = 256 * 1024
_ITEMS = {"traces": "spans", "metrics": "metric points", "logs": "log records"}
_REASONS = {"queue_full": "queue full", "export_failed": "export failed", "lost_at_exit": "lost at exit"}


@dataclass(frozen=True)
class Process:
    """One live booted process: its status file's facts, and the verdict on them."""

    pid: int
    ppid: int
    verdict: str
    """exporting, idle, failing or dropping."""
    summary: str
    """The verdict for people: ``failing since 10:42:07 (connection refused at ...)``."""
    status: dict[str, Any]
    """The status file as written (already redacted), scrubbed once more."""
    children: list[int] = field(default_factory=list)
    """PIDs of live booted processes it started (a server's workers)."""

    @property
    def healthy(self) -> bool:
        """Whether it is exporting or idle."""
        return self.verdict in HEALTHY


@dataclass(frozen=True)
class Report:
    """Every live booted process of this user, in tree order (each parent before its children)."""

    processes: list[Process]
    directories: list[str]
    """Where status files were looked for."""
    unavailable: str | None = None
    """Why no status could be read at all, and what to do; None when a directory exists."""
    removed: int = 0
    """Files of dead processes removed."""
    uid: int = field(default_factory=os.getuid)

    @property
    def ok(self) -> bool:
        """True when there is at least one process and every one is exporting or idle."""
        return bool(self.processes) and all(process.healthy for process in self.processes)

    def roots(self) -> list[Process]:
        """The processes whose parent is not in the list."""
        pids = {process.pid for process in self.processes}
        return [process for process in self.processes if process.ppid not in pids]

    def by_pid(self) -> dict[int, Process]:
        """The processes by PID."""
        return {process.pid: process for process in self.processes}


def collect(environ: Mapping[str, str], now: float | None = None) -> Report:
    """The live processes' statuses, from the directories ``environ`` names; never raises."""
    settings = Settings.from_env(environ)
    hidden = secret_values(settings)
    when = time.time() if now is None else now
    directories = list(settings.status_dirs)
    statuses: dict[int, dict[str, Any]] = {}
    removed = 0
    existing = [path for path in directories if os.path.isdir(path)]
    for directory in existing:
        found, dead = _read_directory(directory)
        removed += dead
        for pid, status in found.items():
            if pid not in statuses or status.get("updated", 0) > statuses[pid].get("updated", 0):
                statuses[pid] = status
    processes = [_judge(scrub(status, hidden), when) for status in statuses.values()]
    unavailable = None if existing else explain_missing(directories, settings.status_dir_explicit)
    return Report(_tree_order(processes), directories, unavailable, removed)


def _read_directory(directory: str) -> tuple[dict[int, dict[str, Any]], int]:
    found: dict[int, dict[str, Any]] = {}
    dead = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return found, dead
    for name in names:
        pid = statusdir.pid_of(name)
        if pid is None:
            continue
        path = os.path.join(directory, name)
        status = _load(path)
        if status is None:
            continue
        if not alive(pid, status.get("start_ticks"), status.get("exe")):
            dead += _remove(path)
            continue
        found[pid] = status
    return found, dead


def _load(path: str) -> dict[str, Any] | None:
    try:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        descriptor = os.open(path, flags)
        try:
            if os.fstat(descriptor).st_uid != os.getuid():
                return None  # not ours: someone else's file in a shared directory
            data = os.read(descriptor, _MAX_FILE_BYTES)
        finally:
            os.close(descriptor)
        status = json.loads(data)
    except (OSError, ValueError):
        return None  # vanished between listing and reading, or not a status file
    if not isinstance(status, dict) or status.get("format") != statusdir.FORMAT:
        return None
    return status


def _remove(path: str) -> int:
    try:
        os.unlink(path)
    except OSError:
        return 0
    return 1


def alive(pid: int, start_ticks: Any, exe: Any) -> bool:
    """Whether ``pid`` is still the process that wrote the status file."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rpartition(b")")[2].split()
    except FileNotFoundError:
        return False
    except OSError:
        return _signal_zero(pid)  # no /proc: all we can tell is whether the PID exists
    try:
        if fields[0] in (b"Z", b"X"):
            return False  # exited, not yet reaped by its parent
        if isinstance(start_ticks, int) and int(fields[19]) != start_ticks:
            return False  # the PID was reused
    except (IndexError, ValueError):
        return True
    if isinstance(exe, str):
        try:
            if os.readlink(f"/proc/{pid}/exe") != exe:
                return False  # a forked child that exec'd another program
        except OSError:
            pass
    return True


def _signal_zero(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def explain_missing(directories: list[str], explicit: bool) -> str:
    """Why there is no status directory, and what to do."""
    if not directories:
        return "no status directory is configured; set OTEL_RUN_STATUS_DIR to a writable directory"
    first = directories[0]
    parents = [os.path.dirname(path) for path in directories]
    writable = [p for p in parents if os.path.isdir(p) and os.access(p, os.W_OK | os.X_OK)]
    uid = os.getuid()
    if explicit:
        where = f"OTEL_RUN_STATUS_DIR={first} does not exist"
    else:
        where = f"no status directory ({' or '.join(directories)})"
    if not writable:
        return (
            f"{where}, and {' and '.join(sorted(set(parents)))} cannot be written: booted processes cannot "
            "keep a live status here (a read-only root file system without a tmpfs?). Mount an emptyDir "
            "or tmpfs on /tmp, or set OTEL_RUN_STATUS_DIR to a writable directory, for the app and for "
            "this command"
        )
    return (
        f"{where}: no process booted by otel-run runs as uid {uid} here, or it was started with "
        "another OTEL_RUN_STATUS_DIR, TMPDIR or XDG_RUNTIME_DIR than this command"
    )


def _judge(status: dict[str, Any], now: float) -> Process:
    verdict, summary = judge(status, now)
    return Process(int(status.get("pid", 0)), int(status.get("ppid", 0)), verdict, summary, status)


def judge(status: Mapping[str, Any], now: float) -> tuple[str, str]:
    """The verdict on one status at time ``now``, and the words for it.

    ``failing`` while a signal's last export failed; else ``dropping`` when items were
    lost in the last minute (since exports last recovered: an outage's losses stop
    counting once it is over); else ``exporting`` when items were exported in the last
    minute; else ``idle``.
    """
    signals: Mapping[str, Any] = status.get("signals") or {}
    window = float(status.get("window_s") or 60.0)
    failing = sorted(
        (float(s["failing_since"]), name) for name, s in signals.items() if s.get("failing_since") is not None
    )
    if failing:
        since, name = failing[0]
        signal = signals[name]
        where = f" at {signal['endpoint']}" if signal.get("endpoint") else ""
        others = [other for _when, other in failing[1:]]
        also = f"; {', '.join(others)} too" if others else ""
        reason = signal.get("error") or "the exporter reported a failure"
        return FAILING, f"failing since {_clock(since, now)} ({reason}{where}{also})"
    recent = now - float(status.get("updated") or 0) < window
    lost: list[str] = []
    reasons: list[str] = []
    for name, signal in signals.items():
        counts = {r: int(n) for r, n in (signal.get("dropped_last_minute") or {}).items() if n}
        if recent and counts:
            lost.append(f"{sum(counts.values()):,} {_ITEMS.get(name, 'items')}")
            reasons.extend(_REASONS.get(r, r) for r in counts if _REASONS.get(r, r) not in reasons)
    if lost:
        return DROPPING, f"dropping ({', '.join(lost)} in the last minute: {', '.join(reasons)})"
    if any((s.get("last_success") or 0) > now - window for s in signals.values()):
        return EXPORTING, EXPORTING
    if status.get("muted"):
        return IDLE, "idle (a reloader: the process it starts exports)"
    return IDLE, IDLE


def _clock(when: float, now: float) -> str:
    local = time.localtime(when)
    if now - when < 20 * 3600:
        return time.strftime("%H:%M:%S", local)
    return time.strftime("%Y-%m-%d %H:%M:%S", local)


def _tree_order(processes: list[Process]) -> list[Process]:
    """Parents before their children, each level by PID, children's PIDs filled in."""
    by_pid = {process.pid: process for process in processes}
    children: dict[int, list[int]] = {}
    for process in processes:
        if process.ppid in by_pid and process.ppid != process.pid:
            children.setdefault(process.ppid, []).append(process.pid)
    ordered: list[Process] = []
    seen: set[int] = set()

    def visit(pid: int) -> None:
        if pid in seen:
            return
        seen.add(pid)
        process = by_pid[pid]
        kids = sorted(children.get(pid, []))
        ordered.append(replace(process, children=kids))
        for kid in kids:
            visit(kid)

    for pid in sorted(pid for pid, p in by_pid.items() if p.ppid not in by_pid or p.ppid == pid):
        visit(pid)
    for pid in sorted(by_pid):  # a cycle of PIDs (cannot happen, but never lose a process)
        visit(pid)
    return ordered
