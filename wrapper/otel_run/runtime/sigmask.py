"""Keep SIGTERM and SIGHUP away from the SDK's background threads.

The kernel delivers a process-directed signal to any thread that does not block it.
Python runs its handlers only in the main thread: when the signal lands on another
thread (a batch processor's, idle in a futex wait), the main thread is not interrupted,
and if it is blocked in a call that only a signal ends (``multiprocessing``'s semaphore
waits, seen in a ``Pool`` worker during ``Pool.terminate()``), our flush-then-die handler
never runs and the process lives on. With the default action the kernel would have
killed it whichever thread it picked.

So the threads otel-run and the SDK start (built at boot, restarted after fork, our
shutdown threads) start with these signals blocked; they inherit the mask of the thread
that creates them, so the creating thread blocks them for that moment. The app's own
threads are left as they are.
"""

from __future__ import annotations

import contextlib
import signal
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

_ENDING = frozenset(
    number for number in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if number
)
_saved: dict[int, set[int] | None] = {}
"""Per forking thread (its id survives into the child), the mask to restore after the fork."""


@contextlib.contextmanager
def blocked() -> Iterator[None]:
    """Threads started inside this block do not receive SIGTERM or SIGHUP."""
    previous = block()
    try:
        yield
    finally:
        restore(previous)


def block(signals: frozenset[int] = _ENDING) -> set[int] | None:
    """Block ``signals`` (the ending ones: SIGTERM, SIGHUP) in this thread; returns the mask to
    ``restore`` (None: unsupported)."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None or not signals:
        return None
    try:
        return set(mask(signal.SIG_BLOCK, signals))
    except (OSError, ValueError):
        return None


def restore(previous: set[int] | None) -> None:
    """Put back the mask ``block`` returned."""
    if previous is not None:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        except (OSError, ValueError):
            pass


def around_fork() -> None:
    """Block the ending signals from just before a fork until the child's fork hooks (the SDK's,
    which restart its threads, registered earlier) have run; then restore them in both."""

    def before() -> None:
        _saved[threading.get_ident()] = block()

    def after() -> None:
        restore(_saved.pop(threading.get_ident(), None))

    import os

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=before, after_in_parent=after, after_in_child=after)
