"""otel-run's SDK patches (``patches.after_build``) give exactly upstream's results, and step aside
when upstream changed."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import attributes as otel_attributes
from opentelemetry._logs import _internal as logs_api
from opentelemetry.instrumentation.logging import handler as logging_handler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics._internal import _view_instrument_match

import logcaught
from otel_run.runtime import patches
from otel_run.runtime.patches import attribute_cleaning, log_loggers, metrics_hashing

_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=3),
)


class _Text(str):
    """A ``str`` subclass: upstream keeps it as it is, the fast path must hand it to upstream."""


class _Number(int):
    pass


_ODD = st.one_of(
    st.text(max_size=3).map(_Text),
    st.integers(0, 9).map(_Number),
    st.just(object()),
    st.just(frozenset({1})),
)
_VALUE = st.recursive(
    st.one_of(_SCALAR, _ODD),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=3), inner),
    ),
    max_leaves=6,
)
_KEY = st.one_of(st.text(max_size=6), st.just(""), st.integers(0, 3), st.text(max_size=3).map(_Text))
_ATTRIBUTES = st.one_of(
    st.dictionaries(st.text(min_size=1, max_size=6), _SCALAR, max_size=12),  # the common case
    st.dictionaries(_KEY, _VALUE, max_size=8),
)
_upstream_clean = getattr(
    otel_attributes._clean_attribute_value, "__wrapped__", otel_attributes._clean_attribute_value
)
_flat_clean = attribute_cleaning.flat_first(_upstream_clean)


def _cleaned(clean: Any, value: Any, limit: int | None) -> tuple[Any, list[str]]:
    """``clean(value, limit)`` and the warnings it logged."""
    with logcaught.messages("opentelemetry.attributes") as caught:
        return clean(value, limit), caught


def _same(left: Any, right: Any) -> bool:
    """Equal, of the same types all the way down (``True`` is not ``1``; a tuple is not a list)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, tuple):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right) or left is right


@settings(max_examples=600, deadline=None)
@given(
    value=st.one_of(_ATTRIBUTES, _VALUE, _ATTRIBUTES.map(types.MappingProxyType)),
    limit=st.sampled_from([None, 0, 3, 100]),
)
def test_cleaned_attributes_are_upstreams_with_the_same_warnings(value: Any, limit: int | None) -> None:
    """Any value (flat, nested, odd keys or types, over the limit) gets upstream's result and warnings."""
    ours, our_warnings = _cleaned(_flat_clean, value, limit)
    theirs, their_warnings = _cleaned(_upstream_clean, value, limit)
    assert _same(ours, theirs)
    assert our_warnings == their_warnings
    if isinstance(value, (dict, types.MappingProxyType)):
        assert ours is not value  # a new dict, as upstream's: the caller may change its own


def test_clean_attribute_value_has_the_known_shape() -> None:
    """The installed API's function is the one the patch is written for (apply() accepts it)."""
    before = otel_attributes._clean_attribute_value
    try:
        otel_attributes._clean_attribute_value = _upstream_clean
        attribute_cleaning.apply()
        assert otel_attributes._clean_attribute_value.__wrapped__ is _upstream_clean  # type: ignore[attr-defined]
    finally:
        otel_attributes._clean_attribute_value = before


_HASH_KEY = st.one_of(st.text(max_size=6), st.integers(0, 3))
_HASH_VALUE = st.recursive(_SCALAR, lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=5)
_upstream_hash = getattr(
    _view_instrument_match._hash_attributes, "__wrapped__", _view_instrument_match._hash_attributes
)
_flat_hash = metrics_hashing.flat_first(_upstream_hash)


@settings(max_examples=500, deadline=None)
@given(attributes=st.one_of(st.dictionaries(_HASH_KEY, _HASH_VALUE, max_size=10), _ATTRIBUTES))
def test_flat_aggregation_keys_are_upstreams(attributes: dict[Any, Any]) -> None:
    """For any attribute dict (flat, nested, mixed keys) the aggregation key is upstream's."""
    assert _same(_flat_hash(attributes), _upstream_hash(attributes))


def test_flat_aggregation_keys_keep_true_one_and_one_point_zero_apart() -> None:
    """``True``, ``1`` and ``1.0`` stay three keys (opentelemetry-python#5572), as upstream keeps them."""
    keys = {_flat_hash({"k": value}) for value in (True, 1, 1.0)}
    assert len(keys) == 3


def test_upstream_hash_attributes_has_the_known_shape() -> None:
    """The installed SDK's function is the one the patch is written for (apply() accepts it)."""
    before = _view_instrument_match._hash_attributes
    try:
        _view_instrument_match._hash_attributes = _upstream_hash
        metrics_hashing.apply()
        assert _view_instrument_match._hash_attributes.__wrapped__ is _upstream_hash  # type: ignore[attr-defined]
    finally:
        _view_instrument_match._hash_attributes = before


def _cached_get_logger() -> Any:
    from opentelemetry._logs import NoOpLogger

    return log_loggers.cached(logs_api.get_logger, LoggerProvider, NoOpLogger)


def test_cached_loggers_are_the_sdks_own() -> None:
    """Per provider and name the logger is the very object upstream's get_logger returns."""
    cached = _cached_get_logger()
    first, second = LoggerProvider(shutdown_on_exit=False), LoggerProvider(shutdown_on_exit=False)
    for provider in (first, second, first):
        for name in ("app", "app.db", "app", ""):
            assert cached(name, logger_provider=provider) is logs_api.get_logger(
                name, logger_provider=provider
            )
    assert cached("app", "1.0", first) is logs_api.get_logger("app", "1.0", first)
    assert cached("app", logger_provider=first, schema_url="s") is first.get_logger("app", "", "s")


def test_uncachable_loggers_are_upstreams_on_every_call() -> None:
    """Scope attributes, a subclass provider, a disabled one and no provider all go to upstream each time."""
    calls: list[tuple[Any, ...]] = []

    def upstream(*args: Any) -> Any:
        calls.append(args)
        return logs_api.get_logger(*args)

    from opentelemetry._logs import NoOpLogger

    cached = log_loggers.cached(upstream, LoggerProvider, NoOpLogger)

    class Mine(LoggerProvider):
        def get_logger(self, *args: Any, **kwargs: Any) -> Any:
            return super().get_logger(*args, **kwargs)

    provider, mine = LoggerProvider(shutdown_on_exit=False), Mine(shutdown_on_exit=False)
    for _ in range(2):
        cached("a", logger_provider=provider, attributes={"k": "v"})
        cached("a", logger_provider=mine)
        cached("a")
    assert len(calls) == 6
    os.environ["OTEL_SDK_DISABLED"] = "true"
    try:
        disabled = LoggerProvider(shutdown_on_exit=False)
    finally:
        del os.environ["OTEL_SDK_DISABLED"]
    assert isinstance(cached("a", logger_provider=disabled), NoOpLogger)
    assert isinstance(cached("a", logger_provider=disabled), NoOpLogger)
    assert len(calls) == 8


def test_cached_loggers_are_bounded() -> None:
    """Past the bound (loggers named per request) names go to upstream, still its objects."""
    cached = _cached_get_logger()
    provider = LoggerProvider(shutdown_on_exit=False)
    for n in range(log_loggers._MAX_NAMES + 50):
        assert cached(f"n{n}", logger_provider=provider) is provider.get_logger(f"n{n}", "", None)
    assert cached.__closure__ is not None
    remembered = next(c.cell_contents for c in cached.__closure__ if isinstance(c.cell_contents, dict))
    assert len(remembered) == log_loggers._MAX_NAMES


def test_logging_handler_has_the_known_shape() -> None:
    """The installed logging instrumentation's handler is the one the patch is written for."""
    before = logging_handler.get_logger
    try:
        logging_handler.get_logger = log_loggers._unwrapped(before)  # type: ignore[assignment]
        log_loggers.apply()
        assert getattr(logging_handler.get_logger, "_otel_run_cached", False)
    finally:
        logging_handler.get_logger = before  # type: ignore[assignment]


def test_a_fix_that_cannot_be_applied_costs_one_line_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A changed upstream function is left as it ships, and said so once."""

    def _hash_attributes(value: Any) -> Any:  # another shape
        return ("new", value)

    monkeypatch.setattr(_view_instrument_match, "_hash_attributes", _hash_attributes)
    lines: list[str] = []
    waiting: dict[str, Any] = {}

    def watch(name: str, callback: Any) -> None:
        if name in sys.modules:
            callback(sys.modules[name])
        else:
            waiting[name] = callback

    hashing = tuple(entry for entry in patches._AFTER_BUILD if entry[1].endswith(".metrics_hashing"))
    monkeypatch.setattr(patches, "_AFTER_BUILD", hashing)
    patches.after_build(watch, lines.append)
    assert _view_instrument_match._hash_attributes is _hash_attributes
    assert lines == [
        "otel-run's fix for opentelemetry.sdk.metrics._internal._view_instrument_match (metrics_hashing) "
        "could not be applied (LookupError: metrics _hash_attributes changed shape); upstream's code runs "
        "as it ships"
    ]


_LATE_IMPORT = """
import sys
from otel_run.runtime import importhook, patches
patches.after_build(importhook.watcher().watch, print)
print("SDK imported:", [m for m in sys.modules if m.startswith("opentelemetry.sdk")])
from opentelemetry import attributes
from opentelemetry.sdk.metrics._internal import _view_instrument_match, measurement
from opentelemetry.instrumentation.logging import handler
from opentelemetry.sdk.trace import Span
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
print(attributes._clean_attribute_value is measurement._clean_attribute_value,
      hasattr(attributes._clean_attribute_value, "__wrapped__"),
      hasattr(_view_instrument_match._hash_attributes, "__wrapped__"),
      hasattr(handler.get_logger, "__wrapped__"),
      hasattr(Span._readable_span, "__wrapped__"),
      hasattr(BatchLogRecordProcessor.on_emit, "__wrapped__"),
      hasattr(attributes.BoundedAttributes._set_items, "__wrapped__"),
      hasattr(_view_instrument_match._ViewInstrumentMatch.consume_measurement, "__wrapped__"))
"""


@pytest.mark.timeout(60)
def test_fixes_wait_for_their_modules_and_import_nothing() -> None:
    """after_build imports no SDK module itself; each fix applies when its module is imported."""
    done = subprocess.run(
        [sys.executable, "-c", _LATE_IMPORT],
        env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        capture_output=True,
        text=True,
        timeout=50,
        check=True,
    )
    assert done.stdout.splitlines() == ["SDK imported: []", " ".join(["True"] * 8)]
    assert done.stderr == ""
