"""WSGI: a response's status on the server span and the metric attributes, default semantic conventions.

Upstream's ``opentelemetry.instrumentation.wsgi.add_response_attributes`` parses the
status line and hands it to ``_semconv._set_status``, which asks ``_report_old`` and
``_report_new`` for the mode up to four times per response. For the default mode (the
old conventions only) that comes down to a few lines, which ``response_status`` runs in
upstream's order: the same span attribute, the same status (or the same error for a
non-integer status), the same ``http.status_code`` in the metric attributes, and the same
exception for a status line without a space. No upstream issue tracks the cost that we
could find.

Used by ``flask_requests`` only for the default mode; ``check_shape`` refuses any other
shape of the two functions (then upstream's Flask closures run as they ship), and a
``response_status`` built for them calls upstream's function if either was replaced since.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ADD_NAMES = frozenset({"ValueError", "_set_status", "int", "split"})
_ADD_PARAMETERS = (
    "span",
    "start_response_status",
    "response_headers",
    "duration_attrs",
    "sem_conv_opt_in_mode",
)
_SET_NAMES = frozenset(
    {"ERROR", "ERROR_TYPE", "HTTP_RESPONSE_STATUS_CODE", "HTTP_STATUS_CODE", "Status", "StatusCode"}
    | {"_report_new", "_report_old", "http_status_to_status_code", "is_recording", "set_attribute"}
    | {"set_status"}
)
_SET_PARAMETERS = (
    *("span", "metrics_attributes", "status_code", "status_code_str", "server_span"),
    "sem_conv_opt_in_mode",
)
_NON_INTEGER = "Non-integer HTTP status: "


def check_shape(wsgi: Any, semconv: Any) -> None:
    """Raise LookupError unless both functions are the 0.66b1 shape ``response_status`` reproduces."""
    add, set_status = wsgi.add_response_attributes, semconv._set_status
    if wsgi._set_status is not set_status:
        raise LookupError("wsgi._set_status is not _semconv's")
    for function, parameters, names, constants in (
        (add, _ADD_PARAMETERS, _ADD_NAMES, {" ", 1, -1}),
        (set_status, _SET_PARAMETERS, _SET_NAMES, {0, _NON_INTEGER}),
    ):
        code = function.__code__
        found = {c for c in code.co_consts if isinstance(c, (str, int)) and c != function.__doc__}
        if code.co_varnames[: code.co_argcount] != parameters or set(code.co_names) != names:
            raise LookupError(f"{function.__module__}.{function.__name__} changed shape")
        if found - {None} != constants:
            raise LookupError(f"{function.__module__}.{function.__name__} changed its constants")
    default = semconv._StabilityMode.DEFAULT
    if not semconv._report_old(default) or semconv._report_new(default):
        raise LookupError("_semconv's default mode no longer reports the old conventions only")


def response_status(wsgi: Any, semconv: Any) -> Callable[[Any, str, Any, dict[str, Any]], None]:
    """``add_response_attributes(span, status, headers, attributes, DEFAULT)``, for the default mode."""
    add, set_status = wsgi.add_response_attributes, semconv._set_status
    default = semconv._StabilityMode.DEFAULT
    status_code_key = semconv.HTTP_STATUS_CODE

    def add_response_attributes(span: Any, status: str, headers: Any, attributes: dict[str, Any]) -> None:
        if wsgi.add_response_attributes is not add or wsgi._set_status is not set_status:
            wsgi.add_response_attributes(span, status, headers, attributes, default)
            return
        status_code_str, _ = status.split(" ", 1)
        try:
            status_code = int(status_code_str)
        except ValueError:
            status_code = -1
        if status_code < 0:
            if span.is_recording():
                span.set_status(semconv.Status(semconv.StatusCode.ERROR, _NON_INTEGER + status_code_str))
            return
        code = semconv.http_status_to_status_code(status_code, server_span=True)
        if span.is_recording():
            span.set_attribute(status_code_key, status_code)
        attributes[status_code_key] = status_code
        if span.is_recording():
            span.set_status(semconv.Status(code))

    return add_response_attributes
