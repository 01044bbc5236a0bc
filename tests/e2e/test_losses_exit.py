"""Telemetry is not lost at the edges of a process's life: os._exit in forked children,
SIGHUP, a second SIGTERM or Ctrl-C during the flush, multiprocessing.Pool.terminate()."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from apps import OTEL_RUN, PYTHON, clean_env, otlp_env, run
from fake_collector import FakeCollector
from otel_run.receiver import Receiver

RUNS = 5  # signal tests repeat: a race shows up in some runs only
NO_TIMER = {
    # Nothing is exported on a timer: only the exit paths under test can deliver.
    "OTEL_BSP_SCHEDULE_DELAY": "60000",
    "OTEL_BLRP_SCHEDULE_DELAY": "60000",
    "OTEL_METRIC_EXPORT_INTERVAL": "60000",
    # Each child builds its own exporter at its exit (imports included): 20 at once on a
    # loaded 2-core machine can take longer than the default 5 s. These tests are about
    # whether the flush happens, not how fast; a flush that runs out of time says so.
    "OTEL_RUN_SHUTDOWN_TIMEOUT": "30000",
}

FORK_APP = """
import os, sys
from opentelemetry import trace
tracer = trace.get_tracer("fork")
children = []
for n in range(int(sys.argv[1])):
    pid = os.fork()
    if pid == 0:
        with tracer.start_as_current_span(f"child-{n}"):
            pass
        os._exit(0)
    children.append(pid)
codes = [os.waitpid(pid, 0)[1] for pid in children]
print("children", sorted(set(codes)))
"""


def _names(receiver: Receiver, prefix: str) -> list[str]:
    return [s.name for s in receiver.store.spans() if s.name.startswith(prefix)]


@pytest.mark.timeout(120)
def test_forked_children_leaving_with_os_exit_lose_nothing(receiver: Receiver, tmp_path: Path) -> None:
    """20 os.fork() children that end with os._exit(0) each deliver their span; exit codes unchanged."""
    (tmp_path / "forks.py").write_text(FORK_APP)
    env = otlp_env(receiver, OTEL_SERVICE_NAME="forks", **NO_TIMER)
    result = run([PYTHON, "forks.py", "20"], env, timeout=90, cwd=tmp_path)
    plain = subprocess.run(
        [PYTHON, "forks.py", "20"],
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == plain.returncode == 0, result.stderr
    assert result.stdout == plain.stdout == "children [0]\n"
    assert receiver.store.wait_for(lambda _: len(_names(receiver, "child-")) >= 20, 10), result.stderr
    assert sorted(_names(receiver, "child-")) == sorted(f"child-{n}" for n in range(20))


BILLIARD_APP = """
import billiard
from opentelemetry import trace

def work(n):
    with trace.get_tracer("billiard").start_as_current_span(f"task-{n}"):
        pass
    return n

if __name__ == "__main__":
    pool = billiard.Pool(2)
    print(sorted(pool.map(work, range(6))))
    pool.close()
    pool.join()
"""


@pytest.mark.timeout(120)
def test_billiard_pool_children_lose_nothing(receiver: Receiver, tmp_path: Path) -> None:
    """billiard (Celery's prefork pool) children leave through os._exit; their spans still arrive."""
    (tmp_path / "bpool.py").write_text(BILLIARD_APP)
    env = otlp_env(receiver, OTEL_SERVICE_NAME="billiard", **NO_TIMER)
    result = run([PYTHON, "bpool.py"], env, timeout=90, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[0, 1, 2, 3, 4, 5]\n"
    assert receiver.store.wait_for(lambda _: len(_names(receiver, "task-")) >= 6, 10), result.stderr
    assert sorted(_names(receiver, "task-")) == [f"task-{n}" for n in range(6)]


SIGNAL_APP = """
import sys, time
from opentelemetry import trace
with trace.get_tracer("sig").start_as_current_span(sys.argv[1]):
    pass
print("ready", flush=True)
time.sleep(30)
"""


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    return process


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    return process.returncode, err


@pytest.mark.timeout(180)
def test_sighup_flushes_and_ends_the_same_way(receiver: Receiver, tmp_path: Path) -> None:
    """SIGHUP with the default action: the span is flushed, then the process dies of SIGHUP as without us."""
    (tmp_path / "sig.py").write_text(SIGNAL_APP)
    plain = _start([PYTHON, "sig.py", "plain"], clean_env(), tmp_path)
    plain.send_signal(signal.SIGHUP)
    plain_status, _ = _finish(plain)
    assert plain_status == -signal.SIGHUP
    env = otlp_env(receiver, OTEL_SERVICE_NAME="sighup", **NO_TIMER)
    for attempt in range(RUNS):
        process = _start([OTEL_RUN, PYTHON, "sig.py", f"hup-{attempt}"], env, tmp_path)
        process.send_signal(signal.SIGHUP)
        status, err = _finish(process)
        assert status == plain_status, err
        assert receiver.store.wait_for(lambda _, n=attempt: f"hup-{n}" in _names(receiver, "hup-"), 10), err


@pytest.mark.timeout(180)
def test_second_sigterm_during_the_flush_waits_for_it(receiver: Receiver, tmp_path: Path) -> None:
    """Two SIGTERMs 5 ms apart: the second waits for the flush the first began; the span arrives."""
    (tmp_path / "sig.py").write_text(SIGNAL_APP)
    env = otlp_env(receiver, OTEL_SERVICE_NAME="twice", **NO_TIMER)
    for attempt in range(RUNS):
        process = _start([OTEL_RUN, PYTHON, "sig.py", f"twice-{attempt}"], env, tmp_path)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.005)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        status, err = _finish(process)
        assert status == -signal.SIGTERM, err
        assert receiver.store.wait_for(lambda _, n=attempt: f"twice-{n}" in _names(receiver, "twice-"), 10), (
            f"run {attempt}: {err}"
        )


POOL_APP = """
import multiprocessing as mp
import sys
from opentelemetry import trace

def work(n):
    with trace.get_tracer("pool").start_as_current_span(f"{sys.argv[1]}-{n}"):
        pass
    return n

if __name__ == "__main__":
    with mp.get_context("fork").Pool(4) as pool:
        print(sum(pool.map(work, range(40))))
"""


@pytest.mark.timeout(240)
def test_pool_terminate_keeps_worker_spans(receiver: Receiver, tmp_path: Path) -> None:
    """`with Pool() as p:` ends with terminate() (SIGTERM to workers); every worker span still arrives."""
    (tmp_path / "pool.py").write_text(POOL_APP)
    env = otlp_env(receiver, OTEL_SERVICE_NAME="pool", **NO_TIMER)
    for attempt in range(RUNS):
        result = run([PYTHON, "pool.py", f"pool{attempt}"], env, timeout=60, cwd=tmp_path)
        assert result.returncode == 0 and result.stdout == "780\n", result.stderr
        prefix = f"pool{attempt}-"
        assert receiver.store.wait_for(lambda _, p=prefix: len(_names(receiver, p)) >= 40, 10), (
            f"run {attempt}: {len(_names(receiver, prefix))} of 40 spans; {result.stderr}"
        )


CTRL_C_APP = """
import sys, time
from opentelemetry import trace
tracer = trace.get_tracer("ctrl-c")
for n in range(3):
    with tracer.start_as_current_span(f"{sys.argv[1]}-{n}"):
        pass
print("ready", flush=True)
time.sleep(30)
"""


def _ctrl_c_twice(
    args: list[str], env: dict[str, str], cwd: Path, requests: Callable[[], int] | None = None
) -> tuple[int, str]:
    """Ctrl-C in the app's sleep, then a second Ctrl-C once its traceback is printed and, with
    ``requests`` (the collector's count), as soon as the exit flush's next export arrives."""
    process = _start(args, env, cwd)
    time.sleep(0.3)  # past "ready", into the sleep: the traceback names the same line both ways
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)  # the traceback is printed, the exit flush has begun
    baseline = requests() if requests is not None else 0
    deadline = time.monotonic() + 20
    while (
        process.poll() is None
        and requests is not None
        and requests() == baseline
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    return _finish(process)


def _traceback_shape(lines: list[str]) -> list[str]:
    """The lines of a traceback but for line numbers and source text (the first Ctrl-C may land
    in ``print`` or in ``time.sleep``)."""
    return [re.sub(r", line \d+,", ", line N,", line) for line in lines if not line.startswith("    ")]


@pytest.mark.timeout(240)
def test_second_ctrl_c_during_the_exit_flush_waits_for_it(tmp_path: Path) -> None:
    """Ctrl-C, then a second Ctrl-C while the exit flush is exporting: the flush still delivers
    every span, and the status (130) and stderr are those of the same command without otel-run."""
    (tmp_path / "ctrlc.py").write_text(CTRL_C_APP)
    plain_status, plain_err = _ctrl_c_twice([PYTHON, "ctrlc.py", "plain"], clean_env(), tmp_path)
    assert plain_status == -signal.SIGINT and plain_err.rstrip().endswith("KeyboardInterrupt"), plain_err
    # Each span is its own export, answered after 0.6 s: the exports run one after another from
    # the first span on, and the second Ctrl-C comes when the exit flush's next one arrives.
    with FakeCollector(delay_s=0.6) as collector:
        env = clean_env(
            OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
            OTEL_SERVICE_NAME="ctrl-c",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            OTEL_BSP_SCHEDULE_DELAY="60000",
            OTEL_BSP_MAX_EXPORT_BATCH_SIZE="1",
            OTEL_RUN_SHUTDOWN_TIMEOUT="10000",
        )
        for attempt in range(RUNS):
            began = time.monotonic()
            status, err = _ctrl_c_twice(
                [OTEL_RUN, PYTHON, "ctrlc.py", f"c{attempt}"], env, tmp_path, lambda: collector.requests
            )
            took = time.monotonic() - began
            assert status == plain_status, f"run {attempt}: {err}"
            assert collector.spans == 3 * (attempt + 1), f"run {attempt}: {collector.spans} spans; {err}"
            app_lines = [line for line in err.splitlines() if not line.startswith("otel-run: ")]
            assert _traceback_shape(app_lines) == _traceback_shape(plain_err.splitlines()), (
                f"run {attempt}: {err}"
            )
            assert "otel-run: exiting" not in err and "did not finish" not in err, err
            assert took < 10 + 5, f"run {attempt}: {took:.1f} s"  # the budget, and a start on a busy box
