"""``otel-run status`` against real booted processes: gunicorn and its workers, outages, kills."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from apps import BIN, OTEL_RUN, PYTHON, REPO, free_port, otlp_env, server
from otel_run.launch import boot_dir
from otel_run.receiver import Receiver

WORKERS = 2
HEADER_SECRET = "hdr-s3cret-value"
PASSWORD = "url-pa55word"
Report = dict[str, Any]


def _env(receiver: Receiver, status_dir: Path, **extra: str) -> dict[str, str]:
    """The receiver with credentials in the URL and a secret header; a private status directory."""
    endpoint = receiver.http_url.replace("http://", f"http://collector-user:{PASSWORD}@")
    return otlp_env(
        receiver,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_HEADERS=f"authorization=Bearer%20{HEADER_SECRET}",
        OTEL_EXPORTER_OTLP_TIMEOUT="1000",
        OTEL_SERVICE_NAME="checkout",
        OTEL_RUN_STATUS_DIR=str(status_dir),
        **extra,
    )


class Outputs:
    """Everything the test saw, to check that no secret appears in any of it."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def status(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [OTEL_RUN, "status", *args], env=env, capture_output=True, text=True, timeout=30, check=False
        )
        self.texts.extend([done.stdout, done.stderr])
        return done

    def report(self, env: dict[str, str]) -> tuple[int, Report]:
        done = self.status(env, "--json")
        return done.returncode, json.loads(done.stdout)

    def wait(self, env: dict[str, str], check: Callable[[Report], bool], timeout: float = 30) -> Report:
        """Poll ``status --json`` until ``check`` holds (bounded); the last report either way."""
        deadline = time.monotonic() + timeout
        while True:
            _code, report = self.report(env)
            if check(report) or time.monotonic() > deadline:
                return report
            time.sleep(0.5)

    def assert_no_secret(self, *more: str) -> None:
        for text in [*self.texts, *more]:
            for secret in (HEADER_SECRET, PASSWORD):
                assert secret not in text, text


def _by_pid(report: Report) -> dict[int, Report]:
    return {process["pid"]: process for process in report["processes"]}


def _workers(report: Report, master: int) -> list[Report]:
    return [process for process in report["processes"] if process["ppid"] == master]


def _load(url: str, rounds: int = 4, per_round: int = 20) -> None:
    """Bounded bursts on fresh connections, so that both workers serve some."""
    for _ in range(rounds):
        for _ in range(per_round):
            requests.get(url + "/items", timeout=5, headers={"Connection": "close"})


def _serve_until(outputs: Outputs, env: dict[str, str], url: str, check: Callable[[Report], bool]) -> Report:
    """Load bursts until ``check`` holds (which worker accepts is the kernel's choice), at most 8."""
    report: Report = {}
    for _ in range(8):
        _load(url, rounds=1)
        report = outputs.wait(env, check, timeout=4)
        if check(report):
            break
    return report


def _spans_by_instance(receiver: Receiver) -> dict[str, int]:
    found: dict[str, int] = {}
    for span in receiver.store.spans():
        instance = str(span.resource.get("service.instance.id"))
        found[instance] = found.get(instance, 0) + 1
    return found


def _failed_spans(report: Report, master: int) -> dict[int, int]:
    return {
        w["pid"]: w["status"]["signals"]["traces"]["dropped"]["export_failed"]
        for w in _workers(report, master)
    }


def _gunicorn(port: int) -> list[str]:
    return [str(BIN / "gunicorn"), "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "sample_app.app:app"]


def _all_exporting(master: int, spans_since: dict[int, int] | None = None) -> Callable[[Report], bool]:
    """Both workers exporting, each having exported spans (beyond ``spans_since``): each served some.

    (A worker that served nothing is "exporting" too, for a minute: its own "Booting worker"
    log record.)
    """

    def check(report: Report) -> bool:
        workers = _workers(report, master)
        before = spans_since or {}
        return len(workers) == WORKERS and all(
            w["verdict"] == "exporting"
            and w["status"]["signals"]["traces"]["exported"] > before.get(w["pid"], 0)
            for w in workers
        )

    return check


def _exported_spans(report: Report, master: int) -> dict[int, int]:
    return {w["pid"]: w["status"]["signals"]["traces"]["exported"] for w in _workers(report, master)}


@pytest.mark.timeout(180)
def test_gunicorn_master_and_workers_exporting_with_the_receivers_counts(
    receiver: Receiver, tmp_path: Path
) -> None:
    """gunicorn -w 2: the master with its two workers under it, each exporting, counts as received."""
    status_dir = tmp_path / "status"
    env = _env(receiver, status_dir)
    outputs = Outputs()
    port = free_port()
    with server(_gunicorn(port), env, port) as app:
        master = app.process.pid
        report = _serve_until(outputs, env, app.url, _all_exporting(master))
        workers = _workers(report, master)
        assert len(workers) == WORKERS and all(w["verdict"] == "exporting" for w in workers), report
        assert report["processes"][0]["pid"] == master and report["processes"][0]["children"] == sorted(
            w["pid"] for w in workers
        )
        assert report["processes"][0]["verdict"] in ("exporting", "idle")
        instances = {process["status"]["instance"] for process in report["processes"]}
        assert len(instances) == 3, "each worker has its own service.instance.id"

        # Once the load stops and the last batches are out, each worker's count is what arrived.
        def counts_match(report: Report) -> bool:
            received = _spans_by_instance(receiver)
            return all(
                w["status"]["signals"]["traces"]["exported"] == received.get(w["status"]["instance"], 0)
                for w in _workers(report, master)
            )

        report = outputs.wait(env, counts_match)
        received = _spans_by_instance(receiver)
        for worker in _workers(report, master):
            traces = worker["status"]["signals"]["traces"]
            assert traces["exported"] == received[worker["status"]["instance"]] > 0, (received, traces)
            assert traces["endpoint"] == f"http://***@127.0.0.1:{receiver.http_port}/v1/traces"
            assert sum(traces["dropped"].values()) == 0
            assert "flask" in worker["status"]["instrumentations"]

        text = outputs.status(env)
        assert text.returncode == 0, text.stdout
        assert text.stdout.startswith("otel-run status: 3 live processes, every one exporting or idle")
        assert [line.split()[1] for line in text.stdout.splitlines() if line.startswith("  └ ")] == [
            str(w["pid"]) for w in _workers(report, master)
        ]
        assert stat.S_IMODE(status_dir.stat().st_mode) == 0o700
        files = sorted(status_dir.iterdir())
        assert [f.name for f in files] == sorted(f"{p['pid']}.json" for p in report["processes"])
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
        contents = [f.read_text() for f in files]
    assert list(status_dir.iterdir()) == [], "every process removes its file at exit"
    outputs.assert_no_secret(*contents, app.stdout, app.stderr)


@pytest.mark.timeout(180)
def test_gunicorn_outage_shows_failing_then_exporting_after_recovery(
    receiver: Receiver, tmp_path: Path
) -> None:
    """Receiver stopped: every worker is failing with the reason and its drops rise; restarted: exporting."""
    status_dir = tmp_path / "status"
    env = _env(receiver, status_dir)
    outputs = Outputs()
    port, collector_port = free_port(), receiver.http_port
    with server(_gunicorn(port), env, port) as app:
        master = app.process.pid
        assert _all_exporting(master)(_serve_until(outputs, env, app.url, _all_exporting(master)))

        receiver.stop()
        _load(app.url, rounds=2)

        def all_failing(report: Report) -> bool:
            workers = _workers(report, master)
            return len(workers) == WORKERS and all(w["verdict"] == "failing" for w in workers)

        failing = outputs.wait(env, all_failing)
        assert all_failing(failing), failing
        code, _report = outputs.report(env)
        assert code == 1
        for worker in _workers(failing, master):
            assert worker["summary"].startswith("failing since ")
            assert f"(connection refused at http://***@127.0.0.1:{collector_port}/v1/" in worker["summary"]
            assert "cannot export" in worker["status"]["last_error"]
        text = outputs.status(env)
        assert text.returncode == 1 and "2 failing" in text.stdout.splitlines()[0], text.stdout

        before = {
            w["pid"]: w["status"]["signals"]["traces"]["dropped"]["export_failed"]
            for w in _workers(failing, master)
        }
        _load(app.url, rounds=2)

        def drops_rose(report: Report) -> bool:
            now = {
                w["pid"]: w["status"]["signals"]["traces"]["dropped"]["export_failed"]
                for w in _workers(report, master)
            }
            return all(now.get(pid, 0) > count for pid, count in before.items())

        assert drops_rose(outputs.wait(env, drops_rose)), before

        with Receiver(http=("127.0.0.1", collector_port), grpc=None):
            spans_before = _exported_spans(outputs.report(env)[1], master)
            back = _all_exporting(master, spans_before)
            recovered = _serve_until(outputs, env, app.url, back)
            assert back(recovered), recovered
            code, _report = outputs.report(env)
            assert code == 0
    outputs.assert_no_secret(app.stdout, app.stderr)


ASGI_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""


def _uwsgi(port: int, tmp_path: Path) -> list[str]:
    return [
        str(BIN / "uwsgi"),
        "--master",
        "--processes",
        str(WORKERS),
        "--http-socket",
        f"127.0.0.1:{port}",
        "--virtualenv",
        str(BIN.parent),
        "--chdir",
        str(REPO),
        "--module",
        "sample_app.app:app",
        "--die-on-term",
        "--disable-logging",
        "--enable-threads",
    ]


def _uvicorn(port: int, tmp_path: Path) -> list[str]:
    (tmp_path / "asgi_app.py").write_text(ASGI_APP)
    return [
        str(BIN / "uvicorn"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
        "--app-dir",
        str(tmp_path),
        "asgi_app:app",
    ]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("launch", [_uwsgi, _uvicorn], ids=["uwsgi", "uvicorn"])
def test_other_servers_show_their_workers_under_the_master(
    launch: Callable[[int, Path], list[str]], receiver: Receiver, tmp_path: Path
) -> None:
    """uWSGI (C-level forks) and uvicorn --workers (spawned interpreters): workers under the master."""
    status_dir = tmp_path / "status"
    env = _env(receiver, status_dir)
    outputs = Outputs()
    port = free_port()
    with server(launch(port, tmp_path), env, port, ready_path="/") as app:
        master = app.process.pid

        def workers_listed(report: Report) -> bool:
            # Exactly the workers: multiprocessing's resource tracker (uvicorn) is not booted.
            return len({w["status"]["instance"] for w in _workers(report, master)}) == WORKERS

        report = outputs.wait(env, workers_listed)
        assert workers_listed(report), report
        assert report["processes"][0]["pid"] == master
        assert all(w["healthy"] for w in _workers(report, master)), report
        text = outputs.status(env)
        assert len([line for line in text.stdout.splitlines() if line.startswith("  └ ")]) == WORKERS
    outputs.assert_no_secret(app.stdout, app.stderr)


CELERY_APP = """
from celery import Celery

app = Celery("tasks", broker=__import__("os").environ["BROKER_URL"])


@app.task
def add(x, y):
    return x + y
"""


@pytest.mark.timeout(120)
def test_celery_prefork_pool_under_its_master(receiver: Receiver, redis_server: Any, tmp_path: Path) -> None:
    """A Celery worker with a prefork pool of two: both pool processes under the main process."""
    status_dir = tmp_path / "status"
    env = _env(receiver, status_dir, BROKER_URL=redis_server.url, PYTHONPATH=str(tmp_path))
    (tmp_path / "tasks.py").write_text(CELERY_APP)
    outputs = Outputs()
    command = [str(BIN / "celery"), "-A", "tasks", "worker", "--pool", "prefork", "--concurrency", "2"]
    process = subprocess.Popen(
        [OTEL_RUN, *command, "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        env=env,
        cwd=str(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        report = outputs.wait(env, lambda report: len(_workers(report, process.pid)) == WORKERS, timeout=60)
        assert len(_workers(report, process.pid)) == WORKERS, report
        assert report["processes"][0]["pid"] == process.pid
        assert len({p["status"]["instance"] for p in report["processes"]}) == WORKERS + 1
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            _out, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            _out, stderr = process.communicate(timeout=10)
    outputs.assert_no_secret(stderr)


@pytest.mark.timeout(120)
def test_a_worker_killed_with_sigkill_disappears(receiver: Receiver, tmp_path: Path) -> None:
    """SIGKILL leaves a status file behind; status drops the dead worker (and removes its file)."""
    status_dir = tmp_path / "status"
    env = _env(receiver, status_dir)
    outputs = Outputs()
    port = free_port()
    with server(_gunicorn(port), env, port) as app:
        master = app.process.pid
        first = outputs.wait(env, lambda report: len(_workers(report, master)) == WORKERS)
        victim = _workers(first, master)[0]["pid"]
        os.kill(victim, signal.SIGKILL)

        def replaced(report: Report) -> bool:
            pids = {w["pid"] for w in _workers(report, master)}
            return victim not in pids and len(pids) == WORKERS

        report = outputs.wait(env, replaced)
        assert replaced(report), report
        assert not (status_dir / f"{victim}.json").exists()
    outputs.assert_no_secret()


@pytest.mark.timeout(120)
def test_a_script_killed_with_sigkill_disappears(receiver: Receiver, tmp_path: Path) -> None:
    """A plain script: listed while it runs, gone from the list after SIGKILL."""
    status_dir = tmp_path / "status"
    env = _env(receiver, status_dir)
    outputs = Outputs()
    script = tmp_path / "sleeper.py"
    script.write_text("import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    process = subprocess.Popen([OTEL_RUN, PYTHON, str(script)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        listed = outputs.wait(env, lambda report: process.pid in _by_pid(report))
        assert _by_pid(listed)[process.pid]["verdict"] == "idle"
        assert (status_dir / f"{process.pid}.json").exists()
        # It never emitted, so its SDK was never built (runtime/ondemand.py), and status says so.
        assert _by_pid(listed)[process.pid]["status"]["sdk"] == "on first telemetry"
        text = outputs.status(env).stdout
        assert "SDK not built yet (nothing emitted)" in text, text
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        report = outputs.wait(env, lambda report: process.pid not in _by_pid(report))
        assert process.pid not in _by_pid(report)
        assert not (status_dir / f"{process.pid}.json").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    outputs.assert_no_secret()


@pytest.mark.timeout(120)
def test_doctor_points_to_status_while_booted_processes_run(receiver: Receiver, tmp_path: Path) -> None:
    """doctor, run beside a live booted process, says so and names 'otel-run status'."""
    status_dir = tmp_path / "status"
    env = _env(receiver, status_dir)
    script = tmp_path / "sleeper.py"
    script.write_text("import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    process = subprocess.Popen([OTEL_RUN, PYTHON, str(script)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        assert Outputs().wait(env, lambda report: process.pid in _by_pid(report))["processes"]
        doctor = subprocess.run(
            [OTEL_RUN, "doctor", "--json"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        process.kill()
        process.wait(10)
    checks = {check["name"]: check for check in json.loads(doctor.stdout)["checks"]}
    running = checks["running processes"]
    assert running["status"] == "info", running
    assert running["message"].startswith("1 process booted by otel-run run here now (checkout: 1 idle)")
    assert "'otel-run status'" in running["message"]
    Outputs().assert_no_secret(doctor.stdout, doctor.stderr)


@pytest.mark.timeout(60)
def test_status_boots_nothing_and_imports_no_opentelemetry(tmp_path: Path) -> None:
    """With the boot directory on PYTHONPATH (as in the image), status neither boots nor loads the SDK."""
    env = {**os.environ, "OTEL_RUN_STATUS_DIR": str(tmp_path / "none"), "PYTHONPATH": str(boot_dir())}
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "otel_run", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=str(REPO),
    )
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line]
    assert "otel_run.status.collect" in imported
    assert [name for name in imported if name.startswith("opentelemetry")] == []
    assert "otel-run: service" not in done.stderr
    assert done.returncode == 1
    assert done.stdout.startswith(f"otel-run status: unavailable: OTEL_RUN_STATUS_DIR={tmp_path / 'none'}")


@pytest.mark.timeout(60)
def test_unusable_status_dir_is_told_once_and_changes_nothing(receiver: Receiver, tmp_path: Path) -> None:
    """OTEL_RUN_STATUS_DIR under a file: the app's output and exit status are unchanged, one line says why."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = _env(receiver, blocker / "status")
    script = tmp_path / "app.py"
    script.write_text("import sys\nprint('out')\nsys.exit(3)\n")
    plain = subprocess.run([PYTHON, str(script)], capture_output=True, text=True, timeout=30, check=False)
    done = subprocess.run(
        [OTEL_RUN, PYTHON, str(script)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert (done.returncode, done.stdout) == (plain.returncode, plain.stdout) == (3, "out\n")
    told = [line for line in done.stderr.splitlines() if "OTEL_RUN_STATUS_DIR" in line]
    assert len(told) == 1 and "not a directory" in told[0], done.stderr
    report = subprocess.run(
        [OTEL_RUN, "status"], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert report.returncode == 1
    assert "cannot be written" in report.stdout and "OTEL_RUN_STATUS_DIR" in report.stdout, report.stdout
