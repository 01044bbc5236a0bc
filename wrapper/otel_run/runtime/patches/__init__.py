"""Small fixes to upstream instrumentations, applied just before otel-run turns one on.

Each fix lives in its own module, named in ``_BEFORE``, and is imported only when its
instrumentation is activated, so an app that never imports the library pays nothing.
A fix that cannot be applied leaves the instrumentation exactly as upstream ships it.
"""

from __future__ import annotations

import importlib

# instrumentor entry-point name → module whose ``apply()`` runs before ``instrument()``
_BEFORE: dict[str, str] = {
    "sqlite3": "otel_run.runtime.patches.sqlite3_connection",
    "sqlalchemy": "otel_run.runtime.patches.sqlalchemy_nesting",
}


def before_instrument(name: str) -> str | None:
    """Apply otel-run's fix for instrumentor ``name``, if it has one; the reason it failed, or None."""
    module_name = _BEFORE.get(name)
    if module_name is None:
        return None
    try:
        importlib.import_module(module_name).apply()
    except Exception as error:  # noqa: BLE001 - upstream's instrumentation still works without the fix
        return f"{type(error).__name__}: {error}"
    return None
