"""The providers of a loaded ``OTEL_CONFIG_FILE``, built by upstream, with otel-run's additions.

Upstream's ``create_tracer_provider``, ``create_meter_provider``, ``create_logger_provider``
and ``create_propagator`` build everything the file says. While they run, upstream's
exporter factories are wrapped so that each OTLP exporter they return is a
``WatchedExporter`` (trouble told once, drops counted), every exporter runs on the quiet
export path (``exportpath``), and the variables the file
replaces are hidden (an OTLP exporter reads ``OTEL_EXPORTER_OTLP_*`` for whatever the
file leaves out). A provider section that cannot be built costs that signal and one line;
the others still work. A section the file leaves out leaves its signal off, as upstream.
"""

from __future__ import annotations

import atexit
import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from otel_run.config import configfile
from otel_run.config.settings import Settings
from otel_run.runtime.exportpath import QuietExporter
from otel_run.runtime.exportwatch import WatchedExporter, Watcher, destination_for
from otel_run.runtime.sdk import Built, upstream_sees_only_explicit_values
from otel_run.runtime.sdk.fromfile import Loaded, _upstream_lines

# (module, factory) of each signal's exporter factory in opentelemetry-configuration 0.66.
_FACTORIES = {
    "traces": ("opentelemetry.configuration._tracer_provider", "_create_span_exporter"),
    "metrics": ("opentelemetry.configuration._meter_provider", "_create_push_metric_exporter"),
    "logs": ("opentelemetry.configuration._logger_provider", "_create_log_record_exporter"),
}
_SECTIONS = {"traces": "tracer_provider", "metrics": "meter_provider", "logs": "logger_provider"}


def build(settings: Settings, watcher: Watcher | None) -> Built:
    """Build what ``settings.file`` sets up; a section that fails is left out and told in ``problems``."""
    import concurrent.futures.thread  # noqa: F401 - fork-hook order, as in sdk.build

    from opentelemetry.configuration.file import (
        create_logger_provider,
        create_meter_provider,
        create_propagator,
        create_tracer_provider,
    )

    assert settings.file is not None and isinstance(settings.file.loaded, Loaded)  # fromfile.load made it
    loaded = settings.file.loaded
    built = Built(watcher=watcher, from_file=True)
    model, path = loaded.model, loaded.path
    heard: list[str] = []
    makers: dict[str, Callable[[], Any]] = {
        "traces": lambda: create_tracer_provider(
            model.tracer_provider, loaded.resource, model.attribute_limits
        ),
        "metrics": lambda: create_meter_provider(model.meter_provider, loaded.resource),
        "logs": lambda: create_logger_provider(
            model.logger_provider, loaded.resource, model.attribute_limits
        ),
    }
    with upstream_sees_only_explicit_values(), _upstream_lines(heard):
        if settings.file is not None and any(
            exporter.kind == "otlp_http" for exporter in settings.file.exporters
        ):
            # requests imports netrc inside its first request; see exporters._http_exporter.
            import netrc  # noqa: F401
        for signal, make in makers.items():
            if getattr(model, _SECTIONS[signal]) is None:
                continue
            try:
                with _watched(signal, built, path):
                    provider = make()
            except Exception as error:  # noqa: BLE001 - one broken section must not stop the rest
                built.problems.append(_section_failed(loaded, signal, error))
                built.told_off.append(signal)
                continue
            _leave_exit_to_lifecycle(provider)
            setattr(built, _PROVIDER_ATTRIBUTES[signal], provider)
        try:
            built.propagator = create_propagator(model.propagator)
        except Exception as error:  # noqa: BLE001 - a propagator plugin that is not installed
            from opentelemetry.propagators.composite import CompositePropagator

            built.propagator = CompositePropagator([])
            built.problems.append(
                f"{configfile.where(path, loaded.text, ['propagator'])}: {error}; propagating nothing"
            )
    built.problems.extend(f"{path}: {line}" for line in heard)
    return built


def _section_failed(loaded: Loaded, signal: str, error: Exception) -> str:
    """One line: where in the file, that the signal is off, upstream's reason, a likely typo."""
    section = _SECTIONS[signal]
    typos = configfile.unknown_components(loaded.document, section)
    parts: list[str | int] = typos[0][0] if typos else [section]
    hint = f"; did you mean {typos[0][1]!r}?" if typos else ""
    reason = str(error).rstrip(".")
    return f"{configfile.where(loaded.path, loaded.text, parts)}: {signal} are off: {reason}{hint}"


_PROVIDER_ATTRIBUTES = {"traces": "tracer_provider", "metrics": "meter_provider", "logs": "logger_provider"}


@contextmanager
def _watched(signal: str, built: Built, path: str) -> Iterator[None]:
    """While ``signal``'s provider is built, wrap each exporter upstream makes."""
    module_name, name = _FACTORIES[signal]
    module = importlib.import_module(module_name)
    original = getattr(module, name)

    def factory(config: Any) -> Any:
        exporter = original(config)
        kind, options = _kind(config)
        built.exporters.setdefault(signal, []).append(
            f"{type(exporter).__module__}.{type(exporter).__qualname__}"
        )
        if kind in ("otlp_http", "otlp_grpc") and built.watcher is not None:
            endpoint = str(getattr(options, "endpoint", None) or _default(kind, signal))
            protocol = "grpc" if kind == "otlp_grpc" else "http/protobuf"
            built.watcher.destinations[signal] = destination_for(
                signal, endpoint, f"{path} {_SECTIONS[signal]} {kind}.endpoint", protocol
            )
            exporter = WatchedExporter(exporter, signal, built.watcher)
        return QuietExporter(exporter)  # its calls stay out of the app's telemetry (see exportpath)

    setattr(module, name, factory)
    try:
        yield
    finally:
        setattr(module, name, original)


def _kind(config: Any) -> tuple[str, Any]:
    for kind in ("otlp_http", "otlp_grpc", "console", "otlp_file_development"):
        options = getattr(config, kind, None)
        if options is not None:
            return kind, options
    extra = getattr(config, "additional_properties", None) or {}
    return (next(iter(extra)), None) if extra else ("", None)


def _default(kind: str, signal: str) -> str:
    return "http://localhost:4317" if kind == "otlp_grpc" else f"http://localhost:4318/v1/{signal}"


def _leave_exit_to_lifecycle(provider: Any) -> None:
    """Drop the provider's own exit hook: otel-run's lifecycle flushes within the budget.

    Upstream's ``create_*`` build providers with ``shutdown_on_exit=True``; their hook would
    run after ours and shut down a second time, unbounded, when the collector is down.
    """
    for attribute in ("_atexit_handler", "_at_exit_handler"):
        handler = getattr(provider, attribute, None)
        if handler is not None:
            atexit.unregister(handler)
            setattr(provider, attribute, None)
