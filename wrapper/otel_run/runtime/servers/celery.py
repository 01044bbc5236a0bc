"""Celery prefork workers: each pool child flushes its telemetry before billiard ends it.

billiard ends a pool child (after ``--max-tasks-per-child`` tasks, or when a warm
shutdown drains the pool) with ``os._exit`` right after Celery's
``worker_process_shutdown`` signal, so neither ``atexit`` nor multiprocessing's
finalizers run there, and a child's last spans (its CONSUMER spans, the tasks' own
spans) never left the process: producer-to-worker traces were linked 0/10. The child's
providers are shut down from that signal instead, within ``OTEL_RUN_SHUTDOWN_TIMEOUT``.

The celery instrumentation itself needs nothing here: it is enabled in the worker's main
process when Celery is imported, and every forked child inherits it with the SDK's
per-fork export threads.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType


PREFORK_MODULE = "celery.concurrency.prefork"
_DISPATCH_UID = "otel-run-flush-before-exit"


def arm(module: ModuleType, shutdown: Callable[[str], object]) -> None:
    """Call ``shutdown("celery-child-exit")`` in every prefork child just before it exits.

    Run once Celery's prefork pool module is imported (only worker processes import it).
    """
    del module
    from celery import signals

    def flush(**_: object) -> None:
        shutdown("celery-child-exit")

    # weak=False: the receiver is a closure nothing else keeps alive.
    signals.worker_process_shutdown.connect(flush, weak=False, dispatch_uid=_DISPATCH_UID)
