"""Run a callback when a module finishes importing, or at once if it already has.

A meta-path finder that lets the real finders find the module, then wraps its loader
so that the callback runs right after the module's code. The module's ``__loader__``
and ``__spec__.loader`` are restored to the real loader before its code runs, so the
module looks exactly as it would without us.
"""

from __future__ import annotations

import _thread
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

    Callback = Callable[[ModuleType], None]


def is_initializing(module: ModuleType) -> bool:
    """Whether ``module`` is still executing its top-level code (a circular import)."""
    spec = getattr(module, "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


class _NotifyingLoader:
    """The real loader, and the callbacks once it has run (``importlib.abc.Loader``'s protocol:
    the base class itself costs an ``importlib.resources`` import at boot)."""

    def __init__(self, loader: Any, finder: ImportWatcher, name: str) -> None:
        self._loader = loader
        self._finder = finder
        self._name = name

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        self._finder.fire(self._name, module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class ImportWatcher:
    """Calls registered callbacks once their module has been imported (a meta-path finder)."""

    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callback]] = {}
        self._lock = _thread.RLock()
        self._local = _thread._local()

    def watch(self, name: str, callback: Callback) -> None:
        """Call ``callback(module)`` once ``name`` is imported (now, if it already is)."""
        module = sys.modules.get(name)
        if module is not None and not is_initializing(module):
            callback(module)
            return
        with self._lock:
            self._callbacks.setdefault(name, []).append(callback)

    def watching(self) -> list[str]:
        """Module names still waiting to be imported."""
        with self._lock:
            return sorted(self._callbacks)

    def fire(self, name: str, module: ModuleType) -> None:
        """Run and forget the callbacks of ``name``."""
        with self._lock:
            callbacks = self._callbacks.pop(name, [])
        for callback in callbacks:
            callback(module)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname not in self._callbacks or getattr(self._local, "busy", False):
            return None
        self._local.busy = True
        try:
            spec = self._find_with_others(fullname, path, target)
        finally:
            self._local.busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _NotifyingLoader(spec.loader, self, fullname)  # type: ignore[assignment]
        return spec

    def _find_with_others(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> ModuleSpec | None:
        for finder in list(sys.meta_path):
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec: ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                return spec
        return None


_watcher: ImportWatcher | None = None


def watcher() -> ImportWatcher:
    """The process's single watcher, first on ``sys.meta_path``."""
    global _watcher
    if _watcher is None:
        _watcher = ImportWatcher()
        sys.meta_path.insert(0, _watcher)
    return _watcher
