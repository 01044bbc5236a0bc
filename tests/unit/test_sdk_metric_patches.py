"""otel-run's one-lookup ``consume_measurement`` aggregates exactly what upstream's does, and steps
aside when upstream changed."""

from __future__ import annotations

import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import AlwaysOnExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics._internal import _view_instrument_match
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import View

from otel_run.runtime.patches import metrics_lookup

_match = _view_instrument_match._ViewInstrumentMatch
_upstream = getattr(_match.consume_measurement, "__wrapped__", _match.consume_measurement)
_ours = metrics_lookup.one_lookup(_upstream, _view_instrument_match)

_VALUE = st.one_of(st.text(max_size=2), st.integers(0, 2), st.booleans(), st.just(1.0))
_ATTRIBUTES = st.one_of(
    st.none(),
    st.just({}),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), _VALUE, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), _VALUE, max_size=2).map(types.MappingProxyType),
    st.dictionaries(st.sampled_from(["a"]), st.lists(st.integers(0, 1), max_size=2), max_size=1),
)
_MEASUREMENT = st.tuples(
    st.sampled_from(["counter", "histogram", "updown", "filtered"]), st.integers(0, 50), _ATTRIBUTES
)


def _points(consume: Any, measurements: list[tuple[str, int, Any]]) -> list[Any]:
    """Feed ``measurements`` to a fresh provider with ``consume`` in place; what it collects, sans times."""
    before = _match.consume_measurement
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader],
        exemplar_filter=AlwaysOnExemplarFilter(),
        views=[View(instrument_name="filtered", attribute_keys={"a"}), View(instrument_name="*")],
        shutdown_on_exit=False,
    )
    meter = provider.get_meter("t")
    instruments = {
        "counter": meter.create_counter("counter").add,
        "histogram": meter.create_histogram("histogram").record,
        "updown": meter.create_up_down_counter("updown").add,
        "filtered": meter.create_counter("filtered").add,
    }
    try:
        _match.consume_measurement = consume  # type: ignore[method-assign]
        for name, value, attributes in measurements:
            instruments[name](value, attributes)
    finally:
        _match.consume_measurement = before  # type: ignore[method-assign]
    data = reader.get_metrics_data()
    provider.shutdown()
    seen = []
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    fields = {
                        k: v
                        for k, v in vars(point).items()
                        if k not in ("start_time_unix_nano", "time_unix_nano", "exemplars")
                    }
                    exemplars = [
                        (e.filtered_attributes, e.value)
                        for e in point.exemplars
                        if metric.name == "histogram"
                    ]
                    seen.append((metric.name, repr(sorted(fields.items())), exemplars))
    return sorted(seen, key=repr)


@settings(max_examples=150, deadline=None)
@given(measurements=st.lists(_MEASUREMENT, max_size=20))
def test_aggregated_points_are_upstreams(measurements: list[tuple[str, int, Any]]) -> None:
    """New or seen series; None, empty, dict, mappingproxy or list attributes; a filtering view."""
    assert _points(_ours, measurements) == _points(_upstream, measurements)


def test_true_one_and_one_point_zero_stay_three_series() -> None:
    """Attribute values Python finds equal stay apart (opentelemetry-python#5572) through the one lookup."""
    points = _points(
        _ours, [("counter", 1, {"a": True}), ("counter", 1, {"a": 1}), ("counter", 1, {"a": 1.0})]
    )
    assert len(points) == 3


def test_consume_measurement_has_the_known_shape() -> None:
    """The installed SDK's consume_measurement is the one the patch is written for (apply() accepts it)."""
    before = _match.consume_measurement
    try:
        _match.consume_measurement = _upstream  # type: ignore[method-assign]
        metrics_lookup.apply()
        assert _match.consume_measurement.__wrapped__ is _upstream  # type: ignore[attr-defined]
    finally:
        _match.consume_measurement = before  # type: ignore[method-assign]


def test_another_consume_measurement_shape_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A consume_measurement of another shape raises LookupError and stays upstream's."""

    def consume_measurement(self: Any, measurement: Any, should_sample_exemplar: bool = True) -> None:
        return None

    monkeypatch.setattr(_match, "consume_measurement", consume_measurement)
    with pytest.raises(LookupError, match="changed shape"):
        metrics_lookup.apply()
    assert _match.consume_measurement is consume_measurement
