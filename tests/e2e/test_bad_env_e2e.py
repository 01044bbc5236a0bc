"""Garbage in the environment, through the real launcher: the app is unchanged and spans still arrive.

Hypothesis draws a few random environments (derandomized, so CI runs the same ones) of
bad values for the variables otel-run reads, and runs ``otel-run python app.py`` against
a real receiver under each. Values that are valid but legitimately change what the app
does (a console exporter printing to stdout, strict mode changing the exit code, an
endpoint other than the receiver, long flush budgets) are left out of the draw; that is
configuration, not garbage.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apps import otlp_env, run_script
from otel_run.config.settings import Settings
from otel_run.receiver import Receiver

APP = """
import sys
from opentelemetry import trace
with trace.get_tracer("garbage").start_as_current_span({span!r}):
    pass
print("app ran")
sys.exit(3)
"""
EXPECTED_STDOUT = "app ran\n"
EXPECTED_EXIT = 3

_SIGNALS = ("TRACES", "METRICS", "LOGS")
# Everything otel-run reads except the base endpoint, which keeps pointing at the receiver
# (a garbage value falls back to localhost:4318, which this test must not reach), plus
# two misspelled names.
GARBLED = sorted(
    {
        "OTEL_SDK_DISABLED",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_PROPAGATORS",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
        "OTEL_PYTHON_ID_GENERATOR",
        "OTEL_PYTHON_LOG_CORRELATION",
        "OTEL_LOG_LEVEL",
        "OTEL_METRIC_EXPORT_INTERVAL",
        "OTEL_METRIC_EXPORT_TIMEOUT",
        "OTEL_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_SPAN_EVENT_COUNT_LIMIT",
        "OTEL_RUN_QUIET",
        "OTEL_RUN_STRICT",
        "OTEL_RUN_DEBUG",
        "OTEL_RUN_SHUTDOWN_TIMEOUT",
        "OTEL_SERVIC_NAME",
        "OTEL_EXPORTER_OTLP_HEADER",
        *(f"OTEL_{s}_EXPORTER" for s in _SIGNALS),
        *(f"OTEL_{p}_{o}" for p in ("BSP", "BLRP") for o in ("SCHEDULE_DELAY", "EXPORT_TIMEOUT")),
        *(f"OTEL_{p}_{o}" for p in ("BSP", "BLRP") for o in ("MAX_QUEUE_SIZE", "MAX_EXPORT_BATCH_SIZE")),
        *(
            f"OTEL_EXPORTER_OTLP_{s}{o}"
            for s in ("", "TRACES_", "METRICS_", "LOGS_")
            for o in ("PROTOCOL", "HEADERS", "TIMEOUT", "COMPRESSION", "INSECURE", "CLIENT_KEY")
        ),
        *(f"OTEL_EXPORTER_OTLP_{s}_ENDPOINT" for s in _SIGNALS),
    }
)
_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
# fmt: off
VALUES = st.one_of(
    st.sampled_from([
        "", " ", "true", "TRUE", "yes", "1", "0", "-1", "nan", "inf", "-inf", "1e400", "1e30",
        "2147483648", "99999999999999999999", "1.5", "%", "%ff", "a=%ff", ",", "=", "a,b=,c",
        "Authorization: Bearer tok==", "k=x%0Ay", "none,otlp", "zipkin", "http", "gzip", "brotli",
        "ftp://x", "[::1", "http://[::1", "http://127.0.0.1:99999", "\x01\x7f", "\u2028", "\u00e9\u20ac",
    ]),
    st.text(_CHARS, max_size=30),
    st.integers(min_value=-(2**40), max_value=2**40).map(str),
)
# fmt: on
SLOW_RUN = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _read(env: dict[str, str]) -> Settings:
    return Settings.from_env(env, ("python", "app.py"))


def _admissible(parsed: Settings, base: Settings) -> bool:
    """Whether ``parsed`` is configuration this test may run: no stdout exporter, no strict
    exit, every endpoint the receiver's, and flush budgets that keep the run short."""
    for name in ("traces", "metrics", "logs"):
        signal, original = parsed.signal(name), base.signal(name)
        if "console" in signal.exporters:
            return False
        if urlsplit(signal.endpoint).netloc != urlsplit(original.endpoint).netloc:
            return False
        if signal.timeout_s > 10:
            return False
    return not parsed.strict and parsed.shutdown_timeout_ms <= 5000


def _traces_unchanged(parsed: Settings, base: Settings) -> bool:
    """Whether the values that decide if a span reaches the receiver are what they were."""
    traces, original = parsed.traces, base.traces
    return (
        not parsed.disabled
        and (traces.exporters, traces.endpoint, traces.protocol, traces.timeout_s)
        == (original.exporters, original.endpoint, original.protocol, original.timeout_s)
        and (traces.client_key, traces.client_certificate) == (None, None)
        and (parsed.sampler, parsed.sampler_arg) == (base.sampler, base.sampler_arg)
        and parsed.bsp.export_timeout_ms == base.bsp.export_timeout_ms
        and parsed.shutdown_timeout_ms == base.shutdown_timeout_ms
    )


@st.composite
def garbage(draw: st.DrawFn, base: dict[str, str]) -> dict[str, str]:
    """A few garbage values on top of ``base``, each kept only if the run stays admissible."""
    baseline = _read(base)
    env = dict(base)
    for name in draw(st.lists(st.sampled_from(GARBLED), min_size=1, max_size=8, unique=True)):
        value = draw(VALUES)
        if _admissible(_read({**env, name: value}), baseline):
            env[name] = value
    return env


@pytest.mark.timeout(120)
def test_garbage_environment_changes_nothing_the_app_does(receiver: Receiver, tmp_path: Path) -> None:
    """Under random bad values: same stdout and exit code, only otel-run: lines on stderr, spans arrive."""
    base = otlp_env(receiver)
    baseline = _read(base)

    @SLOW_RUN
    @given(env=garbage(base))
    # Regressions, always run: header values that HTTP cannot carry (the exporter's error
    # quoted them), integers past 2**31-1 (OverflowError in the SDK's threads).
    @example(
        env={
            **base,
            "OTEL_EXPORTER_OTLP_HEADERS": "x-token=s3cr3tvalue%0Ax,Authorization: Bearer s3cr3tvalue==",
            "OTEL_BSP_SCHEDULE_DELAY": "99999999999999999999",
            "OTEL_BSP_MAX_QUEUE_SIZE": "1e30",
            "OTEL_RUN_SHUTDOWN_TIMEOUT": "1e30",
        }
    )
    def check(env: dict[str, str]) -> None:
        span = f"garbage-{uuid.uuid4().hex}"
        result = run_script(APP.format(span=span), env, tmp_path, timeout=30)
        garbled = {name: value for name, value in env.items() if base.get(name) != value}
        context = f"garbage {garbled!r}\nstderr:\n{result.stderr}"
        assert result.stdout == EXPECTED_STDOUT, context
        assert result.returncode == EXPECTED_EXIT, context
        lines = result.stderr.split("\n")
        assert lines[-1] == "", context
        assert all(line.startswith("otel-run: ") for line in lines[:-1]), context
        assert "telemetry setup failed" not in result.stderr, context
        for name, value in garbled.items():
            if "HEADER" in name:  # header text is credentials: none of it is ever shown
                chunks = re.split(r"[,=:\s%]+", value)
                assert not any(len(chunk) >= 8 and chunk in result.stderr for chunk in chunks), context
        if _traces_unchanged(_read(env), baseline):
            arrived = receiver.store.wait_for(lambda store: any(s.name == span for s in store.spans()), 10)
            assert arrived, context

    check()
