"""Which proxy variable an OTLP/HTTP exporter's requests go through, as ``requests`` picks it.

``requests`` (under the HTTP exporters) reads ``<scheme>_proxy`` then ``all_proxy`` (the
lower-case name first, as ``urllib.request.getproxies`` does) unless ``no_proxy`` covers
the host. Knowing the variable lets a failed export name it instead of blaming the
collector. Pure: the caller passes the environment.
"""

from __future__ import annotations

from otel_run.config.urls import split

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    from collections.abc import Mapping


def proxy_variable(url: str, environ: Mapping[str, str]) -> str | None:
    """The name of the variable whose proxy a request to ``url`` uses, or None (direct)."""
    if not any(name[-6:].lower() == "_proxy" for name in environ):
        return None  # the usual case, answered without parsing the URL
    try:
        parts = split(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if bypassed(host, environ.get("no_proxy", environ.get("NO_PROXY", ""))):
        return None
    for scheme in (parts.scheme or "http", "all"):
        for name in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY"):
            if name in environ:
                return name if environ[name].strip() else None
    return None


def bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``no_proxy`` (comma-separated hosts, domains or ``*``) covers ``host``."""
    for entry in (item.strip().lower() for item in no_proxy.split(",")):
        entry = entry.split(":")[0].lstrip(".")
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False
