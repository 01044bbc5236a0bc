"""Django: arm its instrumentor once settings can be read; let runserver's child flush.

Settings. The standard ``wsgi.py``, ``asgi.py`` and ``manage.py`` import Django *before*
they set ``DJANGO_SETTINGS_MODULE``. Upstream's instrumentor, run on ``import django``,
finds no settings, calls ``settings.configure()`` with the empty defaults and every
request then fails (``global_settings`` has no ``ROOT_URLCONF``). Every standard entry
point (``get_wsgi_application``, ``get_asgi_application``, ``manage.py``) calls
``django.setup()`` after the settings module is chosen and before the handler loads its
middleware, so the instrumentor is armed at the end of ``django.setup()``: it then adds
its middleware to the project's real ``MIDDLEWARE``.

Autoreloader. ``manage.py runserver`` re-runs itself in a child and waits for it; on
SIGTERM the parent's handler raises ``SystemExit`` inside ``subprocess.run``, which
SIGKILLs the child, so the child's last spans were lost. In the parent we forward SIGTERM
to the child and wait for it (bounded) before the parent goes on exiting as it would.
"""

from __future__ import annotations

import functools
import os
import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any


def settings_ready() -> bool:
    """Whether Django's app registry is populated, so its settings have been read."""
    apps_module = sys.modules.get("django.apps")
    apps = getattr(apps_module, "apps", None)
    return bool(getattr(apps, "ready", False))


def when_settings_ready(module: ModuleType, proceed: Callable[[], None]) -> None:
    """Call ``proceed()`` once Django's settings can be read: now, or after ``django.setup()``.

    ``module`` is the imported ``django`` package. ``proceed`` may be called more than
    once (every ``django.setup()`` call); it must be idempotent.
    """
    if settings_ready():
        proceed()
        return
    original = getattr(module, "setup", None)
    if original is None or getattr(original, "_otel_run_hooked", False):
        return

    @functools.wraps(original)
    def setup(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        proceed()
        return result

    setup._otel_run_hooked = True  # type: ignore[attr-defined]
    module.setup = setup  # type: ignore[attr-defined]


def hook_autoreload(module: ModuleType, budget_s: float) -> None:
    """In runserver's watching parent, stop the serving child with SIGTERM rather than SIGKILL.

    ``module`` is ``django.utils.autoreload``. Only its own use of ``subprocess.run`` is
    replaced, and only in the parent (the child has ``RUN_MAIN=true``).
    """
    # Django's own marker of the serving child: the process role, not configuration.
    if os.environ.get(getattr(module, "DJANGO_AUTORELOAD_ENV", "RUN_MAIN")) == "true":
        return
    current = getattr(module, "subprocess", None)
    if current is None or isinstance(current, _GracefulSubprocess):
        return
    module.subprocess = _GracefulSubprocess(current, budget_s)  # type: ignore[attr-defined]


class _GracefulSubprocess:
    """``subprocess`` for the autoreloader: ``run`` ends the child with SIGTERM when interrupted."""

    def __init__(self, real: ModuleType, budget_s: float) -> None:
        self._real = real
        self._grace_s = budget_s + 1.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def run(self, args: Any, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """As ``subprocess.run`` without pipes or timeout, as the autoreloader calls it."""
        with self._real.Popen(args, **kwargs) as process:
            try:
                process.wait()
            except BaseException:
                # SystemExit from Django's SIGTERM handler (or KeyboardInterrupt): let the
                # child end the way it would on SIGTERM, flushing its telemetry.
                self._stop(process)
                raise
        completed: subprocess.CompletedProcess[Any] = self._real.CompletedProcess(args, process.returncode)
        return completed

    def _stop(self, process: subprocess.Popen[Any]) -> None:
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            process.wait(self._grace_s)
        except BaseException:  # noqa: BLE001 - a second signal, or the child will not end
            process.kill()
