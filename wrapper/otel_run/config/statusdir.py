"""Where each booted process keeps its live status file, for ``otel-run status``.

Shared by the writer (``runtime/status``, inside the app) and the reader (``otel-run
status``), so both agree on the places and the names. Nothing here touches the file
system: the writer uses the first candidate it can make private and write, the reader
looks in all of them (the app and ``kubectl exec`` may not share ``XDG_RUNTIME_DIR``).
"""

from __future__ import annotations

import os

from otel_run.config import envvars

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (config/frozen.py says why)
if TYPE_CHECKING:
    from collections.abc import Mapping

FORMAT = 1
"""Version of the status file's layout; the reader skips files of another version."""
SUFFIX = ".json"


def file_name(pid: int) -> str:
    """The status file of process ``pid``."""
    return f"{pid}{SUFFIX}"


def pid_of(name: str) -> int | None:
    """The process a status file name belongs to, or None for any other file."""
    stem, dot, rest = name.partition(".")
    if dot and "." + rest == SUFFIX and stem.isdigit():
        return int(stem)
    return None


def candidates(environ: Mapping[str, str], uid: int) -> tuple[tuple[str, ...], bool]:
    """The status directories, best first, and whether ``OTEL_RUN_STATUS_DIR`` chose them.

    Default: ``$XDG_RUNTIME_DIR/otel-run`` (a per-user tmpfs on systemd hosts), then
    ``otel-run-<uid>`` in ``$TMPDIR`` and in ``/tmp`` (in a container, usually the only
    writable place: an ``emptyDir`` or tmpfs under a read-only root).
    """
    explicit = (environ.get(envvars.OTEL_RUN_STATUS_DIR) or "").strip()
    if explicit:
        return (os.path.abspath(explicit),), True
    found: list[str] = []
    runtime = (environ.get("XDG_RUNTIME_DIR") or "").strip()
    if os.path.isabs(runtime):
        found.append(os.path.join(runtime, "otel-run"))
    for temp in ((environ.get("TMPDIR") or "").strip(), "/tmp"):
        if os.path.isabs(temp):
            path = os.path.join(os.path.normpath(temp), f"otel-run-{uid}")
            if path not in found:
                found.append(path)
    return tuple(found), False
