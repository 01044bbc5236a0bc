"""Build an upstream exporter on its first export, on the exporting thread.

Importing the OTLP exporters (``requests``, ``urllib3``, the protobuf encoders) is a
large share of start-up; the app's first request does not need them, only the first
batch does, seconds later on the batch processor's thread. ``DeferredExporter`` stands
in until then. It is used only when building later is known to give the same exporter
as building now: an HTTP exporter, no TLS files to check, and no ``OTEL_EXPORTER_OTLP_*``
value that Settings rejected (upstream constructors re-read those variables).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

# One build at a time across all signals: the three exporter threads importing the same
# exporter package at once can form an import-lock cycle (_DeadlockError).
_BUILD_LOCK = threading.Lock()
_DEADLOCK_RETRIES = 5
_FORK_WAIT_S = 5.0
_instances: weakref.WeakSet[DeferredExporter] = weakref.WeakSet()
_held_for_fork = False


def _before_fork() -> None:
    # A build is an import; a fork in the middle of it would leave the child with module
    # locks held by a thread it does not have (gunicorn forks workers while the master's
    # batch threads may be exporting). Forks wait for a build in progress to finish.
    global _held_for_fork
    _held_for_fork = _BUILD_LOCK.acquire(timeout=_FORK_WAIT_S)


def _after_fork_in_parent() -> None:
    global _held_for_fork
    if _held_for_fork:
        _held_for_fork = False
        _BUILD_LOCK.release()


def _after_fork_in_child() -> None:
    global _BUILD_LOCK, _held_for_fork
    _BUILD_LOCK = threading.Lock()
    _held_for_fork = False
    for exporter in list(_instances):
        exporter.forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )


class DeferredExporter:
    """An exporter whose upstream exporter is built on the first call to ``export``.

    A build failure is told once through ``note`` and that export fails; the next export
    tries again (a failed import can be transient). Metric readers read the preferred
    temporality and aggregation at construction, so those are given up front.
    """

    def __init__(
        self,
        build: Callable[[], Any],
        failure: Callable[[], Any],
        note: Callable[[str], None],
        what: str,
        preferred_temporality: dict[type, Any] | None = None,
        preferred_aggregation: dict[type, Any] | None = None,
    ) -> None:
        self._build = build
        self._failure = failure
        self._note = note
        self._what = what
        self._inner: Any = None
        self._told = False
        self._lock = threading.Lock()
        self._preferred_temporality = preferred_temporality or {}
        self._preferred_aggregation = preferred_aggregation or {}
        _instances.add(self)

    def forget(self) -> None:
        """In a forked child: drop the parent's upstream exporter, so that the child builds
        its own, with its own connection pool (the parent's may have been mid-request, its
        lock held, at the moment of the fork)."""
        self._lock = threading.Lock()
        self._inner = None
        self._told = False

    @property
    def built(self) -> bool:
        """Whether the upstream exporter exists yet."""
        return self._inner is not None

    def _get(self) -> Any:
        with self._lock:
            if self._inner is None:
                try:
                    self._inner = self._build_serially()
                except Exception as error:  # noqa: BLE001 - reported; the app must not notice
                    if not self._told:
                        self._told = True
                        self._note(
                            f"could not create the {self._what} exporter ({type(error).__name__}: {error})"
                        )
                    return None
            return self._inner

    def _build_serially(self) -> Any:
        for attempt in range(_DEADLOCK_RETRIES):
            try:
                with _BUILD_LOCK:
                    return self._build()
            except RuntimeError as error:
                # An app thread importing the same modules at this moment can still close
                # an import-lock cycle with ours; Python breaks it by raising in one of them.
                if type(error).__name__ != "_DeadlockError" or attempt == _DEADLOCK_RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def export(self, batch: Any, *args: Any, **kwargs: Any) -> Any:
        """Build the upstream exporter if needed, then export through it."""
        inner = self._get()
        if inner is None:
            return self._failure()
        return inner.export(batch, *args, **kwargs)

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        """Flush the upstream exporter, if it was ever built."""
        return True if self._inner is None else bool(self._inner.force_flush(timeout_millis))

    def shutdown(self, *args: Any, **kwargs: Any) -> Any:
        """Shut the upstream exporter down, if it was ever built."""
        return None if self._inner is None else self._inner.shutdown(*args, **kwargs)
