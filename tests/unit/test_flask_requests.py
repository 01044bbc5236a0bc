"""otel-run's Flask request path emits exactly what upstream's does, and is upstream's where it must be."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from otel_run.runtime import patches
from otel_run.runtime.patches import flask_requests

_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(__file__)), "flask_scenarios.py")
_OURS = "flask_requests.py flask_before_request.py flask_requests.py"
_CAPTURE = {
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "x-a,user-agent",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": "content-type,x-first",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": "x-a",
}
# variant → (its environment, its script argument, which files serve the patched app)
_VARIANTS: dict[str, tuple[dict[str, str], str, str]] = {
    "default": ({}, "", _OURS),
    "a sampler that changes the attributes": ({"SCENARIO_SAMPLER": "dropping"}, "", _OURS),
    "sampler always_off": ({"SCENARIO_SAMPLER": "always_off"}, "", _OURS),
    "OTEL_ATTRIBUTE_COUNT_LIMIT": ({"OTEL_ATTRIBUTE_COUNT_LIMIT": "5"}, "", _OURS),
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": ({"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "4"}, "", _OURS),
    "captured headers": (_CAPTURE, "", _OURS),
    "a response propagator": ({}, "propagator", _OURS),
    "instrument_app, no commenter": ({}, "instrument_app", _OURS),
    # upstream's closures where the shape is not the one ours reproduce
    "excluded URLs": (
        {"OTEL_PYTHON_FLASK_EXCLUDED_URLS": "excluded,missing"},
        "",
        "__init__.py flask_before_request.py __init__.py",
    ),
    "request and response hooks": ({}, "hooks", "__init__.py __init__.py flask_requests.py"),
    "semconv http": (
        {"OTEL_SEMCONV_STABILITY_OPT_IN": "http"},
        "",
        "__init__.py flask_before_request.py flask_requests.py",
    ),
    "semconv http/dup": (
        {"OTEL_SEMCONV_STABILITY_OPT_IN": "http/dup"},
        "",
        "__init__.py flask_before_request.py flask_requests.py",
    ),
}


def _run(side: str, env: dict[str, str], argument: str) -> tuple[list[str], str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, _SCRIPT, side, argument],
        env={**base, "PYTHONHASHSEED": "0", **env},  # werkzeug's Allow header follows set order
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    *lines, served = done.stdout.splitlines()
    # Flask's own error log starts with a timestamp
    stderr = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("[20"))
    return lines, stderr, served


@pytest.mark.timeout(180)
@pytest.mark.parametrize("variant", list(_VARIANTS))
def test_flask_requests_emit_upstreams_telemetry(variant: str) -> None:
    """Spans, metric points, log records, the view's context and the responses are upstream's, for every
    kind of request, in every configuration; the patched app is served by ours where the shape allows."""
    env, argument, served_by = _VARIANTS[variant]
    ours, ours_stderr, ours_served = _run("patched", env, argument)
    theirs, theirs_stderr, theirs_served = _run("upstream", env, argument)
    assert ours_served == f"served by: {served_by}"
    assert theirs_served == "served by: __init__.py __init__.py __init__.py"
    assert len(ours) > 20
    assert ours == theirs
    assert ours_stderr == theirs_stderr


def test_the_scenarios_record_what_the_comparison_relies_on() -> None:
    """The default scenario's output holds the cases the comparison is for, so an empty run cannot pass."""
    lines, _, _ = _run("patched", {}, "")
    text = "\n".join(lines)
    assert '"status": ["StatusCode.ERROR", "ValueError: boom in view"]' in text
    assert '"exception.stacktrace"' in text
    assert '"parent": [13235353014750950193, true]' in text  # the incoming traceparent's span id
    assert '{"k": "v", "other": "2"}' in text  # baggage reached the view
    assert '"kind": "SpanKind.INTERNAL"' in text  # a request inside an active span
    assert '"http.status_code", 503' in text  # start_response called twice: the second status
    assert '"metric": "http.server.active_requests"' in text and '"value": 0' in text
    assert "\"ValueError('boom in view')\"" in text  # propagated out of the WSGI callable


_CHANGED = """
import opentelemetry.instrumentation.flask as f
original_app, original_teardown = f._rewrapped_app, f._wrapped_teardown_request
def _rewrapped_app(wsgi_app, active_requests_counter, something_new=None):
    return wsgi_app
f._rewrapped_app = _rewrapped_app
from otel_run.runtime import patches
print(patches.before_instrument("flask"))
print(f._rewrapped_app is _rewrapped_app, f._wrapped_teardown_request is original_teardown)
"""


@pytest.mark.timeout(60)
def test_a_changed_upstream_keeps_upstreams_functions() -> None:
    """Another shape of upstream's factories: one line naming the fix, and both factories left as they are."""
    done = subprocess.run(
        [sys.executable, "-c", _CHANGED], capture_output=True, text=True, timeout=60, check=True
    )
    failure, kept = done.stdout.splitlines()
    assert failure == "flask_requests: LookupError: flask._rewrapped_app changed its parameters"
    assert kept == "True True"


def test_the_known_shape_is_recognised() -> None:
    """The installed instrumentation is the shape ours reproduce (else every request would run upstream's)."""
    from opentelemetry.instrumentation import flask

    module: Any = flask
    if getattr(module._rewrapped_app, "_otel_run_requests", False):
        module = type("Unpatched", (), {})
        for name in dir(flask):
            setattr(module, name, getattr(flask, name))
        module._rewrapped_app = flask._rewrapped_app.__wrapped__
        module._wrapped_teardown_request = flask._wrapped_teardown_request.__wrapped__
    flask_requests._check_shape(module)
    assert "otel_run.runtime.patches.flask_requests" in patches._BEFORE["flask"]
