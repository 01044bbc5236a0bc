"""What otel-run tells people: the startup line and one-line warnings, on stderr.

Nothing here decides anything; callers pass facts in. Every line starts with
``otel-run:`` and holds no header value or URL credential (URLs arrive redacted), and
goes to the process's real stderr (``sys.__stderr__``).
"""

from __future__ import annotations

import sys

from otel_run.config.endpoints import redact_url
from otel_run.config.envparse import SHOWN_CHARS, cut
from otel_run.config.settings import Settings, SignalSettings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TextIO

PREFIX = "otel-run: "
_LONGEST_WORD = 2 * SHOWN_CHARS
_LONGEST_LINE = 2000


def _stream() -> TextIO:
    # The process's real stderr, not whatever the app swapped in: a line written from an
    # exporter thread while the app runs under contextlib.redirect_stderr or pytest's
    # capture must not end up in the app's buffer.
    return sys.__stderr__ or sys.stderr


def line(text: str, stream: TextIO | None = None) -> None:
    """Write one ``otel-run:`` line; never raises (stderr may be closed)."""
    out = stream or _stream()
    try:
        # One line, whatever a value holds: splitlines() knows \r, \u2028 and the rest.
        out.write(PREFIX + _bounded(" ".join(text.splitlines())) + "\n")
        out.flush()
    except (OSError, ValueError, AttributeError):
        pass


def _bounded(text: str) -> str:
    """A line of sane length: a value of 100 KB (a service name, an endpoint) is cut where it
    is echoed, whichever message echoes it."""
    if len(text) <= _LONGEST_WORD:
        return text
    words = [cut(word) if len(word) > _LONGEST_WORD else word for word in text.split(" ")]
    return cut(" ".join(words), _LONGEST_LINE)


def warn_all(warnings: Sequence[str], stream: TextIO | None = None) -> None:
    """One line per warning, in order."""
    for warning in warnings:
        line(warning, stream)


def startup_line(
    settings: Settings, active_signals: Sequence[str], instrumented: Sequence[str], on_import: int = 0
) -> str:
    """The one startup line: service, where each signal goes and how, sampler, instrumentations.

    ``active_signals`` are the signals verified to have an exporter behind them;
    ``instrumented`` the instrumentors active now (their library is already imported);
    ``on_import`` how many more are armed for their library's import. Only a count of
    those: with every mainstream instrumentation installed, their names would fill the
    line with libraries the app never imports (``otel-run doctor`` lists them).
    """
    service = settings.service_name
    if settings.service_name_derived:
        service += f" (derived from {settings.service_name_origin}; set OTEL_SERVICE_NAME to name it)"
    exported = [settings.signal(name) for name in active_signals]
    parts = [f"service {service}", _destinations(exported)]
    if "traces" in active_signals:
        sampler = settings.sampler
        if settings.sampler_arg is not None:
            sampler += f"={settings.sampler_arg:g}"
        parts.append(f"sampler {sampler}")
    off = [name for name in ("traces", "metrics", "logs") if name not in active_signals]
    if off:
        parts.append("off: " + ", ".join(off))
    if instrumented or on_import:
        parts.append(_instrumenting(instrumented, on_import))
    return "; ".join(parts)


def file_startup_line(
    settings: Settings, active_signals: Sequence[str], instrumented: Sequence[str], on_import: int = 0
) -> str:
    """The startup line of an app configured by ``OTEL_CONFIG_FILE``: what the file set up."""
    file = settings.file
    assert file is not None  # only called with a loaded file
    service = settings.service_name
    if "service.name" not in dict(settings.resource_attributes) and service.startswith("unknown_service"):
        service += " (the file sets no service.name)"
    groups: dict[tuple[str, str], list[str]] = {}
    others = []
    for exporter in file.exporters:
        if exporter.signal not in active_signals:
            continue
        if exporter.otlp:
            shown = redact_url(exporter.endpoint)
            suffix = f"/v1/{exporter.signal}"
            base = shown[: -len(suffix)] if exporter.protocol != "grpc" and shown.endswith(suffix) else shown
            names = groups.setdefault((base, exporter.protocol), [])
            names.extend([exporter.signal] if exporter.signal not in names else [])
        else:
            others.append(f"{exporter.signal} → {exporter.kind}")
    pieces = [f"{'+'.join(names)} → {base} over {protocol}" for (base, protocol), names in groups.items()]
    parts = [
        f"configured from {file.path}: service {service}",
        "; ".join(pieces + others) or "exporting nothing",
    ]
    if "traces" in active_signals:
        parts.append(f"sampler {file.sampler}")
    off = [name for name in ("traces", "metrics", "logs") if name not in active_signals]
    if off:
        parts.append("off: " + ", ".join(off))
    if instrumented or on_import:
        parts.append(_instrumenting(instrumented, on_import))
    return "; ".join(parts)


def _instrumenting(active: Sequence[str], on_import: int) -> str:
    if not active:
        return f"instrumenting none yet ({on_import} on import)"
    text = "instrumenting " + ", ".join(active)
    return text + (f" (and {on_import} more on import)" if on_import else "")


def _destinations(signals: Sequence[SignalSettings]) -> str:
    if not signals:
        return "exporting nothing"
    otlp = [signal for signal in signals if signal.otlp]
    pieces = []
    if otlp:
        protocols = {signal.protocol for signal in otlp}
        endpoints = {_base(signal) for signal in otlp}
        if len(protocols) == 1 and len(endpoints) == 1:
            names = "+".join(signal.signal for signal in otlp)
            pieces.append(f"{names} → {endpoints.pop()} over {protocols.pop()}")
        else:
            pieces.extend(
                f"{signal.signal} → {signal.shown_endpoint} over {signal.protocol}" for signal in otlp
            )
    for signal in signals:
        others = [name for name in signal.exporters if name != "otlp"]
        if others:
            pieces.append(f"{signal.signal} → {', '.join(others)}")
    return "; ".join(pieces)


def _base(signal: SignalSettings) -> str:
    """The endpoint without its standard signal path, so three signals read as one."""
    shown = signal.shown_endpoint
    suffix = f"/v1/{signal.signal}"
    if signal.protocol != "grpc" and shown.endswith(suffix):
        return shown[: -len(suffix)]
    return shown
