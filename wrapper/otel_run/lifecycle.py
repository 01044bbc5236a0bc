"""Flush telemetry at exit and on SIGTERM within a budget, then end as the app would.

On a normal exit, ``atexit`` shuts the providers down. On SIGTERM, when the app has
not installed a handler of its own, we flush and then re-deliver SIGTERM with the
default action, so the process ends "killed by SIGTERM" exactly as without us (and
PID 1, for which the kernel ignores a default SIGTERM, is left alone).
Providers are shut down in parallel threads and waited for until the budget runs
out; a dead collector can never hold the process up longer.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
import time
from types import FrameType
from typing import Any


class Lifecycle:
    """Shutdown of the installed providers, bounded by ``budget_s`` seconds."""

    def __init__(self, providers: list[Any], budget_s: float) -> None:
        self.providers = [provider for provider in providers if provider is not None]
        self.budget_s = budget_s
        self._done = False
        self._lock = threading.Lock()
        self.last_duration_s: float | None = None
        self.timed_out: list[str] = []

    def arm(self) -> None:
        """Register the exit hook and, where the app has none, the SIGTERM handler."""
        atexit.register(self.shutdown)
        # PID 1 ignores a default SIGTERM (the kernel protects init): leave it as it is.
        if threading.current_thread() is threading.main_thread() and os.getpid() != 1:
            try:
                if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                    signal.signal(signal.SIGTERM, self._on_sigterm)
            except (ValueError, OSError):  # not allowed here (embedded interpreter): exit hook only
                pass

    def shutdown(self) -> bool:
        """Flush and shut every provider down; True if all finished within the budget."""
        with self._lock:
            if self._done:
                return True
            self._done = True
        started = time.monotonic()
        deadline = started + self.budget_s
        threads = []
        for provider in self.providers:
            thread = threading.Thread(
                target=_quietly, args=(provider.shutdown,), name="otel-run-shutdown", daemon=True
            )
            thread.start()
            threads.append((provider, thread))
        for provider, thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                self.timed_out.append(type(provider).__name__)
        self.last_duration_s = time.monotonic() - started
        return not self.timed_out

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.shutdown()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _quietly(function: Any) -> None:
    try:
        function()
    except Exception:  # noqa: BLE001 - shutdown errors are the exporter's to log
        pass
