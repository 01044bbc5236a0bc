"""What runs inside the app's process: the boot, the SDK build, instrument-on-import,
the log tap, the lifecycle (exit, signals, fork), export watching and the startup line.

Rules: code here imports only ``otel_run.config`` and upstream OpenTelemetry, never
``doctor``, ``receiver`` or ``cli``; it never raises into the app; it imports heavy
modules only when they are needed.
"""
