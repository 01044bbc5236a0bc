"""otel-run's boot shim: configure OpenTelemetry before any application code runs.

otel-run puts the directory holding this file first on PYTHONPATH, so every Python
process started under it imports this module at interpreter start-up. No logic lives
here: one guarded import, one call, then the chain to the next ``sitecustomize``.
"""

try:
    from otel_run.runtime import boot as _otel_run_boot
except BaseException as _otel_run_error:  # noqa: BLE001 - the boot never raises into the app
    import sys as _sys

    _sys.stderr.write(
        f"otel-run: cannot import otel_run in {_sys.executable} ({_otel_run_error!r}); "
        "telemetry is off. Install otel-run into this interpreter's environment.\n"
    )
else:
    _otel_run_boot.boot_from_sitecustomize(__file__)
