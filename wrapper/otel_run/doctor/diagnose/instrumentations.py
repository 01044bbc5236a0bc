"""Checks of the library inventory: libraries without instrumentation, unsupported versions."""

from __future__ import annotations

from collections.abc import Sequence

from otel_run.config.settings import Settings
from otel_run.doctor.diagnose.check import INFO, OK, WARN, Check
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
    broken = [lib for lib in missing if lib.shipped]
    untraced = [lib for lib in missing if not lib.shipped]
    if broken:
        # otel-run depends on these packages: their absence is a broken install, not a choice.
        shown = ", ".join(f"{lib.library} {lib.version}" for lib in broken)
        checks.append(
            Check(
                "instrumentations",
                WARN,
                f"instrumented on import: {on}. The instrumentation otel-run ships for {shown} is missing; "
                f"calls through them make no spans{note}",
                "pip install --force-reinstall otel-run",
            )
        )
    else:
        checks.append(
            Check(
                "instrumentations",
                OK,
                f"instrumented on import: {on}; every installed library that otel-run ships an "
                f"instrumentation for has it{note}",
            )
        )
    if untraced:
        # Libraries outside the mainstream set (click, for one, arrives with Flask): worth
        # knowing, not worth a warning.
        shown = ", ".join(f"{lib.library} {lib.version}" for lib in untraced)
        checks.append(
            Check(
                "not traced",
                INFO,
                f"installed without an instrumentation: {shown}; calls through them make no spans. "
                "To trace them: pip install " + " ".join(_unpinned(lib.instrumentation) for lib in untraced),
            )
        )
    for lib in unsupported:
        enabled = [name for name in lib.entry_points if not settings.instrumentation_disabled(name)]
        if enabled:
            checks.append(_unsupported(lib, enabled[0]))
    return checks


def _unsupported(lib: Library, instrumentor: str) -> Check:
    """An installed library version its instrumentation does not support.

    The fix asks for a version in the range the installed instrumentation supports, never
    for a release of the instrumentation: one that supports this version may not exist.
    """
    package, _, release = lib.instrumentation.partition("==")
    wanted = f"{lib.library}{lib.supports}"
    return Check(
        f"instrumentation {instrumentor}",
        WARN,
        f"{lib.library} {lib.version} is installed, but {package} {release} supports only {wanted}: "
        f"it is off, so calls through {lib.library} make no spans",
        f"to trace them, install a supported version: pip install '{wanted}'"
        if lib.supports
        else f"reinstall {lib.library}: its version could not be read",
    )


def _unpinned(requirement: str) -> str:
    """The package name of a requirement: upstream's list pins the contrib release it was built
    with, which need not be the one that matches the installed SDK."""
    for separator in ("==", ">=", "<=", "~=", "!=", "<", ">", "[", ";", " "):
        requirement = requirement.split(separator, 1)[0]
    return requirement
