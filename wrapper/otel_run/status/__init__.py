"""``otel-run status``: what the running processes are exporting, right now.

``collect.collect(environ)`` reads the status files that booted processes keep
(``runtime/status``), drops those of dead processes and returns a ``Report`` (data
only); ``render.render()`` prints it as text or JSON. Nothing here imports the SDK or
the runtime: the command must be light, and must work where the SDK is broken.
"""
