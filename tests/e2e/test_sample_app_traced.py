"""The unmodified sample Flask app under otel-run: traces, logs and metrics arrive."""

from __future__ import annotations

import pytest

from apps import PYTHON, free_port, otlp_env, server
from otel_run.receiver import Receiver


def _server_spans(receiver: Receiver, count: int) -> bool:
    return receiver.store.wait_for(
        lambda store: len([span for span in store.spans() if span.kind == "SERVER"]) >= count, 15
    )


@pytest.mark.timeout(90)
def test_server_client_and_sqlite_spans_arrive(receiver: Receiver) -> None:
    """/items yields a SERVER span with a sqlite child; /chain a CLIENT span continuing to a SERVER span."""
    port = free_port()
    env = otlp_env(receiver, PORT=str(port), OTEL_SERVICE_NAME="sample-app")
    with server([PYTHON, "sample_app/app.py"], env, port) as app:
        assert app.get("/items").status_code == 200
        assert app.get("/chain").json()["downstream_status"] == 200
        assert receiver.store.wait_for(
            lambda store: any(span.name == "SELECT" for span in store.spans()) and len(store.spans()) >= 5, 15
        )
    spans = receiver.store.spans()
    by_name = {span.name: span for span in spans}
    items = by_name["GET /items"]
    assert items.kind == "SERVER" and items.service == "sample-app"
    assert items.attributes.get("http.route", items.attributes.get("http.target")) == "/items"
    select = by_name["SELECT"]
    assert select.parent_span_id == items.span_id and select.trace_id == items.trace_id
    assert select.attributes["db.system"] == "sqlite"

    chain = by_name["GET /chain"]
    client = next(span for span in spans if span.kind == "CLIENT" and span.trace_id == chain.trace_id)
    downstream = by_name["GET /"]
    assert client.parent_span_id == chain.span_id
    assert downstream.parent_span_id == client.span_id, "traceparent was not propagated"
    assert {span.transport for span in spans} == {"http/protobuf"}


@pytest.mark.timeout(90)
def test_one_trace_spans_two_services(receiver: Receiver) -> None:
    """/chain on one service calling a second service yields one trace across both."""
    front_port, back_port = free_port(), free_port()
    back_env = otlp_env(receiver, PORT=str(back_port), OTEL_SERVICE_NAME="backend")
    front_env = otlp_env(
        receiver,
        PORT=str(front_port),
        OTEL_SERVICE_NAME="frontend",
        CHAIN_URL=f"http://127.0.0.1:{back_port}/",
    )
    with (
        server([PYTHON, "sample_app/app.py"], back_env, back_port),
        server([PYTHON, "sample_app/app.py"], front_env, front_port) as front,
    ):
        assert front.get("/chain").json()["downstream_body"] == "hello from backend\n"
        assert receiver.store.wait_for(
            lambda store: (
                any(s.service == "backend" and s.name == "GET /" for s in store.spans())
                and any(s.service == "frontend" and s.name == "GET /chain" for s in store.spans())
            ),
            15,
        )
    spans = receiver.store.spans()
    chain = next(s for s in spans if s.service == "frontend" and s.name == "GET /chain")
    back = next(s for s in spans if s.service == "backend" and s.name == "GET /")
    assert back.trace_id == chain.trace_id
    client = next(s for s in spans if s.span_id == back.parent_span_id)
    assert client.service == "frontend" and client.kind == "CLIENT"


@pytest.mark.timeout(90)
def test_logs_carry_trace_ids_and_http_metrics_arrive(receiver: Receiver) -> None:
    """Log records written inside a request carry its trace and span ids; http.server metrics arrive."""
    port = free_port()
    env = otlp_env(receiver, PORT=str(port), OTEL_SERVICE_NAME="sample-app")
    with server([PYTHON, "sample_app/app.py"], env, port) as app:
        assert app.get("/items").status_code == 200
        assert receiver.store.wait_for(
            lambda store: (
                any(log.body == "listing 3 items" for log in store.logs())
                and any(m.name.startswith("http.server") for m in store.metrics())
            ),
            15,
        )
    items = next(span for span in receiver.store.spans() if span.name == "GET /items")
    log = next(log for log in receiver.store.logs() if log.body == "listing 3 items")
    assert log.trace_id == items.trace_id
    assert log.span_id == items.span_id
    assert log.severity_text == "INFO"
    assert log.service == "sample-app"
    names = {metric.name for metric in receiver.store.metrics()}
    assert names & {"http.server.duration", "http.server.request.duration"}, names
