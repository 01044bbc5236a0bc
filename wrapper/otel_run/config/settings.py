"""Settings: every read of the environment, validated once into a frozen object.

``Settings.from_env(os.environ, argv)`` is the only place otel-run reads ``OTEL_*``
variables. A bad value never raises: it becomes one warning in ``Settings.warnings``
naming the variable, the value (never for headers) and what was used instead.
This module does not import the OpenTelemetry SDK.
"""

from __future__ import annotations

from otel_run.config.endpoints import redact_url
from otel_run.config.frozen import Frozen, fill

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from otel_run.config.filesettings import FileSettings

SIGNALS = ("traces", "metrics", "logs")
DEFAULT_PROTOCOL = "http/protobuf"
SAMPLERS = (
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
    "always_on",
    "always_off",
    "traceidratio",
)
RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio")
COMPRESSIONS = ("none", "gzip", "deflate")
# Exporter names accepted for every signal; other names are looked up as entry points.
BUILTIN_EXPORTERS = ("otlp", "console", "none")
# Upstream's protocol-specific exporter names, mapped to ("otlp", protocol).
PROTOCOL_EXPORTERS = {
    "otlp_proto_http": "http/protobuf",
    "otlp_proto_grpc": "grpc",
    "otlp_json_http": "http/json",
}
LOG_LEVELS = ("debug", "info", "warn", "warning", "error", "critical")
ID_GENERATORS = ("random", "xray")
TEMPORALITIES = ("cumulative", "delta", "lowmemory")
HISTOGRAM_AGGREGATIONS = ("explicit_bucket_histogram", "base2_exponential_bucket_histogram")


class Redacted(Frozen):
    """Header pairs whose values never appear in ``repr`` or ``str``."""

    __slots__ = ("pairs",)
    pairs: tuple[tuple[str, str], ...]

    def __init__(self, pairs: tuple[tuple[str, str], ...] = ()) -> None:
        fill(self, locals())

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{key!r}: '***'" for key, _ in self.pairs) + "}"

    __str__ = __repr__

    def as_dict(self) -> dict[str, str]:
        """The real values, for handing to an exporter only."""
        return dict(self.pairs)

    def keys(self) -> list[str]:
        """Header names, safe to show."""
        return [key for key, _ in self.pairs]


class SignalSettings(Frozen):
    """How one signal is exported."""

    __slots__ = (  # noqa: RUF023 (the order is the fields' order)
        "signal",
        "exporters",
        "protocol",
        "protocol_source",
        "endpoint",
        "endpoint_source",
        "insecure",
        "headers",
        "timeout_s",
        "compression",
        "certificate",
        "client_key",
        "client_certificate",
        "proxy_variable",
    )
    signal: str
    exporters: tuple[str, ...]
    """``otlp``, ``console`` or an entry-point name; empty means none."""
    protocol: str
    protocol_source: str
    endpoint: str
    endpoint_source: str
    insecure: bool
    headers: Redacted
    timeout_s: float
    compression: str
    certificate: str | None
    client_key: str | None
    client_certificate: str | None
    proxy_variable: str | None
    """``HTTP_PROXY``-style variable an HTTP exporter's requests go through (None: direct, or gRPC)."""

    def __init__(
        self,
        signal: str,
        exporters: tuple[str, ...],
        protocol: str,
        protocol_source: str,
        endpoint: str,
        endpoint_source: str,
        insecure: bool,
        headers: Redacted,
        timeout_s: float,
        compression: str,
        certificate: str | None,
        client_key: str | None,
        client_certificate: str | None,
        proxy_variable: str | None = None,
    ) -> None:
        fill(self, locals())

    @property
    def otlp(self) -> bool:
        """Whether this signal is exported over OTLP."""
        return "otlp" in self.exporters

    @property
    def shown_endpoint(self) -> str:
        """The endpoint with credentials removed, for people."""
        return redact_url(self.endpoint)


class BatchSettings(Frozen):
    """Batch processor settings; None leaves the SDK default."""

    __slots__ = ("schedule_delay_ms", "export_timeout_ms", "max_queue_size", "max_export_batch_size")  # noqa: RUF023 (the order is the fields' order)
    schedule_delay_ms: int | None
    export_timeout_ms: int | None
    max_queue_size: int | None
    max_export_batch_size: int | None

    def __init__(
        self,
        schedule_delay_ms: int | None = None,
        export_timeout_ms: int | None = None,
        max_queue_size: int | None = None,
        max_export_batch_size: int | None = None,
    ) -> None:
        fill(self, locals())


class LimitSettings(Frozen):
    """Attribute and span limits; None leaves the SDK default."""

    __slots__ = (  # noqa: RUF023 (the order is the fields' order)
        "attribute_value_length",
        "attribute_count",
        "span_attribute_value_length",
        "span_attribute_count",
        "span_event_count",
        "span_link_count",
        "event_attribute_count",
        "link_attribute_count",
    )
    attribute_value_length: int | None
    attribute_count: int | None
    span_attribute_value_length: int | None
    span_attribute_count: int | None
    span_event_count: int | None
    span_link_count: int | None
    event_attribute_count: int | None
    link_attribute_count: int | None

    def __init__(
        self,
        attribute_value_length: int | None = None,
        attribute_count: int | None = None,
        span_attribute_value_length: int | None = None,
        span_attribute_count: int | None = None,
        span_event_count: int | None = None,
        span_link_count: int | None = None,
        event_attribute_count: int | None = None,
        link_attribute_count: int | None = None,
    ) -> None:
        fill(self, locals())


class Settings(Frozen):
    """Everything otel-run and the SDK are configured with, parsed once."""

    __slots__ = (  # noqa: RUF023 (the order is the fields' order)
        "disabled",
        "service_name",
        "service_name_origin",
        "resource_attributes",
        "traces",
        "metrics",
        "logs",
        "sampler",
        "sampler_arg",
        "propagators",
        "id_generator",
        "bsp",
        "blrp",
        "metric_export_interval_ms",
        "metric_export_timeout_ms",
        "metrics_temporality",
        "histogram_aggregation",
        "limits",
        "log_level",
        "disabled_instrumentations",
        "log_correlation",
        "quiet",
        "strict",
        "debug",
        "shutdown_timeout_ms",
        "status_dirs",
        "status_dir_explicit",
        "sdk_internal_metrics",
        "detected_attributes",
        "warnings",
        "child",
        "config_file",
        "file",
    )
    disabled: bool
    service_name: str
    service_name_origin: str | None
    """None when configured; otherwise how it was derived."""
    resource_attributes: tuple[tuple[str, str], ...]
    traces: SignalSettings
    metrics: SignalSettings
    logs: SignalSettings
    sampler: str
    sampler_arg: float | None
    propagators: tuple[str, ...]
    id_generator: str
    bsp: BatchSettings
    blrp: BatchSettings
    metric_export_interval_ms: int | None
    metric_export_timeout_ms: int | None
    metrics_temporality: str
    """cumulative, delta or lowmemory (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE)."""
    histogram_aggregation: str
    """explicit_bucket_histogram or base2_exponential_bucket_histogram."""
    limits: LimitSettings
    log_level: str | None
    disabled_instrumentations: frozenset[str]
    log_correlation: bool
    quiet: bool
    strict: bool
    debug: bool
    shutdown_timeout_ms: int
    status_dirs: tuple[str, ...]
    """Where this process keeps its live status, best first (``statusdir.candidates``)."""
    status_dir_explicit: bool
    """Whether OTEL_RUN_STATUS_DIR named the directory (then a failure to use it is told)."""
    sdk_internal_metrics: bool | None
    """OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED: true, the SDK's own ``otel.sdk.*`` metrics;
    unset (None), otel-run's lost-items subset of them; false, none."""
    detected_attributes: tuple[tuple[str, str], ...]
    """Kubernetes and container attributes found locally (``resource_detect``); the
    user's ``resource_attributes`` and ``service_name`` win over them."""
    warnings: tuple[str, ...]
    child: bool
    """Whether a booted Python process started this one (``OTEL_RUN_PARENT_PID`` is set)."""
    config_file: str | None
    """``OTEL_CONFIG_FILE``: when set, the file is the configuration (``configfile``)."""
    file: FileSettings | None
    """What the file set up, once it was read (``filesettings.resolve``); None before, or without one."""

    def __init__(
        self,
        disabled: bool,
        service_name: str,
        service_name_origin: str | None,
        resource_attributes: tuple[tuple[str, str], ...],
        traces: SignalSettings,
        metrics: SignalSettings,
        logs: SignalSettings,
        sampler: str,
        sampler_arg: float | None,
        propagators: tuple[str, ...],
        id_generator: str,
        bsp: BatchSettings,
        blrp: BatchSettings,
        metric_export_interval_ms: int | None,
        metric_export_timeout_ms: int | None,
        metrics_temporality: str,
        histogram_aggregation: str,
        limits: LimitSettings,
        log_level: str | None,
        disabled_instrumentations: frozenset[str],
        log_correlation: bool,
        quiet: bool,
        strict: bool,
        debug: bool,
        shutdown_timeout_ms: int,
        status_dirs: tuple[str, ...] = (),
        status_dir_explicit: bool = False,
        sdk_internal_metrics: bool | None = None,
        detected_attributes: tuple[tuple[str, str], ...] = (),
        warnings: tuple[str, ...] = (),
        child: bool = False,
        config_file: str | None = None,
        file: FileSettings | None = None,
    ) -> None:
        fill(self, locals())

    @property
    def announces(self) -> bool:
        """Whether this process prints the lines that say all is well (the startup line):
        not with ``OTEL_RUN_QUIET=true``, and not in a child of a booted process."""
        return not self.quiet and not self.child

    @property
    def service_name_derived(self) -> bool:
        """Whether no variable named the service."""
        return self.service_name_origin is not None

    def signal(self, name: str) -> SignalSettings:
        """The settings of ``traces``, ``metrics`` or ``logs``."""
        if name not in SIGNALS:
            raise KeyError(name)
        result: SignalSettings = getattr(self, name)
        return result

    def instrumentation_disabled(self, name: str) -> bool:
        """Whether ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` turns off instrumentor ``name``."""
        return "*" in self.disabled_instrumentations or name.lower() in self.disabled_instrumentations

    @classmethod
    def from_env(cls, environ: Mapping[str, str], argv: Sequence[str] = ()) -> Settings:
        """Read and validate every variable otel-run uses; never raises.

        ``argv`` is the interpreter's full command line, used to derive a service name.
        """
        from otel_run.config.reader import Reader  # here: reader builds on the types above

        return Reader(environ).read(argv)
