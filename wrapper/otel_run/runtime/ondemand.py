"""The SDK built when telemetry is first needed, not at interpreter start-up.

Most Python processes in an image never emit anything: health checks, ``manage.py``
commands, ``python -c``. Building the SDK (its import alone is most of otel-run's
start-up) waits for the first of:

- the app, or an instrumentation, calling the API for a provider, a tracer, a meter
  or a logger (``opentelemetry.trace.get_tracer`` and the rest: wrapped as soon as the
  API module is imported, so ``from opentelemetry.trace import get_tracer`` gets the
  wrapped one too);
- an instrumentation activating, because the app imported its library (``instrument``
  asks for the build first);
- the app's first log record (the record factory and the log tap).

Settings are still read and validated at boot, warnings printed and the startup line
announced; boot only defers what it knows builds cleanly (see ``boot.build_now``).

Once built, the machinery steps aside: the API modules hold upstream's ``get_*`` functions
again (a reference taken before the build keeps working: it calls upstream's), API modules
imported later are not wrapped, and the log handler hands records straight to the built
one. What stays is the record factory, when the logging instrumentation has wrapped it
(a pass-through, ~0.3 µs a record).

The build takes a lock. A second thread asking meanwhile waits for it, at most
``_WAIT_S``: an import lock the builder needs could be held by the waiter, and the
app must never hang on telemetry; it then goes on with the API's proxies, which the
SDK's providers replace once the build ends. The builder's own nested calls (the SDK
asks for meters while it is built) go straight through.

The cyclic garbage collector is paused while the build runs (``_pause_gc``): the
build is mostly imports, ~15,000 objects (modules, classes, functions) that live as
long as the process, and the collections they set off only walk them (in the sample
Flask app one was a full collection of every object in the process, 13 ms, before
the first response). When it ends they go straight to the oldest generation, where
surviving two collections would have put them (``gc.freeze()`` then
``gc.unfreeze()``: a list splice, nothing scanned; skipped when the app froze
objects itself, which ``unfreeze`` would undo). The app's collections then resume,
with the same thresholds; an app that turned the collector off keeps it off.
"""

from __future__ import annotations

import _thread
import gc

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

    from otel_run.runtime.importhook import ImportWatcher

_WAIT_S = 10.0
_ACCESSORS = {
    "opentelemetry.trace": ("get_tracer_provider", "get_tracer", "set_tracer_provider"),
    "opentelemetry.metrics": ("get_meter_provider", "get_meter", "set_meter_provider"),
    "opentelemetry._logs": ("get_logger_provider", "get_logger", "set_logger_provider"),
}

_lock = _thread.RLock()
_build: Callable[[], None] | None = None
"""Boot's build, until it has run (then None: every trigger is a no-op)."""
_builder: int | None = None
"""The thread running the build now."""
_wrapped: list[tuple[ModuleType, str, Callable[..., Any], Callable[..., Any]]] = []
"""(module, name, our accessor, upstream's function) for each accessor installed."""
_gc_paused = False
"""Whether the build turned the garbage collector off (and must turn it back on)."""
_fork_hooks = False
"""Whether ``arm`` registered the fork hooks."""


def arm(build: Callable[[], None], imports: ImportWatcher) -> None:
    """Build with ``build()`` on the first trigger; watch the API modules' imports for them."""
    global _build, _fork_hooks
    _build = build
    for module_name, names in _ACCESSORS.items():
        imports.watch(module_name, _wrapper_of(names))
    import os

    if hasattr(os, "register_at_fork") and not _fork_hooks:
        # Once: a second set of hooks would take the lock twice before a fork and give
        # it back once after it.
        _fork_hooks = True
        os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_in_child)


_held_for_fork: dict[int, bool] = {}


def _before_fork() -> None:
    # A fork waits for a build running in another thread (bounded): the child must not
    # inherit half an SDK, nor a lock held by a thread it does not have.
    _held_for_fork[_thread.get_ident()] = _lock.acquire(timeout=_WAIT_S)


def _after_fork() -> None:
    if _held_for_fork.pop(_thread.get_ident(), False):
        _lock.release()


def _in_child() -> None:
    global _lock, _builder, _gc_paused
    _held_for_fork.clear()
    _lock = _thread.RLock()
    if _builder is not None and _builder != _thread.get_ident():
        _builder = None  # only after the bounded wait ran out: this child builds anew
        if _gc_paused:  # by the parent's builder, which this child does not have
            _gc_paused = False
            gc.enable()


def _wrapper_of(names: tuple[str, ...]) -> Callable[[ModuleType], None]:
    return lambda module: wrap_accessors(module, names)


def pending() -> bool:
    """Whether the build is still to come (False once it has begun)."""
    return _build is not None and _builder is None


def ensure_built() -> None:
    """Run the build now if it has not run."""
    global _build, _builder
    if _build is None:
        return
    me = _thread.get_ident()
    if _builder == me:
        return  # the SDK asking for a meter while it is being built
    if not _lock.acquire(timeout=_WAIT_S):
        return
    try:
        build = _build
        if build is None:
            return
        _builder = me
        _pause_gc()
        try:
            build()  # reports its own failures (raises only with OTEL_RUN_DEBUG=true)
        finally:
            _build = None
            _builder = None
            _resume_gc()
            _unwrap_getters()
    finally:
        _lock.release()


def _unwrap_getters() -> None:
    """Put upstream's ``get_*`` functions back where our accessors still stand.

    Built, an accessor only calls upstream's function; code that looks the function up at
    call time (``trace.get_tracer(...)``) now reaches it directly. ``set_*`` accessors stay:
    the build may have put its own guard there, which they defer to."""
    for module, name, accessor, original in _wrapped:
        if name.startswith("get_") and vars(module).get(name) is accessor:
            setattr(module, name, original)
    _wrapped.clear()


def _pause_gc() -> None:
    global _gc_paused
    if gc.isenabled():
        gc.disable()
        _gc_paused = True


def _resume_gc() -> None:
    global _gc_paused
    if _gc_paused:
        _gc_paused = False
        # getattr: CPython 3.7+ has these, other interpreters may not (nor need them).
        frozen = getattr(gc, "get_freeze_count", None)
        if frozen is not None and frozen() == 0:
            gc.freeze()  # every tracked object, into the permanent generation
            gc.unfreeze()  # and from there into the oldest one
        gc.enable()


def wrap_accessors(module: ModuleType, names: tuple[str, ...]) -> None:
    """Make each API function in ``names`` run the build before its first call does anything
    (nothing once the build has run: there is nothing left to trigger)."""
    if _build is None:
        return
    for name in names:
        original = getattr(module, name, None)
        if original is None or getattr(original, "_otel_run_builds", False):
            continue
        accessor = _building_first(module, name, original)
        _wrapped.append((module, name, accessor, original))
        setattr(module, name, accessor)


def _building_first(module: ModuleType, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def accessor(*args: Any, **kwargs: Any) -> Any:
        if _build is not None:
            ensure_built()
        # The build may have put its own function there (``set_tracer_provider``'s guard):
        # a caller holding this accessor from before the build gets it too. For ``get_*``
        # the build put upstream's back (``_unwrap_getters``).
        current = getattr(module, name, accessor)
        if current is not accessor:
            return current(*args, **kwargs)
        return original(*args, **kwargs)

    accessor._otel_run_builds = True  # type: ignore[attr-defined]
    accessor.__name__ = getattr(original, "__name__", "accessor")
    accessor.__qualname__ = getattr(original, "__qualname__", accessor.__name__)
    accessor.__doc__ = original.__doc__
    accessor.__module__ = getattr(original, "__module__", __name__)
    accessor.__wrapped__ = original  # type: ignore[attr-defined]
    return accessor


# -- logging -------------------------------------------------------------------------------


def watch_logging(imports: ImportWatcher, tap: Callable[[ModuleType], None]) -> None:
    """Once the app imports ``logging``: ``tap(logging)``, and build on its first record."""

    def on_logging(module: ModuleType) -> None:
        tap(module)
        if _build is not None:
            _trigger_on_first_record(module)

    imports.watch("logging", on_logging)


def _trigger_on_first_record(logging: Any) -> None:
    """A record factory that builds before the first record is made.

    Built then, the logging instrumentation (which adds ``otelTraceID`` and the rest to
    every record, for the app's formats) is active for that first record too. The
    factory stays in the chain as a pass-through: an app that read it, or an
    instrumentation that wrapped it, keeps a working factory.
    """
    original = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        if _build is not None and _builder != _thread.get_ident():
            ensure_built()
            current = logging.getLogRecordFactory()
            if current is not factory:  # the logging instrumentation wrapped this factory
                record: logging.LogRecord = current(*args, **kwargs)
                return record
        made: logging.LogRecord = original(*args, **kwargs)
        return made

    logging.setLogRecordFactory(factory)


def lazy_handler(resolve: Callable[[], logging.Handler | None]) -> logging.Handler:
    """A handler that builds on its first record, then hands records to ``resolve()``'s.

    The log tap and the loguru/structlog bridges hold this one from boot on.
    """
    import logging

    class OnFirstRecord(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.NOTSET)
            self.target: logging.Handler | None = None
            self.resolved = False

        def _target(self) -> logging.Handler | None:
            if not self.resolved:
                ensure_built()
                if _build is not None:  # still building (another thread, or this one): skip
                    return None
                self.target = resolve()
                self.resolved = True
                if self.target is not None:
                    # Resolved: the tap's and the bridges' calls go straight to the target
                    # (they ignore what handle() returns).
                    self.handle = self.target.handle  # type: ignore[method-assign]
                    self.emit = self.target.emit  # type: ignore[method-assign]
            return self.target

        def handle(self, record: logging.LogRecord) -> bool:
            target = self._target()
            return bool(target.handle(record)) if target is not None else False

        def emit(self, record: logging.LogRecord) -> None:
            target = self._target()
            if target is not None:
                target.emit(record)

        def flush(self) -> None:
            if self.target is not None:
                self.target.flush()

    return OnFirstRecord()
