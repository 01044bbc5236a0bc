"""Web servers and worker models under otel-run, with small unmodified apps.

Each stack serves ``/items`` and ``/chain`` (which calls a downstream service). The test
sends requests that carry a trace context, then SIGTERM right after the last answer, with
the batch delay at 60 s so that only the SIGTERM flush can deliver. Every round checks:
SERVER spans, one per request, in the caller's trace and child of the caller's span;
the CLIENT span ``/chain`` made; the downstream's SERVER span as that CLIENT span's child;
and the exit status the same command has without otel-run. Five rounds per stack.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from apps import BIN, OTEL_RUN, PYTHON, REPO, free_port, otlp_env, run_script, server
from otel_run.receiver import Receiver
from otel_run.receiver.model import ReceivedSpan
from webstacks import (
    DJANGO_SITE,
    SLOW_EXPORT,
    WEBAPPS,
    Sent,
    env_without_boot,
    http_clients,
    server_spans_for,
    spans_of,
    started,
    wait_for_spans,
)

ROUNDS = 5
ITEMS = 3
CHAINS = 2


@dataclass(frozen=True)
class Stack:
    """How to start one server or worker model on a port (without the ``otel-run`` prefix)."""

    argv: Callable[[int], list[str]]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = REPO
    """Where it runs; the Django site is run from a copy (runserver writes its database there)."""


def _gunicorn(app: str, *options: str) -> Callable[[int], list[str]]:
    return lambda port: [str(BIN / "gunicorn"), *options, "-b", f"127.0.0.1:{port}", app]


def _uvicorn(app: str, app_dir: Path, *options: str) -> Callable[[int], list[str]]:
    return lambda port: [
        str(BIN / "uvicorn"),
        *options,
        "--app-dir",
        str(app_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        app,
    ]


STACKS = {
    "uvicorn-starlette": Stack(_uvicorn("starlette_app:app", WEBAPPS)),
    "uvicorn-workers2-starlette": Stack(_uvicorn("starlette_app:app", WEBAPPS, "--workers", "2")),
    "uvicorn-reload-starlette": Stack(
        _uvicorn("starlette_app:app", WEBAPPS, "--reload", "--reload-dir", str(WEBAPPS))
    ),
    "uvicorn-django-asgi": Stack(_uvicorn("mysite.asgi:application", Path(".")), cwd=DJANGO_SITE),
    "gunicorn-sync-django": Stack(_gunicorn("mysite.wsgi", "-w", "2"), cwd=DJANGO_SITE),
    "gunicorn-gthread-django": Stack(
        _gunicorn("mysite.wsgi", "-w", "2", "-k", "gthread", "--threads", "4"), cwd=DJANGO_SITE
    ),
    "gunicorn-uvicornworker-starlette": Stack(
        _gunicorn("starlette_app:app", "-w", "2", "-k", "uvicorn.workers.UvicornWorker"), cwd=WEBAPPS
    ),
    "runserver-django": Stack(
        lambda port: [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}"], cwd=DJANGO_SITE
    ),
    "aiohttp": Stack(lambda port: [PYTHON, "aiohttp_app.py", str(port)], cwd=WEBAPPS),
}


def _round(
    stack: Stack, receiver: Receiver, downstream_url: str, service: str, cwd: Path, traced: bool = True
) -> tuple[int, Sent, str]:
    """Start the stack, send the requests, SIGTERM it at once; its status, what was sent, its stderr."""
    port = free_port()
    env = otlp_env(receiver, OTEL_SERVICE_NAME=service, DOWNSTREAM_URL=downstream_url, **SLOW_EXPORT)
    env.update(stack.env)
    if not traced:
        env = env_without_boot(env)
    sent = Sent()
    with started(stack.argv(port), env, port, traced=traced, cwd=cwd) as app:
        for _ in range(ITEMS):
            sent.get(app, "/items")
        for _ in range(CHAINS):
            sent.get(app, "/chain")
        if traced:
            assert not server_spans_for(spans_of(receiver, service), "/items"), "exported before SIGTERM"
        status = app.stop(signal.SIGTERM)
    return status, sent, app.stderr


def _check_round(receiver: Receiver, service: str, downstream: str, sent: Sent, stderr: str) -> None:
    """Every span of the round arrived, in the caller's trace, linked across processes."""

    def arrived() -> bool:
        ours = spans_of(receiver, service)
        return (
            len(server_spans_for(ours, "/items")) >= ITEMS
            and len(server_spans_for(ours, "/chain")) >= CHAINS
            and len(http_clients(ours)) >= CHAINS
        )

    assert wait_for_spans(receiver, arrived), (
        stderr,
        [(s.name, s.kind) for s in spans_of(receiver, service)],
    )
    ours = spans_of(receiver, service)
    for path, expected in sent.parents.items():
        found = server_spans_for(ours, path)
        assert len(found) == len(expected), (path, [s.name for s in found])
        assert sorted((s.trace_id, s.parent_span_id) for s in found) == sorted(expected)
    clients = http_clients(ours)
    assert len(clients) == CHAINS, [s.name for s in clients]
    chain_traces = {trace_id for trace_id, _ in sent.parents["/chain"]}
    assert {s.trace_id for s in clients} == chain_traces
    by_id = {s.span_id: s for s in ours}
    for client in clients:
        # The client span is inside the stack's server span of the same request.
        ancestor = by_id.get(client.parent_span_id)
        while ancestor is not None and ancestor.kind != "SERVER":
            ancestor = by_id.get(ancestor.parent_span_id)
        assert ancestor is not None and ancestor.trace_id == client.trace_id
    assert wait_for_spans(
        receiver, lambda: len(_downstream_children(receiver, downstream, clients)) == CHAINS
    ), "the downstream service's spans are not children of the client spans"


def _downstream_children(
    receiver: Receiver, downstream: str, clients: list[ReceivedSpan]
) -> list[ReceivedSpan]:
    ids = {(c.trace_id, c.span_id) for c in clients}
    return [s for s in spans_of(receiver, downstream, "SERVER") if (s.trace_id, s.parent_span_id) in ids]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(STACKS))
def test_stack_traced_and_nothing_lost_at_sigterm(name: str, receiver: Receiver, tmp_path: Path) -> None:
    """Server, client and downstream spans of every request arrive, linked, after SIGTERM, in 5 rounds."""
    stack = STACKS[name]
    cwd = stack.cwd
    if cwd == DJANGO_SITE:
        cwd = tmp_path / "site"
        shutil.copytree(DJANGO_SITE, cwd, ignore=shutil.ignore_patterns("__pycache__"))
    downstream = f"downstream-{name}"
    port = free_port()
    down_env = otlp_env(receiver, PORT=str(port), OTEL_SERVICE_NAME=downstream)
    with server([PYTHON, "sample_app/app.py"], down_env, port, ready_path="/") as down:
        plain_status, _, _ = _round(stack, receiver, down.url, "plain", cwd, traced=False)
        for number in range(ROUNDS):
            service = f"{name}-{number}"
            status, sent, stderr = _round(stack, receiver, down.url, service, cwd)
            assert status == plain_status, (status, plain_status, stderr)
            _check_round(receiver, service, downstream, sent, stderr)
    assert not spans_of(receiver, "plain")


def _grpc_round(receiver: Receiver, service: str, traced: bool = True) -> int:
    """Serve, call CALLS times from another process, SIGTERM the server at once; its status."""
    port = free_port()
    env = otlp_env(receiver, **SLOW_EXPORT)
    if not traced:
        env = env_without_boot(env)
    prefix = [OTEL_RUN] if traced else []
    serve = subprocess.Popen(
        [*prefix, PYTHON, "grpc_app.py", "serve", str(port)],
        env={**env, "OTEL_SERVICE_NAME": f"{service}-server"},
        cwd=str(WEBAPPS),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stdout is not None
        assert serve.stdout.readline().strip() == "serving", serve.stderr.read() if serve.stderr else ""
        call = subprocess.run(
            [*prefix, PYTHON, "grpc_app.py", "call", str(port), str(CALLS)],
            env={**env, "OTEL_SERVICE_NAME": f"{service}-client"},
            cwd=str(WEBAPPS),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert call.returncode == 0, call.stderr
        assert call.stdout.splitlines() == [f"apple,pear,plum:{n}" for n in range(CALLS)]
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=20)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.communicate(timeout=10)
    return serve.returncode


CALLS = 5


@pytest.mark.timeout(300)
def test_grpc_server_and_client_linked_and_nothing_lost_at_sigterm(receiver: Receiver) -> None:
    """Each call makes a CLIENT span in the caller and a SERVER span, its child, in the server;
    the server's spans arrive after SIGTERM; 5 rounds."""
    plain_status = _grpc_round(receiver, "plain", traced=False)
    for number in range(ROUNDS):
        service = f"grpc-{number}"
        status = _grpc_round(receiver, service)
        assert status == plain_status
        servers = f"{service}-server"
        clients = f"{service}-client"

        def arrived(servers: str = servers, clients: str = clients) -> bool:
            return (
                len(spans_of(receiver, servers, "SERVER")) >= CALLS
                and len(spans_of(receiver, clients, "CLIENT")) >= CALLS
            )

        assert wait_for_spans(receiver, arrived), [
            (s.service, s.name, s.kind) for s in receiver.store.spans()
        ]
        server_spans = spans_of(receiver, servers, "SERVER")
        client_spans = spans_of(receiver, clients, "CLIENT")
        assert len(server_spans) == len(client_spans) == CALLS
        assert {s.name for s in server_spans} == {s.name for s in client_spans} == {"/shop.Items/List"}
        assert sorted((s.trace_id, s.parent_span_id) for s in server_spans) == sorted(
            (s.trace_id, s.span_id) for s in client_spans
        )
        assert len({s.trace_id for s in client_spans}) == CALLS
    assert not [s for s in receiver.store.spans() if s.service.startswith("plain")]


@pytest.mark.timeout(60)
def test_importing_django_leaves_its_settings_alone(receiver: Receiver, tmp_path: Path) -> None:
    """Importing Django arms nothing yet: settings stay unconfigured until the app chooses them,
    and the instrumentor is enabled at django.setup() with the project's own settings."""
    source = (
        "import os, django\n"
        "from django.conf import settings\n"
        "print(settings.configured)\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
        "django.setup()\n"
        "print(settings.ROOT_URLCONF, settings.MIDDLEWARE[0])\n"
    )
    env = otlp_env(receiver, PYTHONPATH=str(DJANGO_SITE))
    result = run_script(source, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "False",
        "mysite.urls opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware",
    ]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("model", ["--workers", "--reload"])
def test_uvicorn_workers_keep_the_derived_service_name(model: str, receiver: Receiver) -> None:
    """Without OTEL_SERVICE_NAME, uvicorn's spawned workers export under the name derived from
    the command (starlette_app), not under their own 'python -c ...' command line."""
    port = free_port()
    options = ["--workers", "2"] if model == "--workers" else ["--reload", "--reload-dir", str(WEBAPPS)]
    argv = _uvicorn("starlette_app:app", WEBAPPS, *options)(port)
    with started(argv, otlp_env(receiver), port) as app:
        sent = Sent()
        for _ in range(ITEMS):
            sent.get(app, "/items")
        assert wait_for_spans(
            receiver, lambda: len(server_spans_for(receiver.store.spans(), "/items")) >= ITEMS
        )
        app.stop(signal.SIGTERM)
    assert {s.service for s in receiver.store.spans()} == {"starlette_app"}
    assert "service starlette_app (derived from uvicorn app starlette_app:app" in app.stderr


@pytest.mark.timeout(120)
def test_django_under_gunicorn_is_named_after_its_project(receiver: Receiver, tmp_path: Path) -> None:
    """'gunicorn mysite.wsgi', as Django documents it, names the service mysite, workers included."""
    site = tmp_path / "site"
    shutil.copytree(DJANGO_SITE, site, ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    with started(_gunicorn("mysite.wsgi", "-w", "2")(port), otlp_env(receiver), port, cwd=site) as app:
        Sent().get(app, "/items")
        assert wait_for_spans(receiver, lambda: bool(server_spans_for(receiver.store.spans(), "/items")))
        app.stop(signal.SIGTERM)
    assert {s.service for s in receiver.store.spans()} == {"mysite"}
    assert "service mysite (derived from gunicorn app mysite.wsgi" in app.stderr
