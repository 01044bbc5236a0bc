"""WSGI: collect a request's attributes once, not once per caller.

Flask's instrumentation calls ``opentelemetry.instrumentation.wsgi.collect_request_attributes``
twice for every request, with the same environ: for the metrics in ``_wrapped_app`` and for
the span in ``_before_request`` (26 µs each, docs/performance.md). No upstream issue tracks
it that we could find (opentelemetry-python-contrib#1186 introduced the first call when it
added the metrics). The result is a pure function of fifteen environ values and the
semantic-convention mode (the method's sanitizing is settled once per process by
``http_settings``), so we memoize it on exactly those: the second call costs a tuple of
lookups and a dict copy. Each caller gets its own copy, since both add keys to theirs.

Applied only to the function shape we know (its constants and the names it calls); any
other shape keeps upstream's function as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MARK = "_otel_run_memo"
# Every environ key the function (and wsgiref.util.request_uri, which it calls) reads.
_KEYS = (
    "REQUEST_METHOD",
    "SERVER_NAME",
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_PORT",
    "RAW_URI",
    "REQUEST_URI",
    "PATH_INFO",
    "QUERY_STRING",
    "SCRIPT_NAME",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "REMOTE_HOST",
    "HTTP_USER_AGENT",
    "SERVER_PROTOCOL",
)
_CONSTANTS = frozenset(_KEYS) - {"SCRIPT_NAME", "HTTP_USER_AGENT"} | {""}
# The names it calls and reads: a new helper or a new global means upstream changed it.
_CALLS = frozenset(
    {
        *("_set_http_method", "_set_http_scheme", "_set_http_net_host", "_set_http_net_host_port"),
        *("_set_http_target", "_set_http_peer_ip_server", "_set_http_peer_port_server"),
        *("_set_http_net_peer_name_server", "_set_http_flavor_version", "_apply_user_agent_attributes"),
        *("_report_old", "sanitize_method", "redact_url", "wsgiref_util", "request_uri"),
        *("HTTP_SERVER_NAME", "HTTP_HOST", "HTTP_URL", "_HTTP_VERSION_PREFIX"),
        *("get", "cast", "str", "int", "len", "upper", "startswith"),
    }
)
# Distinct requests remembered: one is what a request needs; a few more cost nothing.
_MAX_ENTRIES = 32


def apply() -> None:
    """Replace ``collect_request_attributes`` in the wsgi module by its memoized form; idempotent."""
    from opentelemetry.instrumentation import wsgi

    original = wsgi.collect_request_attributes
    if getattr(original, _MARK, False):
        return
    _check_shape(original, wsgi._apply_user_agent_attributes)
    memoized = memoize(original)
    wsgi.collect_request_attributes = memoized


def _check_shape(collect: Any, user_agent: Any) -> None:
    constants = {c for c in collect.__code__.co_consts if isinstance(c, str)} - {collect.__doc__}
    agent = {c for c in user_agent.__code__.co_consts if isinstance(c, str)} - {user_agent.__doc__}
    parameters = collect.__code__.co_varnames[: collect.__code__.co_argcount]
    if parameters != ("environ", "sem_conv_opt_in_mode") or len(collect.__defaults__ or ()) != 1:
        raise LookupError("wsgi.collect_request_attributes changed its parameters")
    if constants != _CONSTANTS or agent != {"HTTP_USER_AGENT"} or set(collect.__code__.co_names) != _CALLS:
        raise LookupError("wsgi.collect_request_attributes changed shape")


def memoize(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``original(environ, mode)``, remembered by the environ values it reads; a fresh dict each call."""
    results: dict[tuple[Any, ...], dict[str, Any]] = {}
    keys = _KEYS
    (default_mode,) = original.__defaults__ or (None,)

    def collect_request_attributes(environ: Any, sem_conv_opt_in_mode: Any = default_mode) -> dict[str, Any]:
        try:
            get = environ.get
            key = (sem_conv_opt_in_mode, *[get(name) for name in keys])
            found = results.get(key)
        except (AttributeError, TypeError):  # not a mapping, or an unhashable value in it
            return original(environ, sem_conv_opt_in_mode)
        if found is None:
            found = original(environ, sem_conv_opt_in_mode)
            if len(results) >= _MAX_ENTRIES:
                results.clear()
            results[key] = found
        return dict(found)

    collect_request_attributes.__wrapped__ = original  # type: ignore[attr-defined]
    collect_request_attributes.__doc__ = original.__doc__
    setattr(collect_request_attributes, _MARK, True)
    return collect_request_attributes
