"""HTTP instrumentations: read the method and header-capture settings once per process.

Upstream's ``sanitize_method`` reads ``OTEL_PYTHON_INSTRUMENTATION_HTTP_CAPTURE_ALL_METHODS``
and ``get_custom_headers`` reads ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`` from
``os.environ`` on every call: seven reads per Flask request, ~17 µs (docs/performance.md).
The ASGI middleware already reads them once, at construction
(opentelemetry-python-contrib#2026), and the urllib3 instrumentation was changed to
sanitize a method once per request (opentelemetry-python-contrib#4718); WSGI, Flask and
the HTTP clients still read on every request. We memoize both functions on their
arguments: the first call of each reads the variable, as upstream does; later calls
return that result. The WSGI helpers that collect captured headers return ``{}`` at once
when no header is configured, which is what upstream's return when the list is empty.

Only a change of these variables in ``os.environ`` after the first request would be
seen differently: upstream would pick it up, we keep the first value.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

_MARK = "_otel_run_memo"
# Distinct methods remembered; past this (a client sending made-up methods), upstream computes.
_MAX_METHODS = 64


def apply() -> None:
    """Install the memoized functions in ``opentelemetry.util.http`` and every module bound to them."""
    from opentelemetry.util import http

    sanitize = _memo_sanitize_method(http.sanitize_method)
    headers = _memo_get_custom_headers(http.get_custom_headers)
    _rebind(http.sanitize_method, sanitize)
    _rebind(http.get_custom_headers, headers)
    wsgi = sys.modules.get("opentelemetry.instrumentation.wsgi")
    if wsgi is not None:
        _shortcut_wsgi_headers(wsgi, headers)


def _memo_sanitize_method(original: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(original, _MARK, False):
        return original
    results: dict[str, str | None] = {}

    def sanitize_method(method: str | None) -> str | None:
        if method is None:
            return None
        try:
            return results[method]
        except (KeyError, TypeError):
            result: str | None = original(method)
            if len(results) < _MAX_METHODS and isinstance(method, str):
                results[method] = result
            return result

    return _marked(sanitize_method, original)


def _memo_get_custom_headers(original: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(original, _MARK, False):
        return original
    results: dict[str, list[str]] = {}

    def get_custom_headers(env_var: str) -> list[str]:
        try:
            found = results[env_var]
        except KeyError:
            found = results[env_var] = list(original(env_var))
        return list(found)  # a fresh list, as upstream returns: callers may change theirs

    return _marked(get_custom_headers, original)


def _marked(replacement: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    replacement.__wrapped__ = original  # type: ignore[attr-defined]
    replacement.__doc__ = original.__doc__
    setattr(replacement, _MARK, True)
    return replacement


def _rebind(original: Callable[..., Any], replacement: Callable[..., Any]) -> None:
    """Point every loaded ``opentelemetry`` module's name for ``original`` at ``replacement``.

    Instrumentations import these functions by name (``from opentelemetry.util.http import
    sanitize_method``), so their module globals hold the original; modules imported later
    get the replacement from ``opentelemetry.util.http`` itself.
    """
    if original is replacement:
        return
    name = original.__name__
    for module_name, module in list(sys.modules.items()):
        # vars(), not getattr(): a module's __getattr__ (deprecated names) must not run
        if module_name.startswith("opentelemetry.") and vars(module).get(name) is original:
            setattr(module, name, replacement)


def _shortcut_wsgi_headers(wsgi: Any, get_custom_headers: Callable[..., Any]) -> None:
    """``collect_custom_{request,response}_headers_attributes`` return ``{}`` when nothing is captured."""
    for function_name, variable_name in (
        (
            "collect_custom_request_headers_attributes",
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST",
        ),
        (
            "collect_custom_response_headers_attributes",
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE",
        ),
    ):
        original = getattr(wsgi, function_name)
        if getattr(original, _MARK, False):
            continue
        variable = getattr(wsgi, variable_name)
        if variable != variable_name or "sanitize_header_values" not in original.__code__.co_names:
            raise LookupError(f"wsgi.{function_name} changed shape")
        setattr(wsgi, function_name, _marked(_unless_empty(original, variable, get_custom_headers), original))


def _unless_empty(
    original: Callable[..., Any], variable: str, get_custom_headers: Callable[..., Any]
) -> Callable[..., Any]:
    def collect(*args: Any, **kwargs: Any) -> Any:
        if not get_custom_headers(variable):
            return {}
        return original(*args, **kwargs)

    return collect
