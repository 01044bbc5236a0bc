"""A FastAPI service on uvicorn, unmodified: its Redis, PostgreSQL and httpx calls make spans, and
its trace reaches the second traced service it calls; httpx and aiohttp clients carry the trace
to the server they call. Everything arrives through the exit flush after SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from apps import BIN, PYTHON, REPO, Server, free_port, otlp_env, run, server
from otel_run.receiver import Receiver
from otel_run.receiver.model import ReceivedSpan
from services import Postgres, Redis

STACK = REPO / "tests" / "stacks" / "fastapi_stack"
CLIENTS = str(REPO / "tests" / "stacks" / "http_clients.py")
ORDERS = 3
RUNS = 5
# Longer than the test: the servers' spans can only arrive through their flush at SIGTERM.
NEVER = "600000"
# uvicorn re-raises SIGTERM after its graceful shutdown, with or without otel-run.
KILLED_BY_SIGTERM = -signal.SIGTERM


@contextmanager
def _uvicorn(name: str, receiver: Receiver, **env: str) -> Iterator[Server]:
    port = free_port()
    args = [str(BIN / "uvicorn"), "--app-dir", str(STACK), f"{name}:app", "--host", "127.0.0.1"]
    args += ["--port", str(port), "--no-access-log"]
    environ = otlp_env(receiver, OTEL_SERVICE_NAME=name, OTEL_BSP_SCHEDULE_DELAY=NEVER, **env)
    with server(args, environ, port) as started:
        yield started


def _one(spans: list[ReceivedSpan], **match: str) -> ReceivedSpan:
    found = [s for s in spans if all(getattr(s, key) == value for key, value in match.items())]
    assert len(found) == 1, (match, [(s.service, s.kind, s.name) for s in spans])
    return found[0]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("run", range(RUNS))
def test_fastapi_calls_are_traced_into_the_service_it_calls(
    run: int, receiver: Receiver, postgres: Postgres, redis_server: Redis
) -> None:
    """Each request to ``front`` is one trace: its SERVER span, a CLIENT span each for Redis,
    PostgreSQL and the httpx call to ``back``, and ``back``'s SERVER span (child of that httpx
    span) with its own Redis CLIENT span, all delivered after SIGTERM to both servers."""
    del run
    with ExitStack() as stack:
        back = stack.enter_context(_uvicorn("back", receiver, REDIS_URL=redis_server.url))
        front = stack.enter_context(
            _uvicorn("front", receiver, REDIS_URL=redis_server.url, PG_DSN=postgres.dsn, BACK_URL=back.url)
        )
        answers = [front.get("/order/apple").json() for _ in range(ORDERS)]
        assert [answer["item"] for answer in answers] == ["APPLE"] * ORDERS
        assert front.stop() == back.stop() == KILLED_BY_SIGTERM, front.stderr + back.stderr

    spans = receiver.store.spans()
    roots = [
        s for s in spans if s.service == "front" and s.kind == "SERVER" and s.name == "GET /order/{item}"
    ]
    assert len(roots) == ORDERS, front.stderr
    for root in roots:
        trace = [s for s in spans if s.trace_id == root.trace_id]
        assert root.parent_span_id == ""
        incr = _one(trace, service="front", kind="CLIENT", scope="opentelemetry.instrumentation.redis")
        query = _one(trace, service="front", kind="CLIENT", scope="opentelemetry.instrumentation.psycopg")
        call = _one(trace, service="front", kind="CLIENT", scope="opentelemetry.instrumentation.httpx")
        assert (incr.name, query.name, call.name) == ("INCRBY", "SELECT", "GET")
        assert {incr.parent_span_id, query.parent_span_id, call.parent_span_id} == {root.span_id}
        served = _one(trace, service="back", kind="SERVER")
        assert (served.name, served.parent_span_id) == ("GET /stock/{item}", call.span_id)
        lookup = _one(trace, service="back", kind="CLIENT")
        assert (lookup.name, lookup.parent_span_id) == ("GET", served.span_id)


@pytest.mark.timeout(120)
def test_httpx_and_aiohttp_clients_carry_the_trace_to_the_server(
    receiver: Receiver, redis_server: Redis
) -> None:
    """A GET through httpx (sync and async) and aiohttp: three CLIENT spans, each the parent of
    the SERVER span of the traced service it called."""
    with _uvicorn("back", receiver, REDIS_URL=redis_server.url) as back:
        result = run(
            [PYTHON, CLIENTS, f"{back.url}/stock/pear"], otlp_env(receiver, OTEL_SERVICE_NAME="clients")
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == "statuses [200, 200, 200]\n"
        assert back.stop() == KILLED_BY_SIGTERM, back.stderr

    spans = receiver.store.spans()
    clients = sorted(
        (s for s in spans if s.service == "clients" and s.kind == "CLIENT"),
        key=lambda s: s.start_time_unix_nano,
    )
    scopes = [s.scope.rsplit(".", 1)[-1] for s in clients]
    assert scopes == ["httpx", "httpx", "aiohttp_client"], [(s.scope, s.name) for s in clients]
    served = {s.parent_span_id: s for s in spans if s.service == "back" and s.kind == "SERVER"}
    for client in clients:
        assert client.name == "GET"
        assert client.span_id in served, f"{client.scope}'s call did not reach the server in its trace"
        assert served[client.span_id].trace_id == client.trace_id
        assert served[client.span_id].name == "GET /stock/{item}"
