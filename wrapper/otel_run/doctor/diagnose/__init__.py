"""Turn what ``otel-run doctor`` found into checks: what is wrong, and the exact fix.

Pure functions of ``Settings``, probe ``Outcome``s, the boot check's facts and the
library inventory; no I/O, so every message is unit-tested. A ``fail`` means some
telemetry would not arrive; a ``warn`` means it arrives, but something deserves a look.
Messages name variables and show URLs redacted; they never hold a header value.
"""

from __future__ import annotations

from otel_run.doctor.diagnose.boot import boot_checks
from otel_run.doctor.diagnose.check import FAIL, INFO, OK, STATUSES, WARN, Check
from otel_run.doctor.diagnose.config import (
    exporter_checks,
    proxy_check,
    sampler_check,
    service_check,
    settings_checks,
    variable_checks,
    variable_fix,
)
from otel_run.doctor.diagnose.instrumentations import instrumentation_checks
from otel_run.doctor.diagnose.live import explain, live_checks
from otel_run.doctor.diagnose.running import running_checks

__all__ = [
    "FAIL",
    "INFO",
    "OK",
    "STATUSES",
    "WARN",
    "Check",
    "boot_checks",
    "explain",
    "exporter_checks",
    "instrumentation_checks",
    "live_checks",
    "proxy_check",
    "running_checks",
    "sampler_check",
    "service_check",
    "settings_checks",
    "variable_checks",
    "variable_fix",
]
