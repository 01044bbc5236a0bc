"""otel_vars: misspelled OTEL_* names are reported with the likely intended name, others left alone."""

from __future__ import annotations

import pytest

from otel_run.config import envvars
from otel_run.config.otel_vars import known_names, suggest, typos


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("OTEL_SERVIC_NAME", "OTEL_SERVICE_NAME"),
        ("OTEL_EXPORTER_OTLP_ENDPONT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ("OTEL_EXPROTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ("OTEL_TRACE_EXPORTER", "OTEL_TRACES_EXPORTER"),
        ("OTEL_EXPORTER_OTLP_TRACE_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        ("OTEL_TRACES_SAMPLER_ARGS", "OTEL_TRACES_SAMPLER_ARG"),
        ("OTEL_LOGLEVEL", "OTEL_LOG_LEVEL"),
        ("OTEL_RUN_QUIT", "OTEL_RUN_QUIET"),
    ],
)
def test_likely_typos_get_a_suggestion(typed: str, meant: str) -> None:
    """Names one or two edits (a transposition counts as one) from a known name get it suggested."""
    assert suggest(typed) == meant


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "name",
    [
        "OTEL_SERVICE_NAME",
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
        "OTEL_PYTHON_FLASK_EXCLUDED_URLS",
        *envvars.ALL,
    ],
)
def test_known_names_get_no_suggestion(name: str) -> None:
    """A correctly spelled variable is never reported."""
    assert name in known_names()
    assert suggest(name) is None


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ["OTEL_MY_LIBRARY_SETTING", "OTEL_BSP_MAX_QUEUE", "OTEL_LOG_LVL"])
def test_distant_or_foreign_names_are_left_alone(name: str) -> None:
    """Names too far from any known one may belong to another library, so they get no suggestion."""
    assert suggest(name) is None


@pytest.mark.timeout(10)
def test_short_names_allow_only_one_edit() -> None:
    """Below 14 characters only one edit counts as a typo, so short names are not over-matched."""
    assert suggest("OTEL_RUN_QIT") is None
    assert suggest("OTEL_RUN_QUIT") == "OTEL_RUN_QUIET"


@pytest.mark.timeout(10)
def test_typos_scans_only_otel_names_in_sorted_order() -> None:
    """typos() looks at OTEL* names only (case-sensitively) and reports them sorted."""
    environ = {
        "OTEL_SERVIC_NAME": "a",
        "OTELSERVICE_NAME": "b",
        "OTEL_SERVICE_NAME": "c",
        "otel_servic_name": "d",
        "SERVIC_NAME": "e",
        "PATH": "/bin",
    }
    assert typos(environ) == [
        ("OTELSERVICE_NAME", "OTEL_SERVICE_NAME"),
        ("OTEL_SERVIC_NAME", "OTEL_SERVICE_NAME"),
    ]


@pytest.mark.timeout(10)
def test_suggest_accepts_a_custom_vocabulary() -> None:
    """suggest() can match against another list of names (for tools that know more variables)."""
    assert suggest("OTEL_FOO_BAAR", ["OTEL_FOO_BAR"]) == "OTEL_FOO_BAR"
