"""gunicorn: the master's final flush shares the budget with its workers'; a worker's stop
signal is not lost while it boots.

On SIGTERM the master tells its workers to stop and waits for them; each worker flushes
at its exit, within ``OTEL_RUN_SHUTDOWN_TIMEOUT``. Only then does the master exit and
flush its own telemetry. With a collector that does not answer, the two flushes came one
after the other: a 5 s budget made a 10.4 s stop. The master now notes when its stop
began (``Arbiter.stop``), and its own flush ends within one budget of that moment (at
least one quick try), so the whole stop fits in one budget. A worker likewise counts its
budget from the SIGTERM that stops it (``Worker.handle_exit``), not from the moment its
loop notices.

A worker forked by the master keeps the master's signal handlers until its
``init_signals`` installs its own. A SIGTERM (or SIGINT, SIGQUIT) that reaches it in
between runs the master's handler, which queues it in the worker's copy of the master's
queue, where nothing reads it: the worker lives on until the master gives up after
``graceful_timeout`` (30 s) and kills it. gunicorn has that window by itself (about 1 ms);
the fork hooks that restart the SDK's threads in the child widen it to tens of
milliseconds, and a stop that came just after a worker was replaced hung for 30 s. So
``spawn_worker`` holds those signals blocked across the fork, and the worker unblocks them
once its own handlers are in place (at ``load_wsgi``, which every worker runs right after
``init_signals``, or at its first ``notify`` otherwise): a stop signal sent meanwhile is
delivered to the worker's own handler, as if it had come a moment later.
"""

from __future__ import annotations

import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any


_STOP_SIGNALS = frozenset(
    number for name in ("SIGTERM", "SIGINT", "SIGQUIT") if (number := getattr(signal, name, None)) is not None
)
_mask_before_spawn: set[int] | None = None
"""In a worker that has not installed its handlers yet: the mask to put back once it has."""


def arm(watch: Callable[[str, Callable[[ModuleType], None]], None], stop_began: Callable[[], None]) -> None:
    """Hook the arbiter and the workers once gunicorn imports them (``watch`` is the import hook's)."""
    watch("gunicorn.arbiter", lambda module: hook(module, stop_began))
    watch("gunicorn.workers.base", lambda module: hook_worker(module, stop_began))


def hook(module: ModuleType, stop_began: Callable[[], None]) -> None:
    """Call ``stop_began`` when ``gunicorn.arbiter.Arbiter`` starts stopping its workers, and
    hold the stop signals across ``spawn_worker``'s fork."""
    arbiter = getattr(module, "Arbiter", None)
    _before(arbiter, "stop", stop_began)
    _hold_signals_across(arbiter, "spawn_worker")


def hook_worker(module: ModuleType, stop_began: Callable[[], None]) -> None:
    """Call ``stop_began`` when a worker (``gunicorn.workers.base.Worker``) gets its SIGTERM, and
    let the signals held since its fork through once its own handlers are installed."""
    worker = getattr(module, "Worker", None)
    _before(worker, "handle_exit", stop_began)
    _before(worker, "load_wsgi", handlers_installed)
    _before(worker, "notify", handlers_installed)


def handlers_installed() -> None:
    """In a worker: its handlers are in place, a stop signal held since the fork may come."""
    global _mask_before_spawn
    previous, _mask_before_spawn = _mask_before_spawn, None
    if previous is not None:
        from otel_run.runtime import sigmask

        sigmask.restore(previous)


def _hold_signals_across(cls: Any, name: str) -> None:
    original = getattr(cls, name, None)
    if original is None or getattr(original, "_otel_run_hooked", False):
        return

    from otel_run.runtime import sigmask  # here: only a process that imports gunicorn needs it

    def spawn(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _mask_before_spawn
        previous = sigmask.block(_STOP_SIGNALS)
        _mask_before_spawn = previous  # the worker inherits it, and puts it back itself
        try:
            return original(self, *args, **kwargs)
        finally:  # the master, once the worker is forked (or a worker leaving through sys.exit)
            _mask_before_spawn = None
            sigmask.restore(previous)

    spawn._otel_run_hooked = True  # type: ignore[attr-defined]
    spawn.__doc__ = original.__doc__
    setattr(cls, name, spawn)


def _before(cls: Any, name: str, stop_began: Callable[[], None]) -> None:
    original = getattr(cls, name, None)
    if original is None or getattr(original, "_otel_run_hooked", False):
        return

    def stop(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            stop_began()
        except Exception:  # noqa: BLE001 - never in the way of gunicorn's own stop
            pass
        return original(self, *args, **kwargs)

    stop._otel_run_hooked = True  # type: ignore[attr-defined]
    stop.__doc__ = original.__doc__
    setattr(cls, name, stop)
