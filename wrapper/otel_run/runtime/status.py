"""This process's live status, kept in a small file for ``otel-run status``.

What is exported, dropped and queued per signal, the last success and the current
failure, in a JSON file named by PID in a private directory (``config.statusdir``).
It is written once at boot (and once in a forked child, which gets its own file), then
only from the export threads, through the ``Watcher``'s export hook: never from a
request thread, at most every ``MIN_INTERVAL_S`` and only when something changed (the
last change of a burst by a short-lived timer the export thread starts, so that it does
not wait for the next export). A
write is a temp file and a rename (readers never see half a file), mode 0600. The file
is removed when the process shuts down; a process killed with SIGKILL leaves it behind,
and the reader drops it (the PID is gone, or belongs to another process now).

Where no directory can be used (a read-only root without a tmpfs), nothing is written:
``otel-run status`` says why. Nothing here raises into the app.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

from otel_run.config import statusdir
from otel_run.config.secrets import scrub, secret_values
from otel_run.config.settings import SIGNALS, Settings
from otel_run.runtime import statusfacts as facts
from otel_run.runtime import statusfile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from otel_run.runtime.exportwatch import Watcher
    from otel_run.runtime.instrument import Instrumentations
    from otel_run.runtime.sdk import Built

    class BootState(Protocol):
        """What the recorder reads of the boot's state at each write (``boot.State``)."""

        command: list[str]
        instrumentations: Instrumentations | None
        """Armed after the recorder is made, so read each time."""


MIN_INTERVAL_S = 2.0
"""At most one write per this many seconds (the first change after a quiet spell is written at once)."""
WINDOW_S = 60.0
"""The window of ``dropped_last_minute``; the reader's "in the last interval" too."""


class _SignalState:
    __slots__ = ("exported", "failed_by_type", "failing_since", "history", "last_success", "recovered")

    def __init__(self, now: float) -> None:
        self.exported = 0
        self.last_success: float | None = None
        self.failing_since: float | None = None
        self.history: deque[tuple[float, tuple[int, ...]]] = deque([(now, (0, 0, 0))])
        """(time, dropped so far by reason) at each change, for ``dropped_last_minute``."""
        self.failed_by_type: dict[str, int] = {}
        """Items in failed exports by ``error.type`` (``lossmetrics``)."""
        self.recovered: dict[str, int] = {}
        """Dropped so far by reason when exports last recovered: losses of the outage are not
        "dropping" any more once it is over."""


class Recorder:
    """Keeps this process's status file; every method is safe to call from any thread."""

    def __init__(
        self,
        settings: Settings,
        watcher: Watcher | None,
        built: Built | None,
        boot: BootState,
        note: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._watcher = watcher
        self._built = built
        self._boot = boot
        self._note = note
        self._clock = clock
        self._secrets = secret_values(settings)
        self._lock = threading.Lock()
        self.directory: str | None = None
        self.unavailable: str | None = None
        """Why no status file is kept, or None."""
        self._offered = False
        self._reset()

    def _reset(self) -> None:
        now = self._clock()
        self._pid = os.getpid()
        self._started = now
        self._signals = {name: _SignalState(now) for name in SIGNALS}
        self._last_write = 0.0
        self._trailing: threading.Timer | None = None
        self._last_signature: tuple[Any, ...] | None = None
        self._closed = False
        self._told = False

    @property
    def path(self) -> str | None:
        """This process's status file, once a directory was found."""
        if self.directory is None:
            return None
        return os.path.join(self.directory, statusdir.file_name(self._pid))

    # -- the hooks ------------------------------------------------------------------

    def attach(self, watcher: Watcher, built: Built) -> None:
        """The SDK is built (on first use of telemetry): follow its exports from now on."""
        self._watcher, self._built = watcher, built
        self.start()

    def start(self) -> None:
        """Hook the watcher's exports, find the directory and write the first status (at boot,
        once the SDK is built, and in a forked child). Before the build (no watcher yet) the
        status says so: an idle process is listed too."""
        if self._watcher is not None:
            self._watcher.on_export = self.on_export
        if not self._offered and self._watcher is not None:
            self._offered = True
            try:
                self._offer_loss_metrics()
            except Exception:  # noqa: BLE001 - the metrics are extra; the status file still works
                pass
        try:
            self.directory = self._choose_directory()
            self._write_if_changed(force=True)
        except Exception:  # noqa: BLE001 - the status must never break the app
            pass

    def on_export(self, signal: str, ok: bool, items: int) -> None:
        """An export of ``signal`` finished (the ``Watcher``'s hook, on the exporting thread)."""
        state = self._signals.get(signal)
        if state is None:
            return
        now = self._clock()
        if ok:
            if state.failing_since is not None:
                state.failing_since = None
                state.recovered = self._dropped(signal)
            if items:
                state.exported += items
                state.last_success = now
        elif self._watcher is not None:
            from otel_run.runtime import lossmetrics

            kind = lossmetrics.error_type(self._watcher.failure(signal) or "")
            state.failed_by_type[kind] = state.failed_by_type.get(kind, 0) + items
            if state.failing_since is None:
                state.failing_since = now
        if self.directory is None:
            return  # no status file here: counting is all there is to do
        wait = self._last_write + MIN_INTERVAL_S - now
        try:
            if wait <= 0:
                self._write_if_changed()
            elif self._trailing is None:
                # A burst's last change must not wait for the next export (a minute away
                # for an app gone quiet): one short-lived timer writes it when allowed.
                timer = threading.Timer(wait, self._write_trailing)
                timer.daemon = True
                timer.name = "otel-run-status"
                self._trailing = timer
                timer.start()
        except Exception:  # noqa: BLE001 - the status must never break exporting
            pass

    def _write_trailing(self) -> None:
        self._trailing = None
        try:
            self._write_if_changed()
        except Exception:  # noqa: BLE001 - the status must never break the app
            pass

    def after_fork(self) -> None:
        """In a forked child: a fresh lock and counts, and a file of its own."""
        self._lock = threading.Lock()
        self._reset()
        self.start()

    def close(self) -> None:
        """Remove the status file and write no more (the process is shutting down)."""
        trailing = self._trailing
        if trailing is not None:
            trailing.cancel()
        acquired = self._lock.acquire(timeout=1.0)
        try:
            self._closed = True
            path = self.path
            if path is not None:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        finally:
            if acquired:
                self._lock.release()

    # -- writing ----------------------------------------------------------------------

    def _choose_directory(self) -> str | None:
        reasons = []
        for path in self._settings.status_dirs:
            problem = statusfile.make_private_dir(path, strict=not self._settings.status_dir_explicit)
            if problem is None:
                self.unavailable = None
                return path
            reasons.append(f"{path}: {problem}")
        self.unavailable = "; ".join(reasons) or "no status directory"
        if self._settings.status_dir_explicit and not self._told:
            self._told = True
            self._note(
                f"OTEL_RUN_STATUS_DIR: cannot keep the live status there ({self.unavailable}); "
                "'otel-run status' will not list this process"
            )
        return None

    def _write_if_changed(self, force: bool = False) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another export thread is writing; the next export writes this change
        try:
            if self._closed or self.directory is None:
                return
            now = self._clock()
            snapshot = self.snapshot(now)
            signature = facts.signature(snapshot)
            if not force and signature == self._last_signature:
                return
            self._last_write = now
            try:
                data = statusfile.dumps(scrub(snapshot, self._secrets))
                statusfile.write_atomically(self.directory, self._pid, data)
            except FileNotFoundError:
                self.directory = self._choose_directory()  # removed under us (a temp cleaner)
                return
            except OSError as error:
                self.unavailable = f"{self.directory}: {error.strerror or error}"
                return
            self._last_signature = signature
        finally:
            self._lock.release()

    def snapshot(self, now: float) -> dict[str, Any]:
        """The status as written (before scrubbing), at time ``now``."""
        signals = {name: self._signal_snapshot(name, now) for name in SIGNALS}
        failing = [(s["failing_since"], n) for n, s in signals.items() if s["failing_since"] is not None]
        last_error = None
        if failing:
            _since, name = min(failing)
            last_error = self._words(name, signals[name]["error"] or "the exporter reported a failure")
        return {
            "format": statusdir.FORMAT,
            "pid": self._pid,
            "ppid": os.getppid(),
            "start_ticks": facts.start_ticks(),
            "exe": facts.exe(),
            "started": self._started,
            "updated": now,
            "command": facts.shown_command(self._boot.command),
            "service": self._settings.service_name,
            "instance": facts.instance_id(self._built),
            "providers": facts.provider_types() if self._built is not None else {},
            "sdk": "built" if self._built is not None else "on first telemetry",
            "signals": signals,
            "last_error": last_error,
            "instrumentations": self._active_instrumentations(),
            "muted": self._watcher is not None and self._watcher.muted,
            "interval_s": MIN_INTERVAL_S,
            "window_s": WINDOW_S,
        }

    def _signal_snapshot(self, name: str, now: float) -> dict[str, Any]:
        settings = self._settings.signal(name)
        watcher, built = self._watcher, self._built
        destination = watcher.destinations.get(name) if watcher else None  # what is used (a file too)
        state = self._signals[name]
        dropped = self._dropped(name)
        totals = tuple(dropped.values())
        history = state.history
        if history[-1][1] != totals:
            history.append((now, totals))
        while len(history) > 1 and history[1][0] <= now - WINDOW_S:
            history.popleft()
        # The oldest sample kept is the last one at or before the window's start, or the
        # boot's zeros in a process younger than the window.
        recent = {
            reason: max(0, total - max(before, state.recovered.get(reason, 0)))
            for reason, total, before in zip(dropped, totals, history[0][1], strict=True)
        }
        return {
            "exporters": [entry.split(" (")[0] for entry in built.exporters.get(name, [])]
            if built is not None
            else list(settings.exporters),
            "endpoint": destination.url
            if destination
            else (settings.shown_endpoint if settings.otlp else None),
            "protocol": destination.protocol
            if destination
            else (settings.protocol if settings.otlp else None),
            "exported": state.exported,
            "dropped": dropped,
            "dropped_last_minute": recent,
            "queued": facts.queued(self._built, name),
            "last_success": state.last_success,
            "failing_since": state.failing_since,
            "error": watcher.failure(name) if watcher and state.failing_since is not None else None,
        }

    def _offer_loss_metrics(self) -> None:
        """Lost items as ``otel.sdk.*`` metrics when the SDK's own are not asked for (``lossmetrics``)."""
        if self._settings.sdk_internal_metrics is not None or not self._settings.metrics.exporters:
            return  # true: the SDK reports everything itself; false: none wanted
        if self._watcher is None or self._built is None:
            return
        from otel_run.runtime import lossmetrics

        protocols = {name: destination.protocol for name, destination in self._watcher.destinations.items()}
        if self._built.meter_provider is not None and protocols:
            lossmetrics.register(
                self._built.meter_provider,
                lambda signal: self._dropped(signal)["queue_full"],
                lambda signal: self._signals[signal].failed_by_type,
                protocols,
            )

    def _dropped(self, signal: str) -> dict[str, int]:
        return facts.dropped_by_reason(self._watcher, signal)

    def _active_instrumentations(self) -> list[str]:
        found = self._boot.instrumentations
        return [] if found is None else found.by_state("active")

    def _words(self, signal: str, reason: str) -> str:
        from otel_run.runtime.exportreason import hint

        destination = self._watcher.destinations.get(signal) if self._watcher is not None else None
        if destination is None:
            return f"cannot export {signal}: {reason}"
        return f"cannot export {signal} to {destination.url}: {reason}; {hint(destination, reason)}"
