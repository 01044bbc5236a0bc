"""Property-based tests: no value of any variable Settings reads makes it raise or warn wrongly.

For each variable, arbitrary text (empty, blank, unicode, control characters except NUL,
huge and negative numbers, NaN/inf, ``%`` sequences, commas, ``=``) must give:
``Settings.from_env`` returns; an invalid value gives exactly one warning, which names the
variable; a valid value gives none (or one, for a value we repair); header values never
appear in a warning or a repr. The inventory of variables is checked against what
``from_env`` actually reads, so it cannot drift from the code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from otel_run.config import envvars
from otel_run.config.settings import (
    COMPRESSIONS,
    HISTOGRAM_AGGREGATIONS,
    ID_GENERATORS,
    SAMPLERS,
    TEMPORALITIES,
    Settings,
)

ARGV = ("python", "app.py")
MAX_INT = 2**31 - 1
SIGNALS = ("TRACES", "METRICS", "LOGS")


def _otlp(option: str) -> list[str]:
    return [f"OTEL_EXPORTER_OTLP_{option}"] + [f"OTEL_EXPORTER_OTLP_{s}_{option}" for s in SIGNALS]


# --- the inventory, by kind (read from settings.py; verified by test_inventory_matches_the_code) ---

BOOLEANS = [
    "OTEL_SDK_DISABLED",
    "OTEL_PYTHON_LOG_CORRELATION",
    envvars.OTEL_RUN_QUIET,
    envvars.OTEL_RUN_STRICT,
    envvars.OTEL_RUN_DEBUG,
    "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED",
    *_otlp("INSECURE"),
]
# name -> (minimum, default, how to read the parsed value back)
INTEGERS: dict[str, tuple[int, int | None, Callable[[Settings], Any]]] = {
    envvars.OTEL_RUN_SHUTDOWN_TIMEOUT: (0, 5000, lambda s: s.shutdown_timeout_ms),
    "OTEL_METRIC_EXPORT_INTERVAL": (1, None, lambda s: s.metric_export_interval_ms),
    "OTEL_METRIC_EXPORT_TIMEOUT": (0, None, lambda s: s.metric_export_timeout_ms),
}
for _prefix, _attr in (("OTEL_BSP", "bsp"), ("OTEL_BLRP", "blrp")):
    for _suffix, _field, _minimum in (
        ("SCHEDULE_DELAY", "schedule_delay_ms", 0),
        ("EXPORT_TIMEOUT", "export_timeout_ms", 0),
        ("MAX_QUEUE_SIZE", "max_queue_size", 1),
        ("MAX_EXPORT_BATCH_SIZE", "max_export_batch_size", 1),
    ):
        INTEGERS[f"{_prefix}_{_suffix}"] = (
            _minimum,
            None,
            lambda s, a=_attr, f=_field: getattr(getattr(s, a), f),
        )
for _name, _field in (
    ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "attribute_value_length"),
    ("OTEL_ATTRIBUTE_COUNT_LIMIT", "attribute_count"),
    ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "span_attribute_value_length"),
    ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "span_attribute_count"),
    ("OTEL_SPAN_EVENT_COUNT_LIMIT", "span_event_count"),
    ("OTEL_SPAN_LINK_COUNT_LIMIT", "span_link_count"),
    ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "event_attribute_count"),
    ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "link_attribute_count"),
):
    INTEGERS[_name] = (0, None, lambda s, f=_field: getattr(s.limits, f))
for _name in _otlp("TIMEOUT"):
    _signal = _name.split("_")[3].lower() if _name.count("_") == 4 else "traces"
    INTEGERS[_name] = (1, 10000, lambda s, g=_signal: round(s.signal(g).timeout_s * 1000))

CHOICES: dict[str, tuple[str, ...]] = {
    "OTEL_TRACES_SAMPLER": SAMPLERS,
    "OTEL_LOG_LEVEL": ("debug", "info", "warn", "warning", "error", "critical"),
    "OTEL_PYTHON_ID_GENERATOR": ID_GENERATORS,
    **dict.fromkeys(_otlp("PROTOCOL"), ("http/protobuf", "grpc", "http/json")),
    **dict.fromkeys(_otlp("COMPRESSION"), COMPRESSIONS),
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": TEMPORALITIES,
    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": HISTOGRAM_AGGREGATIONS,
}
KEY_VALUES = {"OTEL_RESOURCE_ATTRIBUTES": False, **dict.fromkeys(_otlp("HEADERS"), True)}
HEADERS = [name for name, secret in KEY_VALUES.items() if secret]
ENDPOINTS = _otlp("ENDPOINT")
EXPORTERS = [f"OTEL_{s}_EXPORTER" for s in SIGNALS]
RATIO = "OTEL_TRACES_SAMPLER_ARG"
# Free text: any value is accepted as written, so nothing is ever warned about.
FREE_TEXT = [
    "OTEL_SERVICE_NAME",
    "OTEL_PROPAGATORS",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
    envvars.OTEL_RUN_STATUS_DIR,
    "OTEL_CONFIG_FILE",  # a path, read later by the boot (runtime/sdk/fromfile.py)
    *_otlp("CERTIFICATE"),
    *_otlp("CLIENT_KEY"),
    *_otlp("CLIENT_CERTIFICATE"),
    "OTEL_RUN_PARENT_PID",  # set by otel-run in children; only its presence is read
    "OTEL_RUN_PARENT_SERVICE",  # set by otel-run in children; read by multiprocessing workers
]
ALL_NAMES = sorted({*BOOLEANS, *INTEGERS, *CHOICES, *KEY_VALUES, *ENDPOINTS, *EXPORTERS, RATIO, *FREE_TEXT})
# A ratio argument is only read for a ratio sampler (the specification: only used if set).
CONTEXT = {RATIO: {"OTEL_TRACES_SAMPLER": "traceidratio"}}

# --- values ---------------------------------------------------------------------------------

# fmt: off
NASTY = [
    "", " ", "\t", "\n", "true", "TRUE", " false ", "1", "0", "-0", "-1", "+5", "yes",
    "nan", "NaN", "inf", "-inf", "Infinity", "1e3", "1e400", "1e30", "-1e30", "1.5", "0.5", ".5",
    "2147483647", "2147483648", "99999999999999999999999999", "1_000", "0x10", "\u0661\u0662",
    "1" * 5000, "%", "%%", "%zz", "%ff", "%C3%A9", "a=%ff", "a=%", ",", ",,", "=", "==", "a=b",
    "a=b,c", "a,b,c", "=x", "k=v=w", "none", "otlp,none", "none,none", "console", "otlp_proto_grpc",
    "grpc", "GRPC", "http", "http/protobuf", "gzip", "deflate", "http://", "https://h",
    "http://h:4317", "http://h:4318/v1/traces", "h:4318", "localhost", "[::1", "http://[::1",
    "http://[::1]:4318", "ftp://x", "http://h:99999", "http://h:-1", "u:p@h", "http://u:p@h/?t=1",
    "\x01\x02\x7f", "\u2028", "\r\n", "\u00e9=\u00e9", "\ud7ff", "\U0001f600",
    "k=x%0Ay", "Authorization: Bearer tok==", "a b=c",
]
# fmt: on
_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
# fmt: off
_SOUP = st.lists(
    st.sampled_from([
        "a", "Z", "=", ",", "%", "%2", "%20", "%ff", "%e9", " ", "\t", "\n", "true", "1", "-", ".", "e",
        "\u00e9", ":", "/", "@", "[", "]", "?", "http://", "4317", "none", "otlp",
    ]),
    max_size=12,
).map("".join)
# fmt: on
VALUES = st.one_of(
    st.sampled_from(NASTY),
    st.text(_CHARS, max_size=40),
    _SOUP,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
# Derandomized so that CI runs are reproducible; raise max_examples locally to search harder.
PROPERTY = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def read(env: Mapping[str, str]) -> Settings:
    """Settings for ``env``; the property under test is that this never raises."""
    return Settings.from_env(env, ARGV)


def single(name: str, value: str) -> Settings:
    """Settings with only ``name`` set (plus what reading it needs), checked to warn only about it."""
    result = read({**CONTEXT.get(name, {}), name: value})
    assert len(result.warnings) <= 1, result.warnings
    for warning in result.warnings:
        assert re.match(rf"{re.escape(name)}[=: ]", warning), warning
    return result


def blank(value: str) -> bool:
    """Empty or whitespace-only: the specification treats it as unset."""
    return value.strip() == ""


# --- the inventory is the code's --------------------------------------------------------------


class _Recording(dict):  # type: ignore[type-arg]
    """A mapping that records every name looked up through ``get``."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)


@pytest.mark.timeout(10)
def test_inventory_matches_the_code() -> None:
    """The variables listed here are exactly the OTEL_* variables Settings.from_env reads."""
    plain = _Recording()
    Settings.from_env(plain, ARGV)
    ratio = _Recording()
    ratio["OTEL_TRACES_SAMPLER"] = "traceidratio"
    Settings.from_env(ratio, ARGV)
    asked = {name for name in plain.asked | ratio.asked if name.startswith("OTEL_")}
    assert asked == set(ALL_NAMES)


# --- every variable against a fixed corpus ----------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_variable_survives_the_nasty_corpus(name: str) -> None:
    """Each variable, set to each nasty value, parses without raising and warns at most once, about itself."""
    for value in NASTY:
        single(name, value)


@pytest.mark.timeout(30)
@PROPERTY
@given(env=st.dictionaries(st.sampled_from(ALL_NAMES), VALUES, max_size=len(ALL_NAMES)))
def test_any_combination_never_raises_and_names_a_set_variable(env: dict[str, str]) -> None:
    """Any mix of garbage values parses; every warning begins with the name of a variable that is set."""
    result = read(env)
    for warning in result.warnings:
        named = re.match(r"OTEL_[A-Z_]+", warning)
        assert named is not None and named.group(0) in env, warning
    assert len(result.warnings) == len(set(result.warnings))


# --- by kind --------------------------------------------------------------------------------


@pytest.mark.timeout(30)
@PROPERTY
@given(name=st.sampled_from(BOOLEANS), value=VALUES)
def test_booleans(name: str, value: str) -> None:
    """Only 'true' (any case) is true; 'false' and empty are false silently; anything else warns once."""
    result = single(name, value)
    word = value.strip().lower()
    assert (len(result.warnings) == 1) == (word not in ("", "true", "false"))


@pytest.mark.timeout(30)
@PROPERTY
@given(name=st.sampled_from(sorted(INTEGERS)), value=VALUES)
@example(name="OTEL_BSP_MAX_QUEUE_SIZE", value="2147483648")
@example(name="OTEL_EXPORTER_OTLP_TIMEOUT", value="1e30")
def test_integers(name: str, value: str) -> None:
    """A whole number in [minimum, 2**31-1] is used as given; anything else is one warning and the default."""
    minimum, default, parsed = INTEGERS[name]
    result = single(name, value)
    got = parsed(result)
    if blank(value):
        assert (got, result.warnings) == (default, ())
    elif result.warnings:
        assert got == default
    else:
        assert isinstance(got, int) and minimum <= got <= MAX_INT
    if re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        digits = value.strip().lstrip("+-").lstrip("0")
        # Longer than 2**31-1 is out of range (and past int()'s 4300-digit limit for huge ones).
        number = int(value.strip()) if len(digits) <= 10 else MAX_INT + 1
        valid = minimum <= number <= MAX_INT
        assert (result.warnings == ()) == valid
        if valid:
            assert got == number


@pytest.mark.timeout(30)
@PROPERTY
@given(value=VALUES)
def test_sampler_ratio(value: str) -> None:
    """The ratio argument is a finite number in [0, 1]; anything else is one warning and 1.0."""
    result = single(RATIO, value)
    ratio = result.sampler_arg
    assert ratio is not None
    if result.warnings or blank(value):
        assert ratio == 1.0
    else:
        assert 0.0 <= ratio <= 1.0
    if re.fullmatch(r"[+-]?[0-9]*\.?[0-9]+", value.strip()):
        assert (result.warnings == ()) == (0.0 <= float(value) <= 1.0)
    if value.strip().lower() in ("nan", "inf", "-inf", "infinity"):
        assert len(result.warnings) == 1


@pytest.mark.timeout(30)
@PROPERTY
@given(
    name=st.sampled_from(sorted(CHOICES)),
    value=st.one_of(VALUES, st.sampled_from(sorted({c.upper() for cs in CHOICES.values() for c in cs}))),
)
def test_choices(name: str, value: str) -> None:
    """A known name (any case, trimmed) is accepted silently; any other non-empty value warns once."""
    result = single(name, value)
    word = value.strip().lower()
    assert (len(result.warnings) == 1) == (word != "" and word not in CHOICES[name])


def _entry_ok(entry: str, secret: bool) -> bool:
    key, sep, rest = entry.partition("=")
    if not sep or not key.strip():
        return False
    try:
        value = unquote(rest.strip(), errors="strict")
    except UnicodeDecodeError:
        return False
    if secret:
        # A header must be sendable: a token name and visible ASCII (inner spaces allowed).
        token = re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", key.strip())
        visible = all(" " <= char <= "~" or char == "\t" for char in value) and value == value.strip(" \t")
        return bool(token) and visible
    return True


@pytest.mark.timeout(30)
@PROPERTY
@given(name=st.sampled_from(sorted(KEY_VALUES)), value=VALUES)
@example(name="OTEL_RESOURCE_ATTRIBUTES", value="a,b=%ff,c")
@example(name="OTEL_EXPORTER_OTLP_HEADERS", value="a=x%0Ay,b c=d,e=\u20ac")
def test_key_value_lists(name: str, value: str) -> None:
    """key=value lists: one warning if any entry is malformed (however many are), none otherwise."""
    result = single(name, value)
    entries = [entry for entry in value.split(",") if entry.strip()]
    assert (len(result.warnings) == 1) == (not all(_entry_ok(entry, KEY_VALUES[name]) for entry in entries))


_KEY = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00,="), max_size=8)
_VALUE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00,"), max_size=8)
SECRET = "Zq9SecretQ9z"


@st.composite
def _headers(draw: st.DrawFn) -> str:
    """A header list whose every value (and every malformed entry) contains SECRET."""
    entries = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(
            st.sampled_from(["pair", "pair", "no-equals", "bad-percent", "empty-key", "colon", "blank"])
        )
        before, after = draw(_VALUE_TEXT), draw(_VALUE_TEXT)
        key = draw(_KEY)
        if kind == "pair":
            entries.append(f"{key}={before}{SECRET}{after}")
        elif kind == "no-equals":
            entries.append(f"{before.replace('=', '')} {SECRET}")
        elif kind == "bad-percent":
            entries.append(f"{key}={before}{SECRET}%ff{after}")
        elif kind == "empty-key":
            entries.append(f" ={SECRET}{after}")
        elif kind == "colon":
            # The curl habit: "Name: value", with base64 padding supplying an '='.
            entries.append(f"{key}: Bearer {SECRET}{before.replace('=', '')}==")
        else:
            entries.append(draw(st.sampled_from(["", " ", "\t"])))
    return ",".join(entries)


@pytest.mark.timeout(30)
@PROPERTY
@given(name=st.sampled_from(HEADERS), value=_headers())
def test_header_values_never_leak(name: str, value: str) -> None:
    """No header value, decoded or not, appears in a warning or in the Settings' repr."""
    result = single(name, value)
    assert all(SECRET not in warning for warning in result.warnings)
    assert SECRET not in repr(result)
    assert SECRET not in str(result)


def _usable(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@pytest.mark.timeout(30)
@PROPERTY
@given(
    name=st.sampled_from(ENDPOINTS),
    value=VALUES,
    protocol=st.sampled_from(["http/protobuf", "grpc", "http/json"]),
)
@example(name="OTEL_EXPORTER_OTLP_ENDPOINT", value="[", protocol="http/protobuf")
@example(name="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", value="h:4317", protocol="http/protobuf")
def test_endpoints(name: str, value: str, protocol: str) -> None:
    """An endpoint is used (at most one warning, for a repair) or ignored with exactly one warning."""
    result = read({"OTEL_EXPORTER_OTLP_PROTOCOL": protocol, name: value})
    assert len(result.warnings) <= 1, result.warnings
    assert all(warning.startswith(name) for warning in result.warnings)
    used = [s for s in (result.traces, result.metrics, result.logs) if s.endpoint_source == name]
    if blank(value):
        assert (used, result.warnings) == ([], ())
    elif not used:
        assert len(result.warnings) == 1
        assert result.warnings[0].endswith("ignoring it")
    for signal in used:
        assert _usable(signal.endpoint), signal.endpoint


@pytest.mark.timeout(30)
@PROPERTY
@given(
    name=st.sampled_from(EXPORTERS),
    value=st.one_of(
        VALUES, st.lists(st.sampled_from(["otlp", "none", "console", " NONE", ""])).map(",".join)
    ),
)
def test_exporters(name: str, value: str) -> None:
    """Exporter lists warn only when 'none' is mixed with other exporters, and then export nothing."""
    result = single(name, value)
    names = {item.strip().lower() for item in value.split(",") if item.strip()}
    mixed = "none" in names and len(names) > 1
    assert (len(result.warnings) == 1) == mixed
    signal = result.signal(name.split("_")[1].lower())
    if "none" in names:
        assert signal.exporters == ()
    else:
        assert signal.exporters or not names


@pytest.mark.timeout(30)
@PROPERTY
@given(name=st.sampled_from(FREE_TEXT), value=VALUES)
def test_free_text_is_never_warned_about(name: str, value: str) -> None:
    """Service name, propagator and instrumentation lists and certificate paths are taken as written."""
    result = single(name, value)
    assert result.warnings == ()
    if name == "OTEL_SERVICE_NAME" and not blank(value):
        assert result.service_name == value.strip()


@pytest.mark.timeout(10)
def test_nan_and_infinity_are_never_numbers() -> None:
    """NaN and infinity spelled any way are rejected by every numeric variable."""
    for name in [*INTEGERS, RATIO]:
        for value in ("nan", "NaN", "-nan", "inf", "-Infinity", "1e999"):
            result = single(name, value)
            assert len(result.warnings) == 1, (name, value)
            assert not any(isinstance(v, float) and not math.isfinite(v) for v in (result.sampler_arg,))
