"""otel-run's own environment variables, each named once with its default.

Everything else otel-run reads is a standard ``OTEL_*`` variable of the OpenTelemetry
specification and means what the specification says (see README's environment table).
Only :mod:`otel_run.config.settings` reads any of them.
"""

from __future__ import annotations

OTEL_RUN_QUIET = "OTEL_RUN_QUIET"
"""``true`` silences the startup line. Warnings are still printed. Default: ``false``."""

OTEL_RUN_STRICT = "OTEL_RUN_STRICT"
"""``true`` makes a telemetry setup failure fatal: the process exits 70 with the reason
instead of running untraced. For CI and staging. Default: ``false`` (fail open)."""

OTEL_RUN_SHUTDOWN_TIMEOUT = "OTEL_RUN_SHUTDOWN_TIMEOUT"
"""Budget, in milliseconds, for flushing spans, metrics and logs at exit or on SIGTERM /
SIGINT. The process never waits longer, even when the collector is down. Default: 5000."""

OTEL_RUN_DEBUG = "OTEL_RUN_DEBUG"
"""``true`` lets exceptions from the boot propagate with their full traceback instead of
being reduced to one line. For developing otel-run itself. Default: ``false``."""

OTEL_RUN_PARENT_PID = "OTEL_RUN_PARENT_PID"
"""Set by otel-run, not by people: in the environment of a booted process's children, the
PID of that process. A Python process that finds it is a child of a booted one and prints
nothing unless something is wrong (only the process otel-run launched prints the startup
line). The launcher removes it, so that ``otel-run`` started from inside an app announces
itself again."""

OTEL_RUN_PARENT_SERVICE = "OTEL_RUN_PARENT_SERVICE"
"""Set by otel-run, not by people: the service name a booted process derived, for its
multiprocessing workers (``uvicorn --workers N``, ``--reload``), which run the same app
but whose own command line (``python -c "from multiprocessing.spawn import ..."``) names
nothing. Other children derive their own name. The launcher removes it."""

OTEL_RUN_STATUS_DIR = "OTEL_RUN_STATUS_DIR"
"""Directory where each booted process keeps its live status for ``otel-run status``.
Default: ``$XDG_RUNTIME_DIR/otel-run``, else ``<temp dir>/otel-run-<uid>`` (created 0700)."""

OTEL_RUN_CACHE_DIR = "OTEL_RUN_CACHE_DIR"
"""Directory for otel-run's cache of the installed entry points (instrumentors, exporters,
propagators), so that a boot does not scan every installed distribution. Default:
``$XDG_CACHE_HOME/otel-run``, else ``~/.cache/otel-run``. A location that cannot be written
means each boot scans, without a word."""

DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000

ALL = (
    OTEL_RUN_QUIET,
    OTEL_RUN_STRICT,
    OTEL_RUN_SHUTDOWN_TIMEOUT,
    OTEL_RUN_DEBUG,
    OTEL_RUN_PARENT_PID,
    OTEL_RUN_PARENT_SERVICE,
    OTEL_RUN_STATUS_DIR,
    OTEL_RUN_CACHE_DIR,
)
