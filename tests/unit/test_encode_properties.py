"""Property tests: otel-run's OTLP encoder writes exactly upstream's bytes.

For generated batches of SDK spans and log records (every attribute value type, nested,
empty, unicode, int64 edges, NaN/inf/-0.0, events, links, status, kinds, several
resources and scopes with equal-but-distinct objects, trace state, remote parents,
dropped counts, schema URLs), ``otel_run.runtime.encode`` must return the same bytes as
``encode_spans(...)`` / ``encode_logs(...)`` of opentelemetry-exporter-otlp-proto-common
followed by ``SerializePartialToString()``; and what upstream refuses (or logs and
skips), ours refuses with ``Unsupported`` so that the caller can hand it to upstream.
"""

from __future__ import annotations

import math
import struct
import warnings
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as upstream_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as upstream_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from otel_run.runtime.encode import encode_logs, encode_spans

pytestmark = pytest.mark.timeout(90)
# No "explain" phase: under Python < 3.12 its tracing makes a failure take minutes to report.
EXAMPLES = settings(
    max_examples=50,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INT64 = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, -1, 127, 128, 2**31, -(2**31), 2**63 - 1, -(2**63)]),
)
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308]),
    # NaNs with a sign bit and a payload: upb writes the double's bits as they are.
    st.integers(0, 2**52 - 1).map(
        lambda m: struct.unpack("<d", struct.pack("<Q", 0xFFF0000000000001 | m))[0]
    ),
)
# Valid UTF-8 only (no lone surrogates): those are tested apart, as Unsupported.
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
    # Around the sizes where a length prefix grows from one byte to two.
    st.sampled_from(["x" * 123, "x" * 124, "x" * 125, "x" * 126, "é" * 63, "y" * 300]),
)
KEYS = st.one_of(TEXT, st.sampled_from(["http.method", "http.route", "", "é", "日本", "a" * 200]))
SCALARS = st.one_of(st.none(), st.booleans(), TEXT, INT64, FLOATS, st.binary(max_size=40))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(KEYS, inner, max_size=4),
    ),
    max_leaves=12,
)
ATTRIBUTES = st.dictionaries(KEYS, VALUES, max_size=6)
# What the SDK's span attributes allow: scalars and homogeneous sequences of them.
SPAN_ATTRIBUTES = st.dictionaries(
    KEYS,
    st.one_of(
        st.booleans(), TEXT, INT64, FLOATS, st.lists(TEXT, max_size=3), st.lists(INT64, max_size=3).map(tuple)
    ),
    max_size=15,
)
IDS_128 = st.one_of(st.integers(0, 2**128 - 1), st.just(0))
IDS_64 = st.one_of(st.integers(0, 2**64 - 1), st.just(0))
TIMES = st.one_of(st.none(), st.just(0), st.integers(1, 2**64 - 1))
TRACE_STATE = st.lists(
    st.tuples(
        st.from_regex(r"[a-z][a-z0-9_\-*/]{0,8}", fullmatch=True),
        st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True),
    ),
    max_size=3,
    unique_by=lambda pair: pair[0],
).map(TraceState)
CONTEXTS = st.builds(
    SpanContext,
    trace_id=IDS_128,
    span_id=IDS_64,
    is_remote=st.booleans(),
    trace_flags=st.sampled_from([TraceFlags(0), TraceFlags(1)]),
    trace_state=st.one_of(st.none(), TRACE_STATE),
)


def _bounded(attributes: dict[str, Any], keep: int | None) -> Any:
    """Plain attributes, or the SDK's bounded ones with ``dropped`` > 0 when some don't fit."""
    if keep is None:
        return attributes
    return BoundedAttributes(maxlen=keep, attributes=attributes, immutable=False, extended_attributes=True)


MAYBE_KEEP = st.one_of(st.none(), st.integers(0, 3))
SCOPES = st.one_of(
    st.none(),
    st.builds(
        InstrumentationScope,
        name=TEXT,
        version=st.one_of(st.none(), TEXT),
        schema_url=st.one_of(st.none(), st.just(""), st.just("https://opentelemetry.io/schemas/1.21.0")),
        attributes=st.one_of(st.none(), ATTRIBUTES),
    ),
)
RESOURCES = st.builds(
    Resource,
    attributes=st.dictionaries(KEYS, st.one_of(TEXT, INT64, st.booleans(), FLOATS), max_size=6),
    schema_url=st.one_of(st.none(), st.just(""), st.just("https://opentelemetry.io/schemas/1.26.0")),
)


@st.composite
def owners(draw: st.DrawFn) -> list[tuple[Resource, InstrumentationScope | None]]:
    """A small pool of (resource, scope) pairs, including equal-but-distinct objects."""
    resources = draw(st.lists(RESOURCES, min_size=1, max_size=3))
    resources += [Resource(dict(r.attributes), r.schema_url) for r in resources if draw(st.booleans())]
    scopes = draw(st.lists(SCOPES, min_size=1, max_size=3))
    scopes += [
        InstrumentationScope(s.name, s.version, s.schema_url, s.attributes)
        for s in scopes
        if s is not None and draw(st.booleans())
    ]
    return [(r, s) for r in resources for s in scopes]


@st.composite
def events(draw: st.DrawFn) -> Event:
    """An event with plain or bounded attributes."""
    return Event(
        name=draw(TEXT),
        attributes=_bounded(draw(ATTRIBUTES), draw(MAYBE_KEEP)),
        timestamp=draw(st.one_of(st.just(0), st.integers(1, 2**64 - 1))),
    )


@st.composite
def spans(draw: st.DrawFn, pool: list[tuple[Resource, InstrumentationScope | None]]) -> ReadableSpan:
    """A finished span: any kind, status, parent, events, links and dropped counts."""
    resource, scope = draw(st.sampled_from(pool))
    code = draw(st.sampled_from(list(StatusCode)))
    description = draw(st.one_of(st.none(), TEXT)) if code is StatusCode.ERROR else None
    keep_events, keep_links = draw(MAYBE_KEEP), draw(MAYBE_KEEP)
    span_events: Any = draw(st.lists(events(), max_size=3))
    links: Any = [
        Link(context, _bounded(attributes, keep))
        for context, attributes, keep in draw(
            st.lists(st.tuples(CONTEXTS, ATTRIBUTES, MAYBE_KEEP), max_size=3)
        )
    ]
    if keep_events is not None:
        span_events = BoundedList.from_seq(keep_events, span_events)
    if keep_links is not None:
        links = BoundedList.from_seq(keep_links, links)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status = Status(code, description)
    return ReadableSpan(
        name=draw(TEXT),
        context=draw(CONTEXTS),
        parent=draw(st.one_of(st.none(), CONTEXTS)),
        resource=resource,
        attributes=_bounded(draw(st.one_of(SPAN_ATTRIBUTES, ATTRIBUTES)), draw(MAYBE_KEEP)),
        events=span_events,
        links=links,
        kind=draw(st.sampled_from(list(SpanKind))),
        status=status,
        start_time=draw(TIMES),
        end_time=draw(TIMES),
        instrumentation_scope=scope,
    )


@st.composite
def span_batches(draw: st.DrawFn) -> list[ReadableSpan]:
    """A batch of spans sharing a few resources and scopes."""
    pool = draw(owners())
    return draw(st.lists(spans(pool), min_size=0, max_size=8))


@st.composite
def log_records(
    draw: st.DrawFn, pool: list[tuple[Resource, InstrumentationScope | None]]
) -> ReadableLogRecord:
    """A log record: any body, severity (enum, bare int or none), trace context, event name."""
    resource, scope = draw(st.sampled_from(pool))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # trace_id/span_id/trace_flags are deprecated arguments
        record = LogRecord(
            timestamp=draw(TIMES),
            observed_timestamp=draw(st.one_of(st.none(), st.integers(1, 2**64 - 1))),
            trace_id=draw(IDS_128),
            span_id=draw(IDS_64),
            trace_flags=draw(st.sampled_from([TraceFlags(0), TraceFlags(1)])),
            severity_text=draw(st.one_of(st.none(), st.sampled_from(["INFO", "ERROR", ""]), TEXT)),
            severity_number=draw(
                st.one_of(st.none(), st.sampled_from(list(SeverityNumber)), st.integers(0, 24))
            ),
            body=draw(VALUES),
            attributes=None,
            event_name=draw(st.one_of(st.none(), st.just(""), TEXT)),
        )
    record.attributes = _bounded(draw(ATTRIBUTES), draw(MAYBE_KEEP))
    return ReadableLogRecord(log_record=record, resource=resource, instrumentation_scope=scope)


@st.composite
def log_batches(draw: st.DrawFn) -> list[ReadableLogRecord]:
    """A batch of log records sharing a few resources and scopes."""
    pool = draw(owners())
    return draw(st.lists(log_records(pool), min_size=0, max_size=8))


@EXAMPLES
@given(span_batches())
@example([])
def test_span_bytes_are_upstreams(batch: list[ReadableSpan]) -> None:
    """A span batch encodes to upstream's bytes, which the official message parses back."""
    ours = encode_spans(batch)
    assert ours == upstream_spans(batch).SerializePartialToString()
    assert ExportTraceServiceRequest.FromString(ours) == upstream_spans(batch)


@EXAMPLES
@given(log_batches())
@example([])
def test_log_bytes_are_upstreams(batch: list[ReadableLogRecord]) -> None:
    """A log batch encodes to upstream's bytes, which the official message parses back."""
    ours = encode_logs(batch)
    assert ours == upstream_logs(batch).SerializePartialToString()
    assert ExportLogsServiceRequest.FromString(ours) == upstream_logs(batch)


class _SpanSubclass(ReadableSpan):
    """A span type of someone else's: the encoder reads it through its public properties."""

    @property
    def attributes(self) -> Any:  # as ReadableSpan's, without the read-only proxy
        return self._attributes


@dataclass(frozen=True)
class _RecordSubclass(ReadableLogRecord):
    """A log record type of someone else's: ``dropped_attributes`` through its property."""


def _as_subclass(span: ReadableSpan) -> ReadableSpan:
    copy = _SpanSubclass.__new__(_SpanSubclass)
    copy.__dict__.update(span.__dict__)
    return copy


@EXAMPLES
@given(span_batches())
def test_span_bytes_are_upstreams_for_other_span_types(batch: list[ReadableSpan]) -> None:
    """Spans that are not exactly ``ReadableSpan`` (the encoder's fast path) encode the same."""
    others = [_as_subclass(span) for span in batch]
    assert all(type(span) is _SpanSubclass for span in others)
    assert encode_spans(others) == upstream_spans(others).SerializePartialToString()
    assert encode_spans(others) == encode_spans(batch)


@EXAMPLES
@given(log_batches())
def test_log_bytes_are_upstreams_for_other_record_types(batch: list[ReadableLogRecord]) -> None:
    """Log records that are not exactly ``ReadableLogRecord`` encode the same."""
    others = [
        _RecordSubclass(record.log_record, record.resource, record.instrumentation_scope) for record in batch
    ]
    assert encode_logs(others) == upstream_logs(others).SerializePartialToString()
    assert encode_logs(others) == encode_logs(batch)
