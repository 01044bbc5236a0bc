"""Flush in forked children that leave through ``os._exit``.

A forked child's normal way out is often ``os._exit``: ``multiprocessing`` and billiard
(Celery's prefork pool) end their children with it after the task loop, and a bare
``os.fork()`` child should use it so that it does not run the parent's ``atexit``
handlers. ``os._exit`` skips ``atexit``, so every span such a child made was lost.

In a forked child (only there: in the process otel-run launched, ``os._exit`` is a
deliberate "stop now") ``os._exit`` is replaced by a function that runs the bounded
flush first, then the real ``os._exit`` with the same status. It is looked up at call
time by ``multiprocessing``, billiard and most code, so they all go through it. Code
that bound the function before the fork (``from os import _exit``) cannot be reached;
nothing can flush there.
"""

from __future__ import annotations

import functools
import os
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

_real_exit: Callable[[int], NoReturn] = os._exit
_local = threading.local()


def flush_before_exit(flush: Callable[[], Any]) -> None:
    """Make ``os._exit`` in this (forked) process run ``flush`` first. Idempotent per process."""

    @functools.wraps(_real_exit)
    def _exit(status: int) -> NoReturn:
        # os._exit from inside the flush (an exporter's own child, a signal handler) must
        # still leave at once: this is the function people call when nothing else may run.
        if not getattr(_local, "flushing", False):
            _local.flushing = True
            try:
                flush()
            except BaseException:  # noqa: BLE001 - leaving is the caller's intent, whatever happens
                pass
        _real_exit(status)

    _exit._otel_run_flush = True  # type: ignore[attr-defined]
    os._exit = _exit


def restore() -> None:
    """Put the real ``os._exit`` back (for tests)."""
    os._exit = _real_exit  # type: ignore[assignment]
