"""The installed entry points of a group, for exporters, propagators and instrumentors.

Answered from the entry-point index (``runtime/epindex``) when it is valid, without
importing ``importlib.metadata``; otherwise (an entry changed since the index was written)
by scanning only what changed, and the index is brought up to date. Where the index cannot
work (another finder of distributions on ``sys.meta_path``, a Python whose
``importlib.metadata`` differs) this is the plain ``entry_points(group=...)`` scan.
Either way the answer is ``importlib.metadata``'s: first installed distribution first,
names unique. Each entry has ``name``, ``value``, ``group`` and ``load()``.

The cache directory comes from ``config/cachedir`` with ``os.environ``, not from
``Settings``: the index is also built outside a boot (``otel-run index`` in an image build,
doctor's child), and the variable only says where a cache lives, never what is exported.
"""

from __future__ import annotations

import _thread
import os
import sys

from otel_run.config import cachedir
from otel_run.runtime import epindex

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (the boot path avoids it)
if TYPE_CHECKING:
    from typing import Any

INSTRUMENTORS = "opentelemetry_instrumentor"

_lock = _thread.allocate_lock()
_dists: list[epindex.Dist] | None = None
_groups: dict[str, tuple[Any, ...]] = {}


def _new_lock() -> None:
    # A fork while another thread held the lock would leave the child's copy held forever.
    global _lock
    _lock = _thread.allocate_lock()


os.register_at_fork(after_in_child=_new_lock)


def group(name: str) -> tuple[Any, ...]:
    """The entry points of ``name``, first installed distribution first, names unique."""
    found = _groups.get(name)
    if found is None:
        with _lock:
            found = _groups.get(name)
            if found is None:
                found = _groups[name] = _read(name)
    return found


def _read(name: str) -> tuple[Any, ...]:
    global _dists
    if _dists is None:
        _dists = _indexed()
    if _dists is not None:
        return epindex.entries(_dists, name)
    return _scanned(name)


def _indexed() -> list[epindex.Dist] | None:
    """Every distribution on ``sys.path`` from the index (rescanning what changed), or None."""
    try:
        if not epindex.supported():
            return None
        index = epindex.Index(cachedir.directory(os.environ))
        index.load()
        dists = index.dists(list(sys.path))
        if index.changed:
            index.save()
    except Exception:  # noqa: BLE001 - the index only makes the answer faster: scan instead
        return None
    return dists


def _scanned(name: str) -> tuple[Any, ...]:
    from importlib.metadata import entry_points  # here: only without a usable index

    seen: dict[str, Any] = {}
    for entry in entry_points(group=name):
        seen.setdefault(entry.name, entry)
    return tuple(seen.values())


def reset() -> None:
    """Forget what was read (for tests, and after ``sys.path`` changed)."""
    global _dists
    with _lock:
        _dists = None
        _groups.clear()


def find(group_name: str, name: str) -> Any | None:
    """The entry point ``name`` of ``group_name``, or None."""
    for entry in group(group_name):
        if entry.name == name:
            return entry
    return None


def load(group_name: str, name: str) -> Any:
    """Load entry point ``name``; raises LookupError when it is not installed."""
    entry = find(group_name, name)
    if entry is None:
        raise LookupError(f"no {group_name} entry point named {name!r}")
    return entry.load()
