"""Flush telemetry at exit and on SIGTERM/SIGHUP within a budget; keep it working across fork.

Exit: on a normal exit (including ``sys.exit`` from the app's or a server's own signal
handler) ``atexit`` shuts the providers down.

SIGTERM and SIGHUP: upstream only flushes at ``atexit``, which these signals' default
action skips (opentelemetry-python#4813), so every span finished just before a Kubernetes
rollout (or a closed terminal) was lost. When the app has no handler of its own, we
flush and then re-deliver the signal with the default action: the process still ends
"killed by SIGTERM" (or SIGHUP), exactly as without us. Handlers the app or its server
install later (gunicorn, uvicorn) replace ours as they would replace the default, and
their exit path runs ``atexit``. PID 1, for which the kernel ignores a default SIGTERM,
is left alone. A signal that arrives while a flush is running (a second SIGTERM, or
``multiprocessing.Pool.terminate()`` reaching a worker that is flushing on its way out)
is held until the flush ends, then delivered: it cannot cut the flush short.

Budget: providers are shut down in parallel threads and waited for until
``OTEL_RUN_SHUTDOWN_TIMEOUT`` runs out, so a dead collector never holds the process up
(retries sleeping through shutdown: opentelemetry-python#4043). A server that stops its
workers first (``stop_began``) flushes within the same budget as they do.

Fork: the SDK restarts its own threads in a forked child; we give the child its own
``service.instance.id`` (gunicorn/uWSGI workers, multiprocessing, billiard) and, for
children that leave through ``os._exit``, a flush first (``childexit``).

This module does not print: outcomes go to the callbacks boot passes in.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import time
import weakref

from otel_run.runtime import childexit, exitstatus, sigmask, signalnudge

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from types import FrameType, ModuleType
    from typing import Any

# Signals whose default action ends the process without atexit. SIGINT raises
# KeyboardInterrupt, whose exit path runs atexit already.
_ENDING_SIGNALS = ("SIGTERM", "SIGHUP")
_FLOOR_S = 0.25
"""What a flush gets even when a server's stop used the budget up: one quick try."""


class Outcome:
    """How one shutdown went."""

    __slots__ = ("duration_s", "reason", "timed_out")

    def __init__(self, reason: str, duration_s: float = 0.0, timed_out: list[str] | None = None) -> None:
        self.reason = reason
        """exit, SIGTERM, SIGHUP, os._exit or multiprocessing-exit."""
        self.duration_s = duration_s
        self.timed_out: list[str] = timed_out if timed_out is not None else []
        """Signals (traces, metrics, logs) still flushing when the budget ran out."""

    def __repr__(self) -> str:
        return f"Outcome({self.reason!r}, duration_s={self.duration_s!r}, timed_out={self.timed_out!r})"


class Lifecycle:
    """Shutdown of the installed providers, bounded by ``budget_s`` seconds."""

    def __init__(
        self,
        providers: Mapping[str, Any],
        budget_s: float,
        on_shutdown: Callable[[Outcome], None] | None = None,
        after_fork: Callable[[], None] | None = None,
        before_shutdown: Callable[[], None] | None = None,
    ) -> None:
        self.providers = {name: provider for name, provider in providers.items() if provider is not None}
        """Signal name (traces, metrics, logs) to its provider."""
        self.budget_s = budget_s
        self.on_shutdown = on_shutdown
        self.after_fork = after_fork
        self.before_shutdown = before_shutdown
        self.outcome: Outcome | None = None
        self._nudger: signalnudge.Nudger | None = None
        self._fork_masked = False
        self._reset()

    def _reset(self) -> None:
        # A one-shot claim taken without blocking: a signal handler that interrupts the
        # flush on the same thread must never wait for a lock that thread holds.
        self._claim = threading.Lock()
        self._owner: threading.Thread | None = None
        self._finished = threading.Event()
        self._held_signal: int | None = None
        self._signalled = False
        self._stop_began: float | None = None

    def arm(self) -> None:
        """Register the exit hook, the fork hook and (where the app has none) the signal handlers."""
        # weakref.finalize registers its own exit hook on first use, which urllib3 makes with
        # the exporter's first connection pool, after ours: it then ran first, closed the pooled
        # connections and turned finalizers off, and the connections the exit flush opened were
        # never closed ("ResourceWarning: unclosed <socket>" under -X dev, tracebacks under
        # -W error). Registered before ours, it runs after the flush.
        weakref.finalize(self, _no_op)
        atexit.register(self._at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self.in_forked_child)
        if self.providers:
            self._fork_mask()
        if threading.current_thread() is not threading.main_thread() or os.getpid() == 1:
            return
        installed = False
        for name in _ENDING_SIGNALS:
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            try:
                if signal.getsignal(signum) in (signal.SIG_DFL, None):
                    signal.signal(signum, self._on_signal)
                    installed = True
            except (ValueError, OSError):  # not allowed here (embedded interpreter): exit hook only
                pass
        if installed:
            self._nudger = signalnudge.Nudger(self._on_signal, lambda: self._signalled)
            self._nudger.arm()

    def add_providers(self, providers: Mapping[str, Any]) -> None:
        """The providers built after ``arm`` (on first use of telemetry), flushed from now on."""
        self.providers.update(
            {name: provider for name, provider in providers.items() if provider is not None}
        )
        self._fork_mask()

    def _fork_mask(self) -> None:
        if not self._fork_masked:
            self._fork_masked = True
            sigmask.around_fork()  # after the SDK's fork hooks, which restart its threads

    def rearm_after_reset(self) -> None:
        """Install the flush for SIGTERM and SIGINT where a server reset them to the default action.

        A default SIGINT (not Python's ``KeyboardInterrupt`` handler) ends the process without
        ``atexit``, exactly like a default SIGTERM: it gets the same flush-then-die handler.
        """
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                if signal.getsignal(signum) == signal.SIG_DFL:
                    signal.signal(signum, self._on_signal)
            except (ValueError, OSError):  # not the main thread
                pass

    @property
    def flushing(self) -> bool:
        """Whether a shutdown is running now."""
        return self._claim.locked() and not self._finished.is_set()

    def stop_began(self, at: float | None = None) -> None:
        """A server began stopping its workers, which flush meanwhile: this process's own
        final flush ends within one budget of ``at`` (``time.monotonic()``; now by default)."""
        if self._stop_began is None:
            self._stop_began = time.monotonic() if at is None else at

    def shutdown(self, reason: str = "exit") -> Outcome:
        """Flush and shut every provider down once; later calls return the first outcome.

        A signal held back during the flush (see ``_on_signal``) is delivered when it ends.
        """
        if not self._claim.acquire(blocking=False):
            # Begun already: by the frame this call interrupted (a signal handler, os._exit
            # inside the flush), which must not wait for itself, or by another thread.
            if self._owner is not threading.current_thread():
                self._finished.wait(self.budget_s + _FLOOR_S)
            return self.outcome or Outcome(f"{reason}: a shutdown is already in progress")
        self._owner = threading.current_thread()
        try:
            with _ctrl_c_waits():
                outcome = self._flush(reason)
        finally:
            self._finished.set()
        held, self._held_signal = self._held_signal, None
        if held is not None:
            _deliver_default(held)
        return outcome

    def _flush(self, reason: str) -> Outcome:
        if self.before_shutdown is not None:
            _quietly(self.before_shutdown)
        outcome = Outcome(reason)
        started = time.monotonic()
        deadline = started + self.budget_s
        if self._stop_began is not None:
            deadline = min(deadline, max(started + _FLOOR_S, self._stop_began + self.budget_s))
        threads = []
        with sigmask.blocked():  # a second SIGTERM must reach the main thread, which holds it
            for name, provider in self.providers.items():
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
                threads.append((name, thread))
        for name, thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                outcome.timed_out.append(name)
        outcome.duration_s = time.monotonic() - started
        self.outcome = outcome
        if self.on_shutdown is not None:
            _quietly(self.on_shutdown, outcome)
        return outcome

    def _at_exit(self) -> None:
        self.shutdown("exit")
        # The flush may import the exporter, which would turn Ctrl-C's status 130 into 1.
        exitstatus.keep_keyboard_interrupt_status()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signalled = True
        if self.flushing:
            # A flush is running, perhaps in the very frame this handler interrupted: let it
            # finish (it is bounded by the budget); shutdown() delivers the signal after it.
            if self._held_signal is None:
                self._held_signal = signum
            return
        self.shutdown(signal.Signals(signum).name)
        _deliver_default(signum)

    def in_forked_child(self) -> None:
        """Reset after a fork (run by ``os.register_at_fork``, or by uWSGI's post-fork hook)."""
        # A lock held by another thread of the parent at fork time stays held forever.
        self._reset()
        self.outcome = None
        if self._nudger is not None:
            self._nudger.in_forked_child()
        childexit.flush_before_exit(lambda: self.shutdown("os._exit"))
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


@contextlib.contextmanager
def _ctrl_c_waits() -> Iterator[None]:
    """After a Ctrl-C, a second Ctrl-C during the exit flush waits for it (within the budget).

    Python's default SIGINT handler raises ``KeyboardInterrupt`` in the main thread, out of
    the join that waits for the flush threads: the second Ctrl-C of an impatient user lost
    what was still being exported, printed "Exception ignored in atexit callback" and turned
    status 130 into 1. The process is ending because of the first one, so the second is only
    swallowed: the status stays 130, as without otel-run.

    Only then, when Python's own handler has just raised: ``signal.getsignal`` reports
    Python's handler even where C code replaced it behind Python's back (uWSGI's workers),
    and swapping it there would take the server's own handler away for good.
    """
    swapped = False
    if threading.current_thread() is threading.main_thread() and exitstatus.ended_by_keyboard_interrupt():
        try:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, _ctrl_c_during_flush)
                swapped = True
        except (ValueError, OSError):  # an interpreter that does not let us: as before
            pass
    try:
        yield
    finally:
        if swapped:
            try:
                if signal.getsignal(signal.SIGINT) is _ctrl_c_during_flush:
                    signal.signal(signal.SIGINT, signal.default_int_handler)
            except (ValueError, OSError):
                pass


def _ctrl_c_during_flush(signum: int, frame: FrameType | None) -> None:
    """SIGINT while the exit flush after a Ctrl-C runs: the process is ending already."""


def _deliver_default(signum: int) -> None:
    """End the process with ``signum`` as its default action would have."""
    try:
        signal.signal(signum, signal.SIG_DFL)
    except ValueError:  # not the main thread: our handler there finds the flush done, and re-sends
        pass
    os.kill(os.getpid(), signum)


def _quietly(function: Callable[..., Any], *args: Any) -> None:
    try:
        function(*args)
    except Exception:  # noqa: BLE001 - shutdown errors are the exporter's to log
        pass
