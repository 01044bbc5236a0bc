"""The status file's directory and writes: private, atomic, never following a symlink."""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from otel_run.config import statusdir


def make_private_dir(path: str, strict: bool) -> str | None:
    """Create ``path`` (0700) if needed; why it cannot hold our status, or None.

    With ``strict`` (the default locations, in shared temp directories) it must be a real
    directory of ours that nobody else can write: otherwise another user could plant
    files there or read our names.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as error:
        return (error.strerror or str(error)).lower()
    try:
        info = os.lstat(path)
    except OSError as error:
        return (error.strerror or str(error)).lower()
    if not stat.S_ISDIR(info.st_mode):
        return "not a directory"
    if strict and info.st_uid != os.getuid():
        return f"owned by uid {info.st_uid}, not {os.getuid()}"
    if strict and info.st_mode & 0o022:
        return "writable by other users"
    if not os.access(path, os.W_OK | os.X_OK):
        return "not writable"
    return None


def write_atomically(directory: str, pid: int, data: bytes) -> None:
    """Write ``pid``'s status file as a temp file (0600, no symlinks followed) and a rename."""
    temporary = os.path.join(directory, f".{pid}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(temporary, flags, 0o600)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)
    os.replace(temporary, os.path.join(directory, statusdir.file_name(pid)))


def dumps(snapshot: Any) -> bytes:
    """The status as compact UTF-8 JSON."""
    return json.dumps(snapshot, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace")
