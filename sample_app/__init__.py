"""A small Flask service with no OpenTelemetry code, instrumented from outside by otel-run."""
