"""Helpers for the web-stack tests: a stack started with or without otel-run, requests that
carry a known trace context, and the spans a round of them must produce."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from apps import OTEL_RUN, REPO, Server
from otel_run.receiver import Receiver
from otel_run.receiver.model import ReceivedSpan

WEBAPPS = REPO / "tests" / "webapps"
DJANGO_SITE = WEBAPPS / "django_site"
SLOW_EXPORT = {
    # Nothing is exported on a timer during a round: only the flush at SIGTERM can deliver.
    "OTEL_BSP_SCHEDULE_DELAY": "60000",
    "OTEL_BLRP_SCHEDULE_DELAY": "60000",
    "OTEL_METRIC_EXPORT_INTERVAL": "60000",
}


@contextmanager
def started(
    argv: Sequence[str],
    env: Mapping[str, str],
    port: int,
    traced: bool = True,
    cwd: Path = REPO,
    timeout: float = 40,
) -> Iterator[Server]:
    """Start ``argv`` (under otel-run if ``traced``), wait until ``/healthz`` answers, stop it after.

    The process gets its own session, so whatever it leaves behind is ended by its group.
    """
    command = [OTEL_RUN, *argv] if traced else list(argv)
    process = subprocess.Popen(
        command,
        env=dict(env),
        cwd=str(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    server = Server(process, port)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                out, err = process.communicate()
                raise AssertionError(f"{command} exited with {process.returncode}:\n{out}\n{err}")
            try:
                if server.get("/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{command} did not answer on port {port} within {timeout}s")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            server.stop()


@dataclass
class Sent:
    """The requests of one round, each with the trace context the test gave it."""

    parents: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """path -> [(trace id, parent span id)] in the order sent."""

    def get(self, server: Server, path: str) -> None:
        """GET ``path`` with a fresh ``traceparent``; the answer must be 200."""
        trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
        answer = requests.get(
            server.url + path, headers={"traceparent": f"00-{trace_id}-{span_id}-01"}, timeout=10
        )
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        self.parents.setdefault(path, []).append((trace_id, span_id))

    def count(self) -> int:
        """How many requests were sent."""
        return sum(len(sent) for sent in self.parents.values())


def spans_of(receiver: Receiver, service: str, kind: str | None = None) -> list[ReceivedSpan]:
    """The spans ``service`` exported, of ``kind`` if given."""
    return [
        span
        for span in receiver.store.spans()
        if span.service == service and (kind is None or span.kind == kind)
    ]


def http_clients(spans: Sequence[ReceivedSpan]) -> list[ReceivedSpan]:
    """CLIENT spans of outgoing HTTP requests (not a database's)."""
    keys = ("http.request.method", "http.method")
    return [span for span in spans if span.kind == "CLIENT" and any(k in span.attributes for k in keys)]


def server_spans_for(spans: Sequence[ReceivedSpan], path: str) -> list[ReceivedSpan]:
    """SERVER spans of requests to ``path`` (``GET /items`` or Django's ``GET items``)."""
    leaf = path.strip("/")
    return [span for span in spans if span.kind == "SERVER" and span.name.rstrip("/").endswith(leaf)]


def wait_for_spans(receiver: Receiver, done: Callable[[], bool], timeout: float = 15) -> bool:
    """Wait until ``done()`` holds for what the receiver has."""
    return receiver.store.wait_for(lambda _store: done(), timeout)


def env_without_boot(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for the same command without otel-run: no OTEL_* variables."""
    return {key: value for key, value in env.items() if not key.startswith("OTEL_")}


def pythonpath(*paths: Path) -> str:
    """A PYTHONPATH value of ``paths``."""
    return os.pathsep.join(str(path) for path in paths)
