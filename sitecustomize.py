"""otel-run's boot shim: configure OpenTelemetry before any application code runs.

otel-run puts the directory holding this file first on PYTHONPATH, so every Python
process started under it imports this module at interpreter start-up. No logic lives
here: one guarded import, one call, then the chain to the next ``sitecustomize``.
"""

try:
    from otel_run.runtime import boot as _otel_run_boot
except BaseException as _otel_run_error:  # noqa: BLE001 - the boot never raises into the app
    # An interpreter that cannot import otel_run (a venv without it). The installed
    # package's standalone chain.py, beside this boot directory, says so and still runs
    # this interpreter's own sitecustomize; it is loaded by path, under a private name.
    import os as _os
    import sys as _sys

    try:
        import importlib.util as _util

        _here = _os.path.dirname(_os.path.realpath(__file__))
        _spec = _util.spec_from_file_location(
            "_otel_run_chain", _os.path.join(_os.path.dirname(_here), "runtime", "chain.py")
        )
        _chain = _util.module_from_spec(_spec)
        _spec.loader.exec_module(_chain)
    except BaseException:  # noqa: BLE001 - not where otel-run installed it (a copy of the shim)
        _sys.stderr.write(
            f"otel-run: cannot import otel_run in {_sys.executable} ({_otel_run_error!r}); "
            "telemetry is off. Install otel-run into this interpreter's environment.\n"
        )
    else:
        _chain.boot_unavailable(__file__, _otel_run_error)
else:
    _otel_run_boot.boot_from_sitecustomize(__file__)
