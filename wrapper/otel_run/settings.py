"""Settings: every read of the environment, validated once into a frozen object.

``Settings.from_env(os.environ, argv)`` is the only place otel-run reads ``OTEL_*``
variables. A bad value never raises: it becomes one warning in ``Settings.warnings``
naming the variable, the value (never for headers) and what was used instead.
This module does not import the OpenTelemetry SDK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from otel_run import envvars, otel_vars, resource_detect, service_name
from otel_run.endpoints import PROTOCOLS, Endpoint, redact_url, resolve_endpoint
from otel_run.envparse import (
    Warnings,
    parse_bool,
    parse_choice,
    parse_int,
    parse_key_values,
    parse_list,
    parse_ratio,
)

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
_PROTOCOL_EXPORTERS = {
    "otlp_proto_http": "http/protobuf",
    "otlp_proto_grpc": "grpc",
    "otlp_json_http": "http/json",
}
_LOG_LEVELS = ("debug", "info", "warn", "warning", "error", "critical")
ID_GENERATORS = ("random", "xray")
TEMPORALITIES = ("cumulative", "delta", "lowmemory")
HISTOGRAM_AGGREGATIONS = ("explicit_bucket_histogram", "base2_exponential_bucket_histogram")


@dataclass(frozen=True)
class Redacted:
    """Header pairs whose values never appear in ``repr`` or ``str``."""

    pairs: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{key!r}: '***'" for key, _ in self.pairs) + "}"

    __str__ = __repr__

    def as_dict(self) -> dict[str, str]:
        """The real values, for handing to an exporter only."""
        return dict(self.pairs)

    def keys(self) -> list[str]:
        """Header names, safe to show."""
        return [key for key, _ in self.pairs]


@dataclass(frozen=True)
class SignalSettings:
    """How one signal is exported."""

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

    @property
    def otlp(self) -> bool:
        """Whether this signal is exported over OTLP."""
        return "otlp" in self.exporters

    @property
    def shown_endpoint(self) -> str:
        """The endpoint with credentials removed, for people."""
        return redact_url(self.endpoint)


@dataclass(frozen=True)
class BatchSettings:
    """Batch processor settings; None leaves the SDK default."""

    schedule_delay_ms: int | None = None
    export_timeout_ms: int | None = None
    max_queue_size: int | None = None
    max_export_batch_size: int | None = None


@dataclass(frozen=True)
class LimitSettings:
    """Attribute and span limits; None leaves the SDK default."""

    attribute_value_length: int | None = None
    attribute_count: int | None = None
    span_attribute_value_length: int | None = None
    span_attribute_count: int | None = None
    span_event_count: int | None = None
    span_link_count: int | None = None
    event_attribute_count: int | None = None
    link_attribute_count: int | None = None


@dataclass(frozen=True)
class Settings:
    """Everything otel-run and the SDK are configured with, parsed once."""

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
    detected_attributes: tuple[tuple[str, str], ...] = ()
    """Kubernetes and container attributes found locally (``resource_detect``); the
    user's ``resource_attributes`` and ``service_name`` win over them."""
    warnings: tuple[str, ...] = field(default=())

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
        return _Reader(environ).read(argv)


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.env = environ
        self.warnings = Warnings()

    def get(self, name: str) -> str | None:
        value = self.env.get(name)
        return value if value is None or value.strip() else None

    def read(self, argv: Sequence[str]) -> Settings:
        w = self.warnings
        for typed, meant in otel_vars.typos(self.env):
            w.append(f"{typed} is not a known variable and is ignored; did you mean {meant}?")

        disabled = parse_bool(w, "OTEL_SDK_DISABLED", self.get("OTEL_SDK_DISABLED"), False)
        attributes = dict(
            parse_key_values(
                w, "OTEL_RESOURCE_ATTRIBUTES", self.get("OTEL_RESOURCE_ATTRIBUTES"), secret=False
            )
        )
        name, origin = self._service_name(attributes, argv)
        attributes.pop("service.name", None)

        sampler = parse_choice(
            w, "OTEL_TRACES_SAMPLER", self.get("OTEL_TRACES_SAMPLER"), SAMPLERS, "parentbased_always_on"
        )
        sampler_arg: float | None = None
        if sampler in RATIO_SAMPLERS:
            sampler_arg = parse_ratio(w, "OTEL_TRACES_SAMPLER_ARG", self.get("OTEL_TRACES_SAMPLER_ARG"), 1.0)

        propagators = parse_list(self.get("OTEL_PROPAGATORS")) or ("tracecontext", "baggage")
        if "none" in propagators:
            propagators = ()

        disabled_instrumentations = frozenset(parse_list(self.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS")))
        log_level = self.get("OTEL_LOG_LEVEL")
        if log_level is not None:
            log_level = parse_choice(w, "OTEL_LOG_LEVEL", log_level, _LOG_LEVELS, "info")

        settings = Settings(
            disabled=disabled,
            service_name=name,
            service_name_origin=origin,
            resource_attributes=tuple(attributes.items()),
            traces=self._signal("traces"),
            metrics=self._signal("metrics"),
            logs=self._signal("logs"),
            sampler=sampler,
            sampler_arg=sampler_arg,
            propagators=propagators,
            id_generator=parse_choice(
                w, "OTEL_PYTHON_ID_GENERATOR", self.get("OTEL_PYTHON_ID_GENERATOR"), ID_GENERATORS, "random"
            ),
            bsp=self._batch("OTEL_BSP"),
            blrp=self._batch("OTEL_BLRP"),
            metric_export_interval_ms=self._int("OTEL_METRIC_EXPORT_INTERVAL", None, minimum=1, unit="ms"),
            metric_export_timeout_ms=self._int("OTEL_METRIC_EXPORT_TIMEOUT", None, unit="ms"),
            metrics_temporality=parse_choice(
                w,
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                self.get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"),
                TEMPORALITIES,
                "cumulative",
            ),
            histogram_aggregation=parse_choice(
                w,
                "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                self.get("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"),
                HISTOGRAM_AGGREGATIONS,
                "explicit_bucket_histogram",
            ),
            limits=self._limits(),
            log_level=log_level,
            disabled_instrumentations=disabled_instrumentations,
            log_correlation=parse_bool(
                w, "OTEL_PYTHON_LOG_CORRELATION", self.get("OTEL_PYTHON_LOG_CORRELATION"), False
            ),
            quiet=parse_bool(w, envvars.OTEL_RUN_QUIET, self.get(envvars.OTEL_RUN_QUIET), False),
            strict=parse_bool(w, envvars.OTEL_RUN_STRICT, self.get(envvars.OTEL_RUN_STRICT), False),
            debug=parse_bool(w, envvars.OTEL_RUN_DEBUG, self.get(envvars.OTEL_RUN_DEBUG), False),
            shutdown_timeout_ms=parse_int(
                w,
                envvars.OTEL_RUN_SHUTDOWN_TIMEOUT,
                self.get(envvars.OTEL_RUN_SHUTDOWN_TIMEOUT),
                envvars.DEFAULT_SHUTDOWN_TIMEOUT_MS,
                unit="ms",
            ),
            detected_attributes=tuple(resource_detect.detect(self.env, resource_detect.read_text).items()),
        )
        return _with_warnings(settings, tuple(w))

    def _int(self, name: str, default: int | None, *, minimum: int = 0, unit: str = "") -> int | None:
        return parse_int(self.warnings, name, self.get(name), default, minimum=minimum, unit=unit)

    def _service_name(self, attributes: dict[str, str], argv: Sequence[str]) -> tuple[str, str | None]:
        configured = self.get("OTEL_SERVICE_NAME")
        if configured is not None:
            return configured.strip(), None
        if attributes.get("service.name"):
            return attributes["service.name"], None
        derived = service_name.derive(argv, self.env)
        return derived.name, derived.origin

    def _protocol(self, signal: str) -> tuple[str, str]:
        specific = f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL"
        for name in (specific, "OTEL_EXPORTER_OTLP_PROTOCOL"):
            raw = self.get(name)
            if raw is not None:
                value = raw.strip().lower()
                if value in PROTOCOLS:
                    return value, name
                hint = " (did you mean http/protobuf?)" if value in ("http", "https", "protobuf") else ""
                self.warnings.append(
                    f"{name}={raw!r} is not one of {', '.join(PROTOCOLS)}{hint}; using {DEFAULT_PROTOCOL}"
                )
                return DEFAULT_PROTOCOL, name
        return DEFAULT_PROTOCOL, "default"

    def _exporters(self, signal: str) -> tuple[tuple[str, ...], str | None]:
        """The exporter names for ``signal`` and a protocol forced by an upstream name."""
        name = f"OTEL_{signal.upper()}_EXPORTER"
        names = parse_list(self.get(name)) or ("otlp",)
        if "none" in names:
            if len(names) > 1:
                self.warnings.append(
                    f"{name}={self.get(name)!r} mixes none with exporters; exporting nothing"
                )
            return (), None
        forced: str | None = None
        result: list[str] = []
        for item in names:
            if item in _PROTOCOL_EXPORTERS:
                forced = _PROTOCOL_EXPORTERS[item]
                item = "otlp"
            if item not in result:
                result.append(item)
        return tuple(result), forced

    def _signal(self, signal: str) -> SignalSettings:
        w = self.warnings
        upper = signal.upper()
        exporters, forced_protocol = self._exporters(signal)
        protocol, protocol_source = self._protocol(signal)
        if forced_protocol is not None:
            protocol, protocol_source = forced_protocol, f"OTEL_{upper}_EXPORTER"

        def pick(option: str) -> tuple[str, str | None]:
            specific = f"OTEL_EXPORTER_OTLP_{upper}_{option}"
            value = self.get(specific)
            if value is not None:
                return specific, value
            general = f"OTEL_EXPORTER_OTLP_{option}"
            return general, self.get(general)

        insecure_name, insecure_raw = pick("INSECURE")
        insecure = parse_bool(w, insecure_name, insecure_raw, False) if insecure_raw is not None else None
        endpoint: Endpoint = resolve_endpoint(
            w,
            signal,
            protocol,
            self.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            self.get(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"),
            insecure,
        )
        headers_name, headers_raw = pick("HEADERS")
        headers = parse_key_values(w, headers_name, headers_raw, secret=True)
        timeout_name, timeout_raw = pick("TIMEOUT")
        # The specification gives this timeout in milliseconds; upstream Python exporters
        # read the variable as seconds, so we convert and pass it explicitly.
        timeout_ms = parse_int(w, timeout_name, timeout_raw, 10000, minimum=1, unit="ms")
        compression_name, compression_raw = pick("COMPRESSION")
        compression = parse_choice(w, compression_name, compression_raw, COMPRESSIONS, "none")
        if compression == "deflate" and protocol == "grpc":
            w.append(f"{compression_name}='deflate' is not supported over grpc; using gzip")
            compression = "gzip"
        return SignalSettings(
            signal=signal,
            exporters=exporters,
            protocol=protocol,
            protocol_source=protocol_source,
            endpoint=endpoint.url,
            endpoint_source=endpoint.source,
            insecure=endpoint.insecure,
            headers=Redacted(headers),
            timeout_s=timeout_ms / 1000.0,
            compression=compression,
            certificate=pick("CERTIFICATE")[1],
            client_key=pick("CLIENT_KEY")[1],
            client_certificate=pick("CLIENT_CERTIFICATE")[1],
        )

    def _batch(self, prefix: str) -> BatchSettings:
        delay = self._int(f"{prefix}_SCHEDULE_DELAY", None, unit="ms")
        timeout = self._int(f"{prefix}_EXPORT_TIMEOUT", None, unit="ms")
        queue = self._int(f"{prefix}_MAX_QUEUE_SIZE", None, minimum=1)
        batch = self._int(f"{prefix}_MAX_EXPORT_BATCH_SIZE", None, minimum=1)
        if queue is not None and batch is not None and batch > queue:
            self.warnings.append(
                f"{prefix}_MAX_EXPORT_BATCH_SIZE={batch} is larger than {prefix}_MAX_QUEUE_SIZE={queue}; "
                f"using {queue}"
            )
            batch = queue
        elif queue is not None and batch is None and queue < 512:
            batch = queue
        return BatchSettings(delay, timeout, queue, batch)

    def _limits(self) -> LimitSettings:
        names = {
            "attribute_value_length": "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "attribute_count": "OTEL_ATTRIBUTE_COUNT_LIMIT",
            "span_attribute_value_length": "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "span_attribute_count": "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
            "span_event_count": "OTEL_SPAN_EVENT_COUNT_LIMIT",
            "span_link_count": "OTEL_SPAN_LINK_COUNT_LIMIT",
            "event_attribute_count": "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
            "link_attribute_count": "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
        }
        return LimitSettings(**{key: self._int(name, None) for key, name in names.items()})


def _with_warnings(settings: Settings, warnings: tuple[str, ...]) -> Settings:
    # A variable shared by the three signals is read three times but warned about once.
    return replace(settings, warnings=tuple(dict.fromkeys(warnings)))
