"""Celery prefork workers and their producer: one PRODUCER and one CONSUMER span per task, in the
producer's trace, and nothing lost when the worker gets SIGTERM right after the last task."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
from collections import Counter

import pytest

from apps import BIN, OTEL_RUN, PYTHON, REPO, otlp_env
from otel_run.receiver import Receiver
from otel_run.receiver.model import ReceivedSpan
from services import Redis

APP = REPO / "tests" / "stacks" / "celery_app"
TASKS = 10
RUNS = 5
# A batch delay far longer than the test: the worker's spans can only arrive through the
# flush at each process's exit, which is what is under test.
NEVER = "600000"
_databases = itertools.count(1)  # a fresh Redis database per run: no task crosses runs

VARIANTS = {
    "c2": ["-c", "2"],
    "c2-max-tasks-per-child-1": ["-c", "2", "--max-tasks-per-child", "1"],
}


def _worker(receiver: Receiver, broker: str, args: list[str]) -> subprocess.Popen[str]:
    env = otlp_env(receiver, OTEL_SERVICE_NAME="worker", REDIS_URL=broker, OTEL_BSP_SCHEDULE_DELAY=NEVER)
    command = [OTEL_RUN, str(BIN / "celery"), "-A", "tasks", "worker", "--pool", "prefork", *args]
    command += ["--without-mingle", "--without-gossip", "--loglevel", "WARNING"]
    return subprocess.Popen(
        command,
        env=env,
        cwd=str(APP),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _stop(worker: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM to the worker's PID (a warm shutdown); its status and stderr."""
    if worker.poll() is None:
        os.kill(worker.pid, signal.SIGTERM)
    try:
        _, err = worker.communicate(timeout=30)
    finally:
        try:
            os.killpg(worker.pid, signal.SIGKILL)  # a pool child left behind, if any
        except ProcessLookupError:
            pass
    return worker.returncode, err


def _by_kind(receiver: Receiver, kind: str, service: str) -> list[ReceivedSpan]:
    return [s for s in receiver.store.spans() if s.kind == kind and s.service == service]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("run", range(RUNS))
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_task_is_one_producer_and_one_consumer_span_in_one_trace(
    variant: str, run: int, receiver: Receiver, redis_server: Redis
) -> None:
    """Ten tasks through a prefork worker: ten PRODUCER spans in the producer, ten CONSUMER spans
    from pool children, each the child of its task's PRODUCER span; SIGTERM to the worker as
    soon as the producer has its last result loses none of them."""
    del run
    broker = f"redis://{redis_server.host}:{redis_server.port}/{next(_databases)}"
    worker = _worker(receiver, broker, VARIANTS[variant])
    try:
        producer = subprocess.run(
            [OTEL_RUN, PYTHON, "producer.py", str(TASKS)],
            env=otlp_env(receiver, OTEL_SERVICE_NAME="producer", REDIS_URL=broker),
            cwd=str(APP),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        status, err = _stop(worker)
    assert producer.returncode == 0, producer.stderr
    assert producer.stdout == f"results {[i + i for i in range(TASKS)]}\n"
    assert status == 0, err
    ours = [line for line in err.splitlines() if line.startswith("otel-run:")]
    assert len(ours) == 1 and ours[0].startswith("otel-run: service worker;"), ours  # children say nothing

    producers = _by_kind(receiver, "PRODUCER", "producer")
    consumers = _by_kind(receiver, "CONSUMER", "worker")
    assert [s.name for s in producers] == ["apply_async/tasks.add"] * TASKS
    assert [s.name for s in consumers] == ["run/tasks.add"] * TASKS, err
    by_task = {s.attributes["messaging.message.id"]: s for s in producers}
    assert len(by_task) == TASKS
    for consumer in consumers:
        parent = by_task[consumer.attributes["messaging.message.id"]]
        assert (consumer.trace_id, consumer.parent_span_id) == (parent.trace_id, parent.span_id)
    pids = Counter(s.resource["process.pid"] for s in consumers)
    assert worker.pid not in pids  # tasks ran in pool children
    if "--max-tasks-per-child" in VARIANTS[variant]:
        assert set(pids.values()) == {1}, pids  # a new child for every task, each flushed at its exit
