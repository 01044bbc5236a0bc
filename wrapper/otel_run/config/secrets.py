"""The configured secrets (header values, URL credentials), and scrubbing them from output.

Header values and credentials are never shown; every string otel-run writes for people
or tools (status files, ``otel-run status``) is scrubbed of them once more, so that an
upstream message quoting a value cannot leak it.
"""

from __future__ import annotations

from otel_run.config.settings import SIGNALS, Settings
from otel_run.config.urls import split

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    from typing import Any

MIN_SECRET = 4
"""Shorter strings are not scrubbed from text: they would wreck every message."""


def secret_values(settings: Settings) -> list[str]:
    """Header values and URL credentials that must never be shown, longest first."""
    found: set[str] = set()
    for name in SIGNALS:
        signal = settings.signal(name)
        found.update(value for _key, value in signal.headers.pairs)
        try:
            parts = split(signal.endpoint)
        except ValueError:
            continue
        found.update(value for value in (parts.username, parts.password) if value)
        if parts.query:
            from urllib.parse import parse_qsl  # here, as below: only for a URL that needs it

            found.update(value for _key, value in parse_qsl(parts.query))
    if any("%" in value for value in found):
        from urllib.parse import unquote

        found.update({unquote(value) for value in found})
    return sorted((value for value in found if len(value) >= MIN_SECRET), key=len, reverse=True)


def scrub(value: Any, hidden: list[str]) -> Any:
    """``value`` (a string, or dicts and lists of them) with every ``hidden`` string as ``***``."""
    if not hidden:
        return value
    if isinstance(value, str):
        for secret in hidden:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {scrub(key, hidden): scrub(item, hidden) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item, hidden) for item in value]
    return value
