"""Metrics SDK: a measurement of a series that exists already finds its aggregation with one lookup.

``_ViewInstrumentMatch.consume_measurement`` (every synchronous measurement: three per HTTP
server request) copies the measurement's attributes (``dict(...)``), builds their
aggregation key, tests ``key in self._attributes_aggregation`` and then reads
``self._attributes_aggregation[key]``: the key (a tuple of tagged pairs, ~0.35 µs to hash
for nine attributes, tuples do not cache their hash) is hashed and compared twice. The copy
is there for the aggregation a new series creates and keeps (the caller may change its
dict afterwards: opentelemetry-python#4610); for a series that exists it is only hashed.
The key's cost came up in the review of opentelemetry-python#5266 (a faster key was
proposed) and was left for a follow-up; no issue tracks it that we could find.

For a view without an attribute-key filter and attributes that are ``None``, empty or a
``dict``, the key of the copy equals the key of the dict itself (``_hash_attributes`` reads
only items). We build it from the measurement's own attributes, look the aggregation up
once (``dict.get``; aggregations are only ever added, under the lock) and hand it the
measurement, as upstream does. A series seen for the first time, a view that filters
keys, or attributes of another type go to upstream's method, which copies, creates the
aggregation under the lock and aggregates, exactly as it ships.

Applied by ``patches.after_build`` when the metrics SDK's ``_view_instrument_match`` is
imported (never importing it), to the method shape it was written for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MARK = "_otel_run_one_lookup"
# What upstream's consume_measurement reads: another set means upstream changed it.
_NAMES = frozenset(
    {
        *("DefaultAggregation", "__class__", "_aggregation", "_attribute_keys", "_attributes_aggregation"),
        *("_create_aggregation", "_exemplar_reservoir_factory", "_hash_attributes", "_instrument"),
        *("_instrument_class_aggregation", "_lock", "_view", "aggregate", "attributes", "dict"),
        *("isinstance", "items", "time_ns"),
    }
)
_PARAMETERS = ("self", "measurement", "should_sample_exemplar")


def apply() -> None:
    """Replace ``_ViewInstrumentMatch.consume_measurement`` by ``one_lookup(...)``; idempotent."""
    from opentelemetry.sdk.metrics._internal import _view_instrument_match

    module: Any = _view_instrument_match
    match = module._ViewInstrumentMatch
    original = match.consume_measurement
    if getattr(original, _MARK, False):
        return
    code = original.__code__
    if set(code.co_names) != _NAMES or code.co_varnames[: code.co_argcount] != _PARAMETERS:
        raise LookupError("_ViewInstrumentMatch.consume_measurement changed shape")
    match.consume_measurement = one_lookup(original, module)


def one_lookup(original: Callable[..., None], module: Any) -> Callable[..., None]:
    """``original``, finding an existing series' aggregation with one key and one lookup."""
    empty: dict[str, Any] = {}

    def consume_measurement(self: Any, measurement: Any, should_sample_exemplar: bool = True) -> None:
        attributes = measurement.attributes
        if self._view._attribute_keys is None and (not attributes or type(attributes) is dict):
            aggregation = self._attributes_aggregation.get(module._hash_attributes(attributes or empty))
            if aggregation is not None:
                aggregation.aggregate(measurement, should_sample_exemplar)
                return
        original(self, measurement, should_sample_exemplar)

    consume_measurement.__wrapped__ = original  # type: ignore[attr-defined]
    consume_measurement.__doc__ = original.__doc__
    setattr(consume_measurement, _MARK, True)
    return consume_measurement
