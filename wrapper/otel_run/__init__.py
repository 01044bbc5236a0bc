"""otel-run: zero-code OpenTelemetry for Python services."""

__version__ = "0.1.0"
