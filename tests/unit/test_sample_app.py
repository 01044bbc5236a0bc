"""The sample app's routes behave as the demos and end-to-end tests expect, with no OpenTelemetry in it."""

from __future__ import annotations

import http.server
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # sample_app is a top-level package of the repository, not installed

from sample_app.app import app  # noqa: E402

pytestmark = pytest.mark.timeout(30)


class _Downstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"downstream saw {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def client() -> FlaskClient:
    return app.test_client()


@pytest.fixture
def downstream_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Downstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hello"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_index_names_the_service(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """/ answers 200 with a greeting that names OTEL_SERVICE_NAME."""
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout")
    response = client.get("/")
    assert response.status_code == 200
    assert response.get_data(as_text=True).strip() == "hello from checkout"


def test_index_has_a_default_service_name(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without OTEL_SERVICE_NAME the greeting uses the name sample-app."""
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    assert client.get("/").get_data(as_text=True).strip() == "hello from sample-app"


def test_items_come_from_sqlite(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    """/items returns the rows of the sqlite items table as JSON and logs how many."""
    with caplog.at_level(logging.INFO, logger="sample_app"):
        response = client.get("/items")
    assert response.status_code == 200
    items = response.get_json()
    assert [item["name"] for item in items] == ["apple", "banana", "cherry"]
    assert all(isinstance(item["qty"], int) for item in items)
    assert "listing 3 items" in caplog.messages


def test_items_are_safe_to_query_from_many_threads() -> None:
    """Concurrent /items requests, as under a threaded server, all get the full table."""

    def fetch(_: int) -> int:
        return len(app.test_client().get("/items").get_json())

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(fetch, range(32))) == [3] * 32


def test_healthz(client: FlaskClient) -> None:
    """/healthz answers 200 ok."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True).strip() == "ok"


def test_error_is_a_500(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    """/error raises inside the view, which Flask turns into a 500 after a warning is logged."""
    with caplog.at_level(logging.WARNING, logger="sample_app"):
        response = client.get("/error")
    assert response.status_code == 500
    assert any(r.name == "sample_app" and r.levelno == logging.WARNING for r in caplog.records)


def test_chain_calls_chain_url(
    client: FlaskClient, downstream_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/chain makes a real HTTP call to CHAIN_URL and reports its status and body."""
    monkeypatch.setenv("CHAIN_URL", downstream_url)
    response = client.get("/chain")
    assert response.status_code == 200
    assert response.get_json() == {"downstream_status": 200, "downstream_body": "downstream saw /hello"}


def test_chain_reports_an_unreachable_downstream(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/chain answers 502 with the error when nothing listens at CHAIN_URL."""
    monkeypatch.setenv("CHAIN_URL", f"http://127.0.0.1:{_free_port()}/")
    response = client.get("/chain")
    assert response.status_code == 502
    assert response.get_json()["downstream_status"] is None
    assert response.get_json()["error"]


def test_runs_as_a_script_on_port() -> None:
    """`python sample_app/app.py` serves on HOST:PORT, and /chain's default target is itself."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "CHAIN_URL", "FLASK_DEBUG"}}
    env.update(PORT=str(port), HOST="127.0.0.1", OTEL_SERVICE_NAME="scripted")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "sample_app" / "app.py")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/chain", timeout=5)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, "the app exited before serving"
                assert time.monotonic() < deadline, "the app did not start listening"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["downstream_body"].strip() == "hello from scripted"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sample_app_has_no_opentelemetry_code() -> None:
    """No module or requirement of the sample app mentions an OpenTelemetry import or package."""
    for path in sorted((ROOT / "sample_app").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+opentelemetry", source, re.MULTILINE), path
    lines = (ROOT / "sample_app" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    requirements = [line.split("#")[0].strip().lower() for line in lines]
    assert not [r for r in requirements if r.startswith(("opentelemetry", "otel-run", "otel_run"))]
