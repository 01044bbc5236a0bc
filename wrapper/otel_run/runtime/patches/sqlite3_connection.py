"""sqlite3: trace ``Connection.execute``, ``executemany`` and ``executescript``, not only cursors.

Upstream's DB-API integration hands out a proxy of the connection whose ``cursor()``
returns traced cursors, but sqlite3's shortcut methods make their cursor in C, behind
the proxy, so the idiomatic ``conn.execute(...)`` makes no span
(opentelemetry-python-contrib#3082). Connections the sqlite3 integration proxies get
these three methods routed through a traced cursor, which emits exactly the span
upstream emits for ``cursor.execute``: same name, kind, attributes and metrics.
"""

from __future__ import annotations

from typing import Any

_DATABASE_SYSTEM = "sqlite"


def apply() -> None:
    """Make the DB-API integration hand sqlite3 connections our proxy; idempotent."""
    from opentelemetry.instrumentation import dbapi

    original = dbapi.get_traced_connection_proxy
    if getattr(original, "_otel_run_sqlite3", False):
        return
    proxy_class = _proxy_class(dbapi.TracedConnectionProxy)

    def get_traced_connection_proxy(
        connection: Any, db_api_integration: Any, *args: Any, **kwargs: Any
    ) -> Any:
        if getattr(db_api_integration, "database_system", None) == _DATABASE_SYSTEM and hasattr(
            connection, "executescript"
        ):
            return proxy_class(connection, db_api_integration)
        return original(connection, db_api_integration, *args, **kwargs)

    get_traced_connection_proxy._otel_run_sqlite3 = True  # type: ignore[attr-defined]
    dbapi.get_traced_connection_proxy = get_traced_connection_proxy


def _proxy_class(base: type[Any]) -> type[Any]:
    class SQLiteConnectionProxy(base):  # type: ignore[misc, valid-type]
        """Upstream's connection proxy, plus sqlite3's three shortcuts through traced cursors.

        Each shortcut does what sqlite3 documents: make a cursor, call the method of the
        same name on it, return the cursor.
        """

        def execute(self, *args: Any, **kwargs: Any) -> Any:
            cursor = self.cursor()
            cursor.execute(*args, **kwargs)
            return cursor

        def executemany(self, *args: Any, **kwargs: Any) -> Any:
            cursor = self.cursor()
            cursor.executemany(*args, **kwargs)
            return cursor

        def executescript(self, *args: Any, **kwargs: Any) -> Any:
            cursor = self.cursor()
            raw = cursor.__wrapped__
            # The traced cursor wraps execute/executemany/callproc only; its tracer makes
            # the same span for the script.
            cursor._self_cursor_tracer.traced_execution(raw, raw.executescript, *args, **kwargs)
            return cursor

    return SQLiteConnectionProxy
