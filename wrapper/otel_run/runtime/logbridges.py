"""Export the records of loggers that bypass ``logging``: loguru, and structlog's default logger.

The log tap (``logs``) sees every record that goes through the standard library's
``logging``. Two popular libraries print without it, so their records were not
exported and nothing said so:

- **loguru** writes to its own sinks. We add one more sink that hands each record to the
  same OpenTelemetry handler the tap uses; the app's sinks, formats and output are
  untouched. The sink runs in the caller's thread, so the record carries the active
  span's trace context. It only takes records some other sink takes, and it comes back
  after ``logger.remove()`` (the usual first line of a loguru setup).
- **structlog**'s default configuration ends in ``PrintLogger``, which prints the
  rendered line to stdout. We wrap its level methods: each rendered line is exported
  (ANSI colours removed) at that method's level, then printed as before. An app that
  routes structlog through ``logging`` (``structlog.stdlib.LoggerFactory()``) is
  exported by the tap and never reaches ``PrintLogger``.

Where a library's shape is not what we know, we say once that its records are not
exported and how to route them through ``logging``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

Note = Callable[[str], None]
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STRUCTLOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "log": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "err": logging.ERROR,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
    "failure": logging.CRITICAL,
}
_STRUCTLOG_FIX = (
    "structlog's PrintLogger records are not exported; route structlog through logging "
    "(structlog.configure(logger_factory=structlog.stdlib.LoggerFactory(), ...)) to export them"
)
_LOGURU_FIX = (
    "loguru records are not exported; add a sink that forwards to logging "
    "(logger.add(logging.Handler subclass)) to export them"
)


def _emit(handler: logging.Handler, record: logging.LogRecord) -> None:
    try:
        if record.levelno >= handler.level:
            handler.handle(record)
    except Exception:  # noqa: BLE001 - telemetry never breaks the app's logging
        pass


# -- loguru -------------------------------------------------------------------------------


def hook_loguru(module: ModuleType, handler: logging.Handler, note: Note) -> None:
    """Export every record loguru's other sinks take, through ``handler``."""
    logger: Any = getattr(module, "logger", None)
    core: Any = getattr(logger, "_core", None)
    logger_class: Any = type(logger)
    if logger is None or core is None or not hasattr(core, "handlers") or not hasattr(logger_class, "remove"):
        note(_LOGURU_FIX)
        return
    ours: list[int] = []

    def others_min_level() -> int:
        levels = [h.levelno for key, h in dict(getattr(core, "handlers", {})).items() if key not in ours]
        return min(levels) if levels else logging.CRITICAL + 1

    def sink(message: Any) -> None:
        _emit(handler, _loguru_to_stdlib(message.record))

    def add() -> None:
        ours[:] = [
            logger.add(sink, level=0, filter=lambda r: r["level"].no >= others_min_level(), catch=True)
        ]

    original_remove = logger_class.remove

    def remove(self: Any, handler_id: int | None = None) -> None:
        original_remove(self, handler_id)
        if (
            getattr(self, "_core", None) is core
            and ours
            and ours[0] not in dict(getattr(core, "handlers", {}))
        ):
            add()

    remove.__doc__ = original_remove.__doc__
    try:
        add()
        logger_class.remove = remove
    except Exception:  # noqa: BLE001 - an unknown loguru: say so, never break it
        note(_LOGURU_FIX)


def _loguru_to_stdlib(record: Any) -> logging.LogRecord:
    exception = record.get("exception")
    exc_info = None
    if exception is not None and getattr(exception, "type", None) is not None:
        exc_info = (exception.type, exception.value, exception.traceback)
    result = logging.LogRecord(
        name=record.get("name") or "loguru",
        level=record["level"].no,
        pathname=getattr(record.get("file"), "path", "") or "",
        lineno=record.get("line") or 0,
        msg=record["message"],
        args=None,
        exc_info=exc_info,
        func=record.get("function"),
    )
    when = record.get("time")
    if when is not None:
        result.created = when.timestamp()
    return result


# -- structlog ----------------------------------------------------------------------------


def hook_structlog(module: ModuleType, handler: logging.Handler, note: Note) -> None:
    """Export what structlog's ``PrintLogger`` (its default output) prints, through ``handler``."""
    print_logger = getattr(module, "PrintLogger", None)
    if print_logger is None or not all(callable(getattr(print_logger, n, None)) for n in _STRUCTLOG_LEVELS):
        note(_STRUCTLOG_FIX)
        return
    if getattr(print_logger.msg, "_otel_run_exported", False):
        return
    for name, level in _STRUCTLOG_LEVELS.items():
        setattr(print_logger, name, _exporting(getattr(print_logger, name), level, handler))


def _exporting(method: Callable[..., Any], level: int, handler: logging.Handler) -> Callable[..., Any]:
    def exported(self: Any, message: Any = "", *args: Any, **kwargs: Any) -> Any:
        text = _ANSI.sub("", str(message))
        record = logging.LogRecord("structlog", level, "", 0, text, None, None)
        _emit(handler, record)
        return method(self, message, *args, **kwargs)

    exported._otel_run_exported = True  # type: ignore[attr-defined]
    exported.__doc__ = method.__doc__
    exported.__name__ = getattr(method, "__name__", "msg")
    return exported
