"""``otel-run doctor``: ``report.collect()`` returns data, ``report.render()`` prints it.

The live probe, the boot check and the inventory live here too. Nothing in this package
exits or changes the environment.
"""
