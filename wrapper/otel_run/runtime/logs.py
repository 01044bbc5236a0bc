"""Export the app's log records without taking over its logging configuration.

Upstream attaches a handler to the root logger. That changes what the app prints:
``logging.warning()`` no longer configures a console handler on first use (it only
does when the root has no handlers), and the "last resort" handler that prints
warnings from unconfigured apps stops firing. We instead tap ``Logger.callHandlers``:
every record the app's loggers accept also goes to the OpenTelemetry handler, and
the app's own handlers, levels and ``basicConfig`` behave exactly as without us.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from otel_run.runtime.exportpath import in_export_path

# Records from the SDK and from otel-run itself are not exported: an export error
# logged while exporting must not feed back into the exporter.
_OWN_LOGGERS = ("opentelemetry", "otel_run")

_original_call_handlers: Callable[[logging.Logger, logging.LogRecord], None] | None = None


def otel_handler_types() -> tuple[type, ...]:
    """Upstream handler classes; a record already reaching one is not exported twice."""
    types: list[type] = []
    try:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler as InstrumentationHandler

        types.append(InstrumentationHandler)
    except ImportError:
        pass
    try:
        from opentelemetry.sdk._logs import LoggingHandler as SdkHandler

        types.append(SdkHandler)
    except ImportError:
        pass
    return tuple(types)


# Trace context the logging instrumentation adds to every stdlib record (for the app's own
# formats). The exported record carries the same context in its own fields, so these
# would only duplicate it as attributes.
_INJECTED = ("otelSpanID", "otelTraceID", "otelTraceSampled", "otelServiceName")


def make_handler(logger_provider: Any) -> logging.Handler:
    """The upstream OpenTelemetry logging handler bound to ``logger_provider``.

    Records carry ``code.*`` attributes as upstream's default handler does, and not the
    duplicated ``otel*`` trace-context attributes.
    """
    try:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
    except ImportError:  # older instrumentation-logging: the SDK's handler, as it is
        from opentelemetry.sdk._logs import LoggingHandler as SdkHandler

        sdk_handler: logging.Handler = SdkHandler(level=logging.NOTSET, logger_provider=logger_provider)
        return sdk_handler

    class Handler(LoggingHandler):
        def _get_attributes(self, record: logging.LogRecord) -> Any:
            attributes, event_name = super()._get_attributes(record)
            for key in _INJECTED:
                attributes.pop(key, None)
            return attributes, event_name

        def flush(self) -> None:
            try:
                super().flush()
            except RuntimeError:
                # logging.shutdown() at exit: Python 3.12.0 and 3.12.1 refuse the thread
                # upstream flushes in (cpython#113964); otel-run's exit flush does it.
                pass

    handler: logging.Handler = Handler(
        level=logging.NOTSET, logger_provider=logger_provider, log_code_attributes=True
    )
    return handler


def _handled_by_app_otel_handler(logger: logging.Logger, types: tuple[type, ...]) -> bool:
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if isinstance(handler, types):
                return True
        if not current.propagate:
            return False
        current = current.parent
    return False


def tap(handler: logging.Handler | None) -> None:
    """Send every record the app's loggers accept to ``handler`` too (None: logs are not
    exported), and drop other libraries' records made on the export path. Idempotent."""
    global _original_call_handlers
    if _original_call_handlers is not None:
        return
    original = logging.Logger.callHandlers
    _original_call_handlers = original
    types: list[tuple[type, ...]] = []
    """Found on the first record: importing them imports the SDK."""

    def callHandlers(self: logging.Logger, record: logging.LogRecord) -> None:
        own = record.name.startswith(_OWN_LOGGERS)
        if not own and in_export_path():
            return  # urllib3's "POST /v1/logs" and the like: not the app's (see exportpath)
        try:
            if handler is not None and not own and record.levelno >= handler.level:
                if not types:
                    types.append(otel_handler_types())
                if not _handled_by_app_otel_handler(self, types[0]):
                    handler.handle(record)
        except Exception:  # noqa: BLE001 - telemetry never breaks the app's logging
            pass
        original(self, record)

    logging.Logger.callHandlers = callHandlers  # type: ignore[method-assign,assignment]


def untap() -> None:
    """Undo ``tap`` (for tests)."""
    global _original_call_handlers
    if _original_call_handlers is not None:
        logging.Logger.callHandlers = _original_call_handlers  # type: ignore[method-assign,assignment]
        _original_call_handlers = None
