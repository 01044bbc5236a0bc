"""Flask: with no excluded URLs configured, do not build ``request.url`` to match none.

Upstream keeps an ``ExcludeList`` even when ``OTEL_PYTHON_FLASK_EXCLUDED_URLS`` and
``OTEL_PYTHON_EXCLUDED_URLS`` are unset, and an empty one is still true, so
``_before_request``, ``_start_response`` and ``_teardown_request`` build
``flask.request.url`` (werkzeug's IRI quoting, ~13 µs per request) to search it against
no pattern. Every one of those checks also accepts ``None``, meaning "exclude nothing",
so an empty list from the environment becomes ``None``: the same requests are traced.
No upstream issue found for it; opentelemetry-python-contrib#1181 discusses what the
list is matched against.
"""

from __future__ import annotations

from typing import Any


def apply() -> None:
    """Turn the Flask instrumentation's empty environment exclude list into None; idempotent."""
    from opentelemetry.instrumentation import flask
    from opentelemetry.util.http import ExcludeList

    module: Any = flask  # upstream's module global is typed ExcludeList; we store None in it

    from_env = module._excluded_urls_from_env
    if from_env is None:
        return
    if not isinstance(from_env, ExcludeList) or not hasattr(from_env, "_excluded_urls"):
        raise LookupError("flask._excluded_urls_from_env changed shape")
    if not from_env._excluded_urls:
        module._excluded_urls_from_env = None  # upstream's checks all accept None
