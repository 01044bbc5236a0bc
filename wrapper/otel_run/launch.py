"""Start the application with the boot directory first on ``PYTHONPATH``.

``build_env`` is pure; ``exec_app`` replaces this process with the application, so the
PID, signals and exit status are the application's own. Nothing here reads ``OTEL_*``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from otel_run.config import envvars

BOOT_DIR_NAME = "_boot"
BOOTED_MARKER = "OTEL_RUN_BOOT_DIR"
"""Set in the application's environment to the boot directory in use, so that tools
(``otel-run doctor``) and nested ``otel-run`` calls can tell the app runs under otel-run."""


def boot_dir() -> Path:
    """The installed directory whose only file is otel-run's ``sitecustomize.py``."""
    return Path(__file__).resolve().parent / BOOT_DIR_NAME


def build_env(environ: Mapping[str, str], boot: Path) -> dict[str, str]:
    """The application's environment: ``boot`` first on ``PYTHONPATH``, the rest in order.

    An existing entry equal to ``boot`` is dropped rather than repeated, so nesting
    ``otel-run otel-run python app.py`` (or an image that already sets it) is harmless.
    Empty entries are dropped too: on ``PYTHONPATH`` they mean the current directory,
    which the application did not ask for. ``OTEL_RUN_PARENT_PID`` is removed: the
    command is the app, and announces itself even when an app started it.
    """
    env = dict(environ)
    boot_text = str(boot)
    entries = [boot_text]
    for entry in environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and entry not in entries and _resolved(entry) != boot_text:
            entries.append(entry)
    env["PYTHONPATH"] = os.pathsep.join(entries)
    env[BOOTED_MARKER] = boot_text
    # What otel-run launches is the app, not a child of one: it prints the startup line.
    env.pop(envvars.OTEL_RUN_PARENT_PID, None)
    return env


def _resolved(entry: str) -> str:
    try:
        return str(Path(entry).resolve())
    except (OSError, RuntimeError):
        return entry


def exec_app(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Replace this process with ``argv`` found on ``PATH``; raises OSError if it cannot."""
    os.execvpe(argv[0], list(argv), dict(env))
