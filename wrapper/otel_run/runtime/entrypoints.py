"""One cached scan of installed entry points, shared by exporters, propagators and
instrumentors: each ``importlib.metadata`` scan reads every installed distribution."""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any


@cache
def group(name: str) -> tuple[EntryPoint, ...]:
    """The entry points of ``name``, first installed distribution first, names unique."""
    found = entry_points(group=name)
    seen: dict[str, EntryPoint] = {}
    for entry in found:
        seen.setdefault(entry.name, entry)
    return tuple(seen.values())


def find(group_name: str, name: str) -> EntryPoint | None:
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
