"""Breadth: a FastAPI service `FROM otel-python-base` with only its own requirements.

Its code (``services/fastapi_service``) has no OpenTelemetry in it. It is built on the golden
image and run as a container on the host network; one request must give a server span with a
database span and an outgoing HTTP span under it, in one trace, and the downstream call must
carry the trace context (``image_traces``). Django: ``test_image_django.py``.
"""

from __future__ import annotations

import pytest
import requests
from image_engine import Engine
from image_traces import FAST_EXPORT, SERVICES, Downstream, assert_one_traced_request

from apps import free_port
from otel_run.receiver import Receiver


@pytest.fixture(scope="session")
def fastapi_image(engine: Engine, golden_image: str) -> str:
    """services/fastapi_service built FROM otel-python-base."""
    engine.build(SERVICES / "fastapi_service", "fastapi-service")
    return "fastapi-service"


@pytest.mark.timeout(900)
def test_fastapi_service_is_traced(
    engine: Engine, fastapi_image: str, receiver: Receiver, downstream: Downstream
) -> None:
    """FastAPI under uvicorn: server, sqlite3 and httpx spans in one trace, logs exported."""
    port = free_port()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_url,
        "OTEL_SERVICE_NAME": "orders-fastapi",
        "UVICORN_HOST": "127.0.0.1",
        "UVICORN_PORT": str(port),
        "DOWNSTREAM_URL": downstream.url,
        **FAST_EXPORT,
    }
    with engine.container(fastapi_image, env=env) as app:
        url = f"http://127.0.0.1:{port}"
        app.wait_http(url + "/healthz")
        assert requests.get(url + "/orders", timeout=10).json() == {"orders": 1, "downstream": 200}
        assert_one_traced_request(receiver, downstream, "orders-fastapi", "/orders")
        assert receiver.store.wait_for(
            lambda store: any(log.body == "counted 1 orders" for log in store.logs()), 10
        )
        assert app.stop() == 0, app.logs
