"""uWSGI: its workers are forked in C, so Python's at-fork hooks do not run in them.

Unless ``py-call-osafterfork`` is set, a uWSGI worker never runs the hooks registered
with ``os.register_at_fork``: the SDK's metric reader thread is not restarted and every
worker would keep the master's ``service.instance.id``. uWSGI calls
``uwsgi.post_fork_hook`` in each worker instead, so we register there (chained with
any hook already set, and with ``uwsgidecorators``' chain if the app uses it).
Also: without threads (``enable-threads`` off) the exporters' background threads
never run at all, which deserves a warning.

The ``uwsgi`` module only exists once uWSGI has initialised Python, after our boot;
so the boot only notices that the command is uWSGI, and the rest happens at the first
import after the module appears (the app's import, in the master or, with
``lazy-apps``, in each worker).
"""

from __future__ import annotations

import contextlib
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

THREADS_WARNING = (
    "uWSGI runs without threads, so telemetry is never exported in the background; "
    "add --enable-threads (enable-threads = true in uwsgi.ini)"
)


def _uwsgi() -> ModuleType | None:
    module = sys.modules.get("uwsgi")
    if module is None:
        try:
            import uwsgi as module  # type: ignore[import-not-found, import-untyped, no-redef]  # only inside uWSGI
        except ImportError:
            return None
    return module


def threads_disabled() -> bool:
    """Whether this process is a uWSGI interpreter with Python threads disabled."""
    uwsgi = _uwsgi()
    return uwsgi is not None and not bool(getattr(uwsgi, "has_threads", True))


def forks_skip_python_hooks() -> bool:
    """Whether uWSGI forks workers without running ``os.register_at_fork`` hooks."""
    uwsgi = _uwsgi()
    if uwsgi is None:
        return False
    options: Any = getattr(uwsgi, "opt", {}) or {}
    return not (options.get("py-call-osafterfork") or options.get(b"py-call-osafterfork"))


def on_worker_fork(callback: Callable[[], None]) -> None:
    """Run ``callback`` in every worker uWSGI forks, after any post-fork hook already set."""
    uwsgi = _uwsgi()
    if uwsgi is None:
        return
    previous = getattr(uwsgi, "post_fork_hook", None)

    def post_fork_hook() -> None:
        callback()
        if previous is not None:
            previous()

    uwsgi.post_fork_hook = post_fork_hook  # type: ignore[attr-defined]


def is_uwsgi_command(argv: Sequence[str]) -> bool:
    """Whether the command line is uWSGI's (the binary embeds the interpreter)."""
    return bool(argv) and os.path.basename(argv[0]).startswith("uwsgi")


class _WhenReady:
    """Waits, at each import, for the ``uwsgi`` module; then arms and removes itself."""

    def __init__(self, ready: Callable[[], None]) -> None:
        self._ready = ready

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if "uwsgi" in sys.modules:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self)
            self._ready()
        return None


def arm(boot_pid: int, in_worker: Callable[[], None], warn: Callable[[str], None]) -> None:
    """Once uWSGI's module exists: warn if threads are off, and run ``in_worker`` in each
    worker (now, if this already is a worker forked since the boot)."""

    def ready() -> None:
        if threads_disabled():
            warn(THREADS_WARNING)
        if not forks_skip_python_hooks():
            return
        if os.getpid() != boot_pid:
            in_worker()
        on_worker_fork(in_worker)

    sys.meta_path.insert(0, _WhenReady(ready))


def join_decorators_chain(module: ModuleType, callback: Callable[[], None]) -> None:
    """``uwsgidecorators`` replaces ``uwsgi.post_fork_hook`` with its own chain: join it."""
    chain = getattr(module, "postfork_chain", None)
    if isinstance(chain, list) and callback not in chain:
        chain.append(callback)
