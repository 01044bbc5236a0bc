"""Flask requests of every kind under the Flask instrumentation; prints what they emitted.

    python tests/flask_scenarios.py patched|upstream [hooks|instrument_app|propagator]

``patched`` applies otel-run's Flask patches (``patches.before_instrument("flask")`` and
the SDK's ``after_build``) before instrumenting; ``upstream`` runs the instrumentation as
it ships. Both then serve the same requests through the app's WSGI callable: routes that
answer, 404, a view that raises (handled, and propagated), streamed bodies (read to the
end, and closed after the first chunk), ``start_response`` called twice, status lines
that are not an integer or have no reason phrase, an incoming
``traceparent`` and ``baggage``, a request inside an active span, a request context with
no request, and an excluded URL. What was emitted is printed as JSON, with ids replaced
by their order of appearance and times left out: spans (name, kind, attributes in order,
dropped counts, status, events with their attributes, parent, links), metric points
(name, unit, description, attributes, sums, counts, exemplars' spans), log records of
the instrumentation's loggers, what the view saw as its current span and baggage, and
the responses' status, headers and body; last, which files the app's WSGI wrapper and
hooks come from. tests/unit/test_flask_requests.py compares the
two sides' output, configured by the environment (sampler, limits, exclusions, semantic
convention mode, captured headers).
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from typing import Any

import flask
from opentelemetry import baggage, context, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Decision, SamplingResult


class Dropping:
    """Keeps every span but drops one attribute and reverses the others' order."""

    def should_sample(self, parent: Any, trace_id: Any, name: Any, kind: Any = None, attributes: Any = None,
                      links: Any = None, trace_state: Any = None) -> SamplingResult:  # fmt: skip
        kept = {k: v for k, v in (attributes or {}).items() if k != "http.scheme"}
        return SamplingResult(Decision.RECORD_AND_SAMPLE, dict(reversed(list(kept.items()))))

    def get_description(self) -> str:
        return "dropping"


_SAMPLERS: dict[str, Any] = {"always_on": ALWAYS_ON, "always_off": ALWAYS_OFF, "dropping": Dropping()}


class Records(logging.Handler):
    """Every record of the instrumentation's loggers, with the span current when it was made."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, str, str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        span = trace.get_current_span().get_span_context()
        self.seen.append((record.name, record.levelname, record.getMessage(), span.span_id))


def main(side: str, variant: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=_SAMPLERS[os.environ.get("SCENARIO_SAMPLER", "always_on")])
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    from opentelemetry import metrics

    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    records = Records()
    for name in ("opentelemetry.instrumentation.flask", "opentelemetry.instrumentation.wsgi"):
        logging.getLogger(name).addHandler(records)
        logging.getLogger(name).setLevel(logging.DEBUG)
    if variant == "propagator":
        from opentelemetry.instrumentation.propagators import (
            TraceResponsePropagator,
            set_global_response_propagator,
        )

        set_global_response_propagator(TraceResponsePropagator())
    if side == "patched":
        from otel_run.runtime import importhook, patches

        failed = patches.before_instrument("flask")
        assert failed is None, failed
        patches.after_build(importhook.watcher().watch, print)
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    hooks: dict[str, Any] = {}
    if variant == "hooks":
        hooks = {
            "request_hook": lambda span, environ: span.set_attribute("hook.request", environ["PATH_INFO"]),
            "response_hook": lambda span, status, headers: span.set_attribute("hook.response", status),
        }
    if variant == "instrument_app":
        app = flask.Flask("scenarios")
        FlaskInstrumentor.instrument_app(app, enable_commenter=False, commenter_options={"route": False})
    else:
        FlaskInstrumentor().instrument(**hooks)
        app = flask.Flask("scenarios")  # after instrument(): the instrumented class
    seen: list[Any] = []
    _routes(app, seen)
    responses = [_request(app, *request) for request in _REQUESTS]
    with trace.get_tracer("scenarios").start_as_current_span("outer"):
        responses.append(_request(app, "/r/9"))
    with app.test_request_context("/r/3"):  # teardown with no span begun: upstream returns early
        pass
    app.config["PROPAGATE_EXCEPTIONS"] = True
    responses.append(_request(app, "/boom"))
    _print(exporter, reader, records, seen, responses)
    hooks_code = [app.wsgi_app, *app.before_request_funcs[None], *app.teardown_request_funcs[None]]
    print("served by:", " ".join(os.path.basename(f.__code__.co_filename) for f in hooks_code))


def _routes(app: flask.Flask, seen: list[Any]) -> None:
    def view(n: int) -> str:
        span = trace.get_current_span().get_span_context()
        seen.append((n, span.span_id, dict(baggage.get_all()), flask.request.path))
        logging.getLogger("opentelemetry.instrumentation.flask").warning("in view %s", n)
        return f"n={n}"

    def boom() -> str:
        raise ValueError("boom in view")

    def chunks() -> Any:
        yield "one,"
        yield "two,"
        seen.append(("stream", trace.get_current_span().get_span_context().span_id))
        yield "three"

    def stream() -> flask.Response:
        return flask.Response(flask.stream_with_context(chunks()))

    def generator() -> flask.Response:
        return flask.Response(chunks())

    class Twice(flask.Response):
        def __call__(self, environ: Any, start_response: Any) -> Any:
            start_response("200 OK", [("X-First", "1")])
            return super().__call__(environ, start_response)

    def twice() -> flask.Response:
        return Twice("second wins", status=503)

    class Status(flask.Response):  # the status line as the route names it, then none
        def __call__(self, environ: Any, start_response: Any) -> Any:
            start_response(self.get_data(as_text=True), [])
            return [b"odd"]

    def status(line: str) -> flask.Response:
        return Status(line)

    app.route("/r/<int:n>")(view)
    app.route("/boom")(boom)
    app.route("/stream")(stream)
    app.route("/generator")(generator)
    app.route("/twice")(twice)
    app.route("/status/<line>")(status)
    app.route("/custom", methods=["FOO"], endpoint="custom")(lambda: "custom method")
    app.route("/excluded", endpoint="excluded")(lambda: "excluded")


_REQUESTS: list[tuple[Any, ...]] = [
    ("/r/1",),
    ("/r/2", "q=1&x=%20y", {"HTTP_USER_AGENT": "test/1", "HTTP_X_A": "a"}),
    ("/missing",),
    ("/boom",),
    ("/stream",),
    ("/generator",),
    ("/stream", "", {}, 1),  # closed after its first chunk
    ("/twice",),
    ("/status/abc Odd",),  # a status that is not an integer
    ("/status/200",),  # no reason phrase: upstream's start_response raises ValueError
    ("/excluded",),
    ("/r/4", "", {"REQUEST_METHOD": "FOO"}),  # not allowed there: no route
    ("/custom", "", {"REQUEST_METHOD": "FOO"}),  # a route for a nonstandard method
    (
        "/r/5",
        "",
        {
            "HTTP_TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "HTTP_BAGGAGE": "k=v,other=2",
        },
    ),
]


def _request(app: flask.Flask, path: str, query: str = "", extra: Any = None, chunks: int = -1) -> Any:
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **(extra or {}),
    }
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    try:
        body = app(environ, start_response)
    except ValueError as error:  # PROPAGATE_EXCEPTIONS
        return ["raised", repr(error), started, sorted(k for k in environ if k.startswith("opentelemetry"))]
    got = []
    try:
        for chunk in body:
            got.append(chunk.decode())
            if len(got) == chunks:
                break
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    keys = sorted(k for k in environ if k.startswith("opentelemetry"))
    return [started, got, keys]


def _print(exporter: Any, reader: Any, records: Records, seen: list[Any], responses: list[Any]) -> None:
    ids: dict[int, int] = {}

    def ref(span_id: int) -> Any:
        return ids.setdefault(span_id, len(ids)) if span_id else None

    spans = exporter.get_finished_spans()
    names = {span.context.span_id: span.name for span in spans}
    for span in spans:
        ref(span.context.span_id)
    for span in spans:
        print(
            json.dumps(
                {
                    "span": span.name,
                    "id": ref(span.context.span_id),
                    "kind": str(span.kind),
                    "attributes": list(span.attributes.items()),
                    "dropped": [span.dropped_attributes, span.dropped_events, span.dropped_links],
                    "status": [str(span.status.status_code), span.status.description],
                    "events": [[e.name, list(e.attributes.items())] for e in span.events],
                    "parent": None
                    if span.parent is None
                    else [
                        ref(span.parent.span_id) if not span.parent.is_remote else span.parent.span_id,
                        span.parent.is_remote,
                    ],
                    "trace": "remote"
                    if span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
                    else "new",
                    "scope": [span.instrumentation_scope.name, span.instrumentation_scope.schema_url],
                    "timed": span.start_time is not None and span.end_time >= span.start_time,
                }
            )
        )
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    print(
                        json.dumps(
                            {
                                "metric": metric.name,
                                "scope": [scope_metrics.scope.name, scope_metrics.scope.schema_url],
                                "unit": metric.unit,
                                "description": metric.description,
                                "attributes": sorted(point.attributes.items()),
                                "value": getattr(point, "value", None),
                                "count": getattr(point, "count", None),
                                # which spans' requests they sampled (which one is timing's choice)
                                "exemplars": sorted(
                                    {names.get(e.span_id, str(e.span_id)) for e in point.exemplars}
                                ),
                            }
                        )
                    )
    for name, level, message, span_id in records.seen:
        print(json.dumps({"log": name, "level": level, "message": message, "span": ref(span_id)}))
    print(json.dumps({"seen": [[ref(item) if i == 1 else item for i, item in enumerate(s)] for s in seen]}))
    for response in responses:
        for _status, headers in response[0] if response[0] != "raised" else ():
            for i, (name, value) in enumerate(headers):
                if name == "traceresponse":  # 00-trace-span-flags: the span as its order
                    version, trace_id, span_id, flags = value.split("-")
                    headers[i] = (name, f"{version}-{len(trace_id)}-{ref(int(span_id, 16))}-{flags}")
        print(json.dumps({"response": response}))
    print(json.dumps({"context_left": dict(context.get_current())}, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")
