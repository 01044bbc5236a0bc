"""The export path: what the exporters do on the app's behalf stays out of the app's telemetry and logs.

An OTLP/HTTP export is a ``requests`` call, so ``urllib3`` logs ``"POST /v1/logs HTTP/1.1"
200`` at DEBUG. In an app that logs at DEBUG that line reached the app's handlers (its
stdout) and the log tap, which exported it, which caused the next POST: 14 such records
for one real one in 15 s. Every call into an exporter therefore runs inside
``export_path()``: instrumentation is suppressed there (the SDK's processors already do
this for their own exports; the flush at exit and a deferred exporter's build are ours),
and the log tap drops the records of other libraries' loggers made there, so they reach
neither the app's handlers nor the exporter. The SDK's and exporters' own loggers
(``opentelemetry.*``) keep their handlers: that is how export trouble is told.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

_local = threading.local()


def in_export_path() -> bool:
    """Whether this thread is inside a call into an exporter."""
    return bool(getattr(_local, "depth", 0))


@contextmanager
def export_path() -> Iterator[None]:
    """Mark this thread as exporting, with instrumentation suppressed, until the block ends."""
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value

    _local.depth = getattr(_local, "depth", 0) + 1
    token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        yield
    finally:
        detach(token)
        _local.depth -= 1


class QuietExporter:
    """An exporter whose ``export``, ``force_flush`` and ``shutdown`` run inside ``export_path()``.

    Everything else (the metric exporter's preferred temporality and aggregation, read by
    the metric reader; a watched exporter's ``inner``) is the wrapped exporter's.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def export(self, *args: Any, **kwargs: Any) -> Any:
        """Export through the wrapped exporter, on the export path."""
        with export_path():
            return self._inner.export(*args, **kwargs)

    def force_flush(self, *args: Any, **kwargs: Any) -> Any:
        """Flush the wrapped exporter, on the export path."""
        with export_path():
            return self._inner.force_flush(*args, **kwargs)

    def shutdown(self, *args: Any, **kwargs: Any) -> Any:
        """Shut the wrapped exporter down, on the export path."""
        with export_path():
            return self._inner.shutdown(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
