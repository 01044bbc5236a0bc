"""SQLAlchemy: the driver's span of a statement nests under SQLAlchemy's span of it.

Upstream starts SQLAlchemy's span in ``before_cursor_execute`` and ends it in
``after_cursor_execute`` (or ``handle_error``) without making it current in between, so
the driver's own span (psycopg, psycopg2, sqlite3, ...) of the same statement starts a
second root trace (opentelemetry-python-contrib#2826). We make the span current for
exactly that interval: attached when upstream's ``before`` returns, detached when its
``after`` or ``handle_error`` runs, on the same thread.
"""

from __future__ import annotations

from typing import Any

_TOKEN = "_otel_run_token"


def apply() -> None:
    """Wrap upstream's three event handlers before any engine is instrumented; idempotent."""
    from opentelemetry.instrumentation.sqlalchemy import engine as module

    engine: Any = module  # upstream is untyped; we replace three of its attributes
    if getattr(engine, "_otel_run_nesting", False):
        return
    engine.EngineTracer._before_cur_exec = _attaching(engine.EngineTracer._before_cur_exec)
    engine._after_cur_exec, engine._handle_error = _detaching(engine._after_cur_exec, engine._handle_error)
    engine._otel_run_nesting = True


def _attaching(before: Any) -> Any:
    from opentelemetry import context, trace

    def _before_cur_exec(
        self: Any, conn: Any, cursor: Any, statement: Any, params: Any, ctx: Any, executemany: Any
    ) -> Any:
        result = before(self, conn, cursor, statement, params, ctx, executemany)
        span = getattr(ctx, "_otel_span", None)
        if span is not None and getattr(ctx, _TOKEN, None) is None:
            setattr(ctx, _TOKEN, context.attach(trace.set_span_in_context(span)))
        return result

    return _before_cur_exec


def _detaching(after: Any, handle_error: Any) -> tuple[Any, Any]:
    """Upstream's ``after_cursor_execute`` and ``handle_error`` handlers, detaching first.

    Explicit signatures: SQLAlchemy inspects a listener's arguments.
    """

    def _after_cur_exec(
        conn: Any, cursor: Any, statement: Any, params: Any, ctx: Any, executemany: Any
    ) -> Any:
        _detach(ctx)
        return after(conn, cursor, statement, params, ctx, executemany)

    def _handle_error(exception_context: Any) -> Any:
        _detach(getattr(exception_context, "execution_context", None))
        return handle_error(exception_context)

    return _after_cur_exec, _handle_error


def _detach(ctx: Any) -> None:
    from opentelemetry import context

    token = getattr(ctx, _TOKEN, None)
    if token is None:
        return
    setattr(ctx, _TOKEN, None)
    context.detach(token)
