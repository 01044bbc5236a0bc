"""Ended spans: a queued span holds no empty event and link lists.

Every SDK span makes two ``BoundedList``s in ``__init__`` (events and links), each a
Python object with a ``deque`` and a ``threading.Lock``: six objects the garbage
collector tracks. ``Span.end`` hands the processors a ``ReadableSpan`` built by
``Span._readable_span``, which shares those very lists, so a span waiting in the batch
queue (up to 2,048 of them, for up to 5 s) keeps all six alive, and every collection of
the oldest generation traverses them: ~6 of the ~18 objects a request leaves queued for
the sample app's ``GET /`` (one span, one log record), and the collector's work is
proportional to them (docs/performance.md). Most spans have neither events nor links.
No upstream issue tracks this that we could find; opentelemetry-java#6244 and #6252
made the same change in Java (allocate a span's event and link lists only when used).

For a span that has ended (its lists can no longer change: ``add_event`` and
``add_link`` refuse an ended span) and whose list is empty with nothing dropped, the
``ReadableSpan`` gets ``()`` instead of that list. What every reader sees is the same:
``events`` and ``links`` are ``tuple(...)`` of it (``()``), ``dropped_events`` and
``dropped_links`` are 0 either way, ``to_json`` formats an empty sequence. The live
span keeps its own lists. Anything else (a list with items or drops, a span not ended,
another ``ReadableSpan`` type) is upstream's object untouched.

Applied by ``patches.after_build`` when ``opentelemetry.sdk.trace`` is imported, to the
function shape it was written for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MARK = "_otel_run_empty_lists"
# What upstream's _readable_span reads and passes: another set means upstream changed it.
_NAMES = frozenset(
    {
        *("ReadableSpan", "_name", "_context", "_parent", "_resource", "_attributes", "_events"),
        *("_links", "kind", "_status", "_start_time", "_end_time", "_instrumentation_info"),
        "_instrumentation_scope",
    }
)
_KEYWORDS = (
    *("name", "context", "parent", "resource", "attributes", "events", "links", "kind", "status"),
    *("start_time", "end_time", "instrumentation_info", "instrumentation_scope"),
)


def apply() -> None:
    """Replace ``Span._readable_span`` by ``without_empty_lists(original)``; idempotent."""
    from opentelemetry.sdk import trace
    from opentelemetry.sdk.util import BoundedList

    span: Any = trace.Span  # we replace one of its methods
    original = span._readable_span
    if getattr(original, _MARK, False):
        return
    code = original.__code__
    if set(code.co_names) != _NAMES or _KEYWORDS not in code.co_consts or code.co_argcount != 1:
        raise LookupError("Span._readable_span changed shape")
    if not {"_dq", "dropped"} <= set(BoundedList.__init__.__code__.co_names):
        raise LookupError("BoundedList no longer keeps a _dq and a dropped count")
    readable = trace.ReadableSpan
    for read, names in (("events", {"tuple", "_events"}), ("links", {"tuple", "_links"})):
        if set(getattr(readable, read).fget.__code__.co_names) != names:
            raise LookupError(f"ReadableSpan.{read} no longer returns a tuple of its list")
    for read, field in (("dropped_events", "_events"), ("dropped_links", "_links")):
        counted = {"isinstance", field, "BoundedList", "dropped"}
        if set(getattr(readable, read).fget.__code__.co_names) != counted:
            raise LookupError(f"ReadableSpan.{read} no longer counts only a BoundedList's drops")
    span._readable_span = without_empty_lists(original, readable, BoundedList)


def without_empty_lists(
    original: Callable[[Any], Any], readable_type: Any, bounded_list: Any
) -> Callable[[Any], Any]:
    """``original``'s ``ReadableSpan``, with ``()`` for an ended span's empty, undropped lists."""

    def _readable_span(self: Any) -> Any:
        readable = original(self)
        if type(readable) is readable_type and self._end_time is not None:
            events = readable._events
            if type(events) is bounded_list and not events._dq and not events.dropped:
                readable._events = ()
            links = readable._links
            if type(links) is bounded_list and not links._dq and not links.dropped:
                readable._links = ()
        return readable

    _readable_span.__wrapped__ = original  # type: ignore[attr-defined]
    _readable_span.__doc__ = original.__doc__
    setattr(_readable_span, _MARK, True)
    return _readable_span
