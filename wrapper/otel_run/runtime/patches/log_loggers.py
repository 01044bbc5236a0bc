"""Logging handler: look up the SDK logger of a record's name once, not once per record.

The logging instrumentation's ``LoggingHandler.emit`` calls
``opentelemetry._logs.get_logger(record.name, logger_provider=...)`` for every record: the
API function, the SDK provider's ``get_logger`` (its cache behind a lock, then the
provider's set of active loggers behind a second lock), ~2-5 µs a record. The SDK's
provider already keeps one ``Logger`` per ``(name, version, schema_url)`` for its lifetime
(``LoggerProvider._logger_cache``, never cleared) and adds it to its active set on the first
call, so every later call with the same arguments returns that same object and changes
nothing. No upstream issue tracks the cost that we could find.

We remember that object per (provider, name) in the handler module's ``get_logger``, for an
SDK ``LoggerProvider`` (not a subclass, which may override ``get_logger``) passed
explicitly, with no scope attributes (the SDK does not cache those either); a disabled
provider's no-op loggers are not remembered. Every other call is upstream's. At most
``_MAX_NAMES`` names are remembered; past that (an app making loggers per request id),
calls go to upstream's function.

Applied when the handler module is imported after the SDK is built
(``patches.after_build``), to the shape it was written for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MARK = "_otel_run_cached"
_MAX_NAMES = 512
# Names upstream's emit() reads: another means upstream changed it.
_EMIT_NAMES = frozenset(
    {
        *("NoOpLogger", "_internal_logger", "_is_emitting", "_logger_provider", "_translate", "emit"),
        *("get", "get_logger", "isinstance", "name", "reset", "set", "warning"),
    }
)
_API_PARAMETERS = (
    "instrumenting_module_name",
    "instrumenting_library_version",
    "logger_provider",
    "schema_url",
    "attributes",
)
HANDLER_MODULE = "opentelemetry.instrumentation.logging.handler"


def apply() -> None:
    """Replace the handler module's ``get_logger`` by ``cached(original)``; idempotent."""
    import importlib

    from opentelemetry._logs import _internal as api
    from opentelemetry.sdk._logs import LoggerProvider

    module: Any = importlib.import_module(HANDLER_MODULE)  # imported already: the watch fired
    original = module.get_logger
    if getattr(original, _MARK, False):
        return
    if _unwrapped(original) is not api.get_logger:
        raise LookupError("the logging handler's get_logger is not the API's")
    code = api.get_logger.__code__
    if code.co_varnames[: code.co_argcount] != _API_PARAMETERS:
        raise LookupError("opentelemetry._logs.get_logger changed its parameters")
    if set(module.LoggingHandler.emit.__code__.co_names) != _EMIT_NAMES:
        raise LookupError("the logging handler's emit() changed shape")
    sdk_get_logger = LoggerProvider.get_logger
    if "_get_logger_cached" not in sdk_get_logger.__code__.co_names:
        raise LookupError("the SDK's LoggerProvider.get_logger no longer caches its loggers")
    module.get_logger = cached(original, LoggerProvider, module.NoOpLogger)


def _unwrapped(function: Any) -> Any:
    # otel-run's build-on-first-use accessor (``ondemand``) may sit in front of the API's.
    for _ in range(8):
        inner = getattr(function, "__wrapped__", None)
        if inner is None:
            break
        function = inner
    return function


def cached(original: Callable[..., Any], sdk_provider: type, no_op: type) -> Callable[..., Any]:
    """``original`` (the API's ``get_logger``), remembering what an SDK provider returns per name."""
    sdk_get_logger = sdk_provider.get_logger  # type: ignore[attr-defined]
    found: dict[tuple[int, str, str, str | None], tuple[Any, Any]] = {}

    def get_logger(
        instrumenting_module_name: str,
        instrumenting_library_version: str = "",
        logger_provider: Any = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> Any:
        name, version = instrumenting_module_name, instrumenting_library_version
        if (
            attributes is None
            and logger_provider is not None
            and type(logger_provider).get_logger is sdk_get_logger
            and type(name) is str
            and type(version) is str
            and (schema_url is None or type(schema_url) is str)
        ):
            key = (id(logger_provider), name, version, schema_url)
            hit = found.get(key)
            if hit is not None and hit[0] is logger_provider:
                return hit[1]
            logger = original(name, version, logger_provider, schema_url, attributes)
            if not isinstance(logger, no_op) and len(found) < _MAX_NAMES:
                found[key] = (logger_provider, logger)
            return logger
        return original(name, version, logger_provider, schema_url, attributes)

    get_logger.__wrapped__ = original  # type: ignore[attr-defined]
    get_logger.__doc__ = original.__doc__
    setattr(get_logger, _MARK, True)
    return get_logger
