"""Where each signal goes: the specification's endpoint rules, checks and redaction.

Pure functions. ``resolve_endpoint`` applies the rules of the OTLP exporter
specification; ``redact_url`` is used wherever a URL is shown to a person.
"""

from __future__ import annotations

from otel_run.config.envparse import Warnings, show
from otel_run.config.urls import Parts, split, unsplit

PROTOCOLS = ("http/protobuf", "grpc", "http/json")
SIGNAL_PATHS = {"traces": "/v1/traces", "metrics": "/v1/metrics", "logs": "/v1/logs"}
DEFAULT_HTTP_BASE = "http://localhost:4318"
DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"
GRPC_PORT = 4317
HTTP_PORT = 4318


class Endpoint(tuple[str, str, bool]):
    """The URL a signal is exported to and the variable it came from: ``(url, source, insecure)``
    (a tuple, as the ``NamedTuple`` it was; ``typing`` is not imported on the boot path)."""

    __slots__ = ()

    def __new__(cls, url: str, source: str, insecure: bool) -> Endpoint:
        return tuple.__new__(cls, (url, source, insecure))

    @property
    def url(self) -> str:
        """The URL the signal is exported to."""
        return self[0]

    @property
    def source(self) -> str:
        """The variable the URL came from, or ``default``."""
        return self[1]

    @property
    def insecure(self) -> bool:
        """For gRPC: plaintext (no TLS). For HTTP: whether the scheme is ``http``."""
        return self[2]

    def __repr__(self) -> str:
        return f"Endpoint(url={self[0]!r}, source={self[1]!r}, insecure={self[2]!r})"


def redact_url(url: str) -> str:
    """Hide credentials in ``url``: user info and query values become ``***``."""
    try:
        parts = split(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if not netloc and "@" in url:
        # Without "scheme://" there is no netloc: "user:pw@host:4318" parses as scheme
        # "user" and path "pw@host:4318", so hide everything up to the last "@".
        return "***@" + redact_url(url.rpartition("@")[2])
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = parts.query
    if query:
        query = "&".join(
            f"{item.partition('=')[0]}=***" if "=" in item else item for item in query.split("&")
        )
    return unsplit(Parts(parts.scheme, netloc, parts.path, query, parts.fragment))


def _check_url(problems: list[str], raw: str, protocol: str, insecure: bool | None) -> Parts | None:
    text = raw.strip()
    assumed: str | None = None
    if "://" not in text:
        # gRPC endpoints are often written host:port; OTEL_EXPORTER_OTLP_INSECURE then
        # picks plaintext or TLS, as the specification says.
        scheme = "http" if insecure or protocol != "grpc" else "https"
        if protocol != "grpc":
            assumed = scheme
        text = f"{scheme}://{text}"
    try:
        parts = split(text)
        port = parts.port
    except ValueError as error:
        problems.append(f"is not a valid URL ({error}); ignoring it")
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append("must look like http://host:port or https://host:port; ignoring it")
        return None
    del port
    if assumed is not None:
        problems.append(f"has no scheme; assuming {assumed}://")
    return parts


def _warn(warnings: Warnings, name: str, raw: str, problems: list[str]) -> None:
    # Several problems with one value (no scheme, no path, the other protocol's port)
    # make one warning, so that each variable is warned about once.
    if problems:
        warnings.append(f"{name}={show(redact_url(raw.strip()))} " + "; also, it ".join(problems))


def resolve_endpoint(
    warnings: Warnings,
    signal: str,
    protocol: str,
    base: str | None,
    specific: str | None,
    insecure: bool | None,
) -> Endpoint:
    """Resolve the endpoint of ``signal`` from the base and signal-specific variables.

    HTTP: the signal variable is used as-is; the base gets ``/v1/<signal>`` appended.
    gRPC: either variable names host and port; a path means nothing.
    A base that already ends in a signal path would be doubled, so that suffix is
    removed with a warning; an HTTP signal URL with no path at all gets the signal
    path with a warning, because the collector would answer 404. Each variable gets
    at most one warning, naming all of its problems.
    """
    upper = signal.upper()
    specific_name = f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"
    base_name = "OTEL_EXPORTER_OTLP_ENDPOINT"
    path = SIGNAL_PATHS[signal]

    if specific:
        problems: list[str] = []
        parts = _check_url(problems, specific, protocol, insecure)
        if parts is not None:
            url = unsplit(parts)
            if protocol != "grpc" and parts.path in ("", "/"):
                url = unsplit(parts.with_path(path))
                problems.append(
                    "is used as-is and has no path, so the collector would answer 404; "
                    f"it must end in {path}; using {redact_url(url)}"
                )
            problems += _port_problems(parts, protocol)
        _warn(warnings, specific_name, specific, problems)
        if parts is not None:
            return Endpoint(url, specific_name, _insecure(parts, insecure))

    if base:
        problems = []
        parts = _check_url(problems, base, protocol, insecure)
        if parts is not None:
            problems += _port_problems(parts, protocol)
            if protocol == "grpc":
                _warn(warnings, base_name, base, problems)
                return Endpoint(unsplit(parts.with_path("")), base_name, _insecure(parts, insecure))
            base_path = parts.path.rstrip("/")
            for doubled in SIGNAL_PATHS.values():
                if base_path.endswith(doubled):
                    base_path = base_path[: -len(doubled)]
                    fixed = unsplit(parts.with_path(base_path))
                    problems.append(
                        f"already ends in {doubled}, but otel-run appends "
                        f"/v1/<signal> to it (the path would be doubled); using {redact_url(fixed)} as the "
                        "base. Set it to the collector's base URL, or use "
                        "OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT for a full URL"
                    )
                    break
            _warn(warnings, base_name, base, problems)
            url = unsplit(parts.with_path(base_path + path))
            return Endpoint(url, base_name, _insecure(parts, insecure))
        _warn(warnings, base_name, base, problems)

    if protocol == "grpc":
        default = split(DEFAULT_GRPC_ENDPOINT)
        return Endpoint(DEFAULT_GRPC_ENDPOINT, "default", _insecure(default, insecure))
    return Endpoint(DEFAULT_HTTP_BASE + path, "default", True)


def _insecure(parts: Parts, insecure: bool | None) -> bool:
    if parts.scheme == "http":
        return True
    if parts.scheme == "https":
        return False
    return bool(insecure)


def _port_problems(parts: Parts, protocol: str) -> list[str]:
    try:
        port = parts.port
    except ValueError:
        return []
    if protocol == "grpc" and port == HTTP_PORT:
        return [
            f"uses port {HTTP_PORT}, the OTLP/HTTP port, but the protocol is grpc; "
            f"use port {GRPC_PORT} or set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
        ]
    if protocol != "grpc" and port == GRPC_PORT:
        return [
            f"uses port {GRPC_PORT}, the OTLP/gRPC port, but the protocol is {protocol}; "
            f"use port {HTTP_PORT} or set OTEL_EXPORTER_OTLP_PROTOCOL=grpc"
        ]
    return []
