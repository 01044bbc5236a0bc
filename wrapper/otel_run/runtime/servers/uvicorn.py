"""uvicorn's gunicorn worker class: its workers must flush before they die of SIGTERM or Ctrl-C.

``gunicorn -k uvicorn.workers.UvicornWorker``: the worker resets SIGTERM and SIGINT to
their default action (uvicorn#894), then uvicorn's server captures them, shuts down
gracefully, restores the handlers it found and re-raises the signal. With the default
action restored, the worker died of it without running ``atexit``, and the spans of its
last seconds were lost: at SIGTERM (a rollout), and at Ctrl-C, which the terminal sends
to the whole process group, so every worker gets its own SIGINT (0 of 6 request spans
arrived). We put the flush-then-die handler on both right after the reset: uvicorn then
restores it instead of the default, and re-raising runs it, after which the worker dies
of that signal exactly as it would have.

Plain ``uvicorn`` (alone, ``--workers N``, ``--reload``) needs nothing: each process it
starts is a fresh interpreter that boots, Python's own SIGINT handler raises
``KeyboardInterrupt`` (whose exit path runs ``atexit``), and the restored SIGTERM handler
is ours.
"""

from __future__ import annotations

import functools

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any


def hook_worker(module: ModuleType, rearm: Callable[[], None]) -> None:
    """Wrap ``UvicornWorker.init_signals`` in ``module`` (``uvicorn.workers``) to call ``rearm``
    (which puts the flush on the signals the reset left at their default action)."""
    worker = getattr(module, "UvicornWorker", None)
    original = getattr(worker, "init_signals", None)
    if worker is None or original is None or getattr(original, "_otel_run_hooked", False):
        return

    @functools.wraps(original)
    def init_signals(self: Any) -> None:
        original(self)
        rearm()

    init_signals._otel_run_hooked = True  # type: ignore[attr-defined]
    worker.init_signals = init_signals
