"""The build on first use: triggers, re-entrance, and threads asking at once (runtime/ondemand.py)."""

from __future__ import annotations

import gc
import threading
import types
from collections.abc import Iterator

import pytest

from otel_run.runtime import importhook, ondemand


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A clean ondemand state whose build records each run in the returned list."""
    runs: list[str] = []
    monkeypatch.setattr(ondemand, "_build", None)
    monkeypatch.setattr(ondemand, "_builder", None)
    monkeypatch.setattr(ondemand, "_gc_paused", False)
    yield runs
    gc.enable()  # whatever a failed assertion left


def test_the_build_runs_once_and_then_every_trigger_is_a_no_op(fresh: list[str]) -> None:
    ondemand.arm(lambda: fresh.append("built"), importhook.ImportWatcher())
    assert ondemand.pending()
    ondemand.ensure_built()
    ondemand.ensure_built()
    assert fresh == ["built"]
    assert not ondemand.pending()


def test_the_builders_own_nested_requests_go_straight_through(fresh: list[str]) -> None:
    def build() -> None:
        fresh.append("start")
        ondemand.ensure_built()  # the SDK asking for a meter while it is being built
        assert not ondemand.pending()  # begun: AMBIENT instrumentors may go on
        fresh.append("end")

    ondemand.arm(build, importhook.ImportWatcher())
    ondemand.ensure_built()
    assert fresh == ["start", "end"]


def _build_held_in_another_thread(fresh: list[str]) -> tuple[threading.Thread, threading.Event]:
    """A build running in a thread of its own, held until the returned event is set."""
    started, release = threading.Event(), threading.Event()

    def build() -> None:
        started.set()
        release.wait(5)
        fresh.append("built")

    ondemand.arm(build, importhook.ImportWatcher())
    builder = threading.Thread(target=ondemand.ensure_built)
    builder.start()
    assert started.wait(5)
    return builder, release


def test_other_threads_wait_for_the_build_to_finish(fresh: list[str]) -> None:
    builder, release = _build_held_in_another_thread(fresh)
    seen: list[list[str]] = []
    waiter = threading.Thread(target=lambda: (ondemand.ensure_built(), seen.append(list(fresh))))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # waiting for the builder
    release.set()
    builder.join(5)
    waiter.join(5)
    assert seen == [["built"]]


def test_a_failed_build_is_not_retried(fresh: list[str]) -> None:
    def build() -> None:
        fresh.append("tried")
        raise RuntimeError("debug mode lets it out")

    ondemand.arm(build, importhook.ImportWatcher())
    with pytest.raises(RuntimeError):
        ondemand.ensure_built()
    ondemand.ensure_built()
    assert fresh == ["tried"]


def test_wrapped_accessors_build_first_and_keep_their_identity(fresh: list[str]) -> None:
    calls: list[str] = []

    def get_tracer(name: str) -> str:
        """The API's docstring."""
        calls.append(name)
        return f"tracer {name} after {fresh}"

    module = types.ModuleType("fake_api")
    module.get_tracer = get_tracer  # type: ignore[attr-defined]
    ondemand.arm(lambda: fresh.append("built"), importhook.ImportWatcher())
    ondemand.wrap_accessors(module, ("get_tracer", "missing"))
    wrapped = module.get_tracer
    assert wrapped is not get_tracer
    assert (wrapped.__name__, wrapped.__doc__, wrapped.__wrapped__) == (
        "get_tracer",
        "The API's docstring.",
        get_tracer,
    )
    ondemand.wrap_accessors(module, ("get_tracer",))  # idempotent
    assert module.get_tracer is wrapped
    assert wrapped("shop") == "tracer shop after ['built']"


def test_once_built_the_api_holds_upstreams_getters_again(fresh: list[str]) -> None:
    """After the build ``get_*`` are upstream's functions again, a reference taken before still
    works, ``set_*`` keep their accessor, and modules imported later are not wrapped."""
    module = types.ModuleType("fake_api")
    module.get_tracer = lambda name: f"tracer {name} after {fresh}"  # type: ignore[attr-defined]
    module.set_tracer_provider = lambda provider: f"set {provider}"  # type: ignore[attr-defined]
    upstream_get = module.get_tracer
    ondemand.arm(lambda: fresh.append("built"), importhook.ImportWatcher())
    ondemand.wrap_accessors(module, ("get_tracer", "set_tracer_provider"))
    early = module.get_tracer
    assert early is not upstream_get
    ondemand.ensure_built()
    assert module.get_tracer is upstream_get
    assert early("shop") == "tracer shop after ['built']"
    assert getattr(module.set_tracer_provider, "_otel_run_builds", False)
    later = types.ModuleType("fake_api_later")
    later.get_meter = lambda name: name  # type: ignore[attr-defined]
    original_meter = later.get_meter
    ondemand.wrap_accessors(later, ("get_meter",))
    assert later.get_meter is original_meter


def test_the_resolved_log_handler_hands_records_straight_on(fresh: list[str]) -> None:
    """Once built, the handler's handle and emit are the target's own (no indirection per record)."""
    import logging

    got: list[str] = []

    class Target(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got.append(record.getMessage())

    target = Target()
    ondemand.arm(lambda: fresh.append("built"), importhook.ImportWatcher())
    handler = ondemand.lazy_handler(lambda: target)
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "first", (), None)
    handler.handle(record)
    assert fresh == ["built"]
    assert handler.handle == target.handle
    assert handler.emit == target.emit
    handler.handle(logging.LogRecord("app", logging.INFO, __file__, 1, "second", (), None))
    assert got == ["first", "second"]


def test_a_function_the_build_installs_takes_the_call(fresh: list[str]) -> None:
    """``set_tracer_provider`` called before the build: the build's guard answers it."""
    module = types.ModuleType("fake_api")
    module.set_tracer_provider = lambda provider: f"upstream set {provider}"  # type: ignore[attr-defined]

    def build() -> None:
        module.set_tracer_provider = lambda provider: f"guard saw {provider}"  # type: ignore[attr-defined]

    ondemand.arm(build, importhook.ImportWatcher())
    ondemand.wrap_accessors(module, ("set_tracer_provider",))
    early = module.set_tracer_provider
    assert module.set_tracer_provider("theirs") == "guard saw theirs"
    assert early("again") == "guard saw again"  # held from before the build, called after it


def test_a_fork_waits_for_a_build_in_another_thread(fresh: list[str]) -> None:
    """The child gets the SDK whole (the build finished before the fork), and a working lock."""
    import os
    import time

    builder, release = _build_held_in_another_thread(fresh)
    threading.Timer(0.3, release.set).start()
    began = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: the build is done, and triggers do not wait
        ondemand.ensure_built()
        os._exit(0 if fresh == ["built"] and not ondemand.pending() else 1)
    waited = time.monotonic() - began
    _, status = os.waitpid(pid, 0)
    builder.join(5)
    assert os.waitstatus_to_exitcode(status) == 0
    assert waited >= 0.2  # the fork waited for the build


def test_the_collector_is_off_during_the_build_and_on_again_after(fresh: list[str]) -> None:
    """The build's imports set off no collections; the app's resume with the same thresholds."""
    thresholds = gc.get_threshold()
    ondemand.arm(lambda: fresh.append(f"collector on: {gc.isenabled()}"), importhook.ImportWatcher())
    assert gc.isenabled()
    ondemand.ensure_built()
    assert fresh == ["collector on: False"]
    assert gc.isenabled()
    assert gc.get_threshold() == thresholds


def test_an_app_that_turned_the_collector_off_keeps_it_off(fresh: list[str]) -> None:
    gc.disable()
    try:
        ondemand.arm(lambda: fresh.append(f"collector on: {gc.isenabled()}"), importhook.ImportWatcher())
        ondemand.ensure_built()
        assert fresh == ["collector on: False"]
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_failed_build_turns_the_collector_back_on(fresh: list[str]) -> None:
    def build() -> None:
        raise RuntimeError("debug mode lets it out")

    ondemand.arm(build, importhook.ImportWatcher())
    with pytest.raises(RuntimeError):
        ondemand.ensure_built()
    assert gc.isenabled()


def test_a_child_forked_while_another_thread_builds_gets_the_collector_back(
    fresh: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only when the fork's bounded wait ran out: the child has no builder to turn it on."""
    import os

    monkeypatch.setattr(ondemand, "_WAIT_S", 0.1)
    release, started = threading.Event(), threading.Event()

    def build() -> None:
        started.set()
        release.wait(5)

    ondemand.arm(build, importhook.ImportWatcher())
    builder = threading.Thread(target=ondemand.ensure_built)
    builder.start()
    try:
        assert started.wait(5)
        assert not gc.isenabled()
        pid = os.fork()
        if pid == 0:
            os._exit(0 if gc.isenabled() else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert not gc.isenabled()  # the parent's builder is still building
    finally:
        release.set()
        builder.join(5)
    assert gc.isenabled()


def test_what_the_build_made_goes_to_the_oldest_generation_unscanned(fresh: list[str]) -> None:
    made: list[object] = []

    def build() -> None:
        made.append([fresh])  # a tracked container, as a module's dicts and functions are

    ondemand.arm(build, importhook.ImportWatcher())
    ondemand.ensure_built()
    oldest = gc.get_objects(generation=2)
    assert any(item is made[0] for item in oldest)
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()


def test_objects_the_app_froze_stay_frozen(fresh: list[str]) -> None:
    """``gc.unfreeze()`` would thaw what the app froze (before forking workers, say): not done then."""
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        ondemand.arm(lambda: fresh.append("built"), importhook.ImportWatcher())
        ondemand.ensure_built()
        assert fresh == ["built"]
        assert gc.get_freeze_count() == frozen
        assert gc.isenabled()
    finally:
        gc.unfreeze()
