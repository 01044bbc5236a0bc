"""Checks of the boot check: what a Python started with the app's environment ended up with."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from otel_run.config.settings import SIGNALS, Settings
from otel_run.doctor.diagnose.check import FAIL, INFO, OK, WARN, Check, _join


def boot_checks(
    facts: Mapping[str, Any] | None,
    error: str,
    exit_code: int | None,
    warnings: Sequence[str],
    other_stderr: Sequence[str],
    settings: Settings,
) -> list[Check]:
    """What a Python started with the app's environment ended up with."""
    told = {*settings.warnings, *(getattr(settings.file.loaded, "notes", ()) if settings.file else ())}
    boot_warnings = [line for line in warnings if line not in told]  # not again what a check says
    if facts is None:
        return [_no_report(error, exit_code, boot_warnings, other_stderr)]
    checks: list[Check] = []
    boot = facts.get("boot") or {}
    providers = facts.get("providers") or {}
    problems = [str(problem) for problem in boot.get("problems") or ()]
    sdk_provider = bool(providers.get("sdk_provider"))
    provider = str(providers.get("tracer_provider") or "unknown")
    active = list(boot.get("active_signals") or ())
    wanted = [name for name in SIGNALS if settings.signal(name).exporters]

    explained: list[str] = []
    if not sdk_provider:
        explained = problems
        checks.append(
            Check(
                "boot",
                FAIL,
                _no_sdk_message(provider, problems),
                _no_sdk_fix(settings, boot, providers, problems),
            )
        )
    else:
        missing = [name for name in wanted if name not in active]
        if missing:
            reasons = [
                problem
                for problem in problems
                if any(
                    problem.startswith(f"OTEL_{name.upper()}_EXPORTER") or problem.startswith(name)
                    for name in missing
                )
                and "will not be exported" not in problem
            ]
            checks.append(
                Check(
                    "boot",
                    FAIL,
                    f"in the app, {_join(missing)} would not be exported: "
                    + ("; ".join(reasons) or "no exporter could be built"),
                    _problem_fix(reasons),
                )
            )
            explained = reasons
            boot_warnings += [problem for problem in problems if problem not in reasons]
        else:
            exported = f"{_join(active)} have exporters" if active else "no signal is exported"
            checks.append(
                Check(
                    "boot",
                    OK,
                    f"a Python started with the app's environment gets an SDK TracerProvider ({provider}); "
                    f"{exported}",
                )
            )
    if not settings.disabled:
        shown = {check.message for check in checks}
        checks.extend(
            Check("boot warning", WARN, line, _problem_fix([line], default=""))
            for line in dict.fromkeys(boot_warnings)
            if "will not be exported" not in line
            and not any(line in message for message in shown)
            and not any(problem in line for problem in explained)
        )
    checks.extend(_instrumentor_checks(boot))
    checks.append(
        _sitecustomize_check(facts.get("sitecustomize") or {}, bool(boot.get("booted")), other_stderr)
    )
    if sdk_provider:
        guarded = bool(providers.get("guarded"))
        checks.append(
            Check(
                "app's own SDK setup",
                INFO if guarded else WARN,
                "if the app sets up its own SDK (trace.set_tracer_provider()), otel-run keeps its own "
                "provider, so each span is exported once, and the app prints one otel-run line saying so "
                "(this check runs no app code, so it cannot see such a call)"
                if guarded
                else "an app that calls trace.set_tracer_provider() itself is not caught",
            )
        )
    return checks


def _no_report(error: str, exit_code: int | None, warnings: Sequence[str], other: Sequence[str]) -> Check:
    strict = [line for line in warnings if "OTEL_RUN_STRICT" in line]
    if exit_code == 70 and strict:
        return Check(
            "boot",
            FAIL,
            f"the app would exit 70 at startup: {strict[-1]}",
            _problem_fix(strict, default="fix the problem named, or unset OTEL_RUN_STRICT"),
        )
    cannot_import = [line for line in warnings if "cannot import otel_run" in line]
    if cannot_import:
        return Check(
            "boot",
            FAIL,
            cannot_import[0],
            "install otel-run into the interpreter the app runs with (pip install otel-run)",
        )
    tail = " | ".join(list(other)[-3:])
    said = f"; it said: {tail}" if tail else ""
    return Check(
        "boot",
        FAIL,
        f"a Python started with the app's environment could not report how it booted ({error}){said}",
        "run 'otel-run python -c pass' to see the error in full; set OTEL_RUN_DEBUG=true for the traceback",
    )


def _no_sdk_message(provider: str, problems: Sequence[str]) -> str:
    why = f" (the boot said: {'; '.join(problems)})" if problems else ""
    return (
        f"a Python started with the app's environment has the global tracer provider {provider}, not an SDK "
        f"TracerProvider: instrumentations create spans and they are dropped{why}"
    )


def _no_sdk_fix(
    settings: Settings, boot: Mapping[str, Any], providers: Mapping[str, Any], problems: Sequence[str]
) -> str:
    if settings.disabled:
        return "unset OTEL_SDK_DISABLED"
    if providers.get("sdk_error"):
        return (
            f"the SDK cannot be imported ({providers['sdk_error']}): "
            "pip install --force-reinstall opentelemetry-sdk otel-run"
        )
    if settings.config_file is not None and settings.file is None:
        return f"correct {settings.config_file} (the config file check says where)"
    if not boot.get("booted"):
        return (
            "otel-run's boot did not run: start the app as 'otel-run python app.py', or put otel-run's boot "
            "directory first on PYTHONPATH"
        )
    return _problem_fix(problems)


def _problem_fix(
    problems: Sequence[str], default: str = "set OTEL_RUN_DEBUG=true and start the app to see the traceback"
) -> str:
    fixes: list[str] = []
    for problem in problems:
        match = re.search(r"\((pip install [^)]+)\)", problem)
        exporter = re.search(r"(OTEL_[A-Z]+_EXPORTER): exporter '([^']+)' is not installed", problem)
        if match:
            fixes.append(match.group(1))
        elif exporter:
            fixes.append(
                f"set {exporter[1]}=otlp, or install the package that provides the {exporter[2]!r} exporter"
            )
    return "; ".join(dict.fromkeys(fixes)) or default


def _instrumentor_checks(boot: Mapping[str, Any]) -> list[Check]:
    states = boot.get("instrumentations") or {}
    details = boot.get("instrumentation_details") or {}
    checks: list[Check] = []
    for state in ("failed", "skipped"):
        for name in states.get(state) or ():
            checks.append(
                Check(
                    f"instrumentation {name}",
                    WARN,
                    f"{name} is {state}: {details.get(name, '')}".rstrip(": "),
                    f"reinstall or upgrade the {name} instrumentation to match the library, or set "
                    f"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS={name}",
                )
            )
    return checks


def _sitecustomize_check(chain: Mapping[str, Any], booted: bool, other_stderr: Sequence[str]) -> Check:
    following = str(chain.get("next") or "")
    if not booted:
        return Check(
            "sitecustomize",
            FAIL,
            "otel-run's sitecustomize did not run in a Python started with the app's environment",
            "make sure the interpreter imports sitecustomize (no 'python -S' / -I) and can import otel_run",
        )
    if not following:
        return Check(
            "sitecustomize", OK, "otel-run's sitecustomize runs first; there is no other one to chain to"
        )
    if chain.get("next_is_opentelemetry_instrument"):
        return Check(
            "sitecustomize",
            OK,
            f"opentelemetry-instrument's sitecustomize ({following}) is skipped on purpose: otel-run already "
            "configured the SDK",
        )
    if chain.get("next_ran"):
        return Check("sitecustomize", OK, f"the app's own sitecustomize ({following}) runs after otel-run's")
    errors = [line for line in other_stderr if "sitecustomize" in line or "Error" in line]
    said = f": {errors[-1]}" if errors else ""
    return Check(
        "sitecustomize",
        WARN,
        f"the app's own sitecustomize ({following}) was found but did not finish{said}",
        f"fix the error in {following}; run 'otel-run python -c pass' to see it",
    )
