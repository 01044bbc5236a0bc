"""Flask: start the request's span without setting each of its attributes a second time.

Upstream's ``_before_request`` passes the request attributes to ``start_span`` (so a
sampler sees them, opentelemetry-python-contrib#1784) and then sets every one of them
again on the started span, one ``set_attribute`` at a time: ~14 attribute validations
and lock round-trips per request, ~12-19 µs, that change nothing when the span already
holds exactly those items in that order. No upstream issue tracks it that we could find.

This is upstream's ``_before_request`` (0.66b1) with that loop run only when it would
change something: the span does not already hold the same items in the same order (a
sampler that changed them, an attribute limit that dropped some, a value that was
truncated), or a request hook ran in between (it may have overwritten one, which
upstream's loop then restores). Everything else is upstream's, in upstream's order,
through upstream's helpers (looked up on their modules at call time, so the other
patches apply), except that ``flask.request`` is resolved once: upstream reaches the
request through werkzeug's ``LocalProxy`` about ten times (``get_default_span_name``,
the route, the endpoint) and the request context through another for
``_request_ctx_ref``; the span name and that reference are built here from the
resolved objects, as those two functions build them. Applied only to the shape it was
written for (theirs included).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

_MARK = "_otel_run_before_request"
_PARAMETERS = (
    "request_hook",
    "tracer",
    "excluded_urls",
    "enable_commenter",
    "commenter_options",
    "sem_conv_opt_in_mode",
)
# Every name upstream's inner ``_before_request`` uses: another means upstream changed it.
_NAMES = frozenset(
    {
        *("HTTP_ROUTE", "SERVER", "SpanKind", "_ENVIRON_ACTIVATION_KEY", "_ENVIRON_REQCTX_REF_KEY"),
        *("_ENVIRON_SPAN_KEY", "_ENVIRON_STARTTIME_KEY", "_ENVIRON_TOKEN", "__enter__", "_request_ctx_ref"),
        *("_start_internal_or_server_span", "attach", "collect_custom_request_headers_attributes"),
        *("collect_request_attributes", "context", "endpoint", "environ", "flask", "flask_version", "get"),
        *("get_current", "get_default_span_name", "is_recording", "items", "kind", "len", "otel_wsgi"),
        *("request", "rule", "set_attribute", "set_attributes", "set_value", "trace", "url"),
        *("url_disabled", "url_rule", "use_span", "wsgi_getter"),
    }
)
_CONSTANTS = frozenset({"framework", "flask:", "controller", "route", "SQLCOMMENTER_ORM_TAGS_AND_VALUES"})
_REQCTX_NAMES = frozenset({"_get_current_object", "flask", "globals", "ref", "request_ctx", "weakref"})
_SPAN_NAME_NAMES = frozenset(
    {"AttributeError", "environ", "flask", "get", "get_default_span_name", "otel_wsgi", "request"}
    | {"rule", "sanitize_method", "strip", "url_rule"}
)
_BoundedAttributes: Any = None


def apply() -> None:
    """Replace the Flask instrumentation's ``_wrapped_before_request`` factory; idempotent."""
    from opentelemetry.instrumentation import flask

    module: Any = flask
    original = module._wrapped_before_request
    if getattr(original, _MARK, False):
        return
    _check_shape(original, module.get_default_span_name, module._request_ctx_ref)
    import flask as flask_module

    if not hasattr(flask_module.request, "_get_current_object"):  # werkzeug's LocalProxy since 2.0
        raise LookupError("flask.request has no _get_current_object")
    global _BoundedAttributes
    from opentelemetry.attributes import BoundedAttributes

    if not isinstance(getattr(BoundedAttributes(), "_dict", None), dict):
        raise LookupError("opentelemetry.attributes.BoundedAttributes keeps no _dict")
    _BoundedAttributes = BoundedAttributes
    module._wrapped_before_request = _factory(module, original)


def _check_shape(factory: Any, get_default_span_name: Any, request_ctx_ref: Any) -> None:
    code = factory.__code__
    inner = [c for c in code.co_consts if getattr(c, "co_name", "") == "_before_request"]
    if code.co_varnames[: code.co_argcount] != _PARAMETERS or len(inner) != 1:
        raise LookupError("flask._wrapped_before_request changed its parameters")
    constants = {c for c in inner[0].co_consts if isinstance(c, str)}
    if set(inner[0].co_names) != _NAMES or constants != _CONSTANTS:
        raise LookupError("flask._wrapped_before_request changed shape")
    if set(request_ctx_ref.__code__.co_names) != _REQCTX_NAMES:  # Flask >= 2.2's
        raise LookupError("flask._request_ctx_ref changed shape")
    name = get_default_span_name.__code__
    if set(name.co_names) != _SPAN_NAME_NAMES or {c for c in name.co_consts if isinstance(c, str)} != {
        *("REQUEST_METHOD", "", "_OTHER", "HTTP", " ")
    }:
        raise LookupError("flask.get_default_span_name changed shape")


def _factory(module: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    import flask as flask_module
    from opentelemetry import context, trace

    otel_wsgi = module.otel_wsgi
    server = trace.SpanKind.SERVER
    proxy: Any = flask_module.request
    request_ctx: Any = flask_module.globals.request_ctx
    current_request_ctx = request_ctx._get_current_object
    _span_name = _namer(module)

    def _wrapped_before_request(
        request_hook: Any = None,
        tracer: Any = None,
        excluded_urls: Any = None,
        enable_commenter: bool = True,
        commenter_options: Any = None,
        sem_conv_opt_in_mode: Any = module._StabilityMode.DEFAULT,
    ) -> Callable[[], None]:
        if request_hook is not None:
            return original(  # type: ignore[no-any-return]
                request_hook, tracer, excluded_urls, enable_commenter, commenter_options, sem_conv_opt_in_mode
            )

        def _before_request() -> None:
            request = proxy._get_current_object()  # the proxy, resolved once
            if excluded_urls and excluded_urls.url_disabled(request.url):
                return
            environ = request.environ
            span_name = _span_name(request, environ)
            attributes = otel_wsgi.collect_request_attributes(
                environ, sem_conv_opt_in_mode=sem_conv_opt_in_mode
            )
            url_rule = request.url_rule
            if url_rule:
                attributes[module.HTTP_ROUTE] = url_rule.rule
            span, token = module._start_internal_or_server_span(
                tracer=tracer,
                span_name=span_name,
                start_time=environ.get(module._ENVIRON_STARTTIME_KEY),
                context_carrier=environ,
                context_getter=otel_wsgi.wsgi_getter,
                attributes=attributes,
            )
            if span.is_recording():
                if not _holds(span, attributes):
                    for key, value in attributes.items():
                        span.set_attribute(key, value)
                if span.kind == server:
                    custom_attributes = otel_wsgi.collect_custom_request_headers_attributes(environ)
                    if len(custom_attributes) > 0:
                        span.set_attributes(custom_attributes)
            activation = trace.use_span(span, end_on_exit=True)
            activation.__enter__()
            environ[module._ENVIRON_ACTIVATION_KEY] = activation
            environ[module._ENVIRON_REQCTX_REF_KEY] = weakref.ref(current_request_ctx())  # _request_ctx_ref()
            environ[module._ENVIRON_SPAN_KEY] = span
            environ[module._ENVIRON_TOKEN] = token
            if enable_commenter:
                current_context = context.get_current()
                flask_info = {}
                if request:
                    if commenter_options.get("framework", True):
                        flask_info["framework"] = f"flask:{module.flask_version}"
                    if commenter_options.get("controller", True) and request.endpoint:
                        flask_info["controller"] = request.endpoint
                    if commenter_options.get("route", True) and url_rule and url_rule.rule:
                        flask_info["route"] = url_rule.rule
                sqlcommenter_context = context.set_value(
                    "SQLCOMMENTER_ORM_TAGS_AND_VALUES", flask_info, current_context
                )
                context.attach(sqlcommenter_context)

        return _before_request

    _wrapped_before_request.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(_wrapped_before_request, _MARK, True)
    return _wrapped_before_request


def _holds(span: Any, attributes: dict[str, Any]) -> bool:
    """Whether ``span`` already has exactly ``attributes``' items, in their order.

    Then setting each again, as upstream does, would leave it exactly as it is. An SDK
    span's ``BoundedAttributes`` are read through their dict: through ``span.attributes``
    (a read-only proxy of a ``MutableMapping``) each item is a locked copy of the keys and
    a ``__getitem__`` call, for the same items in the same order."""
    try:
        held = span._attributes
        if type(held) is _BoundedAttributes:
            return list(held._dict.items()) == list(attributes.items())
        return list(span.attributes.items()) == list(attributes.items())
    except Exception:  # noqa: BLE001 - not an SDK span: do what upstream does
        return False


def _namer(module: Any) -> Callable[[Any, Any], str]:
    """Upstream's ``get_default_span_name``, on the request resolved once."""
    otel_wsgi = module.otel_wsgi

    def _span_name(request: Any, environ: Any) -> str:
        method = module.sanitize_method(environ.get("REQUEST_METHOD", "").strip())
        if method == "_OTHER":
            method = "HTTP"
        try:
            return f"{method} {request.url_rule.rule}"
        except AttributeError:
            return otel_wsgi.get_default_span_name(environ)  # type: ignore[no-any-return]

    return _span_name
