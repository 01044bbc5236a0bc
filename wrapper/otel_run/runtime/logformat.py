"""``OTEL_PYTHON_LOG_CORRELATION=true`` without taking the app's logging configuration away.

Upstream's logging instrumentation honours the variable by calling ``logging.basicConfig``
with a format that shows the trace context. At boot that happens before any app code, so
the root logger already has a handler when the app calls ``logging.basicConfig(...)``
itself, and the app's call does nothing: its logs moved from stdout to stderr, its format
was replaced and its DEBUG lines were lost.

Here upstream's handler is only a default: it prints a record only when no other handler
would (as Python's last-resort handler does), and it steps aside, restoring the root
logger's level, when the app configures logging with ``basicConfig``. An app that never
configures logging gets upstream's format with trace ids; an app that does gets exactly
its own configuration (its records still carry ``otelTraceID`` / ``otelSpanID`` for its
own format).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

_original_basic_config: Callable[..., None] | None = None


@contextmanager
def defaults_only(enabled: bool) -> Iterator[None]:
    """Around the logging instrumentation's start: the root handlers it adds become defaults."""
    root = logging.getLogger()
    before, level_before = list(root.handlers), root.level
    yield
    if enabled:
        adopt_default_handlers([handler for handler in root.handlers if handler not in before], level_before)


def adopt_default_handlers(added: Sequence[logging.Handler], level_before: int) -> None:
    """Turn the root handlers upstream's ``basicConfig`` ``added`` into defaults (see module doc).

    ``level_before`` is the root level before upstream's call, restored when the app
    configures logging itself.
    """
    global _original_basic_config
    if not added or _original_basic_config is not None:
        return
    ours = tuple(added)
    for handler in ours:
        handler.addFilter(_OnlyWithoutOtherHandlers(ours))
    original = logging.basicConfig
    _original_basic_config = original

    def basicConfig(**kwargs: Any) -> None:
        _restore_basic_config()
        root = logging.getLogger()
        if root.handlers and all(handler in ours for handler in root.handlers):
            for handler in ours:
                root.removeHandler(handler)
            if "level" not in kwargs:
                root.setLevel(level_before)
        original(**kwargs)

    basicConfig.__doc__ = original.__doc__
    logging.basicConfig = basicConfig


def _restore_basic_config() -> None:
    global _original_basic_config
    if _original_basic_config is not None:
        logging.basicConfig = _original_basic_config
        _original_basic_config = None


class _OnlyWithoutOtherHandlers(logging.Filter):
    """Let a record through only if no handler other than ``ours`` would handle it."""

    def __init__(self, ours: tuple[logging.Handler, ...]) -> None:
        super().__init__()
        self.ours = ours

    def filter(self, record: logging.LogRecord) -> bool:
        current: logging.Logger | None = (
            logging.getLogger(record.name) if record.name != "root" else logging.getLogger()
        )
        while current is not None:
            if any(handler not in self.ours for handler in current.handlers):
                return False
            if not current.propagate:
                break
            current = current.parent
        return True
