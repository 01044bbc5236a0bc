"""The one pass over the environment behind ``Settings.from_env``: each variable read,
validated and, when bad, turned into one warning naming it and what was used instead."""

from __future__ import annotations

import os

from otel_run.config import envvars, otel_vars, resource_detect, service_name, statusdir
from otel_run.config.endpoints import PROTOCOLS, Endpoint, resolve_endpoint
from otel_run.config.envparse import (
    Warnings,
    parse_bool,
    parse_choice,
    parse_int,
    parse_key_values,
    parse_list,
    parse_ratio,
    show,
    utf8_argv,
    utf8_environ,
)
from otel_run.config.proxies import proxy_variable
from otel_run.config.settings import (
    COMPRESSIONS,
    DEFAULT_PROTOCOL,
    HISTOGRAM_AGGREGATIONS,
    ID_GENERATORS,
    LOG_LEVELS,
    PROTOCOL_EXPORTERS,
    RATIO_SAMPLERS,
    SAMPLERS,
    TEMPORALITIES,
    BatchSettings,
    LimitSettings,
    Redacted,
    Settings,
    SignalSettings,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


class Reader:
    """One pass over the environment, collecting warnings as it goes."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.env = utf8_environ(environ)
        self.warnings = Warnings()

    def get(self, name: str) -> str | None:
        value = self.env.get(name)
        return value if value is None or value.strip() else None

    def read(self, argv: Sequence[str]) -> Settings:
        argv = utf8_argv(argv)
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
            log_level = parse_choice(w, "OTEL_LOG_LEVEL", log_level, LOG_LEVELS, "info")

        status_dirs, status_explicit = statusdir.candidates(self.env, os.getuid())
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
            status_dirs=status_dirs,
            status_dir_explicit=status_explicit,
            sdk_internal_metrics=self._optional_bool("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"),
            detected_attributes=tuple(resource_detect.detect(self.env, resource_detect.read_text).items()),
            child=self.get(envvars.OTEL_RUN_PARENT_PID) is not None,
            config_file=self.get(otel_vars.CONFIG_FILE),
        )
        if settings.config_file is not None:
            # The file replaces these variables: a bad value in one of them changes nothing.
            w = Warnings(line for line in w if not otel_vars.replaced_by_file(line.split("=")[0].split()[0]))
        return _with_warnings(settings, tuple(w))

    def _optional_bool(self, name: str) -> bool | None:
        """None when ``name`` is unset (or empty), else its boolean value."""
        raw = self.get(name)
        return None if raw is None else parse_bool(self.warnings, name, raw, False)

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
                    f"{name}={show(raw)} is not one of {', '.join(PROTOCOLS)}{hint}; using {DEFAULT_PROTOCOL}"
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
                    f"{name}={show(self.get(name) or '')} mixes none with exporters; exporting nothing"
                )
            return (), None
        forced: str | None = None
        result: list[str] = []
        for item in names:
            if item in PROTOCOL_EXPORTERS:
                forced = PROTOCOL_EXPORTERS[item]
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
            proxy_variable=None if protocol == "grpc" else proxy_variable(endpoint.url, self.env),
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
    return settings.replace(warnings=tuple(dict.fromkeys(warnings)))
