"""gevent and eventlet apps: patch first where the app will, and let early threads end quietly.

The SDK's batch and metric threads start at boot, before the app's first line, which is
where a gevent or eventlet app calls ``monkey.patch_all()`` (and ``gunicorn -k gevent``
patches each worker after its fork, when the SDK has restarted them). Patching replaces
``threading.get_ident`` with the greenlet's id, so when such a thread ends, its
``Thread._delete`` looks itself up in ``threading._active`` under the wrong key: one
``KeyError`` traceback ("Exception ignored in thread started by ...") per thread at exit.
``forget_by_own_ident`` gives those threads a ``_delete`` that removes them by their own
ident, which is what ``Thread._delete`` means to do.

Worse, locks and imports made after patching are greenlet-aware objects used from those
real threads: under ``gunicorn -k gevent`` a worker's exporter could not be built
("cannot release un-acquired lock") and the exit flush hung for the whole budget. Where
the command says for certain that the app patches first (``gunicorn -k gevent``, ``celery
-P eventlet``, a script whose first statement is ``monkey.patch_all()`` or
``eventlet.monkey_patch()``), ``patch_first`` makes that same call before the SDK is built,
as upstream's ``OTEL_PYTHON_AUTO_INSTRUMENTATION_EXPERIMENTAL_GEVENT_PATCH=patch_all``
does on request: the SDK's threads and locks are then greenlet-aware from the start, and
the app's own call finds everything patched already.
"""

from __future__ import annotations

import os
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

_GEVENT_WORKERS = frozenset(
    {"gevent", "gevent_wsgi", "gevent_pywsgi", "gunicorn.workers.ggevent.GeventWorker"}
)
_EVENTLET_WORKERS = frozenset({"eventlet", "gunicorn.workers.geventlet.EventletWorker"})
# The idioms, as the first statement of the script (after comments, a docstring and
# __future__ imports), without arguments: an app that passes arguments chose what to patch.
_FIRST_STATEMENT = (
    r"(?:from gevent import monkey\s*[;\n]\s*monkey\.patch_all\(\)"
    r"|import gevent\.monkey\s*[;\n]\s*gevent\.monkey\.patch_all\(\)"
    r"|from gevent\.monkey import patch_all\s*[;\n]\s*patch_all\(\)"
    r"|(?P<eventlet>import eventlet\s*[;\n]\s*eventlet\.monkey_patch\(\)))\s*(?:#.*)?$"
)
_PREAMBLE = r'\A(?:\s*(?:#[^\n]*|"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|from __future__ import [^\n]+)?\n)*\s*'
"""Compiled only for a script that mentions a monkey-patch: ``re`` is not imported otherwise."""

_GET_IDENT_AT_BOOT = threading.get_ident
"""``threading.get_ident`` when otel-run booted: the real one, before any monkey-patching."""
_THREAD_AT_BOOT = threading.Thread
_ACTIVE_AT_BOOT: dict[int, Any] = threading._active  # type: ignore[attr-defined]
"""The running threads by ident; eventlet replaces the dict when it patches ``threading``."""


def threading_was_patched() -> bool:
    """Whether ``threading`` was monkey-patched (gevent, eventlet) since boot."""
    return threading.get_ident is not _GET_IDENT_AT_BOOT


def forget_by_own_ident() -> None:
    """If ``threading`` was patched since boot: a thread that ends removes itself from
    ``threading._active`` by its own ident (in the table it was entered in), without
    raising. Never raises."""
    if not threading_was_patched():
        return
    for cls in {_THREAD_AT_BOOT, threading.Thread}:  # the patch may have replaced the class
        original = cls._delete  # type: ignore[attr-defined]
        if not getattr(original, "_otel_run", False):
            cls._delete = _tolerant(original)  # type: ignore[attr-defined]


def _tolerant(original: Any) -> Any:
    def _delete(self: threading.Thread) -> None:
        try:
            original(self)
        except KeyError:  # entered under its real ident, looked up under the greenlet's
            for table in (_ACTIVE_AT_BOOT, getattr(threading, "_active", None)):
                ident = self.ident
                if isinstance(table, dict) and ident is not None and table.get(ident) is self:
                    table.pop(ident, None)

    _delete._otel_run = True  # type: ignore[attr-defined]
    return _delete


class Patch:
    """A monkey-patch call the app makes first: the library, and where (for warnings)."""

    __slots__ = ("filename", "library", "lineno")

    def __init__(self, library: str, filename: str = "<otel-run>", lineno: int = 1) -> None:
        self.library = library
        self.filename = filename
        self.lineno = lineno


def planned_patch(argv: Sequence[str], head: Callable[[str], str | None]) -> Patch | None:
    """The monkey-patch the command makes before anything else (gevent or eventlet), or None.

    ``argv`` is the interpreter's full command line; ``head(path)`` returns the start of a
    script (or None). Pure: the caller does the reading.
    """
    args = list(argv[1:])
    while args and args[0].startswith("-") and args[0] not in ("-m", "-c"):
        args.pop(0)
    if not args or args[0] == "-c":
        return None
    if args[0] == "-m":
        program, rest = (args[1] if len(args) > 1 else ""), args[2:]
    else:
        program, rest = os.path.basename(args[0]), args[1:]
    if program in ("gunicorn", "celery"):
        worker = (
            _option(rest, "-k", "--worker-class") if program == "gunicorn" else _option(rest, "-P", "--pool")
        )
        library = _library_of(worker)
        return Patch(library) if library else None
    if args[0] == "-m" or not args[0].endswith(".py"):
        return None
    text = head(args[0])
    if not text or "monkey" not in text:
        return None
    import re

    preamble = re.compile(_PREAMBLE).match(text)
    match = re.compile(_FIRST_STATEMENT, re.MULTILINE).match(text, preamble.end() if preamble else 0)
    if match is None:
        return None
    library = "eventlet" if match.group("eventlet") else "gevent"
    # Python names the main script by its absolute path (3.9+), and so do its warnings.
    return Patch(library, os.path.abspath(args[0]), text.count("\n", 0, match.start()) + 1)


def _option(args: Sequence[str], short: str, long: str) -> str | None:
    for index, arg in enumerate(args):
        if arg in (short, long) and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(long + "="):
            return arg.split("=", 1)[1]
        if arg.startswith(short) and len(arg) > len(short) and not arg.startswith("--"):
            return arg[len(short) :]
    return None


def _library_of(worker: str | None) -> str | None:
    if worker in _GEVENT_WORKERS:
        return "gevent"
    if worker in _EVENTLET_WORKERS:
        return "eventlet"
    return None


def read_head(path: str) -> str | None:
    """The first 4 KB of ``path`` as text, or None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(4096)
    except OSError:
        return None


_CALLS = {
    "gevent": "from gevent import monkey; monkey.patch_all()",
    "eventlet": "import eventlet; eventlet.monkey_patch()",
}


def patch_first(patch: Patch) -> None:
    """Make the app's monkey-patch call now; nothing if the library is not installed.

    The call is compiled as if at the app's own line, so that a warning it gives
    (eventlet's deprecation warning) names the app's file and line, as without otel-run.
    """
    code = "\n" * (patch.lineno - 1) + _CALLS[patch.library]
    try:
        exec(compile(code, patch.filename, "exec"), {"__name__": "__otel_run_patch__"})
    except ImportError:
        pass
