"""Make sure a SIGTERM that reached the process reaches our handler too.

CPython runs a Python signal handler later, in the main thread, at its next bytecode;
a C call blocked in the kernel returns early (EINTR) so that the handler can run. But a
signal that arrives just before the main thread enters such a call (after it released
the GIL, before the system call) is marked as received and the call then blocks for
good: a ``multiprocessing.Pool`` worker killed by ``Pool.terminate()`` at that moment
waited forever on its queue's semaphore, and its parent with it (seen in about one run
in ten). With the default action the kernel would have ended it at once.

So while our flush-and-die handler is installed, the C-level handler also writes the
signal number to a pipe (``signal.set_wakeup_fd``), and a small thread reading it
re-sends the signal to the main thread if our handler has not started within a moment,
which interrupts the blocked call. When the app (asyncio) sets a wakeup fd of its own,
ours is replaced, never theirs; and only our own handler is ever nudged.
"""

from __future__ import annotations

import _thread
import os
import signal
import threading
import time

from otel_run.runtime import sigmask

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

GRACE_S = 0.2
"""How long our handler gets to start by itself before the main thread is interrupted again."""


class Nudger:
    """Re-sends an ending signal to the main thread when ``handler`` did not start after it."""

    def __init__(self, handler: Callable[..., object], started: Callable[[], bool]) -> None:
        self._handler = handler
        self._started = started
        self._fds: tuple[int, int] | None = None

    def arm(self) -> None:
        """Install the wakeup pipe and start the reader (main thread only; else nothing)."""
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_kill"):
            return
        if _green():  # a "thread" would be a greenlet, and its blocking read would stall the hub
            return
        read_fd, write_fd = os.pipe()
        try:
            os.set_blocking(write_fd, False)
            previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        except (ValueError, OSError):
            _close(read_fd, write_fd)
            return
        if previous != -1:  # the app's own wakeup fd: keep it, go without
            signal.set_wakeup_fd(previous)
            _close(read_fd, write_fd)
            return
        self._fds = (read_fd, write_fd)
        main = threading.main_thread().ident
        # A bare thread, not a threading.Thread: the app's threading.enumerate() and
        # active_count() stay what they would be without otel-run (it never touches threading).
        with sigmask.blocked():
            _thread.start_new_thread(self._watch, (read_fd, write_fd, main))

    def in_forked_child(self) -> None:
        """The parent's pipe and reader are not ours to use: a pipe and a reader of our own."""
        if self._fds is None:
            return
        inherited, self._fds = self._fds, None
        try:
            current = signal.set_wakeup_fd(-1)
        except ValueError:
            return
        if current == inherited[1]:
            self.arm()
        else:  # the app set its own meanwhile: theirs stays
            signal.set_wakeup_fd(current)
        _close(*inherited)

    def _watch(self, read_fd: int, write_fd: int, main: int | None) -> None:
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data:
                return
            for number in set(data):
                if number not in (signal.SIGTERM, getattr(signal, "SIGHUP", -1)):
                    continue
                time.sleep(GRACE_S)
                if self._started() or signal.getsignal(number) != self._handler or main is None:
                    continue
                if self._fds != (read_fd, write_fd):  # replaced after a fork
                    return
                try:
                    signal.pthread_kill(main, number)
                except (OSError, ValueError):
                    return


def _green() -> bool:
    """Whether gevent or eventlet has patched ``threading`` in this process."""
    import sys

    gevent = sys.modules.get("gevent.monkey")
    if gevent is not None and getattr(gevent, "is_module_patched", lambda _: False)("threading"):
        return True
    eventlet = sys.modules.get("eventlet.patcher")
    return eventlet is not None and bool(getattr(eventlet, "is_monkey_patched", lambda _: False)("thread"))


def _close(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
