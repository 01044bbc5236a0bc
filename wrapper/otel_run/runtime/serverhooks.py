"""Arm the adapters of ``runtime/servers/`` on the import of the server each one adapts.

Boot calls ``gates()`` for the instrumentors that must wait past their library's import,
and ``arm()`` once the lifecycle exists. Nothing of a server is imported here: each
adapter runs when the app imports that server.
"""

from __future__ import annotations

from otel_run.runtime.servers import celery as celery_support
from otel_run.runtime.servers import django as django_support
from otel_run.runtime.servers import gunicorn as gunicorn_support
from otel_run.runtime.servers import reloader
from otel_run.runtime.servers import uvicorn as uvicorn_support

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from otel_run.runtime.importhook import ImportWatcher
    from otel_run.runtime.instrument import Gate
    from otel_run.runtime.lifecycle import Lifecycle


def gates() -> dict[str, Gate]:
    """Instrumentor name -> when, after its library's import, it can be enabled."""
    return {"django": django_support.when_settings_ready}


def arm(imports: ImportWatcher, cycle: Lifecycle, on_reloader_watcher: Callable[[], None]) -> None:
    """Watch for the servers whose worker or reloader model needs an adapter.

    ``on_reloader_watcher`` is called in the process that becomes Werkzeug's reloader watcher.
    """
    imports.watch("werkzeug._reloader", lambda module: reloader.hook(module, on_reloader_watcher))
    imports.watch(
        "django.utils.autoreload", lambda module: django_support.hook_autoreload(module, cycle.budget_s)
    )
    imports.watch(
        "uvicorn.workers", lambda module: uvicorn_support.hook_worker(module, cycle.rearm_after_reset)
    )
    imports.watch(celery_support.PREFORK_MODULE, lambda module: celery_support.arm(module, cycle.shutdown))
    gunicorn_support.arm(imports.watch, cycle.stop_began)
