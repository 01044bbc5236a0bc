"""Small fixes to upstream instrumentations, applied just before otel-run turns one on.

Each fix lives in its own module, named in ``_BEFORE``, and is imported only when its
instrumentation is activated, so an app that never imports the library pays nothing.
A fix that cannot be applied leaves the instrumentation exactly as upstream ships it.
Two kinds: fixes of behaviour (sqlite3, sqlalchemy) and per-request savings (the HTTP
ones), which compute once what upstream recomputes on every request and must give
exactly upstream's result (tests/e2e/test_content_equivalence.py is the proof).
"""

from __future__ import annotations

import importlib

_HTTP_SETTINGS = "otel_run.runtime.patches.http_settings"
_WSGI_ATTRIBUTES = "otel_run.runtime.patches.wsgi_attributes"

# instrumentor entry-point name → modules whose ``apply()`` runs before ``instrument()``
_BEFORE: dict[str, tuple[str, ...]] = {
    "sqlite3": ("otel_run.runtime.patches.sqlite3_connection",),
    "sqlalchemy": ("otel_run.runtime.patches.sqlalchemy_nesting",),
    "flask": (
        _HTTP_SETTINGS,
        _WSGI_ATTRIBUTES,
        "otel_run.runtime.patches.flask_excluded",
        "otel_run.runtime.patches.flask_before_request",
    ),
    "wsgi": (_HTTP_SETTINGS, _WSGI_ATTRIBUTES),
    **{
        name: (_HTTP_SETTINGS,)
        for name in (
            "aiohttp-client",
            "aiohttp-server",
            "asgi",
            "django",
            "falcon",
            "fastapi",
            "httpx",
            "pyramid",
            "requests",
            "starlette",
            "tornado",
            "urllib",
            "urllib3",
        )
    },
}


def before_instrument(name: str) -> str | None:
    """Apply otel-run's fixes for instrumentor ``name``, if it has any; why one failed, or None."""
    failed: list[str] = []
    for module_name in _BEFORE.get(name, ()):
        try:
            importlib.import_module(module_name).apply()
        except Exception as error:  # noqa: BLE001 - upstream's instrumentation still works without the fix
            failed.append(f"{module_name.rpartition('.')[2]}: {type(error).__name__}: {error}")
    return "; ".join(failed) or None
