"""uvicorn's gunicorn worker class: its workers must flush before they die of SIGTERM.

``gunicorn -k uvicorn.workers.UvicornWorker``: the worker resets SIGTERM and SIGINT to
their default action (uvicorn#894), then uvicorn's server captures them, shuts down
gracefully, restores the default and re-raises the signal. The worker dies of it without
running ``atexit``, and the spans of its last seconds were lost. We put the SIGTERM
flush back right after the reset: uvicorn then restores it instead of the default, and
re-raising runs it, after which the worker dies of SIGTERM exactly as it would have.

Plain ``uvicorn`` (alone, ``--workers N``, ``--reload``) needs nothing: each process it
starts is a fresh interpreter that boots, and the restored handler is ours.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any


def hook_worker(module: ModuleType, rearm_sigterm: Callable[[], None]) -> None:
    """Wrap ``UvicornWorker.init_signals`` in ``module`` (``uvicorn.workers``) to call ``rearm_sigterm``."""
    worker = getattr(module, "UvicornWorker", None)
    original = getattr(worker, "init_signals", None)
    if worker is None or original is None or getattr(original, "_otel_run_hooked", False):
        return

    @functools.wraps(original)
    def init_signals(self: Any) -> None:
        original(self)
        rearm_sigterm()

    init_signals._otel_run_hooked = True  # type: ignore[attr-defined]
    worker.init_signals = init_signals
