"""The sample app under real WSGI servers and launchers: gunicorn workers and 'flask run'."""

from __future__ import annotations

import pytest

from apps import BIN, free_port, otlp_env, server
from otel_run.receiver import Receiver


@pytest.mark.timeout(120)
def test_gunicorn_workers_export_spans(receiver: Receiver) -> None:
    """Requests served by gunicorn's forked workers arrive as server spans with sqlite children."""
    port = free_port()
    env = otlp_env(receiver, OTEL_SERVICE_NAME="gunicorn-app")
    args = [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "sample_app.app:app"]
    with server(args, env, port) as app:
        for _ in range(6):
            assert app.get("/items").status_code == 200
        assert receiver.store.wait_for(
            lambda store: len([s for s in store.spans() if s.name == "GET /items"]) >= 6, 20
        )
        status = app.stop()
    assert status == 0, app.stderr
    items = [s for s in receiver.store.spans() if s.name == "GET /items"]
    selects = [s for s in receiver.store.spans() if s.name == "SELECT"]
    assert {s.parent_span_id for s in selects} >= {s.span_id for s in items}
    assert {s.service for s in items} == {"gunicorn-app"}


@pytest.mark.timeout(120)
def test_flask_run_launcher_is_traced(receiver: Receiver) -> None:
    """'otel-run flask --app sample_app.app run' traces requests and derives the name from --app."""
    port = free_port()
    env = otlp_env(receiver)
    args = [str(BIN / "flask"), "--app", "sample_app.app", "run", "--port", str(port)]
    with server(args, env, port) as app:
        assert app.get("/").status_code == 200
        assert receiver.store.wait_for(lambda store: any(s.name == "GET /" for s in store.spans()), 15)
    assert {s.service for s in receiver.store.spans()} == {"sample_app"}
    assert "service sample_app (derived from flask app sample_app.app" in app.stderr
