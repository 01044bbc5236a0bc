"""The Werkzeug/Flask debug reloader: only the serving child exports.

With ``debug=True`` the process the user started becomes a watcher that re-runs the
same command in a child (``WERKZEUG_RUN_MAIN=true``) and restarts it on changes. Both
processes import the app, so everything the app does at import time would be exported
twice. The watcher serves nothing, so we mute its telemetry once it becomes the watcher.
"""

from __future__ import annotations

import functools
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any


def hook(module: ModuleType, on_watcher: Callable[[], None]) -> None:
    """Wrap ``werkzeug._reloader.run_with_reloader`` to call ``on_watcher`` in the watcher."""
    original = getattr(module, "run_with_reloader", None)
    if original is None or getattr(original, "_otel_run_hooked", False):
        return

    @functools.wraps(original)
    def run_with_reloader(*args: Any, **kwargs: Any) -> Any:
        # Werkzeug's own marker of the serving child; the process role, not configuration.
        if os.environ.get("WERKZEUG_RUN_MAIN") != "true":
            on_watcher()
        return original(*args, **kwargs)

    run_with_reloader._otel_run_hooked = True  # type: ignore[attr-defined]
    module.run_with_reloader = run_with_reloader  # type: ignore[attr-defined]
