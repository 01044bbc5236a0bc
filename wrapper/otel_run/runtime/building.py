"""The SDK's build and the exit, signal and fork handling around it.

``boot`` arms the lifecycle at start-up and hands ``build`` to ``ondemand``, which runs
it at boot or when telemetry is first needed (``build_now`` says which). Everything the
build makes is recorded on boot's ``State``.
"""

from __future__ import annotations

import os

from otel_run.runtime import report
from otel_run.runtime.boot import setup_failed, state

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging

    from otel_run.config.settings import Settings
    from otel_run.runtime.importhook import ImportWatcher
    from otel_run.runtime.lifecycle import Lifecycle
    from otel_run.runtime.sdk import Built

SIGNALS = ("traces", "metrics", "logs")
_state = state()


def build_now(settings: Settings, command: list[str]) -> str | None:
    """Why the SDK must be built at boot rather than on first use, or None.

    Only what builds cleanly waits: anything that can cost a warning at build time
    (an exporter, propagator or id generator found through a plugin, certificate files
    to read, a configuration file) is built now, so that its warning is printed at
    start-up, where it always was.
    """
    from otel_run.runtime import entrypoints
    from otel_run.runtime.servers import uwsgi as uwsgi_support

    if settings.strict:
        return "OTEL_RUN_STRICT=true stops the app at start when telemetry cannot be set up"
    if settings.file is not None:
        return "OTEL_CONFIG_FILE"
    if uwsgi_support.is_uwsgi_command(command):
        return "uWSGI forks its workers outside Python"  # see _install
    if settings.log_correlation:
        return "OTEL_PYTHON_LOG_CORRELATION=true sets the log format before the app's first line"
    for name in SIGNALS:
        signal = settings.signal(name)
        if signal.certificate or signal.client_key or signal.client_certificate:
            return f"{name}: certificate files"
        for exporter in signal.exporters:
            if exporter not in ("otlp", "console"):
                return f"OTEL_{name.upper()}_EXPORTER={exporter}"
    for propagator in settings.propagators:
        if propagator not in ("tracecontext", "baggage") and not entrypoints.find(
            "opentelemetry_propagator", propagator
        ):
            return f"OTEL_PROPAGATORS={propagator}"
    if settings.id_generator != "random":
        return "OTEL_PYTHON_ID_GENERATOR"
    return None


def build(settings: Settings) -> None:
    """Build and install the SDK, then everything that waited for it (see ``ondemand``)."""
    try:
        built = _install(settings)
        cycle = _state.lifecycle
        if cycle is not None:
            cycle.add_providers(
                {
                    "traces": built.tracer_provider,
                    "metrics": built.meter_provider,
                    "logs": built.logger_provider,
                }
            )
        _verify(settings, built)
        _attach_status(built)
        if _state.armer is not None:
            from otel_run.runtime import logformat

            with logformat.defaults_only(settings.log_correlation):
                _state.armer.on_built()
    except Exception as error:
        if settings.debug:
            raise
        setup_failed(error, settings)


def _install(settings: Settings) -> Built:
    """Build and install the SDK; give the log tap its handler."""
    from otel_run.runtime import exportwatch, sdk

    watcher = exportwatch.Watcher(report.line)
    _state.watcher = watcher
    exportwatch.capture_upstream_logs(watcher, keep_upstream_lines=settings.log_level == "debug")
    # uWSGI forks its workers in C, without Python's fork hooks: an exporter built by a
    # master thread during such a fork would leave the worker holding import locks, so
    # under uWSGI everything is built now, before any fork.
    from otel_run.runtime.servers import uwsgi as uwsgi_support

    built = sdk.build(settings, watcher, may_defer=not uwsgi_support.is_uwsgi_command(_state.command))
    _patch_sdk()
    _state.built = built
    _state.problems.extend(built.problems)
    report.warn_all(built.problems)
    sdk.install(built)
    sdk.guard_globals(built, report.line)
    return built


def _patch_sdk() -> None:
    """The SDK's per-item savings (``patches.after_build``): now for what is imported, later for the rest."""
    from otel_run.runtime import importhook, patches

    patches.after_build(importhook.watcher().watch, report.line)


def log_handler() -> logging.Handler | None:
    """The OpenTelemetry handler of the log tap, once the SDK is built (None: logs are off)."""
    from otel_run.runtime import logs

    built = _state.built
    settings = _state.settings
    if built is None or built.logger_provider is None or settings is None or not settings.logs.exporters:
        return None
    return logs.make_handler(built.logger_provider)


def arm_lifecycle(settings: Settings, imports: ImportWatcher) -> Lifecycle:
    """Exit, signal and fork handling, armed at boot; the providers join it when built."""
    from otel_run.runtime import greenlets, lifecycle, serverhooks
    from otel_run.runtime.servers import uwsgi as uwsgi_support

    def after_fork() -> None:
        greenlets.forget_by_own_ident()
        built, recorder, watcher = _state.built, _state.status, _state.watcher
        if watcher is not None:
            watcher.after_fork()
        if built is not None:
            from otel_run.runtime import sdk

            sdk.refresh_process_resource(built)
        if recorder is not None:
            recorder.after_fork()

    def on_shutdown(outcome: lifecycle.Outcome) -> None:
        watcher = _state.watcher
        if watcher is not None:
            watcher.count_lost_at_exit()
            if outcome.timed_out:
                report.line(
                    "the final flush did not finish within OTEL_RUN_SHUTDOWN_TIMEOUT="
                    f"{settings.shutdown_timeout_ms} ms ({', '.join(outcome.timed_out)}); what was left is "
                    f"dropped{watcher.stuck_hint()}"
                )
            watcher.final_report()
        if _state.status is not None:
            _state.status.close()

    def on_reloader_watcher() -> None:
        if _state.watcher is not None:
            _state.watcher.muted = True

    def before_shutdown() -> None:
        if _state.watcher is not None:
            _state.watcher.begin_exit()
        # Exporters built only now import requests/urllib3: instrumenting those at exit
        # would ask the shut-down MeterProvider for meters, and serve no one.
        if _state.armer is not None:
            _state.armer.pause()
        greenlets.forget_by_own_ident()  # the SDK's threads end next

    cycle = lifecycle.Lifecycle(
        {},
        settings.shutdown_timeout_ms / 1000.0,
        on_shutdown=on_shutdown,
        after_fork=after_fork,
        before_shutdown=before_shutdown,
    )
    cycle.arm()
    if uwsgi_support.is_uwsgi_command(_state.command):

        def in_uwsgi_worker() -> None:
            cycle.in_forked_child()
            if _state.built is not None:
                from otel_run.runtime import sdk

                sdk.restart_metric_readers(_state.built)

        uwsgi_support.arm(os.getpid(), in_uwsgi_worker, report.line)
        imports.watch(
            "uwsgidecorators", lambda module: uwsgi_support.join_decorators_chain(module, in_uwsgi_worker)
        )
    imports.watch("multiprocessing", cycle.hook_multiprocessing)
    serverhooks.arm(imports, cycle, on_reloader_watcher)
    return cycle


def start_status(settings: Settings) -> None:
    """The live status for `otel-run status`: written at boot, then from the export threads."""
    from otel_run.runtime import status

    recorder = _state.status = status.Recorder(settings, None, None, _state, report.line)
    recorder.start()


def _attach_status(built: Built) -> None:
    watcher, recorder = _state.watcher, _state.status
    if watcher is not None and recorder is not None:
        recorder.attach(watcher, built)


def _verify(settings: Settings, built: Built) -> None:
    from otel_run.runtime import sdk

    active = sdk.verify(built)
    _state.active_signals = active
    wanted = [name for name in SIGNALS if settings.signal(name).exporters and name not in built.told_off]
    missing = [name for name in wanted if name not in active]
    if missing:
        problem = f"{', '.join(missing)} will not be exported: no working exporter is installed for them"
        _state.problems.append(problem)
        report.line(problem)
