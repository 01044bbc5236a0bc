"""Checks of the library inventory: libraries without instrumentation, unsupported versions."""

from __future__ import annotations

from collections.abc import Sequence

from otel_run.config.settings import Settings
from otel_run.doctor.diagnose.check import OK, WARN, Check
from otel_run.doctor.inventory import Library


def instrumentation_checks(
    libraries: Sequence[Library] | None, instrumented: Sequence[str] | None, settings: Settings
) -> list[Check]:
    """Installed libraries without instrumentation, and versions an instrumentation does not support.

    ``instrumented`` is None when the boot check could not tell which instrumentors are armed.
    """
    if libraries is None:
        return [
            Check(
                "instrumentations",
                WARN,
                "cannot list installed libraries (opentelemetry-instrumentation or packaging is missing)",
                "pip install --force-reinstall otel-run",
            )
        ]
    checks: list[Check] = []
    missing = [lib for lib in libraries if not lib.installed and not lib.for_otel_run]
    ignored = [lib for lib in libraries if not lib.installed and lib.for_otel_run]
    unsupported = [lib for lib in libraries if lib.installed and not lib.supported]
    on = (
        "unknown (the boot check did not report)"
        if instrumented is None
        else ", ".join(instrumented) or "none"
    )
    note = ""
    if ignored:
        names = ", ".join(lib.library for lib in ignored)
        note = f" (not counted: {names}, installed for otel-run itself)"
    if missing:
        shown = ", ".join(f"{lib.library} {lib.version}" for lib in missing)
        checks.append(
            Check(
                "instrumentations",
                WARN,
                f"instrumented on import: {on}. Installed without an instrumentation: {shown}; "
                f"calls through them make no spans{note}",
                "pip install " + " ".join(lib.instrumentation for lib in missing),
            )
        )
    else:
        checks.append(
            Check(
                "instrumentations",
                OK,
                f"instrumented on import: {on}; every installed library that has an instrumentation "
                f"has it{note}",
            )
        )
    for lib in unsupported:
        enabled = [name for name in lib.entry_points if not settings.instrumentation_disabled(name)]
        if enabled:
            checks.append(
                Check(
                    f"instrumentation {enabled[0]}",
                    WARN,
                    f"{lib.library} {lib.version} is installed, but {lib.instrumentation} does not support "
                    "that version: it will be skipped",
                    f"install the {lib.instrumentation} release that supports {lib.library} {lib.version}, "
                    f"or change the {lib.library} version",
                )
            )
    return checks
