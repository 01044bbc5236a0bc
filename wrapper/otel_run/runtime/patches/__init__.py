"""Small fixes to upstream instrumentations, applied just before otel-run turns one on.

Each fix lives in its own module, named in ``_BEFORE``, and is imported only when its
instrumentation is activated, so an app that never imports the library pays nothing.
A fix that cannot be applied leaves the instrumentation exactly as upstream ships it.
Two kinds: fixes of behaviour (sqlite3, sqlalchemy) and per-request savings (the HTTP
ones), which compute once what upstream recomputes on every request and must give
exactly upstream's result (tests/e2e/test_content_equivalence.py is the proof).

A third group, ``after_build``, makes the SDK's own per-item work cheaper (attribute
cleaning, metric aggregation keys, the logging handler's logger lookup, what a queued
span or log record keeps alive); each is applied
when the SDK is built, or when the module it changes is imported later, never importing
that module itself.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

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
        "otel_run.runtime.patches.flask_requests",
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


# module whose import applies the fix → (the fix's module, what to call on it)
_AFTER_BUILD: tuple[tuple[str, str, str], ...] = (
    ("opentelemetry.attributes", "otel_run.runtime.patches.attribute_cleaning", "apply"),
    ("opentelemetry.attributes", "otel_run.runtime.patches.bounded_items", "apply"),
    (
        "opentelemetry.sdk.metrics._internal.measurement",
        "otel_run.runtime.patches.attribute_cleaning",
        "rebind",
    ),
    (
        "opentelemetry.sdk.metrics._internal._view_instrument_match",
        "otel_run.runtime.patches.metrics_hashing",
        "apply",
    ),
    (
        "opentelemetry.sdk.metrics._internal._view_instrument_match",
        "otel_run.runtime.patches.metrics_lookup",
        "apply",
    ),
    ("opentelemetry.instrumentation.logging.handler", "otel_run.runtime.patches.log_loggers", "apply"),
    ("opentelemetry.sdk.trace", "otel_run.runtime.patches.span_ending", "apply"),
    ("opentelemetry.sdk._logs._internal.export", "otel_run.runtime.patches.log_copy", "apply"),
)


def after_build(
    watch: Callable[[str, Callable[[ModuleType], None]], None], note: Callable[[str], None]
) -> None:
    """Apply the SDK fixes now for modules already imported, and on import for the others.

    ``watch(name, callback)`` calls back once ``name`` is imported (at once if it is);
    ``note`` gets one line per fix that could not be applied (upstream's code then runs
    as it ships)."""
    for module_name, fix, function in _AFTER_BUILD:
        watch(module_name, _applier(module_name, fix, function, note))


def _applier(
    module_name: str, fix: str, function: str, note: Callable[[str], None]
) -> Callable[[ModuleType], None]:
    def on_import(module: ModuleType) -> None:
        try:
            target = getattr(importlib.import_module(fix), function)
            if function == "apply":
                target()
            else:
                target(module)
        except Exception as error:  # noqa: BLE001 - upstream's code still works without the fix
            note(
                f"otel-run's fix for {module_name} ({fix.rpartition('.')[2]}) could not be applied "
                f"({type(error).__name__}: {error}); upstream's code runs as it ships"
            )

    return on_import
