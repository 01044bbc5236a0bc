"""The ordered startup, run by ``sitecustomize`` before any application code.

1. read and validate the environment into ``Settings`` (warnings printed);
2. build resource, providers, exporters, processors, propagators, sampler; install them;
3. tap logging, arm instrumentations on import;
4. arm the lifecycle (exit and SIGTERM flush within a budget);
5. verify the global providers are ours with exporters behind them, then print the
   startup line;
6. chain to the next ``sitecustomize`` on ``sys.path``.

This module holds otel-run's only mutable global state. Nothing here raises into the
app: a failure costs one line on stderr (or, with ``OTEL_RUN_STRICT=true``, exit 70).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from otel_run.config import envvars
from otel_run.config.settings import Settings
from otel_run.runtime import report
from otel_run.runtime.tools import tool_not_app

if TYPE_CHECKING:
    from otel_run.runtime.exportwatch import Watcher
    from otel_run.runtime.instrument import Armer, Instrumentations
    from otel_run.runtime.lifecycle import Lifecycle
    from otel_run.runtime.sdk import Built
    from otel_run.runtime.status import Recorder

EXIT_STRICT = 70
_AUTO_INSTRUMENTATION_DIR = os.path.join("opentelemetry", "instrumentation", "auto_instrumentation")


class State:
    """What the boot did in this process (a plain class: the boot path imports no dataclasses)."""

    __slots__ = (
        "active_signals",
        "armer",
        "booted",
        "built",
        "command",
        "instrumentations",
        "lifecycle",
        "problems",
        "settings",
        "status",
        "watcher",
    )

    def __init__(self) -> None:
        self.booted: bool = False
        self.settings: Settings | None = None
        self.built: Built | None = None
        self.instrumentations: Instrumentations | None = None
        self.lifecycle: Lifecycle | None = None
        self.watcher: Watcher | None = None
        self.armer: Armer | None = None
        self.status: Recorder | None = None
        self.command: list[str] = []
        """The interpreter's full command line."""
        self.active_signals: list[str] = []
        self.problems: list[str] = []


_state = State()


def is_booted() -> bool:
    """Whether this process has booted (successfully or not); a second boot is a no-op."""
    return _state.booted


def state() -> State:
    """The boot's record of this process, for diagnostics and tests."""
    return _state


def boot_from_sitecustomize(shim_file: str) -> None:
    """Boot, then run the next ``sitecustomize``; called by otel-run's shim only."""
    boot()
    chain_next_sitecustomize(os.path.dirname(os.path.abspath(shim_file)))


def boot(environ: dict[str, str] | None = None, argv: list[str] | None = None) -> State:
    """Configure OpenTelemetry for this process once; never raises (unless OTEL_RUN_DEBUG)."""
    if _state.booted:
        return _state
    _state.booted = True
    command = argv or _command_line()
    _state.command = command
    skipped = tool_not_app(command)
    if skipped is not None:
        _state.problems.append(f"not booted: {skipped}")
        return _state
    settings: Settings | None = None
    try:
        settings = Settings.from_env(os.environ if environ is None else environ, command)
        _state.settings = settings
        _mark_children(settings)
        _boot(settings)
    except Exception as error:
        if settings is not None and settings.debug:
            raise
        reason = f"{type(error).__name__}: {error}"
        _state.problems.append(reason)
        report.line(
            f"telemetry setup failed ({reason}); the app runs without telemetry. "
            "Run 'otel-run doctor', or set OTEL_RUN_DEBUG=true for the traceback"
        )
        if settings is not None and settings.strict:
            _exit_strict(reason)
    return _state


def _mark_children(settings: Settings) -> None:
    # Python processes this one starts (subprocess, multiprocessing spawn, a reloader's
    # server) boot too, but print nothing unless something is wrong: an app that parses a
    # child's output must get the output it would get without otel-run.
    os.environ[envvars.OTEL_RUN_PARENT_PID] = str(os.getpid())
    if settings.service_name_derived:  # multiprocessing workers (uvicorn's) run this same app
        os.environ[envvars.OTEL_RUN_PARENT_SERVICE] = settings.service_name


def _boot(settings: Settings) -> None:
    from otel_run.runtime import greenlets

    patch = greenlets.planned_patch(_state.command, greenlets.read_head)
    if patch is not None and not settings.disabled:
        greenlets.patch_first(patch)  # before any thread or lock of ours exists
    report.warn_all(settings.warnings)
    if settings.config_file is not None:  # the file is the configuration: fromfile says why not
        from otel_run.runtime.sdk import fromfile

        _state.settings = settings = fromfile.boot_load(settings, _state.problems, _exit_strict)
        if settings.file is None:
            return
    if settings.disabled:
        if settings.announces:
            said = f"{settings.config_file} says disabled" if settings.file else "OTEL_SDK_DISABLED=true"
            report.line(f"{said}: telemetry is off, nothing was installed")
        return
    if settings.log_level is not None:
        import logging

        level = "WARNING" if settings.log_level == "warn" else settings.log_level.upper()
        logging.getLogger("opentelemetry").setLevel(level)
    built = _install(settings)
    _arm_instrumentations(settings)
    recorder = _arm_lifecycle(settings, built)
    _verify_and_announce(settings, built)
    recorder.start()  # the live status for `otel-run status`, written from the export threads


def _install(settings: Settings) -> Built:
    """Build and install the SDK; tap logging."""
    from otel_run.runtime import exportwatch, logbridges, logs, sdk

    watcher = exportwatch.Watcher(report.line)
    _state.watcher = watcher
    exportwatch.capture_upstream_logs(watcher, keep_upstream_lines=settings.log_level == "debug")
    # uWSGI forks its workers in C, without Python's fork hooks: an exporter built by a
    # master thread during such a fork would leave the worker holding import locks, so
    # under uWSGI everything is built now, before any fork.
    from otel_run.runtime.servers import uwsgi as uwsgi_support

    built = sdk.build(settings, watcher, may_defer=not uwsgi_support.is_uwsgi_command(_state.command))
    _state.built = built
    _state.problems.extend(built.problems)
    report.warn_all(built.problems)
    sdk.install(built)
    sdk.guard_globals(built, report.line)
    exported = settings.logs.exporters and built.logger_provider is not None
    handler = logs.make_handler(built.logger_provider) if exported else None
    logs.tap(handler)
    logbridges.bridge(handler, report.line)
    return built


def _arm_instrumentations(settings: Settings) -> None:
    from otel_run.runtime import importhook, instrument, logformat, serverhooks

    options = settings.file.options() if settings.file else {}
    # We export records through our own tap, so the instrumentation only adds trace
    # context to records (and the format, if the user asked for it).
    options["logging"] = {
        "set_logging_format": settings.log_correlation,
        **options.get("logging", {}),
        "inject_trace_context": True,
        "enable_log_auto_instrumentation": False,
    }
    armer = instrument.Armer(importhook.watcher(), report.line, options, serverhooks.gates())
    with logformat.defaults_only(settings.log_correlation):
        _state.instrumentations = armer.arm(settings.instrumentation_disabled)
    _state.armer = armer


def _arm_lifecycle(settings: Settings, built: Built) -> Recorder:
    from otel_run.runtime import greenlets, importhook, lifecycle, sdk, serverhooks, status
    from otel_run.runtime.servers import uwsgi as uwsgi_support

    watcher = _state.watcher
    assert watcher is not None  # _install made it
    recorder = _state.status = status.Recorder(settings, watcher, built, _state, report.line)

    def after_fork() -> None:
        greenlets.forget_by_own_ident()
        watcher.after_fork()
        sdk.refresh_process_resource(built)
        recorder.after_fork()

    def on_shutdown(outcome: lifecycle.Outcome) -> None:
        watcher.count_lost_at_exit()
        if outcome.timed_out:
            report.line(
                "the final flush did not finish within OTEL_RUN_SHUTDOWN_TIMEOUT="
                f"{settings.shutdown_timeout_ms} ms ({', '.join(outcome.timed_out)}); what was left is "
                f"dropped{watcher.stuck_hint()}"
            )
        watcher.final_report()
        recorder.close()

    def on_reloader_watcher() -> None:
        watcher.muted = True

    def before_shutdown() -> None:
        watcher.exiting = True
        # Exporters built only now import requests/urllib3: instrumenting those at exit
        # would ask the shut-down MeterProvider for meters, and serve no one.
        if _state.armer is not None:
            _state.armer.paused = True
        greenlets.forget_by_own_ident()  # the SDK's threads end next

    cycle = lifecycle.Lifecycle(
        {"traces": built.tracer_provider, "metrics": built.meter_provider, "logs": built.logger_provider},
        settings.shutdown_timeout_ms / 1000.0,
        on_shutdown=on_shutdown,
        after_fork=after_fork,
        before_shutdown=before_shutdown,
    )
    _state.lifecycle = cycle
    cycle.arm()
    imports = importhook.watcher()
    if uwsgi_support.is_uwsgi_command(_state.command):

        def in_uwsgi_worker() -> None:
            cycle.in_forked_child()
            sdk.restart_metric_readers(built)

        uwsgi_support.arm(os.getpid(), in_uwsgi_worker, report.line)
        imports.watch(
            "uwsgidecorators", lambda module: uwsgi_support.join_decorators_chain(module, in_uwsgi_worker)
        )
    imports.watch("multiprocessing", cycle.hook_multiprocessing)
    serverhooks.arm(imports, cycle, on_reloader_watcher)
    return recorder


def _verify_and_announce(settings: Settings, built: Built) -> None:
    from otel_run.runtime import sdk

    active = sdk.verify(built)
    _state.active_signals = active
    wanted = [name for name in sdk.SIGNALS if settings.signal(name).exporters and name not in built.told_off]
    missing = [name for name in wanted if name not in active]
    if missing:
        problem = f"{', '.join(missing)} will not be exported: no working exporter is installed for them"
        _state.problems.append(problem)
        report.line(problem)
    if settings.announces:
        found = _state.instrumentations
        assert found is not None  # _arm_instrumentations ran
        startup_line = report.startup_line if settings.file is None else report.file_startup_line
        report.line(startup_line(settings, active, found.by_state("active"), len(found.by_state("waiting"))))
    if settings.strict and _state.problems:
        _exit_strict("; ".join(_state.problems))


def _exit_strict(reason: str) -> None:
    report.line(f"OTEL_RUN_STRICT=true and telemetry could not be set up ({reason}); exiting {EXIT_STRICT}")
    os._exit(EXIT_STRICT)


def _command_line() -> list[str]:
    """The interpreter's full command line (``sys.argv`` is partial during site import)."""
    orig = getattr(sys, "orig_argv", None)
    if orig:
        return list(orig)
    try:  # Python 3.9 on Linux
        with open("/proc/self/cmdline", "rb") as handle:
            return [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return [sys.executable, *sys.argv]


def chain_next_sitecustomize(boot_dir: str) -> None:
    """Run the ``sitecustomize`` the app would have had without otel-run, if any.

    It becomes ``sys.modules["sitecustomize"]`` as it would have been. Errors in it are
    reported the way ``site`` reports them, and do not stop the app.
    """
    from otel_run.runtime import chain

    spec = chain.next_sitecustomize(boot_dir)
    if spec is None:
        return
    origin = os.path.dirname(os.path.abspath(spec.origin or ""))
    if origin.endswith(_AUTO_INSTRUMENTATION_DIR):
        # opentelemetry-instrument's own boot would configure a second SDK and
        # instrument everything again; otel-run has already done both.
        if _state.settings is not None and _state.settings.announces:
            report.line(
                "skipped opentelemetry-instrument's sitecustomize: otel-run already configured the SDK"
            )
        return
    chain.run(spec)
