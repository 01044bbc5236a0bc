"""otel-run's patches to a span's and a log record's containers (what a queued one keeps alive, how
attributes fill) export exactly upstream's content, and step aside when upstream changed."""

from __future__ import annotations

import copy
import copyreg
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import attributes as otel_attributes
from opentelemetry import context as otel_context
from opentelemetry import trace as trace_api
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk._logs import ReadWriteLogRecord
from opentelemetry.sdk._logs._internal import export as log_export
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

import logcaught
from otel_run.runtime.encode import encode_logs as our_encode_logs
from otel_run.runtime.encode import encode_spans as our_encode_spans
from otel_run.runtime.patches import bounded_items, log_copy, span_ending

_upstream_readable = getattr(sdk_trace.Span._readable_span, "__wrapped__", sdk_trace.Span._readable_span)
_ours_readable = span_ending.without_empty_lists(_upstream_readable, sdk_trace.ReadableSpan, BoundedList)
_upstream_on_emit = getattr(
    log_export.BatchLogRecordProcessor.on_emit, "__wrapped__", log_export.BatchLogRecordProcessor.on_emit
)
_ours_on_emit = log_copy.direct_copy(
    _upstream_on_emit, LogRecord, Resource, log_export.ReadableLogRecord, otel_context.Context()
)
_RESOURCE = Resource.create({"service.name": "t"})
_SCOPE = InstrumentationScope("t", "1")
_LINK_CONTEXT = trace_api.SpanContext(0x1234, 0x5678, is_remote=True)


def _span(events: int, links: int, limits: sdk_trace.SpanLimits, end: bool) -> sdk_trace._Span:
    span = sdk_trace._Span(
        "GET /",
        trace_api.SpanContext(0xABC, 0xDEF, is_remote=False),
        resource=_RESOURCE,
        attributes={"k": "v"},
        links=[trace_api.Link(_LINK_CONTEXT, {"n": n}) for n in range(links)],
        limits=limits,
        instrumentation_scope=_SCOPE,
    )
    span.start(start_time=1)
    for n in range(events):
        span.add_event(f"e{n}", {"n": n}, timestamp=2 + n)
    if end:
        span.end(end_time=100)
    return span


def _seen(readable: Any) -> tuple[Any, ...]:
    """Everything a processor or exporter reads of a ReadableSpan."""
    return (
        readable.name,
        readable.context,
        readable.parent,
        readable.kind,
        dict(readable.attributes),
        readable.dropped_attributes,
        [(e.name, e.timestamp, dict(e.attributes or {})) for e in readable.events],
        readable.dropped_events,
        [(link.context, dict(link.attributes or {})) for link in readable.links],
        readable.dropped_links,
        readable.status.status_code,
        readable.start_time,
        readable.end_time,
        readable.resource,
        readable.instrumentation_scope,
        readable.to_json(),
        encode_spans([readable]).SerializeToString(),
        # otel-run's encoder reads an exact ReadableSpan's fields directly (the `()` included)
        our_encode_spans([readable]),
    )


@settings(max_examples=120, deadline=None)
@given(
    events=st.integers(0, 3),
    links=st.integers(0, 2),
    max_events=st.sampled_from([0, 1, 128]),
    max_links=st.sampled_from([0, 1, 128]),
    end=st.booleans(),
)
def test_readable_spans_export_what_upstreams_do(
    events: int, links: int, max_events: int, max_links: int, end: bool
) -> None:
    """With or without events, links, drops (limits 0 and 1), ended or not: the same content and bytes."""
    limits = sdk_trace.SpanLimits(max_events=max_events, max_links=max_links)
    span = _span(events, links, limits, end)
    ours, theirs = _ours_readable(span), _upstream_readable(span)
    assert _seen(ours) == _seen(theirs)
    assert our_encode_spans([ours]) == encode_spans([theirs]).SerializePartialToString()
    assert (ours._events == ()) == (end and span._events.dropped == 0 and not span._events._dq)
    assert (ours._links == ()) == (end and span._links.dropped == 0 and not span._links._dq)


def test_a_span_not_ended_keeps_its_live_lists() -> None:
    """A ReadableSpan taken before the end still shares the span's lists, as upstream's does."""
    span = _span(0, 0, sdk_trace.SpanLimits(), end=False)
    readable = _ours_readable(span)
    assert readable._events is span._events and readable._links is span._links
    span.add_event("later")
    assert [e.name for e in readable.events] == ["later"]


def test_an_ended_span_leaves_no_empty_list_queued() -> None:
    """The queued ReadableSpan of a span without events or links holds neither list (the GC saving)."""
    provider = sdk_trace.TracerProvider(resource=_RESOURCE)
    queued: list[Any] = []

    class Keep(sdk_trace.SpanProcessor):
        def on_end(self, span: Any) -> None:
            queued.append(span)

    provider.add_span_processor(Keep())
    before = sdk_trace.Span._readable_span
    try:
        sdk_trace.Span._readable_span = _ours_readable  # type: ignore[method-assign]
        provider.get_tracer("t").start_span("s").end()
    finally:
        sdk_trace.Span._readable_span = before  # type: ignore[method-assign]
    assert not any(isinstance(value, BoundedList) for value in vars(queued[0]).values())
    assert queued[0].events == () and queued[0].links == () and queued[0].dropped_events == 0


def test_readable_span_has_the_known_shape() -> None:
    """The installed SDK's Span._readable_span is the one the patch is written for (apply() accepts it)."""
    before = sdk_trace.Span._readable_span
    try:
        sdk_trace.Span._readable_span = _upstream_readable  # type: ignore[method-assign]
        span_ending.apply()
        assert sdk_trace.Span._readable_span.__wrapped__ is _upstream_readable  # type: ignore[attr-defined]
    finally:
        sdk_trace.Span._readable_span = before  # type: ignore[method-assign]


def test_another_readable_span_shape_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A _readable_span of another shape raises LookupError and stays upstream's."""

    def _readable_span(self: Any) -> Any:
        return sdk_trace.ReadableSpan(name=self._name)

    monkeypatch.setattr(sdk_trace.Span, "_readable_span", _readable_span)
    with pytest.raises(LookupError, match="changed shape"):
        span_ending.apply()
    assert sdk_trace.Span._readable_span is _readable_span


class _Record(LogRecord):
    """A LogRecord subclass: the patch hands it to copy.copy."""


_BODY = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.integers(-(2**63), 2**63 - 1),
    st.lists(st.text(max_size=3), max_size=3),
)
_ATTRIBUTES = st.one_of(
    st.none(),
    st.dictionaries(
        st.text(min_size=1, max_size=5), st.one_of(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1))
    ),
)


def _queued(on_emit: Any, writable: ReadWriteLogRecord) -> Any:
    """What ``on_emit`` puts in the batch queue."""
    taken: list[Any] = []

    class Processor:
        _batch_processor = type("Queue", (), {"emit": staticmethod(taken.append)})()

    on_emit(Processor(), writable)
    return taken[0]


def _log_seen(readable: Any) -> tuple[Any, ...]:
    """Everything an exporter reads of a queued ReadableLogRecord, and the record's own fields."""
    fields = dict(vars(readable.log_record))
    fields["attributes"] = dict(fields["attributes"] or {})
    return (
        type(readable),
        type(readable.log_record),
        fields,
        readable.resource,
        readable.instrumentation_scope,
        repr(readable.limits),
        readable.dropped_attributes,
        readable.to_json(),
        encode_logs([readable]).SerializeToString(),
        our_encode_logs([readable]),  # otel-run's encoder, on the directly copied record too
    )


@settings(max_examples=200, deadline=None)
@given(
    body=_BODY,
    attributes=_ATTRIBUTES,
    in_span=st.booleans(),
    subclass=st.booleans(),
    event_name=st.one_of(st.none(), st.just("app.event")),
    with_resource=st.booleans(),
)
def test_queued_log_records_are_upstreams(
    body: Any, attributes: Any, in_span: bool, subclass: bool, event_name: str | None, with_resource: bool
) -> None:
    """Any body, attributes, trace context, record class, no resource: the same queued record and bytes."""
    span_context = trace_api.SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=trace_api.TraceFlags(1))
    ctx = trace_api.set_span_in_context(trace_api.NonRecordingSpan(span_context)) if in_span else None
    kind = _Record if subclass else LogRecord

    def writable() -> ReadWriteLogRecord:
        record = kind(
            timestamp=5,
            observed_timestamp=6,
            context=ctx,
            severity_text="INFO",
            severity_number=SeverityNumber.INFO,
            body=copy.deepcopy(body),
            attributes=copy.deepcopy(attributes),
            event_name=event_name,
        )
        return ReadWriteLogRecord(
            record, resource=_RESOURCE if with_resource else None, instrumentation_scope=_SCOPE
        )

    mine, theirs = writable(), writable()
    ours, upstream = _queued(_ours_on_emit, mine), _queued(_upstream_on_emit, theirs)
    assert _log_seen(ours) == _log_seen(upstream)
    assert our_encode_logs([ours]) == encode_logs([upstream]).SerializePartialToString()
    assert ours.log_record is not mine.log_record  # a copy, as upstream's
    assert mine.log_record.context == theirs.log_record.context  # the original keeps its context


def test_every_copy_gets_an_empty_context_that_refuses_changes() -> None:
    """The one shared empty Context cannot be changed through its API."""
    record = ReadWriteLogRecord(LogRecord(body="x"), resource=_RESOURCE)
    shared = _queued(_ours_on_emit, record).log_record.context
    assert shared == otel_context.Context() and type(shared) is otel_context.Context
    for change in (
        lambda: shared.__setitem__("k", 1),
        lambda: shared.update(k=1),
        lambda: shared.pop("k"),
        lambda: shared.setdefault("k", 1),
    ):
        with pytest.raises(ValueError):
            change()
    assert _queued(_ours_on_emit, record).log_record.context is shared


def test_only_plain_classes_are_copied_directly() -> None:
    """A class that customises copying (slots, __copy__, __reduce_ex__, copyreg) is left to copy.copy."""

    class Slotted:
        __slots__ = ("a",)

    class Copies:
        def __copy__(self) -> Copies:
            return self

    class Reduces:
        def __reduce_ex__(self, protocol: Any) -> Any:
            return (Reduces, ())

    class Registered:
        pass

    copyreg.pickle(Registered, lambda obj: (Registered, ()))
    try:
        assert log_copy.plain_class(LogRecord)
        assert not any(log_copy.plain_class(c) for c in (Slotted, Copies, Reduces, Registered))
    finally:
        del copyreg.dispatch_table[Registered]


def test_batch_log_on_emit_has_the_known_shape() -> None:
    """The installed SDK's on_emit is the one the patch is written for (apply() accepts it)."""
    processor = log_export.BatchLogRecordProcessor
    before = processor.on_emit
    try:
        processor.on_emit = _upstream_on_emit  # type: ignore[method-assign]
        log_copy.apply()
        assert processor.on_emit.__wrapped__ is _upstream_on_emit  # type: ignore[attr-defined]
    finally:
        processor.on_emit = before  # type: ignore[method-assign]


def test_another_on_emit_shape_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """An on_emit of another shape raises LookupError and stays upstream's."""

    def on_emit(self: Any, log_record: Any) -> None:
        self._batch_processor.emit(log_record)

    monkeypatch.setattr(log_export.BatchLogRecordProcessor, "on_emit", on_emit)
    with pytest.raises(LookupError, match="changed shape"):
        log_copy.apply()
    assert log_export.BatchLogRecordProcessor.on_emit is on_emit


_upstream_set_items = getattr(
    otel_attributes.BoundedAttributes._set_items,
    "__wrapped__",
    otel_attributes.BoundedAttributes._set_items,
)
_bulk_set_items = bounded_items.bulk_when_empty(
    _upstream_set_items, otel_attributes, otel_attributes.BoundedAttributes
)
_ITEM = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.lists(st.integers(0, 3), max_size=3),
    st.just(object()),
)
_ITEMS = st.dictionaries(st.one_of(st.text(max_size=4), st.just(""), st.integers(0, 2)), _ITEM, max_size=8)


def _filled(
    set_items: Any, first: Any, second: Any, maxlen: int | None, limit: int | None, immutable: bool
) -> tuple[Any, ...]:
    """A BoundedAttributes built with ``set_items`` from ``first``, then given ``second``: what it holds."""
    bounded = otel_attributes.BoundedAttributes
    before = bounded._set_items
    outcome: list[Any] = []
    with logcaught.messages("opentelemetry.attributes") as caught:
        try:
            bounded._set_items = set_items  # type: ignore[method-assign]
            attributes = bounded(maxlen, copy.copy(first), immutable=False, max_value_len=limit)
            attributes._immutable = immutable
            try:
                attributes._set_items(copy.copy(second))
            except TypeError as error:  # immutable: upstream refuses
                outcome.append(str(error))
        finally:
            bounded._set_items = before  # type: ignore[method-assign]
    held = [
        (key, type(value), value if type(value) is not object else "object")
        for key, value in attributes.items()
    ]
    return held, attributes.dropped, caught, outcome


@settings(max_examples=500, deadline=None)
@given(
    first=_ITEMS,
    second=_ITEMS,
    maxlen=st.sampled_from([None, 0, 1, 3, 128]),
    limit=st.sampled_from([None, 0, 3]),
    immutable=st.booleans(),
)
def test_filled_attributes_are_upstreams(
    first: dict[Any, Any], second: dict[Any, Any], maxlen: int | None, limit: int | None, immutable: bool
) -> None:
    """Any items, into an empty or a filled container, within or over maxlen: upstream's items, warnings."""
    assert _filled(_bulk_set_items, first, second, maxlen, limit, immutable) == _filled(
        _upstream_set_items, first, second, maxlen, limit, immutable
    )


def test_set_items_has_the_known_shape() -> None:
    """The installed API's BoundedAttributes._set_items is the one the patch is written for."""
    bounded = otel_attributes.BoundedAttributes
    before = bounded._set_items
    try:
        bounded._set_items = _upstream_set_items  # type: ignore[method-assign]
        bounded_items.apply()
        assert bounded._set_items.__wrapped__ is _upstream_set_items  # type: ignore[attr-defined]
    finally:
        bounded._set_items = before  # type: ignore[method-assign]


def test_a_subclass_with_its_own_setitem_gets_upstreams_path() -> None:
    """A subclass overriding _setitem_locked sees every item go through it, as with upstream's method."""
    seen: list[str] = []

    class Mine(otel_attributes.BoundedAttributes):
        def _setitem_locked(self, key: str, value: Any) -> None:
            seen.append(key)
            super()._setitem_locked(key, value)

    before = otel_attributes.BoundedAttributes._set_items
    try:
        otel_attributes.BoundedAttributes._set_items = _bulk_set_items  # type: ignore[method-assign]
        Mine(8, {"a": 1, "b": 2})
    finally:
        otel_attributes.BoundedAttributes._set_items = before  # type: ignore[method-assign]
    assert seen == ["a", "b"]
