"""The ordered startup, run by ``sitecustomize`` before any application code.

1. read and validate the environment into ``Settings`` (warnings printed);
2. arm the lifecycle (exit and SIGTERM flush within a budget, fork handling);
3. arm the build of the SDK (``building``) for when telemetry is first needed
   (``ondemand``), or run it now where waiting could hide a warning;
4. arm instrumentations on import, tap logging once the app imports it;
5. print the startup line;
6. chain to the next ``sitecustomize`` on ``sys.path``.

This module holds otel-run's only mutable global state. Nothing here raises into the
app: a failure costs one line on stderr (or, with ``OTEL_RUN_STRICT=true``, exit 70).
"""

from __future__ import annotations

import os
import sys

from otel_run.config import envvars
from otel_run.config.settings import Settings
from otel_run.runtime import report
from otel_run.runtime.tools import tool_not_app

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable
    from types import ModuleType

    from otel_run.runtime.exportwatch import Watcher
    from otel_run.runtime.importhook import ImportWatcher
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
        "deferred",
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
        self.deferred: str = ""
        """When the SDK is built: "built on first use", or at boot and why."""
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
        setup_failed(error, settings)
    return _state


def setup_failed(error: Exception, settings: Settings | None) -> None:
    """A setup (the boot, or the SDK's build on first use) failed: one line, the app goes on
    without telemetry; with ``OTEL_RUN_STRICT=true`` it exits 70."""
    reason = f"{type(error).__name__}: {error}"
    _state.problems.append(reason)
    report.line(
        f"telemetry setup failed ({reason}); the app runs without telemetry. "
        "Run 'otel-run doctor', or set OTEL_RUN_DEBUG=true for the traceback"
    )
    if settings is not None and settings.strict:
        exit_strict(reason)


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

        _state.settings = settings = fromfile.boot_load(settings, _state.problems, exit_strict)
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
    from otel_run.runtime import building, importhook, ondemand

    imports = importhook.watcher()
    _state.lifecycle = building.arm_lifecycle(settings, imports)
    now = building.build_now(settings, _state.command)
    building.start_status(settings)
    ondemand.arm(lambda: building.build(settings), imports)
    _arm_instrumentations(settings, imports)
    _tap_logging(settings, imports)
    if now is not None:
        _state.deferred = f"built at boot: {now}"
        ondemand.ensure_built()
    else:
        _state.deferred = "built on first use"
        _state.active_signals = [name for name in building.SIGNALS if settings.signal(name).exporters]
    _announce(settings)


def _tap_logging(settings: Settings, imports: ImportWatcher) -> None:
    """Tap ``logging`` once the app imports it; loguru and structlog once it imports them.

    Nothing here imports ``logging``: a process that never logs never loads it."""
    from otel_run.runtime import ondemand

    exported = bool(settings.logs.exporters)
    made: list[logging.Handler] = []

    def handler() -> logging.Handler | None:
        if exported and not made:
            from otel_run.runtime.building import log_handler

            made.append(ondemand.lazy_handler(log_handler))
        return made[0] if made else None

    def tap(_module: ModuleType) -> None:
        from otel_run.runtime import logs

        logs.tap(handler())

    ondemand.watch_logging(imports, tap)
    if not exported:
        return

    def bridge(hook_name: str) -> Callable[[ModuleType], None]:
        def hook(module: ModuleType) -> None:
            from otel_run.runtime import logbridges

            lazy = handler()
            if lazy is not None:
                getattr(logbridges, hook_name)(module, lazy, report.line)

        return hook

    imports.watch("loguru", bridge("hook_loguru"))
    imports.watch("structlog", bridge("hook_structlog"))


def _arm_instrumentations(settings: Settings, imports: ImportWatcher) -> None:
    from otel_run.runtime import instrument, ondemand, serverhooks

    options = settings.file.options() if settings.file else {}
    # We export records through our own tap, so the instrumentation only adds trace
    # context to records (and the format, if the user asked for it).
    options["logging"] = {
        "set_logging_format": settings.log_correlation,
        **options.get("logging", {}),
        "inject_trace_context": True,
        "enable_log_auto_instrumentation": False,
    }
    armer = instrument.Armer(imports, report.line, options, serverhooks.gates())
    armer.before_activate = ondemand.ensure_built
    _state.armer = armer
    _state.instrumentations = armer.arm(settings.instrumentation_disabled)


def _announce(settings: Settings) -> None:
    if settings.announces:
        found = _state.instrumentations
        assert found is not None  # _arm_instrumentations ran
        startup_line = report.startup_line if settings.file is None else report.file_startup_line
        active = _state.active_signals
        report.line(startup_line(settings, active, found.by_state("active"), len(found.by_state("waiting"))))
    if settings.strict and _state.problems:
        exit_strict("; ".join(_state.problems))


def exit_strict(reason: str) -> None:
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
