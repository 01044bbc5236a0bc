"""Discover installed instrumentors and arm each one on import of its library.

An instrumentor is enabled when the application first imports the library it targets,
or at once if the library is already imported; libraries the app never imports cost
nothing. ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` is honoured (names and ``*``). An
instrumentor that fails is reported in one line and skipped; the rest still load.
This module never creates providers: instrumentors use the global ones.
"""

from __future__ import annotations

import _thread

from otel_run.runtime import entrypoints
from otel_run.runtime.importhook import is_initializing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

    from otel_run.runtime.importhook import ImportWatcher

    Note = Callable[[str], None]
    Gate = Callable[[ModuleType, Callable[[], None]], None]
    """``gate(library_module, proceed)`` calls ``proceed()`` once the library is usable."""

GROUP = "opentelemetry_instrumentor"

# Instrumentors whose entry-point name is not the module they patch.
_TARGETS: dict[str, tuple[str, ...]] = {
    "urllib": ("urllib.request",),
    "aiohttp-client": ("aiohttp",),
    "aiohttp-server": ("aiohttp",),
    "aio-pika": ("aio_pika",),
    "grpc_client": ("grpc",),
    "grpc_server": ("grpc",),
    "grpc_aio_client": ("grpc",),
    "grpc_aio_server": ("grpc",),
    "kafka": ("kafka",),
    "confluent_kafka": ("confluent_kafka",),
    "mysql": ("mysql.connector",),
    "mysqlclient": ("MySQLdb",),
    "tortoiseorm": ("tortoise",),
    "boto3sqs": ("boto3",),
    "system_metrics": ("psutil",),
    "aws-lambda": ("awslambdaric", "bootstrap"),
}

AMBIENT = ("asyncio", "logging", "threading")
"""Instrumentors of modules nearly every process imports (otel-run's boot imports
``threading`` itself) that only matter once there is telemetry: they are enabled when the
SDK is built, not when their module is imported, so that importing them builds nothing.
Not asyncio when its variables ask it for spans of its own (``_EMITTING``)."""
_EMITTING = {
    "asyncio": (
        "OTEL_PYTHON_ASYNCIO_COROUTINE_NAMES_TO_TRACE",
        "OTEL_PYTHON_ASYNCIO_TO_THREAD_FUNCTION_NAMES_TO_TRACE",
        "OTEL_PYTHON_ASYNCIO_FUTURE_TRACE_ENABLED",
    )
}


def waits_for_telemetry(name: str) -> bool:
    """Whether instrumentor ``name`` is enabled only once the SDK is built (see ``AMBIENT``)."""
    import os

    return name in AMBIENT and not any(os.environ.get(variable) for variable in _EMITTING.get(name, ()))


class Instrumentation:
    """One installed instrumentor and what became of it."""

    __slots__ = ("detail", "entry", "name", "state", "targets")

    def __init__(self, name: str, targets: tuple[str, ...], entry: Any) -> None:
        self.name = name
        self.targets = targets
        self.entry = entry
        self.state = "waiting"
        """waiting (library not imported yet, or the SDK not built yet for ``AMBIENT`` ones),
        active, disabled, skipped or failed."""
        self.detail = ""

    def __repr__(self) -> str:
        return f"Instrumentation({self.name!r}, {self.state!r})"


class Instrumentations:
    """Every installed instrumentor, armed on a watcher."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: dict[str, Instrumentation] = {}

    def by_state(self, state: str) -> list[str]:
        """Names of the instrumentors in ``state``, sorted."""
        return sorted(name for name, item in self.items.items() if item.state == state)


def targets_of(name: str) -> tuple[str, ...]:
    """The modules whose import arms instrumentor ``name``."""
    return _TARGETS.get(name, (name.replace("-", "_"),))


class Armer:
    """Arms instrumentors on an import watcher and keeps their state."""

    def __init__(
        self,
        watcher: ImportWatcher,
        note: Note,
        options: dict[str, dict[str, Any]] | None = None,
        gates: dict[str, Gate] | None = None,
    ) -> None:
        self.watcher = watcher
        self.note = note
        self.options = options or {}
        self.gates = gates or {}
        """Instrumentors enabled later than their library's import (Django: once settings are read)."""
        self.found = Instrumentations()
        self._lock = _thread.RLock()
        self._blocked: dict[str, tuple[Instrumentation, str]] = {}
        self.paused = False
        """Set at shutdown: a library imported then (by an exporter built late) stays as it is."""
        self.before_activate: Callable[[], None] = _nothing
        """Run before any instrumentor is enabled: the SDK's build (``ondemand.ensure_built``)."""
        self.sdk_ready = False
        """Whether the SDK is built and installed (``on_built``): ``AMBIENT`` instrumentors wait for it."""
        self._after_build: list[tuple[Instrumentation, ModuleType | None]] = []

    def arm(self, disabled: Callable[[str], bool]) -> Instrumentations:
        """Watch the target module of every installed, enabled instrumentor."""
        for entry in entrypoints.group(GROUP):
            item = Instrumentation(entry.name, targets_of(entry.name), entry)
            self.found.items[entry.name] = item
            if disabled(entry.name):
                item.state, item.detail = "disabled", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
                continue
            for target in item.targets:
                self.watcher.watch(target, self._on_import(item))
        self.retry_blocked()
        return self.found

    def _on_import(self, item: Instrumentation) -> Callable[[ModuleType], None]:
        gate = self.gates.get(item.name)

        def activate(module: ModuleType) -> None:
            if gate is not None:
                gate(module, lambda: self.activate(item, module))
            else:
                self.activate(item, module)

        return activate

    def retry_blocked(self) -> None:
        """Activate the instrumentors whose import met a half-imported module, now complete.

        Runs at the end of ``arm`` and before every activation (a module's import has
        finished then)."""
        with self._lock:
            ready = [item for item, name in self._blocked.values() if _initializing(name) is None]
            for item in ready:
                del self._blocked[item.name]
        for item in ready:
            self.activate(item)

    def pause(self) -> None:
        """At shutdown: enable nothing more, once an activation running in another thread (an
        exporter built late imports urllib3) has finished: its meters must come from a meter
        provider that is not shut down yet. Bounded, as shutdown must be."""
        acquired = self._lock.acquire(timeout=1.0)
        self.paused = True
        if acquired:
            self._lock.release()

    def on_built(self) -> None:
        """The SDK is built: enable the ``AMBIENT`` instrumentors whose module was imported."""
        with self._lock:
            self.sdk_ready = True
            waiting, self._after_build = self._after_build, []
        for item, module in waiting:
            self.activate(item, module)

    def activate(self, item: Instrumentation, module: ModuleType | None = None) -> None:
        """Enable ``item`` now; report and skip it if that fails."""
        if not self.sdk_ready and waits_for_telemetry(item.name):
            with self._lock:  # on_built drains the list under the same lock
                if not self.sdk_ready:
                    self._after_build.append((item, module))
                    return
        if item.state == "waiting" and not self.paused:
            self.before_activate()  # outside our lock: the build takes its own, then ours
        if self._blocked:
            self.retry_blocked()
        with self._lock:
            if item.state != "waiting" or self.paused:
                return
            entry_module = item.entry.value.partition(":")[0]
            partial = _initializing(entry_module)
            if partial is not None:
                # The app is importing the instrumentation package itself, which imports
                # the library first: finish when the instrumentation package is complete.
                self.watcher.watch(entry_module, lambda _module: self.activate(item))
                return
            try:
                instrumentor = item.entry.load()()
            except ImportError as error:
                if _initializing(error.name or "") is not None:
                    # The library was imported from inside a module the instrumentation
                    # needs (wrapt 2 imports asyncio while wrapt itself is half-imported):
                    # try again once that module is complete.
                    self._blocked[item.name] = (item, error.name or "")
                    return
                self._failed(item, f"could not be loaded ({type(error).__name__}: {error})")
                return
            except Exception as error:  # noqa: BLE001 - a broken instrumentor must not stop the rest
                self._failed(item, f"could not be loaded ({type(error).__name__}: {error})")
                return
            self._instrument(item, instrumentor)

    def _instrument(self, item: Instrumentation, instrumentor: Any) -> None:
        from opentelemetry.instrumentation.dependencies import DependencyConflictError

        if getattr(instrumentor, "_is_instrumented_by_opentelemetry", False):
            item.state, item.detail = "active", "instrumented by the app before otel-run armed it"
            self.note(
                f"the app instrumented {item.name} itself before otel-run did; spans still go to "
                "otel-run's provider, once each"
            )
            _guard_duplicate_calls(instrumentor, item.name, self.note)
            return
        from otel_run.runtime import patches

        unpatched = patches.before_instrument(item.name)
        if unpatched is not None:
            self.note(f"otel-run's fix for instrumentation {item.name} could not be applied ({unpatched})")
        try:
            instrumentor.instrument(raise_exception_on_conflict=True, **self.options.get(item.name, {}))
        except DependencyConflictError as error:
            item.state, item.detail = "skipped", str(error.conflict._format_message(item.name))
            self.note(f"instrumentation {item.name} is off: {item.detail}")
            return
        except Exception as error:  # noqa: BLE001 - a broken instrumentor must not stop the rest
            self._failed(item, f"failed ({type(error).__name__}: {error})")
            return
        item.state = "active"
        _guard_duplicate_calls(instrumentor, item.name, self.note)

    def _failed(self, item: Instrumentation, why: str) -> None:
        item.state, item.detail = "failed", why
        self.note(
            f"instrumentation {item.name} {why}; the app runs without it. "
            f"To silence this, set OTEL_PYTHON_DISABLED_INSTRUMENTATIONS={item.name}"
        )


def _nothing() -> None:
    pass


def _initializing(module_name: str) -> ModuleType | None:
    import sys

    module = sys.modules.get(module_name)
    return module if module is not None and is_initializing(module) else None


def _guard_duplicate_calls(instrumentor: Any, name: str, note: Note) -> None:
    """Turn the app's own ``XInstrumentor().instrument()`` into a one-line note.

    Instrumentors are singletons, so the app's call reaches this instance; upstream
    would ignore it with a vague warning. Shadowing ``instrument`` on the instance
    keeps ``uninstrument`` and everything else as they are.
    """
    said: list[bool] = []

    def instrument(**kwargs: Any) -> Any:
        if not getattr(instrumentor, "_is_instrumented_by_opentelemetry", False):
            return type(instrumentor).instrument(
                instrumentor, **kwargs
            )  # re-instrumenting after uninstrument
        if not said:
            said.append(True)
            note(
                f"the app called {type(instrumentor).__name__}().instrument(); {name} is already "
                "instrumented by otel-run, so the call was ignored and each span is still exported once"
            )
        return None

    try:
        instrumentor.instrument = instrument
    except (AttributeError, TypeError):  # a slotted or frozen instrumentor: leave it be
        pass
