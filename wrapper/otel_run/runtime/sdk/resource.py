"""The resource, the sampler, the id generator and the propagators, from ``Settings``."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from typing import Any

from otel_run import __version__
from otel_run.config.envparse import show
from otel_run.config.settings import Settings
from otel_run.runtime import entrypoints

_PROPAGATOR_PACKAGES = {
    "b3": "opentelemetry-propagator-b3",
    "b3multi": "opentelemetry-propagator-b3",
    "jaeger": "opentelemetry-propagator-jaeger",
    "xray": "opentelemetry-propagator-aws-xray",
    "ottrace": "opentelemetry-propagator-ot-trace",
}


def build_resource(settings: Settings) -> Any:
    """The resource: SDK and distro identity, process and host, detected Kubernetes and
    container attributes, then the user's attributes (``OTEL_RESOURCE_ATTRIBUTES``, then
    ``OTEL_SERVICE_NAME``), each later one winning."""
    import platform

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.version import __version__ as sdk_version

    attributes: dict[str, Any] = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": sdk_version,
        "telemetry.distro.name": "otel-run",
        "telemetry.distro.version": __version__,
        "service.instance.id": str(uuid.uuid4()),
        "process.pid": os.getpid(),
        "process.executable.name": os.path.basename(sys.executable),
        "process.runtime.name": sys.implementation.name,
        "process.runtime.version": platform.python_version(),
        "host.name": socket.gethostname(),
    }
    attributes.update(settings.detected_attributes)
    attributes.update(settings.resource_attributes)
    attributes["service.name"] = settings.service_name
    return Resource(attributes)


def build_propagator(settings: Settings, problems: list[str]) -> Any:
    import opentelemetry.propagate  # noqa: F401 - imported here, where OTEL_PROPAGATORS is hidden
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagators: list[Any] = []
    for name in settings.propagators:
        if name == "tracecontext":
            propagators.append(TraceContextTextMapPropagator())
        elif name == "baggage":
            propagators.append(W3CBaggagePropagator())
        else:
            try:
                propagators.append(entrypoints.load("opentelemetry_propagator", name)())
            except LookupError:
                package = _PROPAGATOR_PACKAGES.get(name)
                fix = f"pip install {package}" if package else "check the spelling"
                problems.append(
                    f"OTEL_PROPAGATORS: propagator {show(name)} is not installed ({fix}); skipped it"
                )
    return CompositePropagator(propagators)


def sampler(settings: Settings) -> Any:
    from opentelemetry.sdk.trace import sampling

    ratio = settings.sampler_arg if settings.sampler_arg is not None else 1.0
    name = settings.sampler
    if name == "always_on":
        return sampling.ALWAYS_ON
    if name == "always_off":
        return sampling.ALWAYS_OFF
    if name == "traceidratio":
        return sampling.TraceIdRatioBased(ratio)
    if name == "parentbased_always_off":
        return sampling.ParentBased(sampling.ALWAYS_OFF)
    if name == "parentbased_traceidratio":
        return sampling.ParentBasedTraceIdRatio(ratio)
    return sampling.ParentBased(sampling.ALWAYS_ON)


def id_generator(settings: Settings, problems: list[str]) -> Any:
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    if settings.id_generator == "random":
        return RandomIdGenerator()
    try:
        return entrypoints.load("opentelemetry_id_generator", settings.id_generator)()
    except LookupError:
        problems.append(
            f"OTEL_PYTHON_ID_GENERATOR={settings.id_generator!r} is not installed "
            "(pip install opentelemetry-sdk-extension-aws); using random ids"
        )
        return RandomIdGenerator()
