"""ImportWatcher: callbacks run right after a watched module's code, once, leaving the module untouched.

Each test writes throwaway modules to tmp_path, puts a fresh watcher first on sys.meta_path,
and restores sys.meta_path, sys.path and sys.modules afterwards.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

from otel_run.runtime.importhook import ImportWatcher, is_initializing


@dataclass
class Sandbox:
    """A watcher first on sys.meta_path and a folder on sys.path for throwaway modules."""

    watcher: ImportWatcher
    root: Path
    names: list[str] = field(default_factory=list)

    def module(self, source: str, package: bool = False) -> str:
        """Write a uniquely named module (or package) with ``source``; return its name."""
        name = f"otelrun_probe_{uuid.uuid4().hex[:12]}"
        if package:
            (self.root / name).mkdir()
            (self.root / name / "__init__.py").write_text(source)
        else:
            (self.root / f"{name}.py").write_text(source)
        self.names.append(name)
        importlib.invalidate_caches()
        return name


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A fresh ImportWatcher installed for the test only."""
    saved_meta_path = list(sys.meta_path)
    saved_path = list(sys.path)
    watcher = ImportWatcher()
    sys.meta_path.insert(0, watcher)
    sys.path.insert(0, str(tmp_path))
    box = Sandbox(watcher, tmp_path)
    try:
        yield box
    finally:
        sys.meta_path[:] = saved_meta_path
        sys.path[:] = saved_path
        for name in list(sys.modules):
            if any(name == probe or name.startswith(probe + ".") for probe in box.names):
                del sys.modules[name]
        importlib.invalidate_caches()


class Recorder:
    """A callback that records the modules it was called with and what they held then."""

    def __init__(self) -> None:
        self.calls: list[ModuleType] = []
        self.values: list[object] = []

    def __call__(self, module: ModuleType) -> None:
        self.calls.append(module)
        self.values.append(getattr(module, "VALUE", None))


@pytest.mark.timeout(10)
def test_callback_runs_after_the_module_code(sandbox: Sandbox) -> None:
    """The callback gets the module once its top-level code has run (its globals are set)."""
    name = sandbox.module("VALUE = 42\n")
    recorder = Recorder()
    sandbox.watcher.watch(name, recorder)
    assert recorder.calls == []
    module = importlib.import_module(name)
    assert recorder.calls == [module]
    assert recorder.values == [42]


@pytest.mark.timeout(10)
def test_module_keeps_its_real_loader(sandbox: Sandbox) -> None:
    """The imported module's __loader__ and __spec__.loader are the real loader, not our wrapper."""
    name = sandbox.module("VALUE = 1\n")
    sandbox.watcher.watch(name, lambda module: None)
    module = importlib.import_module(name)
    assert isinstance(module.__loader__, importlib.machinery.SourceFileLoader)
    assert module.__spec__ is not None
    assert module.__spec__.loader is module.__loader__


@pytest.mark.timeout(10)
def test_already_imported_module_runs_the_callback_at_once(sandbox: Sandbox) -> None:
    """Watching a module that is already imported calls back immediately and keeps nothing pending."""
    name = sandbox.module("VALUE = 'ready'\n")
    module = importlib.import_module(name)
    recorder = Recorder()
    sandbox.watcher.watch(name, recorder)
    assert recorder.calls == [module]
    assert sandbox.watcher.watching() == []


@pytest.mark.timeout(10)
def test_callbacks_run_once_in_order_and_are_forgotten(sandbox: Sandbox) -> None:
    """Several callbacks run in registration order; a later re-import does not run them again."""
    name = sandbox.module("VALUE = 3\n")
    order: list[str] = []
    sandbox.watcher.watch(name, lambda module: order.append("first"))
    sandbox.watcher.watch(name, lambda module: order.append("second"))
    assert sandbox.watcher.watching() == [name]
    importlib.import_module(name)
    assert order == ["first", "second"]
    assert sandbox.watcher.watching() == []
    del sys.modules[name]
    importlib.import_module(name)
    assert order == ["first", "second"]


@pytest.mark.timeout(10)
def test_unwatched_modules_are_left_to_the_other_finders(sandbox: Sandbox) -> None:
    """For a module nobody watches, the watcher finds nothing and the import is untouched."""
    name = sandbox.module("VALUE = 0\n")
    assert sandbox.watcher.find_spec(name, None) is None
    module = importlib.import_module(name)
    assert isinstance(module.__spec__.loader, importlib.machinery.SourceFileLoader)  # type: ignore[union-attr]


@pytest.mark.timeout(10)
def test_missing_module_still_raises_and_stays_watched(sandbox: Sandbox) -> None:
    """Watching a module that is not installed changes nothing: ImportError, callback kept for later."""
    name = f"otelrun_missing_{uuid.uuid4().hex[:12]}"
    recorder = Recorder()
    sandbox.watcher.watch(name, recorder)
    with pytest.raises(ImportError):
        importlib.import_module(name)
    assert recorder.calls == []
    assert sandbox.watcher.watching() == [name]


@pytest.mark.timeout(10)
def test_submodule_of_a_package_is_watched_by_full_name(sandbox: Sandbox) -> None:
    """A dotted name fires when that submodule is imported, not when its package is."""
    package = sandbox.module("", package=True)
    (sandbox.root / package / "sub.py").write_text("VALUE = 'sub'\n")
    importlib.invalidate_caches()
    recorder = Recorder()
    sandbox.watcher.watch(f"{package}.sub", recorder)
    importlib.import_module(package)
    assert recorder.calls == []
    importlib.import_module(f"{package}.sub")
    assert recorder.values == ["sub"]


@pytest.mark.timeout(10)
def test_is_initializing_is_true_only_during_the_module_code(sandbox: Sandbox) -> None:
    """is_initializing tells a module still running its top-level code (a circular import) apart."""
    name = sandbox.module(
        "import sys\nfrom otel_run.runtime.importhook import is_initializing\n"
        "DURING = is_initializing(sys.modules[__name__])\n"
    )
    module = importlib.import_module(name)
    assert module.DURING is True
    assert is_initializing(module) is False
