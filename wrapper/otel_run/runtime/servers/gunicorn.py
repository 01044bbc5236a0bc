"""gunicorn: the master's final flush shares the budget with its workers' flushes.

On SIGTERM the master tells its workers to stop and waits for them; each worker flushes
at its exit, within ``OTEL_RUN_SHUTDOWN_TIMEOUT``. Only then does the master exit and
flush its own telemetry. With a collector that does not answer, the two flushes came one
after the other: a 5 s budget made a 10.4 s stop. The master now notes when its stop
began (``Arbiter.stop``), and its own flush ends within one budget of that moment (at
least one quick try), so the whole stop fits in one budget. A worker likewise counts its
budget from the SIGTERM that stops it (``Worker.handle_exit``), not from the moment its
loop notices.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any


def arm(watch: Callable[[str, Callable[[ModuleType], None]], None], stop_began: Callable[[], None]) -> None:
    """Hook the arbiter and the workers once gunicorn imports them (``watch`` is the import hook's)."""
    watch("gunicorn.arbiter", lambda module: hook(module, stop_began))
    watch("gunicorn.workers.base", lambda module: hook_worker(module, stop_began))


def hook(module: ModuleType, stop_began: Callable[[], None]) -> None:
    """Call ``stop_began`` when ``gunicorn.arbiter.Arbiter`` starts stopping its workers."""
    _before(getattr(module, "Arbiter", None), "stop", stop_began)


def hook_worker(module: ModuleType, stop_began: Callable[[], None]) -> None:
    """Call ``stop_began`` when a worker (``gunicorn.workers.base.Worker``) gets its SIGTERM."""
    _before(getattr(module, "Worker", None), "handle_exit", stop_began)


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
