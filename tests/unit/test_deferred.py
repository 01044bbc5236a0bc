"""DeferredExporter builds the upstream exporter on its first export, and fails softly."""

from __future__ import annotations

from typing import Any

from otel_run.runtime.deferred import DeferredExporter


class Upstream:
    """A stand-in upstream exporter that records what it was asked to do."""

    def __init__(self) -> None:
        self.batches: list[Any] = []
        self.shut = False

    def export(self, batch: Any) -> str:
        self.batches.append(batch)
        return "SUCCESS"

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        self.shut = True


def test_nothing_is_built_until_the_first_export() -> None:
    """Construction, flush and shutdown before any export never build the upstream exporter."""
    builds: list[Upstream] = []

    def build() -> Upstream:
        builds.append(Upstream())
        return builds[-1]

    exporter = DeferredExporter(build, lambda: "FAILURE", print, "traces")
    assert exporter.force_flush() is True
    assert exporter.shutdown() is None
    assert builds == [] and not exporter.built
    assert exporter.export(["span"]) == "SUCCESS"
    assert exporter.export(["span2"]) == "SUCCESS"
    assert len(builds) == 1 and builds[0].batches == [["span"], ["span2"]]
    exporter.shutdown()
    assert builds[0].shut


def test_a_failing_build_is_told_once_and_retried() -> None:
    """A build that raises fails that export, prints one line, and is tried again next time."""
    lines: list[str] = []
    attempts: list[int] = []

    def build() -> Upstream:
        attempts.append(1)
        if len(attempts) < 3:
            raise ImportError("no module named requests")
        return Upstream()

    exporter = DeferredExporter(build, lambda: "FAILURE", lines.append, "traces (http/protobuf)")
    assert exporter.export(["a"]) == "FAILURE"
    assert exporter.export(["b"]) == "FAILURE"
    assert exporter.export(["c"]) == "SUCCESS"
    assert lines == [
        "could not create the traces (http/protobuf) exporter (ImportError: no module named requests)"
    ]


def test_metric_preferences_are_known_before_the_build() -> None:
    """A metric reader reads temporality and aggregation at construction, before any build."""
    temporality = {int: "DELTA"}
    exporter = DeferredExporter(
        Upstream, lambda: "FAILURE", print, "metrics", preferred_temporality=temporality
    )
    assert exporter._preferred_temporality == temporality
    assert not exporter.built


def test_a_forked_child_builds_its_own_exporter() -> None:
    """After a fork the child drops the parent's upstream exporter and builds a fresh one."""
    builds: list[Upstream] = []

    def build() -> Upstream:
        builds.append(Upstream())
        return builds[-1]

    exporter = DeferredExporter(build, lambda: "FAILURE", print, "traces")
    exporter.export(["in parent"])
    exporter.forget()  # what the after-fork hook does in the child
    assert not exporter.built
    exporter.export(["in child"])
    assert [b.batches for b in builds] == [[["in parent"]], [["in child"]]]
