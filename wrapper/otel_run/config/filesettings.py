"""The ``Settings`` view of an ``OTEL_CONFIG_FILE``: service, resource, exporters, sampler.

``resolve`` turns the file (after upstream's substitution) and the resource upstream built
from it into the ``Settings`` the startup line and doctor read, so that they describe the
file and not the environment. Pure: no I/O, no SDK.
"""

from __future__ import annotations

from collections.abc import Mapping

from otel_run.config.configfile import exporter_entries, field_path
from otel_run.config.frozen import Frozen, fill
from otel_run.config.settings import Redacted, Settings, SignalSettings

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

_DEFAULT_ENDPOINTS = {
    ("otlp_http", "traces"): "http://localhost:4318/v1/traces",
    ("otlp_http", "metrics"): "http://localhost:4318/v1/metrics",
    ("otlp_http", "logs"): "http://localhost:4318/v1/logs",
}
_GRPC_DEFAULT = "http://localhost:4317"
_SECTIONS = {"traces": "tracer_provider", "metrics": "meter_provider", "logs": "logger_provider"}


class Exporter(Frozen):
    """One exporter the file sets up, as people should see it."""

    __slots__ = ("signal", "kind", "location", "endpoint", "headers", "timeout_s", "compression")  # noqa: RUF023 (the order is the fields' order)
    signal: str
    kind: str
    """otlp_http, otlp_grpc, console, otlp_file/development, or a plugin's name."""
    location: str
    """Its field path in the file: ``tracer_provider.processors[0].batch.exporter.otlp_http``."""
    endpoint: str
    """For OTLP: the URL, with the exporter's default filled in (show it with ``redact_url``)."""
    headers: Redacted
    timeout_s: float
    compression: str

    def __init__(
        self,
        signal: str,
        kind: str,
        location: str,
        endpoint: str = "",
        headers: Redacted = Redacted(),  # noqa: B008 (immutable)
        timeout_s: float = 10.0,
        compression: str = "none",
    ) -> None:
        fill(self, locals())

    @property
    def otlp(self) -> bool:
        """Whether it sends OTLP over the network."""
        return self.kind in ("otlp_http", "otlp_grpc")

    @property
    def protocol(self) -> str:
        """http/protobuf or grpc; empty for other exporters."""
        return {"otlp_http": "http/protobuf", "otlp_grpc": "grpc"}.get(self.kind, "")


class FileSettings(Frozen):
    """What the file set up, beside what ``Settings`` already holds."""

    __slots__ = (  # noqa: RUF023 (the order is the fields' order)
        "path",
        "file_format",
        "exporters",
        "sampler",
        "instrumentation_options",
        "disabled_instrumentations",
        "ignored_variables",
        "sdk_disabled",
        "loaded",
    )
    _uncompared = ("loaded",)
    path: str
    file_format: str
    exporters: tuple[Exporter, ...]
    sampler: str
    """The sampler as the file writes it, e.g. ``parent_based(root: trace_id_ratio_based 0.25)``."""
    instrumentation_options: Mapping[str, Mapping[str, Any]]
    """``instrumentation/development.python``: keyword arguments per instrumentor."""
    disabled_instrumentations: frozenset[str]
    """Instrumentors the file turns off (``enabled: false``)."""
    ignored_variables: tuple[str, ...]
    sdk_disabled: bool
    loaded: Any
    """The file as upstream loaded it (``runtime/sdk/fromfile.Loaded``), for the build;
    left out of ``==`` and ``repr``."""

    def __init__(
        self,
        path: str,
        file_format: str,
        exporters: tuple[Exporter, ...] = (),
        sampler: str = "parent_based(root: always_on)",
        instrumentation_options: Mapping[str, Mapping[str, Any]] | None = None,
        disabled_instrumentations: frozenset[str] = frozenset(),
        ignored_variables: tuple[str, ...] = (),
        sdk_disabled: bool = False,
        loaded: Any = None,
    ) -> None:
        instrumentation_options = {} if instrumentation_options is None else instrumentation_options
        fill(self, locals())

    def options(self) -> dict[str, dict[str, object]]:
        """A copy of ``instrumentation_options``, to add to."""
        return {name: dict(values) for name, values in self.instrumentation_options.items()}

    def exporters_of(self, signal: str) -> list[Exporter]:
        """The exporters of one signal, in file order."""
        return [exporter for exporter in self.exporters if exporter.signal == signal]


def exporters(document: Mapping[str, Any]) -> tuple[Exporter, ...]:
    """Every exporter the file sets up, with OTLP endpoints resolved as the exporters resolve them."""
    found = []
    for signal, parts, kind, options in exporter_entries(document):
        where_ = field_path([*parts, kind])
        if kind not in ("otlp_http", "otlp_grpc"):
            found.append(Exporter(signal, kind, where_))
            continue
        options = options if isinstance(options, Mapping) else {}
        default = _GRPC_DEFAULT if kind == "otlp_grpc" else _DEFAULT_ENDPOINTS[(kind, signal)]
        timeout = options.get("timeout")
        found.append(
            Exporter(
                signal,
                kind,
                where_,
                str(options.get("endpoint") or default),
                Redacted(tuple(_headers(options.get("headers"), options.get("headers_list")).items())),
                timeout / 1000.0 if isinstance(timeout, (int, float)) and timeout > 0 else 10.0,
                str(options.get("compression") or "none").lower(),
            )
        )
    return tuple(found)


def _headers(pairs: Any, listed: Any) -> dict[str, str]:
    """The exporter's headers as upstream merges them: ``headers`` win over ``headers_list``
    (whose values upstream does not percent-decode)."""
    result: dict[str, str] = {}
    for item in str(listed or "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            result[key.strip()] = value.strip()
    for pair in pairs or ():
        if isinstance(pair, Mapping) and pair.get("name"):
            result[str(pair["name"])] = str(pair.get("value") or "")
    return result


def sampler_text(sampler: Any) -> str:
    """The file's sampler in one phrase; ``parent_based(root: always_on)`` when there is none."""
    if not isinstance(sampler, Mapping) or not sampler:
        return "parent_based(root: always_on)" if sampler is None else str(sampler)
    name, options = next(iter(sampler.items()))
    options = options if isinstance(options, Mapping) else {}
    if name == "trace_id_ratio_based":
        ratio = options.get("ratio")
        return f"trace_id_ratio_based {1.0 if ratio is None else ratio:g}"
    if name == "parent_based":
        inner = [f"root: {sampler_text(options.get('root') or {'always_on': None})}"]
        inner += [f"{key}: {sampler_text(value)}" for key, value in options.items() if key != "root"]
        return f"parent_based({', '.join(inner)})"
    return str(name)


def _env_sampler(sampler: Any) -> tuple[str, float | None]:
    """The file's sampler as an ``OTEL_TRACES_SAMPLER`` name and argument, where one says the same."""
    text = sampler_text(sampler)
    simple = {"always_on": "always_on", "always_off": "always_off", "parent_based(root: always_on)": ""}
    if text in simple:
        return simple[text] or "parentbased_always_on", None
    if text == "parent_based(root: always_off)":
        return "parentbased_always_off", None
    import re  # here: only a configuration file's sampler needs it

    match = re.fullmatch(r"(parent_based\(root: )?trace_id_ratio_based ([0-9.e-]+)(\))?", text)
    if match and bool(match.group(1)) == bool(match.group(3)):
        return ("parentbased_traceidratio" if match.group(1) else "traceidratio"), float(match.group(2))
    return text, None


def propagators(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The propagator names, in order; none when the file has no ``propagator`` (as upstream)."""
    section = document.get("propagator")
    if not isinstance(section, Mapping):
        return ()
    names: list[str] = []
    for entry in section.get("composite") or ():
        if isinstance(entry, Mapping):
            names.extend(str(key) for key in entry)
    for name in str(section.get("composite_list") or "").split(","):
        if name.strip() and name.strip().lower() != "none":
            names.append(name.strip())
    return tuple(dict.fromkeys(names))


_SEVERITY_LEVELS = {"trace": "debug", "debug": "debug", "info": "info", "warn": "warn"}


def resolve(
    settings: Settings,
    document: Mapping[str, Any],
    resource: Mapping[str, Any],
    path: str,
    ignored: Sequence[str] = (),
    loaded: Any = None,
) -> Settings:
    """``settings`` with what the file replaces taken from the file.

    ``document`` is the file after substitution; ``resource`` the attributes upstream built
    from it. Everything the file does not replace (otel-run's own variables, the disabled
    instrumentations) stays as the environment said.
    """
    found = exporters(document)
    python = ((document.get("instrumentation/development") or {}).get("python")) or {}
    options: dict[str, dict[str, Any]] = {}
    off: set[str] = set()
    for name, entry in python.items() if isinstance(python, Mapping) else ():
        entry = dict(entry or {}) if isinstance(entry, Mapping) else {}
        if entry.pop("enabled", True) is False:
            off.add(str(name))
        elif entry:
            options[str(name)] = entry
    tracer = document.get("tracer_provider")
    sampler = tracer.get("sampler") if isinstance(tracer, Mapping) else None
    env_sampler, sampler_arg = _env_sampler(sampler)
    level = str(document.get("log_level") or "").rstrip("1234")
    file = FileSettings(
        path=path,
        file_format=str(document.get("file_format")),
        exporters=found,
        sampler=sampler_text(sampler),
        instrumentation_options=options,
        disabled_instrumentations=frozenset(off),
        ignored_variables=tuple(ignored),
        sdk_disabled=document.get("disabled") is True,
        loaded=loaded,
    )
    service = str(resource.get("service.name") or "unknown_service")
    return settings.replace(
        disabled=file.sdk_disabled,
        service_name=service,
        service_name_origin=None,
        # The SDK's own telemetry.sdk.* are on every resource; doctor's test items are not the SDK's.
        resource_attributes=tuple(
            (k, str(v))
            for k, v in resource.items()
            if k != "service.name" and not k.startswith("telemetry.sdk.")
        ),
        traces=_signal(settings.traces, found, path),
        metrics=_signal(settings.metrics, found, path),
        logs=_signal(settings.logs, found, path),
        sampler=env_sampler,
        sampler_arg=sampler_arg,
        propagators=propagators(document),
        log_level=_SEVERITY_LEVELS.get(level, "error" if level in ("error", "fatal") else None)
        if level
        else None,
        disabled_instrumentations=settings.disabled_instrumentations | off,
        detected_attributes=(),
        file=file,
    )


def _signal(base: SignalSettings, found: Sequence[Exporter], path: str) -> SignalSettings:
    """One signal's ``SignalSettings`` from its first OTLP exporter in the file (doctor probes that one)."""
    mine = [exporter for exporter in found if exporter.signal == base.signal]
    names = tuple(dict.fromkeys("otlp" if exporter.otlp else exporter.kind for exporter in mine))
    otlp = next((exporter for exporter in mine if exporter.otlp), None)
    if otlp is None:
        return base.replace(exporters=names, endpoint="", endpoint_source=path, headers=Redacted())
    return base.replace(
        exporters=names,
        protocol=otlp.protocol,
        protocol_source=f"{path} {otlp.location}",
        endpoint=otlp.endpoint,
        endpoint_source=f"{path} {otlp.location}.endpoint",
        insecure=otlp.kind == "otlp_grpc" and otlp.endpoint.startswith("http:"),
        headers=otlp.headers,
        timeout_s=otlp.timeout_s,
        compression=otlp.compression,
        certificate=None,
        client_key=None,
        client_certificate=None,
    )
