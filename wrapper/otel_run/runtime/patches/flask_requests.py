"""Flask: the per-request WSGI wrapper and teardown hook, each request resolved once.

Upstream's ``_wrapped_app`` (with its ``_start_response``) and ``_teardown_request``
reach the current request through ``flask.request``, werkzeug's ``LocalProxy``, eleven
times per request (each a context-variable lookup and an attribute fetch through the
proxy), test ``hasattr(flask.request, "response")`` through it for Flask 3.1's streaming
cleanup (opentelemetry-python-contrib#3938; a missing attribute is an exception raised
through the proxy), and filter the metric attributes through ``_semconv``'s generic
helpers, which test every key against a list. No upstream issue tracks the cost that we
could find; #1186 introduced the wrapper with the metrics, #1692 the request-context
check of the teardown.

These are upstream's functions (0.66b1) with the request resolved once per hook and the
default semantic-convention mode's attribute filters done with sets, for the shape
otel-run arms by default: no response hook, no excluded URLs (``flask_excluded`` makes
an empty list ``None``) and the default mode, whose response status is set by
``wsgi_status``. Everything else they do is upstream's, in
upstream's order, through upstream's helpers (looked up on their modules at call time,
so the other patches apply): the same span, status, metric measurements and context.
Any other configuration gets upstream's own closures; another upstream shape keeps
upstream's factories (one stderr line, from ``patches.before_instrument``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from otel_run.runtime.patches import wsgi_status

_MARK = "_otel_run_requests"
_APP_PARAMETERS = (
    "wsgi_app",
    "active_requests_counter",
    "duration_histogram_old",
    "response_hook",
    "excluded_urls",
    "sem_conv_opt_in_mode",
    "duration_histogram_new",
)
# The names upstream's closures use: another set means upstream changed them.
_APP_NAMES = frozenset(
    {
        *("DEFAULT", "HTTP", "HTTP_ROUTE", "HTTP_TARGET", "_ENVIRON_SPAN_KEY", "_ENVIRON_STARTTIME_KEY"),
        *("_StabilityMode", "_parse_active_request_count_attrs", "_parse_duration_attrs", "add"),
        *("collect_request_attributes", "default_timer", "get", "max", "otel_wsgi", "record", "round"),
        *("set_span_in_context", "str", "time_ns", "trace"),
    }
)
_START_RESPONSE_NAMES = frozenset(
    {
        *("SERVER", "SpanKind", "_ENVIRON_SPAN_KEY", "_logger", "add_response_attributes"),
        *("collect_custom_response_headers_attributes", "default_response_propagation_setter", "environ"),
        *("flask", "get", "get_global_response_propagator", "inject", "is_recording", "kind", "len"),
        *("otel_wsgi", "request", "set_attributes", "trace", "url_rule", "warning"),
    }
)
_SPAN_MISSING = "Flask environ's OpenTelemetry span missing at _start_response(%s)"
_SHOULD_TRACE_NAMES = frozenset({"bool", "flask", "request", "url", "url_disabled"})
_TEARDOWN_NAMES = frozenset(
    {
        *("AttributeError", "RuntimeError", "TypeError", "ValueError", "_ENVIRON_ACTIVATION_KEY"),
        *("_ENVIRON_REQCTX_REF_KEY", "_ENVIRON_TOKEN", "_IS_FLASK_31_PLUS", "__exit__", "_logger"),
        *("_request_ctx_ref", "context", "debug", "detach", "environ", "flask", "get", "getattr"),
        *("hasattr", "pop", "request", "response", "stream", "type", "url", "url_disabled"),
    }
)
_STREAMING_DONE = "Streaming response context cleanup completed in teardown function"
_STREAMING_FAILED = "Teardown streaming context cleanup failed: %s"
_TEARDOWN_FAILED = "Error during request teardown: %s"
_TEARDOWN_CONSTANTS = frozenset(
    {_STREAMING_DONE, _STREAMING_FAILED, _TEARDOWN_FAILED, "__exit__", "__traceback__", "request"}
    | {"response", "stream"}
)
_REQCTX_NAMES = frozenset({"_get_current_object", "flask", "globals", "ref", "request_ctx", "weakref"})


def apply() -> None:
    """Replace Flask's ``_rewrapped_app`` and ``_wrapped_teardown_request``; idempotent."""
    from opentelemetry.instrumentation import flask

    module: Any = flask
    rewrapped, teardown = module._rewrapped_app, module._wrapped_teardown_request
    if getattr(rewrapped, _MARK, False) and getattr(teardown, _MARK, False):
        return
    _check_shape(module)
    import flask as flask_module

    for proxy in (flask_module.request, flask_module.globals.request_ctx):
        if not callable(getattr(proxy, "_get_current_object", None)):  # werkzeug's LocalProxy since 2.0
            raise LookupError("flask.request has no _get_current_object")
    if not getattr(rewrapped, _MARK, False):
        module._rewrapped_app = _app_factory(module, rewrapped)
    if not getattr(teardown, _MARK, False):
        module._wrapped_teardown_request = _teardown_factory(module, teardown)


def _inner(code: Any, name: str) -> Any:
    found = [c for c in code.co_consts if getattr(c, "co_name", "") == name]
    if len(found) != 1:
        raise LookupError(f"flask: no single {name} inside {code.co_name}")
    return found[0]


def _strings(code: Any) -> set[str]:
    return {c for c in code.co_consts if isinstance(c, str)}


def _check_shape(module: Any) -> None:
    code = module._rewrapped_app.__code__
    if code.co_varnames[: code.co_argcount] != _APP_PARAMETERS:
        raise LookupError("flask._rewrapped_app changed its parameters")
    app, should_trace = _inner(code, "_wrapped_app"), _inner(code, "_should_trace")
    start_response = _inner(app, "_start_response")
    if (
        set(app.co_names) != _APP_NAMES
        or set(start_response.co_names) != _START_RESPONSE_NAMES
        or _strings(start_response) != {_SPAN_MISSING}
        or set(should_trace.co_names) != _SHOULD_TRACE_NAMES
    ):
        raise LookupError("flask._rewrapped_app changed shape")
    code = module._wrapped_teardown_request.__code__
    if code.co_varnames[: code.co_argcount] != ("excluded_urls",):
        raise LookupError("flask._wrapped_teardown_request changed its parameters")
    teardown = _inner(code, "_teardown_request")
    if set(teardown.co_names) != _TEARDOWN_NAMES or _strings(teardown) != _TEARDOWN_CONSTANTS:
        raise LookupError("flask._wrapped_teardown_request changed shape")
    if set(module._request_ctx_ref.__code__.co_names) != _REQCTX_NAMES:  # Flask >= 2.2's
        raise LookupError("flask._request_ctx_ref changed shape")
    if not isinstance(module._IS_FLASK_31_PLUS, bool):
        raise LookupError("flask._IS_FLASK_31_PLUS changed shape")
    from opentelemetry.instrumentation import _semconv

    wsgi_status.check_shape(module.otel_wsgi, _semconv)


def _current(proxy: Any) -> Callable[[], Any]:
    """The object behind ``proxy`` now, or None outside a request (where ``bool(proxy)`` is False)."""
    resolve = proxy._get_current_object

    def current() -> Any:
        try:
            return resolve()
        except RuntimeError:  # werkzeug's "working outside of request context"
            return None

    return current


def _app_factory(module: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    import flask as flask_module
    from opentelemetry import trace

    otel_wsgi = module.otel_wsgi
    default_mode = module._StabilityMode.DEFAULT
    current_request = _current(flask_module.request)
    span_key, start_key = module._ENVIRON_SPAN_KEY, module._ENVIRON_STARTTIME_KEY
    http_target = module.HTTP_TARGET
    # _semconv's filters for the default mode: the keys kept, in the attributes' own order
    active_keys = frozenset(otel_wsgi._server_active_requests_count_attrs_old)
    duration_keys = frozenset(otel_wsgi._server_duration_attrs_old)

    on_response = _responder(module)

    def _rewrapped_app(
        wsgi_app: Any,
        active_requests_counter: Any,
        duration_histogram_old: Any = None,
        response_hook: Any = None,
        excluded_urls: Any = None,
        sem_conv_opt_in_mode: Any = default_mode,
        duration_histogram_new: Any = None,
    ) -> Callable[..., Any]:
        if (
            response_hook is not None
            or excluded_urls is not None
            or sem_conv_opt_in_mode is not default_mode
            or duration_histogram_new is not None
        ):
            return original(  # type: ignore[no-any-return]
                wsgi_app,
                active_requests_counter,
                duration_histogram_old,
                response_hook,
                excluded_urls,
                sem_conv_opt_in_mode,
                duration_histogram_new,
            )
        mode = sem_conv_opt_in_mode

        def _wrapped_app(wrapped_app_environ: Any, start_response: Any) -> Any:
            wrapped_app_environ[start_key] = module.time_ns()
            start = module.default_timer()
            attributes = otel_wsgi.collect_request_attributes(wrapped_app_environ, mode)
            active_requests_count_attrs = {k: v for k, v in attributes.items() if k in active_keys}
            active_requests_counter.add(1, active_requests_count_attrs)
            request_route = None
            should_trace = True

            def _start_response(status: Any, response_headers: Any, *args: Any, **kwargs: Any) -> Any:
                nonlocal should_trace, request_route
                request = current_request()
                should_trace = request is not None and bool(request)
                if should_trace:
                    request_route = request.url_rule
                    on_response(request.environ.get(span_key), status, response_headers, attributes)
                return start_response(status, response_headers, *args, **kwargs)

            try:
                result = wsgi_app(wrapped_app_environ, _start_response)
                if should_trace:
                    duration_s = module.default_timer() - start
                    span = wrapped_app_environ.get(span_key)
                    metrics_context = trace.set_span_in_context(span)
                    if duration_histogram_old:
                        duration_attrs_old = {k: v for k, v in attributes.items() if k in duration_keys}
                        if request_route:
                            duration_attrs_old[http_target] = str(request_route)
                        duration_histogram_old.record(
                            max(round(duration_s * 1000), 0), duration_attrs_old, context=metrics_context
                        )
                return result
            finally:
                active_requests_counter.add(-1, active_requests_count_attrs)

        return _wrapped_app

    return _marked(_rewrapped_app, original)


def _responder(module: Any) -> Callable[..., None]:
    """Upstream's ``_start_response`` once it decided to trace, in its order."""
    from opentelemetry import trace
    from opentelemetry.instrumentation import _semconv

    otel_wsgi, logger, server = module.otel_wsgi, module._logger, trace.SpanKind.SERVER
    add_response_attributes = wsgi_status.response_status(otel_wsgi, _semconv)

    def on_response(span: Any, status: Any, response_headers: Any, attributes: Any) -> None:
        propagator = module.get_global_response_propagator()
        if propagator:
            propagator.inject(response_headers, setter=otel_wsgi.default_response_propagation_setter)
        if span:
            add_response_attributes(span, status, response_headers, attributes)
            if span.is_recording() and span.kind == server:
                custom_attributes = otel_wsgi.collect_custom_response_headers_attributes(response_headers)
                if len(custom_attributes) > 0:
                    span.set_attributes(custom_attributes)
        else:
            logger.warning(_SPAN_MISSING, status)

    return on_response


def _teardown_factory(module: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    import flask as flask_module
    from opentelemetry import context

    current_request = _current(flask_module.request)
    request_ctx: Any = flask_module.globals.request_ctx
    current_request_ctx = request_ctx._get_current_object
    activation_key, token_key = module._ENVIRON_ACTIVATION_KEY, module._ENVIRON_TOKEN
    reqctx_key, logger = module._ENVIRON_REQCTX_REF_KEY, module._logger
    flask_31_plus: bool = module._IS_FLASK_31_PLUS

    def _wrapped_teardown_request(excluded_urls: Any = None) -> Callable[[Any], None]:
        if excluded_urls is not None:
            return original(excluded_urls)  # type: ignore[no-any-return]

        def _teardown_request(exc: Any) -> None:
            request = current_request()
            if request is None:  # where upstream's first flask.request lookup raises
                flask_module.request.environ  # noqa: B018 - raises werkzeug's RuntimeError
            environ = request.environ
            activation = environ.get(activation_key)
            token = environ.get(token_key)
            original_reqctx_ref = environ.get(reqctx_key)
            current_reqctx_ref = weakref.ref(current_request_ctx())
            if not activation or original_reqctx_ref != current_reqctx_ref:
                return
            try:
                is_streaming = False
                if flask_31_plus:
                    try:
                        if hasattr(request, "response"):
                            response = request.response
                            is_streaming = response and hasattr(response, "stream") and response.stream
                    except (RuntimeError, AttributeError):
                        is_streaming = False
                if flask_31_plus and is_streaming:
                    try:
                        context.detach(token)
                        if hasattr(activation, "__exit__"):
                            activation.__exit__(None, None, None)
                        environ[activation_key] = None
                        environ[token_key] = None
                        logger.debug(_STREAMING_DONE)
                    except (RuntimeError, ValueError, TypeError, AttributeError) as cleanup_exc:
                        logger.debug(_STREAMING_FAILED, cleanup_exc)
                    return
                if exc is None:
                    activation.__exit__(None, None, None)
                else:
                    activation.__exit__(type(exc), exc, getattr(exc, "__traceback__", None))
                if token:
                    context.detach(token)
                    environ.pop(activation_key, None)
                    environ.pop(token_key, None)
            except (RuntimeError, AttributeError, ValueError) as teardown_exc:
                logger.debug(_TEARDOWN_FAILED, teardown_exc, exc_info=True)

        return _teardown_request

    return _marked(_wrapped_teardown_request, original)


def _marked(replacement: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    replacement.__wrapped__ = original  # type: ignore[attr-defined]
    replacement.__doc__ = original.__doc__
    setattr(replacement, _MARK, True)
    return replacement
