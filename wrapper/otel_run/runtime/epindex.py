"""A cached index of the installed entry points, so that a boot reads one small file
instead of importing ``importlib.metadata`` (~15 ms) and scanning every distribution.

What ``importlib.metadata.entry_points()`` finds is a function of the ``sys.path``
entries, in order: each entry's distributions (its ``*.dist-info`` / ``*.egg-info``), the
first of each normalized name winning. So the index keeps, per entry, the modification
time of the directory (installing or removing a distribution changes it) and that
entry's distributions with their entry points; the boot rescans only an entry whose
time changed, and an entry without distributions (the app's own folder) with one
``listdir``. One file per interpreter (``sys.version`` and the resolved ``sys.executable``), written
atomically (a temporary file, then ``os.replace``), in ``config/cachedir``'s directory.

Times are compared in whole seconds, because image layers keep no more (a cache built
in ``docker build`` must still match after a push and a pull), and an entry changed in
the last ``_RACY_S`` seconds is not stored, so a change in the same second as the scan
cannot hide (git's "racy" rule). A file that is missing, corrupt, of another format,
not owned by this user, root or the venv's owner, or writable by others is a miss;
a directory that cannot be written means every boot scans. None of it prints a word:
the index only ever changes how fast the answer comes, never the answer.
"""

from __future__ import annotations

import marshal
import os
import sys
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (the boot path avoids it)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

FORMAT = 1
_RACY_S = 2
MAX_ENTRIES = 64
"""Entries kept in the file: this process's ``sys.path`` first, then the most recently
scanned others (processes of one interpreter with other ``PYTHONPATH``s), so it cannot grow."""
_ATTRIBUTE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")
_SUFFIXES = (".dist-info", ".egg-info")

# One distribution: (normalized name, name, version, ((group, name, value), ...)).
Dist = tuple[str, str, str, tuple[tuple[str, str, str], ...]]
# One sys.path entry: (modification time in seconds, or -1 when it does not exist; its dists).
Scanned = tuple[int, tuple[Dist, ...]]


class Entry:
    """One entry point, as ``importlib.metadata.EntryPoint`` serves the boot: ``name``,
    ``value`` (``module:attr``), ``group``, ``load()``; and the distribution it came from."""

    __slots__ = ("dist_name", "dist_version", "group", "name", "value")

    def __init__(
        self, name: str, value: str, group: str, dist_name: str = "", dist_version: str = ""
    ) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.dist_name = dist_name
        self.dist_version = dist_version

    def __repr__(self) -> str:
        return f"Entry(name={self.name!r}, value={self.value!r}, group={self.group!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Entry):
            return NotImplemented
        return (self.name, self.value, self.group) == (other.name, other.value, other.group)

    def __hash__(self) -> int:
        return hash((self.name, self.value, self.group))

    @property
    def module(self) -> str:
        """The module part of ``value``."""
        return self.value.partition(":")[0].strip()

    def load(self) -> Any:
        """Import the module and return the attribute ``value`` names, as ``EntryPoint.load``.

        A plain ``module:attr`` is imported directly; any other value (extras, spaces) goes
        to ``importlib.metadata.EntryPoint`` itself, so the outcome is always upstream's."""
        module, colon, attribute = self.value.partition(":")
        if not (module and all(char in _ATTRIBUTE_CHARS for char in module)) or (
            colon and not (attribute and all(char in _ATTRIBUTE_CHARS for char in attribute))
        ):
            from importlib.metadata import EntryPoint

            return EntryPoint(self.name, self.value, self.group).load()
        import importlib

        found: Any = importlib.import_module(module)
        for part in attribute.split("."):
            if part:
                found = getattr(found, part)
        return found


def interpreter() -> str:
    """The interpreter the index is for: a venv's ``python`` and ``python3`` resolve alike
    (what a directory holds does not depend on the venv; each entry is keyed on its own)."""
    return os.path.realpath(sys.executable) if sys.executable else ""


def file_name() -> str:
    """The index file of this interpreter (its version and executable)."""
    key = f"{sys.version}\0{interpreter()}\0{sys.implementation.cache_tag}"
    digest = 0
    for char in key:  # a stable hash without hashlib (which imports more than this module)
        digest = (digest * 1_000_003 + ord(char)) & 0xFFFFFFFFFFFF
    return f"entrypoints-{sys.implementation.cache_tag}-{digest:012x}.marshal"


def _mtime(path: str) -> int:
    try:
        return os.stat(path or ".").st_mtime_ns // 1_000_000_000
    except (OSError, ValueError):
        return -1


def supported() -> bool:
    """Whether the stdlib path finder is the only finder of distributions (else: no index)."""
    # importlib.machinery.PathFinder, without importing importlib (and warnings) for it.
    import _frozen_importlib_external

    path_finder = _frozen_importlib_external.PathFinder
    for finder in sys.meta_path:
        if getattr(finder, "find_distributions", None) is not None and finder is not path_finder:
            return False
    return all(isinstance(entry, str) for entry in sys.path)


def _needs_metadata(path: str) -> bool | None:
    """False when ``path`` holds no distribution (by the rules of importlib.metadata's
    ``Lookup``), True when it may, None when it is not a readable directory."""
    try:
        children = os.listdir(path or ".")
    except OSError:
        return None if os.path.exists(path or ".") else False
    egg = os.path.basename(path).lower().endswith(".egg")
    for child in children:
        low = child.lower()
        if low.endswith(_SUFFIXES) or (egg and low == "egg-info"):
            return True
    return False


class Unsupported(Exception):
    """This Python's importlib.metadata does not work as the index assumes: scan instead."""


def scan(path: str) -> tuple[Dist, ...]:
    """The distributions importlib.metadata finds in the one ``sys.path`` entry ``path``."""
    needs = _needs_metadata(path)
    if needs is False:
        return ()
    from importlib.metadata import distributions  # here: only an entry with distributions needs it

    found: list[Dist] = []
    for dist in distributions(path=[path]):
        normalized = getattr(dist, "_normalized_name", None)  # how entry_points() tells dists apart
        if not isinstance(normalized, str):
            raise Unsupported(f"{dist!r} has no normalized name")
        stem = os.path.basename(str(getattr(dist, "_path", "")))
        name, version = _from_stem(stem)
        if not name:
            name, version = str(dist.metadata["Name"] or ""), str(dist.version or "")
        entries = tuple((entry.group, entry.name, entry.value) for entry in dist.entry_points)
        found.append((normalized, name, version, entries))
    return tuple(found)


def _from_stem(stem: str) -> tuple[str, str]:
    """``foo_bar-1.2.dist-info`` → ``("foo_bar", "1.2")``; empty when the name says nothing."""
    base, dot, suffix = stem.rpartition(".")
    if not dot or "." + suffix.lower() not in _SUFFIXES:
        return "", ""
    name, _, rest = base.partition("-")
    return name, rest.partition("-")[0]


class Index:
    """The scanned ``sys.path`` entries of one interpreter, loaded from and saved to a file."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory
        self.entries: dict[str, Scanned] = {}
        self.changed = False
        self._used: list[str] = []

    @property
    def path(self) -> str | None:
        """The index file, or None when there is no cache directory."""
        return None if self.directory is None else os.path.join(self.directory, file_name())

    def load(self) -> None:
        """Read the file; anything wrong with it leaves the index empty (a miss)."""
        self.entries = {}
        path = self.path
        if path is None:
            return
        try:
            with open(path, "rb") as handle:
                if not _trusted(os.fstat(handle.fileno())):
                    return
                data = marshal.loads(handle.read())
            if (
                data[0] == FORMAT
                and data[1] == sys.version
                and data[2] == interpreter()
                and isinstance(data[3], dict)
            ):
                self.entries = {str(key): _checked(value) for key, value in data[3].items()}
        except Exception:  # noqa: BLE001 - a corrupt or foreign file is a miss, never an error
            self.entries = {}

    def dists(self, paths: Iterable[str]) -> list[Dist]:
        """Every distribution on ``paths``, in order (not yet unique), rescanning stale entries."""
        now = time.time()
        found: list[Dist] = []
        for entry in paths:
            key = os.path.abspath(entry or ".")
            self._used.append(key)
            mtime = _mtime(key)
            cached = self.entries.get(key)
            if cached is not None and cached[0] == mtime:
                found.extend(cached[1])
                continue
            dists = scan(entry)
            found.extend(dists)
            if mtime == _mtime(key) and now - mtime >= _RACY_S:
                self.entries[key] = (mtime, dists)
                self.changed = True
            elif key in self.entries:
                del self.entries[key]
                self.changed = True
        return found

    def save(self) -> bool:
        """Write the file atomically; False (and nothing else) when that is not possible."""
        path = self.path
        if path is None or self.directory is None:
            return False
        temporary = f"{path}.{os.getpid()}.{time.monotonic_ns()}.tmp"
        used = [key for key in dict.fromkeys(self._used) if key in self.entries]
        others = [key for key in self.entries if key not in used]
        kept = used + others[max(0, len(others) - (MAX_ENTRIES - len(used))) :]
        try:
            os.makedirs(self.directory, exist_ok=True)
            entries = {key: self.entries[key] for key in kept}
            data = marshal.dumps((FORMAT, sys.version, interpreter(), entries))
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(descriptor, data)
            finally:
                os.close(descriptor)
            os.replace(temporary, path)
        except (OSError, ValueError):
            try:
                os.unlink(temporary)
            except OSError:
                pass
            return False
        self.changed = False
        return True


def rebuild(directory: str | None, paths: Sequence[str]) -> tuple[Index, bool]:
    """Scan every entry of ``paths`` afresh and write the index (``otel-run index``): the
    index and whether it was written. Waits out the racy window of an entry changed in
    the last ``_RACY_S`` seconds (a ``pip install`` just before), so that all are stored."""
    newest = max((_mtime(os.path.abspath(entry or ".")) for entry in paths), default=-1)
    wait = newest + _RACY_S - time.time()
    if 0 < wait <= _RACY_S:
        time.sleep(wait)
    index = Index(directory)
    index.dists(paths)
    return index, index.save()


def _checked(value: object) -> Scanned:
    """``value`` if it has the shape of a scanned entry; raises otherwise (the file is corrupt)."""
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], int)):
        raise ValueError("not an index entry")
    mtime: int = value[0]
    dists: object = value[1]
    if not isinstance(dists, tuple):
        raise ValueError("not an index entry")
    for dist in dists:
        if not (
            isinstance(dist, tuple) and len(dist) == 4 and all(isinstance(part, str) for part in dist[:3])
        ):
            raise ValueError("not a distribution")
        if not (isinstance(dist[3], tuple) and all(_is_point(point) for point in dist[3])):
            raise ValueError("not an entry point")
    return mtime, dists


def _is_point(point: object) -> bool:
    return isinstance(point, tuple) and len(point) == 3 and all(isinstance(part, str) for part in point)


def _trusted(stat: os.stat_result) -> bool:
    """Whether a file may steer what the boot imports: owned by this user, root or the
    venv's owner (who can change the installed packages anyway), and not writable by others."""
    if stat.st_mode & 0o002:
        return False
    owners = {os.getuid(), 0}
    try:
        owners.add(os.stat(sys.prefix).st_uid)
    except OSError:
        pass
    return stat.st_uid in owners


def entries(dists: Sequence[Dist], group: str) -> tuple[Entry, ...]:
    """The entry points of ``group``: the first distribution of each normalized name, in
    ``sys.path`` order (as ``importlib.metadata.entry_points``), the first of each name."""
    seen_dists: set[str] = set()
    found: dict[str, Entry] = {}
    for normalized, dist_name, version, points in dists:
        if normalized in seen_dists:
            continue
        seen_dists.add(normalized)
        for entry_group, name, value in points:
            if entry_group == group and name not in found:
                found[name] = Entry(name, value, entry_group, dist_name, version)
    return tuple(found.values())
