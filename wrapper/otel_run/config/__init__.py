"""Every read of the environment: ``Settings.from_env(mapping)`` and its parsers.

Rules: nothing here imports the SDK or any other part of otel-run, and nothing keeps
global state. Functions take a mapping and return values; the runtime and doctor both
build on them.
"""
