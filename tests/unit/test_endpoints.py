"""resolve_endpoint and redact_url: the OTLP exporter specification's endpoint rules, and redaction.

Spec: specification/protocol/exporter.md. With OTEL_EXPORTER_OTLP_ENDPOINT, OTLP/HTTP exporters
append /v1/<signal> (correcting for double slashes); the per-signal variables take precedence
and are used as-is; gRPC takes host and port from either, and https means a secure channel.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_run.config.endpoints import Endpoint, redact_url, resolve_endpoint
from otel_run.config.envparse import Warnings

BASE = "OTEL_EXPORTER_OTLP_ENDPOINT"


def resolve(
    signal: str = "traces",
    protocol: str = "http/protobuf",
    base: str | None = None,
    specific: str | None = None,
    insecure: bool | None = None,
) -> tuple[Endpoint, list[str]]:
    """The endpoint and the warnings produced for one signal."""
    warnings = Warnings()
    endpoint = resolve_endpoint(warnings, signal, protocol, base, specific, insecure)
    return endpoint, list(warnings)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("signal", ["traces", "metrics", "logs"])
def test_http_default_is_localhost_4318_with_signal_path(signal: str) -> None:
    """Without variables, OTLP/HTTP goes to http://localhost:4318/v1/<signal>."""
    assert resolve(signal) == (Endpoint(f"http://localhost:4318/v1/{signal}", "default", True), [])


@pytest.mark.timeout(10)
def test_grpc_default_is_localhost_4317_plaintext() -> None:
    """Without variables, OTLP/gRPC goes to localhost:4317 without TLS."""
    assert resolve(protocol="grpc") == (Endpoint("http://localhost:4317", "default", True), [])


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://collector:4318", "http://collector:4318/v1/metrics"),
        ("http://collector:4318/", "http://collector:4318/v1/metrics"),
        ("https://otlp.example.com/api/otlp", "https://otlp.example.com/api/otlp/v1/metrics"),
        ("https://otlp.example.com/api/otlp/", "https://otlp.example.com/api/otlp/v1/metrics"),
    ],
)
def test_base_endpoint_gets_signal_path_without_double_slash(base: str, expected: str) -> None:
    """The base endpoint gets /v1/<signal> appended, correcting for a trailing slash."""
    endpoint, warnings = resolve("metrics", base=base)
    assert endpoint == Endpoint(expected, BASE, expected.startswith("http:"))
    assert warnings == []


@pytest.mark.timeout(10)
def test_signal_endpoint_is_used_as_is() -> None:
    """A per-signal endpoint with a path is not changed, whatever the path is."""
    endpoint, warnings = resolve(specific="https://ingest.example.com/otlp/spans?x=1")
    assert endpoint == Endpoint(
        "https://ingest.example.com/otlp/spans?x=1", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", False
    )
    assert warnings == []


@pytest.mark.timeout(10)
def test_signal_endpoint_takes_precedence_over_base() -> None:
    """When both are set, the per-signal endpoint wins."""
    endpoint, _ = resolve("logs", base="http://base:4318", specific="http://logs:4318/v1/logs")
    assert (endpoint.url, endpoint.source) == ("http://logs:4318/v1/logs", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")


@pytest.mark.timeout(10)
def test_invalid_signal_endpoint_falls_back_to_base() -> None:
    """An unusable per-signal endpoint is ignored with one warning; the base is used instead."""
    endpoint, warnings = resolve(base="http://base:4318", specific="ftp://nope")
    assert (endpoint.url, endpoint.source) == ("http://base:4318/v1/traces", BASE)
    assert len(warnings) == 1
    assert warnings[0].startswith("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='ftp://nope' must look like")


@pytest.mark.timeout(10)
def test_signal_endpoint_without_path_gets_signal_path_with_warning() -> None:
    """Our difference: an HTTP per-signal URL with no path would 404, so /v1/<signal> is added."""
    for specific in ("http://collector:4318", "http://collector:4318/"):
        endpoint, warnings = resolve(specific=specific)
        assert endpoint.url == "http://collector:4318/v1/traces"
        assert len(warnings) == 1
        assert "has no path" in warnings[0]
        assert warnings[0].endswith("using http://collector:4318/v1/traces")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("signal", ["traces", "metrics", "logs"])
def test_base_ending_in_a_signal_path_is_not_doubled(signal: str) -> None:
    """Our difference: a base ending in /v1/traces is stripped (with a warning) before appending."""
    endpoint, warnings = resolve(signal, base="http://collector:4318/v1/traces/")
    assert endpoint.url == f"http://collector:4318/v1/{signal}"
    assert len(warnings) == 1
    assert "already ends in /v1/traces" in warnings[0]
    assert "using http://collector:4318 as the base" in warnings[0]


@pytest.mark.timeout(10)
def test_scheme_is_assumed_for_http_with_a_warning() -> None:
    """An HTTP endpoint without a scheme is taken as http:// with one warning."""
    endpoint, warnings = resolve(base="collector:4318")
    assert endpoint.url == "http://collector:4318/v1/traces"
    assert warnings == ["OTEL_EXPORTER_OTLP_ENDPOINT='collector:4318' has no scheme; assuming http://"]


@pytest.mark.timeout(10)
def test_grpc_ignores_the_path_and_appends_nothing() -> None:
    """For gRPC the endpoint names host and port; a base path is dropped, no signal path added."""
    endpoint, warnings = resolve(protocol="grpc", base="http://collector:4317/some/path")
    assert endpoint == Endpoint("http://collector:4317", BASE, True)
    assert warnings == []


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("value", "insecure", "expected_insecure"),
    [
        ("collector:4317", None, False),
        ("collector:4317", False, False),
        ("collector:4317", True, True),
        ("https://collector:4317", True, False),
        ("http://collector:4317", False, True),
    ],
)
def test_grpc_security_follows_scheme_then_insecure(
    value: str, insecure: bool | None, expected_insecure: bool
) -> None:
    """gRPC: https means TLS and http plaintext; without a scheme OTEL_EXPORTER_OTLP_INSECURE decides."""
    endpoint, warnings = resolve(protocol="grpc", specific=value, insecure=insecure)
    assert endpoint.insecure is expected_insecure
    assert warnings == []


@pytest.mark.timeout(10)
@pytest.mark.parametrize("value", ["http://", "ftp://collector", "http://host:99999", "[::1", "http://[::1"])
def test_unusable_endpoint_is_ignored_with_one_warning(value: str) -> None:
    """A value that is not an http(s) URL with a host falls back to the default with one warning."""
    endpoint, warnings = resolve(base=value)
    assert endpoint.source == "default"
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{BASE}=")
    assert warnings[0].endswith("ignoring it")


@pytest.mark.timeout(10)
def test_grpc_port_with_http_protocol_is_pointed_out() -> None:
    """Port 4317 with an HTTP protocol (and 4318 with gRPC) gets a hint about the protocol."""
    _, warnings = resolve(base="http://collector:4317")
    assert warnings == [
        f"{BASE}='http://collector:4317' uses port 4317, the OTLP/gRPC port, but the protocol is "
        "http/protobuf; use port 4318 or set OTEL_EXPORTER_OTLP_PROTOCOL=grpc"
    ]
    _, warnings = resolve(protocol="grpc", base="http://collector:4318")
    assert len(warnings) == 1
    assert "4318, the OTLP/HTTP port" in warnings[0]


@pytest.mark.timeout(10)
def test_several_problems_with_one_value_are_one_warning() -> None:
    """No scheme, no path and the gRPC port on one HTTP signal endpoint make a single warning."""
    endpoint, warnings = resolve(specific="collector:4317")
    assert endpoint.url == "http://collector:4317/v1/traces"
    assert warnings == [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='collector:4317' has no scheme; assuming http://; "
        "also, it is used as-is and has no path, so the collector would answer 404; it must end in "
        "/v1/traces; using http://collector:4317/v1/traces; also, it uses port 4317, the OTLP/gRPC "
        "port, but the protocol is http/protobuf; use port 4318 or set OTEL_EXPORTER_OTLP_PROTOCOL=grpc"
    ]


# --- redaction ------------------------------------------------------------------------


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://collector:4318/v1/traces", "http://collector:4318/v1/traces"),
        ("https://user:pa55@collector/v1/traces", "https://***@collector/v1/traces"),
        ("https://collector/v1/traces?api_key=abc&flag", "https://collector/v1/traces?api_key=***&flag"),
        ("user:pa55@collector:4318", "***@collector:4318"),
        ("http://[::1", "<unparseable URL>"),
    ],
)
def test_redact_url_hides_credentials(url: str, shown: str) -> None:
    """User info and query values are replaced by ***; the rest of the URL is kept."""
    assert redact_url(url) == shown


@pytest.mark.timeout(10)
def test_warnings_never_show_url_credentials() -> None:
    """Endpoint warnings show the URL redacted, also when the scheme is missing."""
    for base in ("user:s3cr3t@collector:4318", "user:s3cr3t@[bad", "http://user:s3cr3t@collector:4317"):
        _, warnings = resolve(base=base)
        assert warnings
        assert all("s3cr3t" not in warning for warning in warnings)


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
# Text that stays inside the user-info or host part of a URL (no delimiters).
_AUTHORITY = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/?#@[]"), max_size=20
)


@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    scheme=st.sampled_from(["", "http://", "https://", "grpc://", "//"]),
    user=_AUTHORITY,
    rest=_TEXT,
    host=_AUTHORITY,
)
def test_redact_url_never_raises_or_shows_a_password(scheme: str, user: str, rest: str, host: str) -> None:
    """For any text, redact_url hides a password in the user info and a value in the query."""
    secret = "Pa55w0rdXYZ"
    assert secret not in redact_url(f"{scheme}{user}:{secret}@{rest}")
    assert secret not in redact_url(f"{scheme}{host}/p?token={secret}&{rest}")
