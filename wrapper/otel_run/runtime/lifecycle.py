"""Flush telemetry at exit and on SIGTERM within a budget; keep it working across fork.

Exit: on a normal exit (including ``sys.exit`` from the app's or a server's own signal
handler) ``atexit`` shuts the providers down.

SIGTERM: upstream only flushes at ``atexit``, which SIGTERM's default action skips
(opentelemetry-python#4813), so every span finished just before a Kubernetes rollout
was lost. When the app has no SIGTERM handler of its own, we flush and then re-deliver
SIGTERM with the default action: the process still ends "killed by SIGTERM", exactly as
without us. Handlers the app or its server install later (gunicorn, uvicorn) replace
ours as they would replace the default, and their exit path runs ``atexit``. PID 1, for
which the kernel ignores a default SIGTERM, is left alone.

Budget: providers are shut down in parallel threads and waited for until
``OTEL_RUN_SHUTDOWN_TIMEOUT`` runs out, so a dead collector never holds the process up
(retries sleeping through shutdown: opentelemetry-python#4043).

Fork: the SDK restarts its own threads in a forked child; we give the child its own
``service.instance.id`` (gunicorn/uWSGI workers, multiprocessing) and, for
``multiprocessing`` children that leave through ``os._exit``, a flush at their exit.

This module does not print: outcomes go to the callbacks boot passes in.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType, ModuleType
from typing import Any

from otel_run.runtime import exitstatus


@dataclass
class Outcome:
    """How one shutdown went."""

    reason: str
    """exit, SIGTERM or multiprocessing-exit."""
    duration_s: float = 0.0
    timed_out: list[str] = field(default_factory=list)
    """Providers still flushing when the budget ran out."""


class Lifecycle:
    """Shutdown of the installed providers, bounded by ``budget_s`` seconds."""

    def __init__(
        self,
        providers: list[Any],
        budget_s: float,
        on_shutdown: Callable[[Outcome], None] | None = None,
        after_fork: Callable[[], None] | None = None,
        before_shutdown: Callable[[], None] | None = None,
    ) -> None:
        self.providers = [provider for provider in providers if provider is not None]
        self.budget_s = budget_s
        self.on_shutdown = on_shutdown
        self.after_fork = after_fork
        self.before_shutdown = before_shutdown
        self.outcome: Outcome | None = None
        self._done = False
        self._lock = threading.Lock()

    def arm(self) -> None:
        """Register the exit hook, the fork hook and (where the app has none) the SIGTERM handler."""
        # weakref.finalize registers its own exit hook on first use, which urllib3 makes with
        # the exporter's first connection pool, after ours: it then ran first, closed the pooled
        # connections and turned finalizers off, and the connections the exit flush opened were
        # never closed ("ResourceWarning: unclosed <socket>" under -X dev, tracebacks under
        # -W error). Registered before ours, it runs after the flush.
        weakref.finalize(self, _no_op)
        atexit.register(self._at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self.in_forked_child)
        if threading.current_thread() is threading.main_thread() and os.getpid() != 1:
            try:
                if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                    signal.signal(signal.SIGTERM, self._on_sigterm)
            except (ValueError, OSError):  # not allowed here (embedded interpreter): exit hook only
                pass

    def rearm_sigterm(self) -> None:
        """Install the SIGTERM flush again if a server reset SIGTERM to the default action."""
        try:
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, self._on_sigterm)
        except (ValueError, OSError):  # not the main thread
            pass

    def shutdown(self, reason: str = "exit") -> Outcome:
        """Flush and shut every provider down once; later calls return the first outcome."""
        with self._lock:
            if self._done:
                return self.outcome or Outcome(f"{reason}: a shutdown is already in progress")
            self._done = True
        if self.before_shutdown is not None:
            _quietly(self.before_shutdown)
        outcome = Outcome(reason)
        started = time.monotonic()
        deadline = started + self.budget_s
        threads = []
        for provider in self.providers:
            thread = threading.Thread(
                target=_quietly, args=(provider.shutdown,), name="otel-run-shutdown", daemon=True
            )
            try:
                thread.start()
            except RuntimeError:
                # Python 3.12.0 and 3.12.1 refuse new threads in atexit handlers (cpython#113964):
                # flush here, bounded by each exporter's own timeout instead of the budget.
                _quietly(provider.shutdown)
                continue
            threads.append((provider, thread))
        for provider, thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                outcome.timed_out.append(type(provider).__name__)
        outcome.duration_s = time.monotonic() - started
        self.outcome = outcome
        if self.on_shutdown is not None:
            _quietly(self.on_shutdown, outcome)
        return outcome

    def _at_exit(self) -> None:
        self.shutdown("exit")
        # The flush may import the exporter, which would turn Ctrl-C's status 130 into 1.
        exitstatus.keep_keyboard_interrupt_status()

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.shutdown("SIGTERM")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    def in_forked_child(self) -> None:
        """Reset after a fork (run by ``os.register_at_fork``, or by uWSGI's post-fork hook)."""
        # A lock held by another thread of the parent at fork time stays held forever.
        self._lock = threading.Lock()
        self._done = False
        self.outcome = None
        if self.after_fork is not None:
            _quietly(self.after_fork)

    def hook_multiprocessing(self, module: ModuleType) -> None:
        """Flush in ``multiprocessing`` fork children, which end with ``os._exit``.

        Called once the app imports ``multiprocessing``: the child's bootstrap runs the
        registered after-forkers, and we add a finalizer that its exit path runs.
        """
        import multiprocessing.util as mp_util

        del module
        mp_util.register_after_fork(self, Lifecycle._in_multiprocessing_child)

    def _in_multiprocessing_child(self) -> None:
        import multiprocessing.util as mp_util

        mp_util.Finalize(None, self.shutdown, args=("multiprocessing-exit",), exitpriority=-100)


def _no_op() -> None:
    pass


def _quietly(function: Callable[..., Any], *args: Any) -> None:
    try:
        function(*args)
    except Exception:  # noqa: BLE001 - shutdown errors are the exporter's to log
        pass
