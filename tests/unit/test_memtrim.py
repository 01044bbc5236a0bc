"""memtrim: when the C heap is trimmed after an export, and that it never costs an export."""

from __future__ import annotations

import gc
import os
import sys

import pytest

from otel_run.runtime import memtrim


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.step = 0.0  # how long each trim "takes"

    def __call__(self) -> float:
        value = self.now
        self.now += self.step
        return value


class _Item:
    """A batch item that can be weakly referenced, as the SDK's spans and log records are."""


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> tuple[_Clock, list[int]]:
    """memtrim with a fake clock and a fake ``malloc_trim`` that records its calls."""
    clock, calls = _Clock(), []

    def trim(pad: int) -> int:
        calls.append(pad)
        return 1

    monkeypatch.setattr(memtrim, "_clock", clock)
    monkeypatch.setattr(memtrim, "_trim", trim)
    monkeypatch.setattr(memtrim, "_looked_up", True)
    monkeypatch.setattr(memtrim, "_next", {})
    monkeypatch.setattr(memtrim, "_pending", {})
    return clock, calls


@pytest.mark.timeout(10)
def test_each_signal_trims_at_most_once_a_second(fake: tuple[_Clock, list[int]]) -> None:
    """Back-to-back exports of one signal trim once a second; another signal trims on its own."""
    clock, calls = fake
    for _ in range(5):
        memtrim.after_export("traces")
    assert calls == [0]
    memtrim.after_export("logs")
    assert calls == [0, 0]
    clock.now += 1.0
    memtrim.after_export("traces")
    assert calls == [0, 0, 0]


@pytest.mark.timeout(10)
def test_a_slow_trim_backs_its_signal_off(fake: tuple[_Clock, list[int]]) -> None:
    """A trim that took 5 ms keeps that signal from trimming for 5 s (0.1 % of its time)."""
    clock, calls = fake
    clock.step = 0.005
    memtrim.after_export("metrics")
    clock.step = 0.0
    clock.now += 4.9
    memtrim.after_export("metrics")
    assert len(calls) == 1
    clock.now += 0.2
    memtrim.after_export("metrics")
    assert len(calls) == 2


@pytest.mark.timeout(10)
def test_the_trim_waits_until_the_batch_is_freed(fake: tuple[_Clock, list[int]]) -> None:
    """The processor drops the batch after ``export`` returns: the trim comes then, not before."""
    _, calls = fake
    batch = [_Item() for _ in range(3)]
    memtrim.after_export("traces", batch)
    assert calls == []
    del batch
    gc.collect()
    assert calls == [0]


@pytest.mark.timeout(10)
def test_a_batch_kept_elsewhere_only_delays_the_next_trim(fake: tuple[_Clock, list[int]]) -> None:
    """A batch that outlives the export (kept by another exporter) leaves no trim owed: the
    next export of that signal replaces the pending one."""
    _, calls = fake
    kept = [_Item()]
    memtrim.after_export("logs", kept)
    memtrim.after_export("logs", [_Item()])
    gc.collect()
    assert calls == [0]
    del kept
    gc.collect()
    assert calls == [0]


@pytest.mark.timeout(10)
def test_items_without_weak_references_trim_at_once(fake: tuple[_Clock, list[int]]) -> None:
    """A batch of plain values (no weak references) or a metrics batch trims right away."""
    _, calls = fake
    memtrim.after_export("traces", [1, 2, 3])
    memtrim.after_export("metrics", object())
    assert calls == [0, 0]


@pytest.mark.timeout(10)
def test_a_failing_trim_turns_trimming_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``malloc_trim`` that raises is not called again, and nothing reaches the exporter."""
    calls = []

    def broken(pad: int) -> int:
        calls.append(pad)
        raise OSError("no")

    monkeypatch.setattr(memtrim, "_trim", broken)
    monkeypatch.setattr(memtrim, "_looked_up", True)
    monkeypatch.setattr(memtrim, "_next", {})
    memtrim.after_export("traces")
    memtrim.after_export("logs")
    assert calls == [0]


@pytest.mark.timeout(10)
def test_without_glibc_nothing_is_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """A C library that is not glibc (musl: no ``malloc_trim``) means no trimming at all."""

    def no_confstr(name: str) -> str | None:
        raise ValueError(name)

    monkeypatch.setattr(os, "confstr", no_confstr)
    assert memtrim._lookup() is None


@pytest.mark.timeout(10)
def test_glibc_has_malloc_trim() -> None:
    """On glibc (the image's and CI's C library) the real ``malloc_trim`` is found and runs."""
    if not os.confstr("CS_GNU_LIBC_VERSION"):
        pytest.fail("this suite runs on glibc; another C library needs its own expectations")
    function = memtrim._lookup()
    assert function is not None
    assert function(0) in (0, 1)


@pytest.mark.timeout(10)
def test_a_batch_freed_during_teardown_raises_nothing(
    fake: tuple[_Clock, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Freed while modules are torn down (``trim`` already None), the pending trim's
    callback raises nothing that Python would print as "Exception ignored"."""
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    batch = [_Item()]
    memtrim.after_export("traces", batch)
    monkeypatch.setattr(memtrim, "trim", None)
    del batch
    gc.collect()
    assert unraisable == []
