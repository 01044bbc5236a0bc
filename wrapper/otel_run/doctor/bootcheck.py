"""The boot check of ``otel-run doctor``: boot a child Python exactly as the app would boot.

``run`` starts ``sys.executable -c ...`` with the environment ``otel-run`` gives the app
(``launch.build_env``), so otel-run's ``sitecustomize`` boots in it with the app's
settings. The child imports nothing of the app: it only calls ``child_report``, which
prints what the boot left behind as one JSON line on stdout. The child's stderr
(otel-run's startup line and warnings, and anything else) is captured for the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MARKER = "OTEL_RUN_BOOTCHECK "
CHILD_CODE = "from otel_run.doctor.bootcheck import child_report; child_report()"
PREFIX = "otel-run: "
STARTUP = (PREFIX + "service ", PREFIX + "configured from ")
"""How the startup line begins: configured by the environment, or by OTEL_CONFIG_FILE."""
DEFAULT_TIMEOUT_S = 8.0
_STATES = ("active", "waiting", "disabled", "skipped", "failed")
_AUTO_INSTRUMENTATION = os.path.join("opentelemetry", "instrumentation", "auto_instrumentation")


@dataclass(frozen=True)
class BootFacts:
    """What the child reported, or why it could not report."""

    facts: dict[str, Any] | None
    """The child's JSON report; None when it printed none."""
    exit_code: int | None
    """None when the child was stopped for taking too long."""
    startup_line: str = ""
    warnings: list[str] = field(default_factory=list)
    """The child's ``otel-run:`` lines other than the startup line, prefix removed."""
    other_stderr: list[str] = field(default_factory=list)
    """The last lines of the child's stderr that are not otel-run's."""
    error: str = ""
    elapsed_s: float = 0.0


def run(environ: Mapping[str, str], timeout: float = DEFAULT_TIMEOUT_S) -> BootFacts:
    """Boot a child interpreter under the app's environment and collect its report; never raises."""
    from otel_run import launch

    env = launch.build_env(environ, launch.boot_dir())
    started = time.monotonic()
    try:
        # subprocess.run kills the child by its PID when the timeout expires.
        done = subprocess.run(
            [sys.executable, "-c", CHILD_CODE],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        stderr = expired.stderr or ""
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")
        return _facts(None, None, stderr, f"the check did not finish within {timeout:.0f}s", started)
    except OSError as error:
        return _facts(None, None, "", f"cannot start {sys.executable}: {error}", started)
    report: dict[str, Any] | None = None
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            try:
                report = json.loads(line[len(MARKER) :])
            except ValueError:
                report = None
    problem = "" if report is not None else f"the check printed no report (exit status {done.returncode})"
    return _facts(report, done.returncode, done.stderr, problem, started)


def _facts(
    report: dict[str, Any] | None, code: int | None, stderr: str, error: str, started: float
) -> BootFacts:
    startup = ""
    warnings: list[str] = []
    other: list[str] = []
    for line in stderr.splitlines():
        if line.startswith(STARTUP):
            startup = line[len(PREFIX) :]
        elif line.startswith(PREFIX):
            warnings.append(line[len(PREFIX) :])
        elif line.strip():
            other.append(line.rstrip())
    return BootFacts(
        facts=report,
        exit_code=code,
        startup_line=startup,
        warnings=warnings,
        other_stderr=other[-12:],
        error=error,
        elapsed_s=round(time.monotonic() - started, 3),
    )


def child_report() -> None:
    """Runs in the child: print the boot's facts as one JSON line, then end at once.

    Ends with ``os._exit`` so the exit flush does not run: the check exports nothing,
    and a dead endpoint cannot hold the child up.
    """
    report: dict[str, Any] = {"python": sys.version.split()[0], "executable": sys.executable}
    try:  # what the app's first span, metric or log record would set up (see runtime/ondemand)
        from otel_run.runtime import ondemand

        ondemand.ensure_built()
    except Exception as error:  # noqa: BLE001 - the facts below tell what is missing
        report["build"] = {"error": f"{type(error).__name__}: {error}"}
    for name, gather in (
        ("boot", _boot_facts),
        ("providers", _provider_facts),
        ("sitecustomize", _sitecustomize_facts),
        ("libraries", _library_facts),
    ):
        try:
            report[name] = gather()
        except Exception as error:  # noqa: BLE001 - report what broke, keep going
            report[name] = {"error": f"{type(error).__name__}: {error}"}
    sys.stdout.write(MARKER + json.dumps(report, default=str) + "\n")
    sys.stdout.flush()
    os._exit(0)


def _boot_facts() -> dict[str, Any]:
    from otel_run.runtime import boot

    state = boot.state()
    facts: dict[str, Any] = {
        "booted": boot.is_booted(),
        "active_signals": list(state.active_signals),
        "problems": list(state.problems),
        "exporters": dict(getattr(state.built, "exporters", None) or {}),
    }
    found = state.instrumentations
    if found is not None:
        facts["instrumentations"] = {name: found.by_state(name) for name in _STATES}
        facts["instrumentation_details"] = {
            name: item.detail for name, item in found.items.items() if item.state in ("skipped", "failed")
        }
    return facts


def _provider_facts() -> dict[str, Any]:
    # The same question the team in the issue answered by hand: is the global tracer
    # provider an SDK provider, or the API's no-op ProxyTracerProvider?
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    facts: dict[str, Any] = {
        "tracer_provider": f"{type(provider).__module__}.{type(provider).__qualname__}",
        # Whether an app's own set_tracer_provider() call is caught (otel_run.runtime.sdk.guard_globals).
        "guarded": bool(getattr(trace.set_tracer_provider, "_otel_run_guard", False)),
    }
    try:
        from opentelemetry.sdk.trace import TracerProvider
    except Exception as error:  # noqa: BLE001 - a broken SDK is the finding
        facts["sdk_provider"] = False
        facts["sdk_error"] = f"{type(error).__name__}: {error}"
    else:
        facts["sdk_provider"] = isinstance(provider, TracerProvider)
    return facts


def _sitecustomize_facts() -> dict[str, Any]:
    import importlib.machinery

    boot_dir = os.environ.get("OTEL_RUN_BOOT_DIR", "")
    loaded = sys.modules.get("sitecustomize")
    loaded_file = os.path.abspath(getattr(loaded, "__file__", None) or "") if loaded is not None else ""
    # Look where the boot looked: "-c" put the working directory first on sys.path only
    # after site (and so sitecustomize) had run.
    at_startup = sys.path if getattr(sys.flags, "safe_path", False) else sys.path[1:]
    paths = [entry for entry in at_startup if os.path.abspath(entry or os.curdir) != boot_dir]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", paths)
    following = os.path.abspath(spec.origin) if spec is not None and spec.origin else ""
    return {
        "boot_dir_on_path": boot_dir in [os.path.abspath(entry or os.curdir) for entry in sys.path],
        "loaded": loaded_file,
        "next": following,
        "next_ran": bool(following) and loaded_file == following,
        "next_is_opentelemetry_instrument": os.path.dirname(following).endswith(_AUTO_INSTRUMENTATION),
    }


def _library_facts() -> list[dict[str, Any]]:
    from otel_run.doctor import inventory

    return [library.as_dict() for library in inventory.scan()]
