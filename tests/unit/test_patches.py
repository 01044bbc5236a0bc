"""otel-run's per-request patches give exactly upstream's results, and step aside when upstream changed."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.instrumentation import wsgi
from opentelemetry.instrumentation._semconv import _StabilityMode
from opentelemetry.util import http

from otel_run.runtime.patches import http_settings, wsgi_attributes

_TEXT = st.text(alphabet=st.sampled_from("aZ09 /?=&%.:-_;,"), max_size=12)
# PEP 3333 requires the first three (upstream's function raises without them).
_ENVIRON = st.fixed_dictionaries(
    {
        "SERVER_NAME": _TEXT,
        "wsgi.url_scheme": st.sampled_from(["http", "https"]),
        "SERVER_PORT": st.sampled_from(["80", "443", "8000"]),
    },
    optional={
        "REQUEST_METHOD": st.sampled_from(["GET", "get", "POST", "PATCH", "FOO", "", " GET"]),
        "HTTP_HOST": _TEXT,
        "RAW_URI": _TEXT,
        "REQUEST_URI": _TEXT,
        "PATH_INFO": _TEXT,
        "QUERY_STRING": _TEXT,
        "SCRIPT_NAME": _TEXT,
        "REMOTE_ADDR": st.sampled_from(["127.0.0.1", "::1", "10.0.0.1"]),
        "REMOTE_PORT": st.sampled_from(["50000", "1"]),
        "REMOTE_HOST": st.sampled_from(["127.0.0.1", "client.example"]),
        "HTTP_USER_AGENT": st.sampled_from(["python-requests/2", "Googlebot/2.1", "", "AlwaysOn"]),
        "SERVER_PROTOCOL": st.sampled_from(["HTTP/1.1", "HTTP/2", "", "http/1.0"]),
    },
)
_MODES = st.sampled_from([_StabilityMode.DEFAULT, _StabilityMode.HTTP, _StabilityMode.HTTP_DUP])
_memoized = wsgi_attributes.memoize(wsgi.collect_request_attributes)


@settings(max_examples=300, deadline=None)
@given(environ=_ENVIRON, mode=_MODES)
def test_memoized_request_attributes_are_upstreams(environ: dict[str, Any], mode: _StabilityMode) -> None:
    """Twice for the same environ, and for any other, the memoized attributes are upstream's."""
    expected = wsgi.collect_request_attributes(environ, mode)
    first = _memoized(environ, mode)
    second = _memoized(environ, sem_conv_opt_in_mode=mode)
    assert first == second == expected
    first["http.route"] = "/changed"  # each caller owns its dict: Flask adds the route to its copy
    assert _memoized(environ, mode) == expected


def test_memoized_request_attributes_see_every_key_they_read() -> None:
    """An environ differing in any one key the function reads gives that environ's attributes."""
    base = {key: "1" for key in wsgi_attributes._KEYS} | {"SERVER_PORT": "80", "REQUEST_METHOD": "GET"}
    for key in wsgi_attributes._KEYS:
        changed = dict(base, **{key: {"REQUEST_METHOD": "POST", "SERVER_PORT": "81"}.get(key, "2")})
        assert _memoized(base) == wsgi.collect_request_attributes(base)
        assert _memoized(changed) == wsgi.collect_request_attributes(changed), key


def test_upstream_collect_request_attributes_has_the_known_shape() -> None:
    """The installed wsgi instrumentation is the one the patch is written for (else it is not applied)."""
    wsgi_attributes._check_shape(wsgi.collect_request_attributes, wsgi._apply_user_agent_attributes)


def test_a_changed_function_is_left_as_upstream_ships_it() -> None:
    """A function of another shape is refused, naming it."""

    def collect_request_attributes(environ: Any, sem_conv_opt_in_mode: Any = None) -> Any:
        return {"new": environ.get("HTTP_X_NEW")}

    with pytest.raises(LookupError, match="collect_request_attributes changed"):
        wsgi_attributes._check_shape(collect_request_attributes, wsgi._apply_user_agent_attributes)


@pytest.mark.parametrize("capture_all", ["", "1", "false"])
def test_memoized_sanitize_method_is_upstreams(capture_all: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every method, with and without capture-all, sanitizes as upstream does; made-up ones stay bounded."""
    monkeypatch.setenv("OTEL_PYTHON_INSTRUMENTATION_HTTP_CAPTURE_ALL_METHODS", capture_all)
    memoized = http_settings._memo_sanitize_method(http.sanitize_method)
    methods = ["GET", "get", "QUERY", "PROPFIND", "", "Patch", None, *(f"M{i}" for i in range(100))]
    for _ in range(2):
        assert [memoized(m) for m in methods] == [http.sanitize_method(m) for m in methods]
    assert memoized.__closure__ is not None
    remembered = next(c.cell_contents for c in memoized.__closure__ if isinstance(c.cell_contents, dict))
    assert len(remembered) == http_settings._MAX_METHODS


def test_memoized_custom_headers_are_upstreams_and_fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """The header list is upstream's, read once, and each caller gets its own list."""
    variable = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"
    monkeypatch.setenv(variable, " x-a , X-B.*")
    memoized = http_settings._memo_get_custom_headers(http.get_custom_headers)
    first = memoized(variable)
    assert first == http.get_custom_headers(variable) == ["x-a", "X-B.*"]
    first.append("mine")
    monkeypatch.setenv(variable, "other")
    assert memoized(variable) == ["x-a", "X-B.*"]  # read once per process
    assert memoized("OTEL_UNSET_FOR_THIS_TEST") == []


def _run_patched(code: str, **env: str) -> str:
    """Apply the Flask patches in a fresh interpreter, run ``code`` there, return its stdout."""
    program = (
        "import opentelemetry.instrumentation.flask\n"
        "from otel_run.runtime import patches\n"
        "print('failed:', patches.before_instrument('flask'))\n" + code
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={**{k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.mark.timeout(120)
def test_captured_headers_are_upstreams_with_and_without_configuration() -> None:
    """Configured capture gives upstream's attributes; none configured gives none, as upstream."""
    code = (
        "from opentelemetry.instrumentation import wsgi\n"
        "environ = {'HTTP_X_SECRET': 's', 'HTTP_X_PLAIN': 'p', 'HTTP_HOST': 'h'}\n"
        "ours = wsgi.collect_custom_request_headers_attributes(environ)\n"
        "theirs = wsgi.collect_custom_request_headers_attributes.__wrapped__(environ)\n"
        "print(ours == theirs, sorted(ours.items()))\n"
        "r = [('X-Plain', 'a'), ('x-plain', 'b')]\n"
        "print(wsgi.collect_custom_response_headers_attributes(r) ==\n"
        "      wsgi.collect_custom_response_headers_attributes.__wrapped__(r))\n"
    )
    configured = _run_patched(
        code,
        OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST="x-secret,x-plain",
        OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE="x-plain",
        OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS="x-secret",
    )
    assert configured.splitlines() == [
        "failed: None",
        "True [('http.request.header.x_plain', ['p']), ('http.request.header.x_secret', ['[REDACTED]'])]",
        "True",
    ]
    assert _run_patched(code).splitlines() == ["failed: None", "True []", "True"]


@pytest.mark.timeout(120)
def test_patches_reach_every_module_bound_to_the_originals() -> None:
    """Flask and WSGI hold the memoized functions; Flask's empty exclude list from the environment is None."""
    code = (
        "from opentelemetry.instrumentation import flask, wsgi\n"
        "from opentelemetry.util import http\n"
        "print(flask.sanitize_method is wsgi.sanitize_method is http.sanitize_method,\n"
        "      wsgi.get_custom_headers is http.get_custom_headers,\n"
        "      hasattr(http.sanitize_method, '__wrapped__'), flask._excluded_urls_from_env)\n"
    )
    assert _run_patched(code).splitlines() == ["failed: None", "True True True None"]
    excluded = _run_patched(
        "from opentelemetry.instrumentation import flask\n"
        "print(flask._excluded_urls_from_env._excluded_urls)\n",
        OTEL_PYTHON_FLASK_EXCLUDED_URLS="healthz",
    )
    assert excluded.splitlines() == ["failed: None", "['healthz']"]


_FLASK_SPANS = """
import sys
import flask
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, SamplingResult

class Dropping:
    def should_sample(self, parent, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        kept = {k: v for k, v in (attributes or {}).items() if k != "http.scheme"}
        return SamplingResult(Decision.RECORD_AND_SAMPLE, dict(reversed(list(kept.items()))))
    def get_description(self):
        return "dropping"

exporter = InMemorySpanExporter()
provider = TracerProvider(sampler=Dropping() if sys.argv[2] == "dropping" else ALWAYS_ON)
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
from opentelemetry.instrumentation.flask import FlaskInstrumentor
if sys.argv[1] == "patched":
    from otel_run.runtime import patches
    assert patches.before_instrument("flask") is None
    from otel_run.runtime import importhook
    patches.after_build(importhook.watcher().watch, print)  # the SDK's: attribute cleaning too
FlaskInstrumentor().instrument()
app = flask.Flask("t")  # after instrument(): the instrumented class
app.route("/r/<int:n>")(lambda n: str(n))
client = app.test_client()
for path in ("/r/1", "/r/2?q=1", "/missing"):
    client.get(path, headers={"User-Agent": "test/1", "X-A": "a"})
for span in exporter.get_finished_spans():
    print(span.name, list(span.attributes.items()), span.dropped_attributes)
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("sampler", "limit"),
    [("always_on", ""), ("dropping", ""), ("always_on", "5"), ("always_on", "14"), ("always_on", "length 4")],
)
def test_flask_spans_are_upstreams_with_any_sampler_and_limit(
    sampler: str, limit: str, tmp_path: Any
) -> None:
    """Patched Flask spans keep upstream's attributes, order and dropped counts under any sampler or limit
    (count or value length)."""
    script = tmp_path / "spans.py"
    script.write_text(_FLASK_SPANS)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    if limit.startswith("length "):
        env["OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"] = limit.partition(" ")[2]
    elif limit:
        env["OTEL_ATTRIBUTE_COUNT_LIMIT"] = limit
    done = [
        subprocess.run(
            [sys.executable, str(script), side, sampler],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        for side in ("patched", "upstream")
    ]
    assert done[0].stdout.count("\n") == 3
    assert (done[0].stdout, done[0].stderr) == (done[1].stdout, done[1].stderr)  # limit warnings too
