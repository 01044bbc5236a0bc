"""Breadth: a Django service `FROM otel-python-base` with only its own requirements.

The project is laid out as `django-admin startproject` makes it, served by gunicorn through its
standard ``wsgi.py``; ``image_traces`` says what a traced request must show.
"""

from __future__ import annotations

import pytest
import requests
from image_engine import Engine
from image_traces import FAST_EXPORT, SERVICES, Downstream, assert_one_traced_request

from apps import free_port
from otel_run.receiver import Receiver


@pytest.fixture(scope="session")
def django_image(engine: Engine, golden_image: str) -> str:
    """services/django_service built FROM otel-python-base."""
    engine.build(SERVICES / "django_service", "django-service")
    return "django-service"


@pytest.mark.timeout(900)
def test_django_service_is_traced(
    engine: Engine, django_image: str, receiver: Receiver, downstream: Downstream
) -> None:
    """Django (startproject's wsgi.py) under gunicorn: server, database and requests spans in one trace."""
    port = free_port()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_url,
        "OTEL_SERVICE_NAME": "orders-django",
        "GUNICORN_CMD_ARGS": f"--bind=127.0.0.1:{port} --workers=2",
        "DOWNSTREAM_URL": downstream.url,
        **FAST_EXPORT,
    }
    with engine.container(django_image, env=env) as app:
        url = f"http://127.0.0.1:{port}"
        app.wait_http(url + "/healthz")
        assert requests.get(url + "/orders/", timeout=10).json() == {"orders": 1, "downstream": 200}
        assert_one_traced_request(receiver, downstream, "orders-django", "orders/")
        assert receiver.store.wait_for(
            lambda store: any(log.body == "counted 1 orders" for log in store.logs()), 10
        )
        assert app.stop() == 0, app.logs
