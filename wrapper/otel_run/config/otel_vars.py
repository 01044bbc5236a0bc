"""The ``OTEL_*`` names we know, so that a misspelled one is reported, not ignored.

The list covers the SDK environment specification, the Python SDK, exporters and
instrumentations, and otel-run's own ``OTEL_RUN_*``. A name not listed is reported only
when it is one or two edits away from a listed one: other ``OTEL_*`` names may belong
to libraries we do not know, and those are left alone.
"""

from __future__ import annotations

from otel_run.config import envvars

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

_SIGNALS = ("TRACES", "METRICS", "LOGS")
_OTLP_OPTIONS = (
    "ENDPOINT",
    "PROTOCOL",
    "HEADERS",
    "TIMEOUT",
    "COMPRESSION",
    "CERTIFICATE",
    "CLIENT_KEY",
    "CLIENT_CERTIFICATE",
    "INSECURE",
)

_GENERAL = (
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_LOG_LEVEL",
    "OTEL_PROPAGATORS",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BLRP_SCHEDULE_DELAY",
    "OTEL_BLRP_EXPORT_TIMEOUT",
    "OTEL_BLRP_MAX_QUEUE_SIZE",
    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_METRIC_EXPORT_TIMEOUT",
    "OTEL_METRICS_EXEMPLAR_FILTER",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
    "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS",
    "OTEL_CONFIG_FILE",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
    "OTEL_PYTHON_ID_GENERATOR",
    "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED",
    "OTEL_PYTHON_LOG_CORRELATION",
    "OTEL_PYTHON_LOG_FORMAT",
    "OTEL_PYTHON_LOG_LEVEL",
    "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION",
    "OTEL_PYTHON_LOG_CODE_ATTRIBUTES",
    "OTEL_PYTHON_LOG_HANDLER_LEVEL",
    "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED",
    "OTEL_PYTHON_EXCLUDED_URLS",
    "OTEL_PYTHON_FLASK_EXCLUDED_URLS",
    "OTEL_PYTHON_DJANGO_EXCLUDED_URLS",
    "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS",
    "OTEL_PYTHON_REQUESTS_EXCLUDED_URLS",
    "OTEL_PYTHON_URLLIB_EXCLUDED_URLS",
    "OTEL_PYTHON_URLLIB3_EXCLUDED_URLS",
    "OTEL_PYTHON_DISTRO",
    "OTEL_PYTHON_CONFIGURATOR",
    "OTEL_PYTHON_AUTO_INSTRUMENTATION_EXPERIMENTAL_GEVENT_PATCH",
    "OTEL_PYTHON_CONTEXT",
    "OTEL_PYTHON_TRACER_PROVIDER",
    "OTEL_PYTHON_METER_PROVIDER",
    "OTEL_PYTHON_LOGGER_PROVIDER",
    "OTEL_SEMCONV_STABILITY_OPT_IN",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
)


CONFIG_FILE = "OTEL_CONFIG_FILE"
"""When set, the declarative configuration file replaces most variables (``configfile``)."""
# Variables the file does not replace: otel-run's own, the instrumentations' own (read
# by the instrumentation libraries, with or without a file, as under opentelemetry-instrument).
_KEPT = frozenset(
    {
        CONFIG_FILE,
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
        "OTEL_PYTHON_LOG_CORRELATION",
        "OTEL_SEMCONV_STABILITY_OPT_IN",
    }
)
_REPLACED = frozenset(
    {
        "OTEL_SDK_DISABLED",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_LOG_LEVEL",
        "OTEL_PROPAGATORS",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_TRACES_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        "OTEL_METRICS_EXEMPLAR_FILTER",
        "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS",
        "OTEL_PYTHON_ID_GENERATOR",
    }
)
_REPLACED_PREFIXES = (
    "OTEL_EXPORTER_OTLP_",
    "OTEL_BSP_",
    "OTEL_BLRP_",
    "OTEL_METRIC_EXPORT_",
    "OTEL_EXPORTER_ZIPKIN_",
    "OTEL_EXPORTER_PROMETHEUS_",
)
_LIMIT_PREFIXES = ("OTEL_ATTRIBUTE_", "OTEL_SPAN_", "OTEL_EVENT_", "OTEL_LINK_", "OTEL_LOGRECORD_")


def replaced_by_file(name: str) -> bool:
    """Whether an ``OTEL_CONFIG_FILE`` replaces variable ``name`` (so it is ignored when the file is set)."""
    if name in _KEPT or not name.startswith("OTEL_") or name.startswith("OTEL_RUN_"):
        return False
    if name in _REPLACED or name.startswith(_REPLACED_PREFIXES):
        return True
    return name.startswith(_LIMIT_PREFIXES) and name.endswith("_LIMIT")


def known_names() -> frozenset[str]:
    """Every ``OTEL_*`` name otel-run recognises."""
    otlp = [f"OTEL_EXPORTER_OTLP_{option}" for option in _OTLP_OPTIONS]
    otlp += [f"OTEL_EXPORTER_OTLP_{signal}_{option}" for signal in _SIGNALS for option in _OTLP_OPTIONS]
    return frozenset((*_GENERAL, *otlp, *envvars.ALL))


_KNOWN = known_names()


def suggest(name: str, known: Iterable[str] = _KNOWN) -> str | None:
    """The known name closest to ``name`` if it is a likely typo of it, else None."""
    if name in _KNOWN:
        return None
    best: str | None = None
    best_distance = 3
    for candidate in known:
        if abs(len(candidate) - len(name)) >= best_distance:
            continue
        distance = _distance(name, candidate, best_distance)
        if distance < best_distance:
            best, best_distance = candidate, distance
    limit = 1 if len(name) < 14 else 2
    return best if best is not None and best_distance <= limit else None


def typos(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(typed, meant)`` for each ``OTEL_*`` name in ``environ`` that looks misspelled."""
    found = []
    for name in sorted(environ):
        if name.startswith("OTEL"):
            meant = suggest(name)
            if meant is not None:
                found.append((name, meant))
    return found


def _distance(a: str, b: str, cap: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, giving up past ``cap``."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) >= cap:
            return cap
        previous2, previous = previous, current
    return previous[-1]
