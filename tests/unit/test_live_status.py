"""The live status: where it is kept, what the writer records, and the verdict the reader gives."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from otel_run.config import statusdir
from otel_run.config.settings import Settings
from otel_run.runtime import lossmetrics, statusfacts
from otel_run.runtime.exportwatch import Destination, Watcher
from otel_run.runtime.status import MIN_INTERVAL_S, Recorder
from otel_run.runtime.statusfacts import dropped_by_reason
from otel_run.status import collect, render

URL = "http://collector:4318/v1/traces"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _recorder(tmp_path: Path, **env: str) -> tuple[Recorder, Watcher, Clock]:
    clock = Clock()
    settings = Settings.from_env(
        {
            "OTEL_RUN_STATUS_DIR": str(tmp_path / "status"),
            "OTEL_SERVICE_NAME": "checkout",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            **env,
        }
    )
    watcher = Watcher(lambda _line: None, clock=clock)
    watcher.destinations["traces"] = Destination(
        "traces", URL, "OTEL_EXPORTER_OTLP_ENDPOINT", "http/protobuf"
    )
    resource = SimpleNamespace(attributes={"service.instance.id": "instance-1"})
    built: Any = SimpleNamespace(
        exporters={"traces": ["opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter"]},
        tracer_provider=SimpleNamespace(resource=resource),
        logger_provider=None,
        meter_provider=None,
    )
    boot: Any = SimpleNamespace(command=["python", "app.py"], instrumentations=None)
    recorder = Recorder(settings, watcher, built, boot, lambda _line: None, clock)
    return recorder, watcher, clock


def _export(watcher: Watcher, ok: bool, items: int, message: str = "code: 503, reason: Busy") -> None:
    watcher.begin_export()
    if not ok:
        record = logging.LogRecord("opentelemetry.exporter", logging.ERROR, __file__, 1, message, None, None)
        watcher.upstream_message(record)
    watcher.end_export("traces", ok, items)


def _written(recorder: Recorder) -> dict[str, Any]:
    assert recorder.path is not None
    result: dict[str, Any] = json.loads(Path(recorder.path).read_text())
    return result


def test_status_dirs_default_to_the_runtime_then_the_temp_directory() -> None:
    """XDG_RUNTIME_DIR/otel-run first, then otel-run-<uid> in TMPDIR and /tmp; the variable wins."""
    env = {"XDG_RUNTIME_DIR": "/run/user/7", "TMPDIR": "/var/tmp"}
    assert statusdir.candidates(env, 7) == (
        ("/run/user/7/otel-run", "/var/tmp/otel-run-7", "/tmp/otel-run-7"),
        False,
    )
    assert statusdir.candidates({"TMPDIR": "/tmp/"}, 7) == (("/tmp/otel-run-7",), False)
    assert statusdir.candidates({"OTEL_RUN_STATUS_DIR": "/srv/st", **env}, 7) == (("/srv/st",), True)
    assert statusdir.pid_of("123.json") == 123
    assert statusdir.pid_of(".123.tmp") is None and statusdir.pid_of("x.json") is None


def test_first_write_is_private_and_names_the_process(tmp_path: Path) -> None:
    """The directory is 0700, the file 0600, named by PID, with the service and the instance."""
    recorder, _watcher, _clock = _recorder(tmp_path)
    recorder.start()
    assert recorder.path == str(tmp_path / "status" / f"{os.getpid()}.json")
    assert stat.S_IMODE((tmp_path / "status").stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(recorder.path).stat().st_mode) == 0o600
    written = _written(recorder)
    assert (written["pid"], written["ppid"], written["service"]) == (os.getpid(), os.getppid(), "checkout")
    assert written["instance"] == "instance-1"
    assert written["signals"]["traces"]["endpoint"].endswith("/v1/traces")


def test_writes_are_rate_limited_and_only_on_change(tmp_path: Path) -> None:
    """Two exports within the interval make one write; an export that changes nothing makes none."""
    recorder, watcher, clock = _recorder(tmp_path)
    recorder.start()
    clock.now += MIN_INTERVAL_S
    _export(watcher, True, 5)
    assert _written(recorder)["signals"]["traces"]["exported"] == 5
    clock.now += 0.5
    _export(watcher, True, 7)
    assert _written(recorder)["signals"]["traces"]["exported"] == 5, "within the interval: not yet"
    clock.now += MIN_INTERVAL_S
    _export(watcher, True, 0)
    assert _written(recorder)["signals"]["traces"]["exported"] == 12
    before = Path(str(recorder.path)).stat().st_mtime_ns
    clock.now += MIN_INTERVAL_S
    _export(watcher, True, 0)
    assert Path(str(recorder.path)).stat().st_mtime_ns == before, "nothing changed: no write"


def test_the_last_change_of_a_burst_is_written_without_another_export(tmp_path: Path) -> None:
    """A change within the interval is written by a short timer, not left for the next export."""
    recorder, watcher, clock = _recorder(tmp_path)
    recorder.start()
    clock.now += 0.5
    _export(watcher, True, 9)
    deadline = time.monotonic() + 10
    while _written(recorder)["signals"]["traces"]["exported"] != 9 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _written(recorder)["signals"]["traces"]["exported"] == 9


def test_failure_then_recovery(tmp_path: Path) -> None:
    """A failure records since when and why; drops count; recovery ends "failing" and "dropping"."""
    recorder, watcher, clock = _recorder(tmp_path)
    recorder.start()
    clock.now += MIN_INTERVAL_S
    failed_at = clock.now
    _export(watcher, False, 4)
    traces = _written(recorder)["signals"]["traces"]
    assert (traces["failing_since"], traces["error"]) == (failed_at, "HTTP 503 Busy")
    assert traces["dropped"]["export_failed"] == 4 and traces["dropped_last_minute"]["export_failed"] == 4
    assert _written(recorder)["last_error"].startswith(f"cannot export traces to {URL}: HTTP 503 Busy; ")
    verdict, summary = collect.judge(_written(recorder), clock.now)
    assert verdict == "failing" and summary.startswith("failing since ")
    assert summary.endswith(f"(HTTP 503 Busy at {URL})")

    clock.now += MIN_INTERVAL_S
    _export(watcher, True, 3)
    written = _written(recorder)
    assert written["signals"]["traces"]["failing_since"] is None
    assert written["signals"]["traces"]["dropped"]["export_failed"] == 4, "the total stays"
    assert written["signals"]["traces"]["dropped_last_minute"]["export_failed"] == 0, "the outage is over"
    assert collect.judge(written, clock.now) == ("exporting", "exporting")


def test_queue_full_drops_make_dropping_for_a_minute(tmp_path: Path) -> None:
    """Items dropped while exports succeed are "dropping" for one window, then no longer."""
    recorder, watcher, clock = _recorder(tmp_path)
    recorder.start()
    record = logging.LogRecord(
        "opentelemetry.sdk._shared_internal",
        logging.WARNING,
        __file__,
        1,
        "Queue full, dropping %s.",
        ("Span",),
        None,
    )
    for _ in range(1204):
        watcher.upstream_message(record)
    clock.now += MIN_INTERVAL_S
    _export(watcher, True, 512)
    written = _written(recorder)
    assert collect.judge(written, clock.now) == (
        "dropping",
        "dropping (1,204 spans in the last minute: queue full)",
    )
    clock.now += 61
    _export(watcher, True, 1)
    assert _written(recorder)["signals"]["traces"]["dropped_last_minute"]["queue_full"] == 0
    assert collect.judge(_written(recorder), clock.now)[0] == "exporting"


def test_close_removes_the_file_and_writes_no_more(tmp_path: Path) -> None:
    """At shutdown the file goes, and a last export does not bring it back."""
    recorder, watcher, clock = _recorder(tmp_path)
    recorder.start()
    recorder.close()
    assert list((tmp_path / "status").iterdir()) == []
    clock.now += MIN_INTERVAL_S
    _export(watcher, True, 5)
    assert list((tmp_path / "status").iterdir()) == []


def test_header_values_and_url_credentials_are_never_written(tmp_path: Path) -> None:
    """Header values and URL passwords are scrubbed from everything written, the command too."""
    recorder, watcher, clock = _recorder(
        tmp_path,
        OTEL_EXPORTER_OTLP_HEADERS="api-key=hdr-s3cret",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://user:pa55word@collector:4318",
    )
    recorder._boot.command = ["app", "--db=postgres://me:pa55word@db/x", "--key", "hdr-s3cret"]
    recorder.start()
    clock.now += MIN_INTERVAL_S
    _export(watcher, False, 1, message="code: 401, reason: bad key hdr-s3cret")
    text = Path(str(recorder.path)).read_text()
    assert "hdr-s3cret" not in text and "pa55word" not in text
    assert "postgres://***@db/x" in text


def test_shown_command_cuts_long_values() -> None:
    """A huge argument does not make a huge status file."""
    shown = statusfacts.shown_command(["python", "x" * 1000, *["a"] * 40])
    assert len(shown[1]) == 200 and shown[1].endswith("...")
    assert shown[-1] == "... (18 more)"


def test_judge_idle_and_stale_drops() -> None:
    """No success in the window is idle; drops written more than a window ago no longer count."""
    signal = {"failing_since": None, "last_success": 100.0, "dropped_last_minute": {"queue_full": 3}}
    status = {"signals": {"traces": signal}, "updated": 100.0, "window_s": 60.0}
    assert collect.judge(status, 130.0)[0] == "dropping"
    assert collect.judge(status, 200.0) == ("idle", "idle")
    assert collect.judge({**status, "muted": True}, 200.0)[1].startswith("idle (a reloader")


def _status(pid: int, ppid: int, verdict_signal: dict[str, Any]) -> dict[str, Any]:
    return {
        "pid": pid,
        "ppid": ppid,
        "service": "checkout",
        "command": ["/venv/bin/python3.12", "/venv/bin/gunicorn", "app:app"],
        "started": 0.0,
        "updated": 100.0,
        "signals": {
            "traces": {
                "exporters": ["x.OTLPSpanExporter"],
                "endpoint": URL,
                "protocol": "grpc",
                **verdict_signal,
            }
        },
    }


def test_render_draws_workers_under_their_master() -> None:
    """The master first, each worker under it; the headline counts what is wrong."""
    ok = {"exported": 1204, "queued": 0, "dropped": {}, "last_success": 99.0, "failing_since": None}
    bad = {**ok, "failing_since": 90.0, "error": "connection refused"}
    statuses = [_status(10, 1, ok), _status(11, 10, ok), _status(12, 10, bad)]
    processes = [collect.Process(s["pid"], s["ppid"], *collect.judge(s, 100.0), s) for s in statuses]
    report = collect.Report(collect._tree_order(processes), ["/tmp/otel-run-0"])
    text = render.render(report, now=100.0)
    lines = text.splitlines()
    assert lines[0] == "otel-run status: 3 live processes, 1 failing"
    assert lines[2].startswith("10  checkout  exporting  gunicorn app:app")
    workers = [line for line in lines if line.startswith("  └ ")]
    assert workers[0] == "  └ 11  checkout  exporting"
    assert workers[1].startswith("  └ 12  checkout  failing since ") and workers[1].endswith(
        f"(connection refused at {URL})"
    )
    assert "1,204 exported" in text
    assert not report.ok
    assert json.loads(render.render(report, as_json=True))["processes"][0]["children"] == [11, 12]


def test_missing_directory_is_explained(tmp_path: Path) -> None:
    """No directory: whether booted processes could have written one, and what to do."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    told = collect.explain_missing([str(blocker / "otel-run-0")], explicit=False)
    assert "cannot be written" in told and "tmpfs" in told
    told = collect.explain_missing([str(tmp_path / "otel-run-0")], explicit=False)
    assert "no process booted by otel-run runs as uid" in told


@pytest.mark.parametrize("start_ticks", [None, -1])
def test_alive_checks_the_start_time(start_ticks: int | None) -> None:
    """This process is alive under its own start time; with another one the PID was reused."""
    own = statusfacts.start_ticks()
    assert collect.alive(os.getpid(), own if start_ticks is None else start_ticks, statusfacts.exe()) is (
        start_ticks is None
    )


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("HTTP 503 Service Unavailable", "503"),
        ("gRPC UNAVAILABLE (failed to connect)", "UNAVAILABLE"),
        ("connection refused", "connection_refused"),
        ("timed out, retries exhausted", "timeout"),
        ("name or service not known", "name_resolution"),
        ("TLS certificate verify failed", "tls"),
        ("something new", "_OTHER"),
    ],
)
def test_error_type_is_short_and_low_cardinality(reason: str, kind: str) -> None:
    """Failure reasons become the error.type values the semantic conventions expect."""
    assert lossmetrics.error_type(reason) == kind


def test_loss_metrics_report_queue_full_and_failed_items_only() -> None:
    """The observable counters report lost items by cause, and nothing for a signal that lost none."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    watcher = Watcher(lambda _line: None)
    failed = {"traces": {"connection_refused": 4}, "logs": {}}
    protocols = {"traces": "grpc", "logs": "http/protobuf"}
    lossmetrics.register(
        provider,
        lambda signal: dropped_by_reason(watcher, signal)["queue_full"],
        lambda signal: failed[signal],
        protocols,
    )
    watcher.upstream_message(
        logging.LogRecord("x", logging.WARNING, __file__, 1, "Queue full, dropping %s.", ("Span",), None)
    )
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        (metric.name, tuple(sorted(point.attributes.items()))): point.value
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
    }
    assert points == {
        (
            "otel.sdk.exporter.span.exported",
            (
                ("error.type", "connection_refused"),
                ("otel.component.name", "otlp_grpc_span_exporter/0"),
                ("otel.component.type", "otlp_grpc_span_exporter"),
            ),
        ): 4,
        (
            "otel.sdk.processor.span.processed",
            (
                ("error.type", "queue_full"),
                ("otel.component.name", "batching_span_processor/0"),
                ("otel.component.type", "batching_span_processor"),
            ),
        ): 1,
    }
    provider.shutdown()
