"""Where otel-run keeps its cache (the entry-point index, ``runtime/epindex``).

Pure: the caller passes the environment. ``OTEL_RUN_CACHE_DIR`` wins; else the XDG base
directory specification's ``$XDG_CACHE_HOME/otel-run`` (when absolute), else
``$HOME/.cache/otel-run``; None when there is no home to put it in.
"""

from __future__ import annotations

import os

from otel_run.config import envvars

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    from collections.abc import Mapping


def directory(environ: Mapping[str, str]) -> str | None:
    """The cache directory for this environment (it may not exist yet), or None."""
    explicit = (environ.get(envvars.OTEL_RUN_CACHE_DIR) or "").strip()
    if explicit:
        return os.path.abspath(explicit)
    xdg = (environ.get("XDG_CACHE_HOME") or "").strip()
    if os.path.isabs(xdg):
        return os.path.join(xdg, "otel-run")
    home = (environ.get("HOME") or "").strip()
    if os.path.isabs(home):
        return os.path.join(home, ".cache", "otel-run")
    return None
