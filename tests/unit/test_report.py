"""report: the startup line says service, destinations, sampler and instrumentations; lines never raise."""

from __future__ import annotations

import io
from collections.abc import Mapping

import pytest

from otel_run.config.settings import Settings
from otel_run.runtime.report import line, startup_line, warn_all

ALL = ["traces", "metrics", "logs"]


def settings_for(env: Mapping[str, str]) -> Settings:
    """Settings for ``env`` and a command line running checkout.py."""
    return Settings.from_env({"OTEL_SERVICE_NAME": "shop", **env}, ["python", "checkout.py"])


@pytest.mark.timeout(10)
def test_three_signals_to_one_collector_read_as_one() -> None:
    """Signals sharing a collector and protocol are shown once, without their /v1/<signal> paths."""
    text = startup_line(settings_for({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}), ALL, [])
    assert text == (
        "service shop; traces+metrics+logs → http://c:4318 over http/protobuf; sampler parentbased_always_on"
    )


@pytest.mark.timeout(10)
def test_instrumentations_active_now_are_named_the_rest_counted() -> None:
    """Active instrumentations are named; those armed for a later import are only counted."""
    settings = settings_for({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert startup_line(settings, ALL, ["logging", "threading"], 41).endswith(
        "; instrumenting logging, threading (and 41 more on import)"
    )
    assert startup_line(settings, ALL, ["logging"], 0).endswith("; instrumenting logging")
    assert startup_line(settings, ALL, [], 44).endswith("; instrumenting none yet (44 on import)")


@pytest.mark.timeout(10)
def test_derived_service_name_is_announced() -> None:
    """A derived name says where it came from and which variable sets it."""
    settings = Settings.from_env({}, ["python", "checkout.py"])
    assert startup_line(settings, ALL, []).startswith(
        "service checkout (derived from script checkout.py; set OTEL_SERVICE_NAME to name it); "
    )


@pytest.mark.timeout(10)
def test_signals_going_elsewhere_are_listed_one_by_one() -> None:
    """Different endpoints or exporters are listed per signal; inactive signals are named as off."""
    settings = settings_for(
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://t.example.com/v1/traces",
            "OTEL_METRICS_EXPORTER": "console",
            "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.25",
        }
    )
    assert startup_line(settings, ALL, []) == (
        "service shop; traces → https://t.example.com/v1/traces over http/protobuf; "
        "logs → http://localhost:4318/v1/logs over http/protobuf; metrics → console; "
        "sampler traceidratio=0.25"
    )
    assert startup_line(settings, ["traces", "metrics"], []) == (
        "service shop; traces → https://t.example.com over http/protobuf; metrics → console; "
        "sampler traceidratio=0.25; off: logs"
    )


@pytest.mark.timeout(10)
def test_grpc_endpoint_is_shown_as_configured() -> None:
    """A gRPC endpoint has no signal path to strip and is shown with its protocol."""
    settings = settings_for({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "c:4317"})
    assert "traces+metrics+logs → https://c:4317 over grpc" in startup_line(settings, ALL, [])


@pytest.mark.timeout(10)
def test_nothing_active_says_so() -> None:
    """With no working exporter the line says nothing is exported and omits the sampler."""
    assert (
        startup_line(settings_for({}), [], [])
        == "service shop; exporting nothing; off: traces, metrics, logs"
    )


@pytest.mark.timeout(10)
def test_startup_line_never_shows_credentials() -> None:
    """User info and query values in endpoints are redacted; header values never appear."""
    settings = settings_for(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://user:s3cr3t@c.example.com?api_key=s3cr3t",
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=s3cr3t",
        }
    )
    text = startup_line(settings, ALL, [])
    assert "s3cr3t" not in text
    assert "https://***@c.example.com" in text


@pytest.mark.timeout(10)
def test_line_prefixes_and_keeps_one_line() -> None:
    """Every line starts with 'otel-run: ' and embedded newlines cannot split it."""
    out = io.StringIO()
    line("first\nsecond", out)
    warn_all(["a", "b"], out)
    assert out.getvalue() == "otel-run: first second\notel-run: a\notel-run: b\n"


@pytest.mark.timeout(10)
def test_line_never_raises_on_a_closed_stream() -> None:
    """Writing to a closed stderr is silently skipped: reporting must not break the app."""
    out = io.StringIO()
    out.close()
    line("lost", out)
