"""``otel-run doctor`` through the real CLI, against real endpoints that are right and wrong.

Each case runs ``otel-run doctor`` as a process and checks its exit status, the fix it
names and that it stays within its 10-second promise. The endpoints are real: the
in-process receiver (HTTP and gRPC), tiny HTTP servers answering 401 and 403, a TLS
server with a certificate made here, a port nobody listens on, a server that accepts
and never answers, and a host name that cannot resolve.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from apps import clean_env, free_port, run
from otel_run.doctor.testpayload import TEST_LOG_BODY, TEST_METRIC_NAME, TEST_SPAN_NAME
from otel_run.receiver import Receiver

BUDGET_S = 12.0
"""doctor promises 10 s; the margin absorbs a slow CI machine."""
SECRET = "s3cr3t-T0KEN-value"
URL_PASSWORD = "pa55-in-the-url"


class Doctor:
    """One finished ``otel-run doctor`` run."""

    def __init__(self, code: int, stdout: str, stderr: str, seconds: float) -> None:
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds
        # The text report wraps long lines; compare on single spaces.
        self.text = " ".join(stdout.split())


def doctor(env: dict[str, str], *args: str) -> Doctor:
    """Run ``otel-run doctor ARGS`` under ``env`` and time it."""
    started = time.monotonic()
    result = run(["doctor", *args], env, timeout=30)
    seconds = time.monotonic() - started
    assert seconds < BUDGET_S, f"doctor took {seconds:.1f}s\n{result.stdout}"
    assert result.stdout, result.stderr
    return Doctor(result.returncode, result.stdout, result.stderr, seconds)


def doctor_json(env: dict[str, str]) -> tuple[Doctor, dict[str, Any]]:
    """Run ``otel-run doctor --json`` and parse the report."""
    done = doctor(env, "--json")
    return done, json.loads(done.stdout)


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    """The first check called ``name`` (or whose name starts with it)."""
    for item in report["checks"]:
        if item["name"] == name or item["name"].startswith(name):
            return dict(item)
    raise AssertionError(f"no check {name!r} in {[item['name'] for item in report['checks']]}")


def failed(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The failed checks."""
    return [item for item in report["checks"] if item["status"] == "fail"]


def env_for(endpoint: str, protocol: str = "http/protobuf", **extra: str) -> dict[str, str]:
    """A clean environment exporting everything to ``endpoint`` over ``protocol``."""
    return clean_env(
        OTEL_SERVICE_NAME="checkout",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        **extra,
    )


# --- servers -------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status: int = self.server.status  # type: ignore[attr-defined]
        # A careless collector that echoes the credentials it refused: doctor must not repeat them.
        body = b"" if status == 200 else f"denied for {self.headers.get('Authorization')}".encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, status: int, tls: ssl.SSLContext | None) -> None:
        self.status = status
        self.tls = tls
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake runs in the request's thread, so one bad client cannot stall the rest.
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)


@contextmanager
def http_server(status: int, tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """An HTTP(S) server on 127.0.0.1 answering every POST with ``status``; yields its port."""
    server = _Server(status, tls)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel completes them) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A certificate authority made for this test module."""
    return trustme.CA()


@pytest.fixture
def tls_port(ca: trustme.CA) -> Iterator[int]:
    """An OTLP/HTTP server over TLS, with a certificate for 127.0.0.1 signed by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with http_server(200, tls=context) as port:
        yield port


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    """The CA certificate as a PEM file."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


# --- the healthy case ----------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json", "grpc"])
def test_healthy_setup_exits_0_and_the_test_items_arrive(protocol: str, receiver: Receiver) -> None:
    """With a working collector, doctor exits 0 and the receiver gets the test span, log record and metric."""
    endpoint = receiver.grpc_url if protocol == "grpc" else receiver.http_url
    done, report = doctor_json(env_for(endpoint, protocol))
    assert done.code == 0, done.stdout
    assert report["ok"] is True
    assert receiver.store.wait_for(lambda store: bool(store.spans() and store.logs() and store.metrics()), 5)
    span = receiver.store.spans()[0]
    assert span.name == TEST_SPAN_NAME
    assert span.service == "checkout"
    assert receiver.store.logs()[0].body == TEST_LOG_BODY
    assert receiver.store.metrics()[0].name == TEST_METRIC_NAME
    assert {export.transport for export in receiver.store.exports()} == {protocol}
    assert report["boot"]["providers"]["sdk_provider"] is True
    assert report["configuration"]["signals"]["traces"]["protocol"] == protocol


@pytest.mark.timeout(60)
def test_text_report_names_configuration_and_verdict(receiver: Receiver) -> None:
    """The text report shows the resolved endpoint, the boot check and says telemetry would arrive."""
    done = doctor(env_for(receiver.http_url))
    assert done.code == 0, done.stdout
    assert done.stdout.startswith("otel-run doctor ")
    assert f"{receiver.http_url}/v1/traces (from OTEL_EXPORTER_OTLP_ENDPOINT) over http/protobuf" in done.text
    assert "gets an SDK TracerProvider" in done.text
    assert "Result: telemetry would arrive" in done.text


# --- endpoint, protocol and port mix-ups ---------------------------------------------


@pytest.mark.timeout(60)
def test_nothing_listening() -> None:
    """A port nobody listens on is 'connection refused', with the fix to start or point at the collector."""
    port = free_port()
    done = doctor(env_for(f"http://127.0.0.1:{port}"))
    assert done.code == 1
    assert f"nothing is listening at 127.0.0.1:{port} (connection refused)" in done.text
    assert "fix: start the collector, or set OTEL_EXPORTER_OTLP_ENDPOINT" in done.text


@pytest.mark.timeout(60)
def test_http_protobuf_sent_to_a_grpc_port(receiver: Receiver) -> None:
    """An HTTP/1.1 request to the gRPC port gets an HTTP/2 answer; the fix is grpc or the HTTP port."""
    done, report = doctor_json(env_for(receiver.grpc_url, "http/protobuf"))
    assert done.code == 1
    found = check(report, "traces")
    assert found["status"] == "fail"
    assert "speaks HTTP/2 only, as an OTLP/gRPC port does" in found["message"]
    assert "set OTEL_EXPORTER_OTLP_PROTOCOL=grpc to keep this port" in found["fix"]
    assert report["live"][0]["peer"] == "http/2"


@pytest.mark.timeout(60)
def test_grpc_sent_to_an_http_port(receiver: Receiver) -> None:
    """A gRPC call to the HTTP port is recognised as such; the fix is http/protobuf or the gRPC port."""
    done, report = doctor_json(env_for(receiver.http_url, "grpc"))
    assert done.code == 1
    found = check(report, "traces")
    assert "speaks HTTP/1.1, as an OTLP/HTTP port does, but the protocol is grpc" in found["message"]
    assert "set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf to keep this port" in found["fix"]


@pytest.mark.timeout(60)
def test_base_endpoint_ending_in_v1_traces_is_fixed_and_surfaced(receiver: Receiver) -> None:
    """A base endpoint that already ends in /v1/traces still works, and doctor says how to write it."""
    done, report = doctor_json(env_for(f"{receiver.http_url}/v1/traces"))
    assert done.code == 0, done.stdout
    warning = check(report, "variables")
    assert warning["status"] == "warn"
    assert "already ends in /v1/traces" in warning["message"]
    assert f"set OTEL_EXPORTER_OTLP_ENDPOINT={receiver.http_url} (the base URL" in warning["fix"]
    assert receiver.store.wait_for(lambda store: bool(store.spans()), 5)


@pytest.mark.timeout(60)
def test_signal_endpoint_with_the_wrong_path_gets_404(receiver: Receiver) -> None:
    """A signal endpoint not ending in /v1/traces gets a 404; the fix is the full URL."""
    env = env_for(receiver.http_url, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{receiver.http_url}/otlp")
    done, report = doctor_json(env)
    assert done.code == 1
    found = check(report, "traces endpoint")
    assert "answered 404 Not Found" in found["message"]
    assert f"set OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={receiver.http_url}/v1/traces" in found["fix"]
    assert check(report, "metrics")["status"] == "ok"


@pytest.mark.timeout(60)
def test_signal_endpoint_without_a_path_is_fixed_and_surfaced(receiver: Receiver) -> None:
    """A signal endpoint with no path at all is completed by otel-run, and doctor names the right value."""
    env = env_for(receiver.http_url, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.http_url)
    done, report = doctor_json(env)
    assert done.code == 0, done.stdout
    warning = check(report, "variables")
    assert f"set OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={receiver.http_url}/v1/traces" in warning["fix"]


@pytest.mark.timeout(60)
def test_unknown_protocol_value(receiver: Receiver) -> None:
    """OTEL_EXPORTER_OTLP_PROTOCOL=http is named with its fix; otel-run falls back to http/protobuf."""
    done, report = doctor_json(env_for(receiver.http_url, "http"))
    assert done.code == 0, done.stdout
    warning = check(report, "variables")
    assert "OTEL_EXPORTER_OTLP_PROTOCOL='http'" in warning["message"]
    assert warning["fix"] == "set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"


@pytest.mark.timeout(60)
def test_misspelled_variable_is_reported(receiver: Receiver) -> None:
    """A variable one letter off a known one is reported with the name it should have."""
    done = doctor(env_for(receiver.http_url, OTEL_SERVCE_NAME="checkout"))
    assert "OTEL_SERVCE_NAME is not a known variable" in done.text
    assert "fix: rename OTEL_SERVCE_NAME to OTEL_SERVICE_NAME" in done.text


# --- configurations that send nothing --------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("value", "told"),
    [("none", "spans are not exported"), ("console", "spans are printed on the app's stdout")],
)
def test_traces_exporter_that_sends_nothing(value: str, told: str, receiver: Receiver) -> None:
    """OTEL_TRACES_EXPORTER=none or console fails with the fix to use otlp."""
    done, report = doctor_json(env_for(receiver.http_url, OTEL_TRACES_EXPORTER=value))
    assert done.code == 1
    found = check(report, "traces exporter")
    assert told in found["message"]
    assert "otlp" in found["fix"]


@pytest.mark.timeout(60)
def test_sdk_disabled(receiver: Receiver) -> None:
    """OTEL_SDK_DISABLED=true fails, and the boot check shows the app gets the no-op ProxyTracerProvider."""
    done, report = doctor_json(env_for(receiver.http_url, OTEL_SDK_DISABLED="true"))
    assert done.code == 1
    assert check(report, "sdk")["fix"].startswith("unset OTEL_SDK_DISABLED")
    boot = check(report, "boot")
    assert "ProxyTracerProvider" in boot["message"]
    assert report["live"] == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "sampler",
    [
        {"OTEL_TRACES_SAMPLER": "always_off"},
        {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"},
    ],
)
def test_sampler_that_records_nothing(sampler: dict[str, str], receiver: Receiver) -> None:
    """A sampler that records no span fails with the fix to unset it."""
    done, report = doctor_json(env_for(receiver.http_url, **sampler))
    assert done.code == 1
    found = check(report, "sampler")
    assert found["status"] == "fail"
    assert "records no span at all" in found["message"]
    assert found["fix"].startswith("unset OTEL_TRACES_SAMPLER")


# --- credentials -----------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("status", "told"), [(401, "401 Unauthorized"), (403, "403 Forbidden")])
def test_collector_refuses_credentials_and_secrets_stay_hidden(status: int, told: str) -> None:
    """401 and 403 are explained with what to check, and neither the token nor the URL password is shown."""
    with http_server(status) as port:
        env = env_for(
            f"http://user:{URL_PASSWORD}@127.0.0.1:{port}",
            OTEL_EXPORTER_OTLP_HEADERS=f"Authorization=Bearer%20{SECRET}",
        )
        text = doctor(env)
        done, report = doctor_json(env)
    assert text.code == done.code == 1
    found = check(report, "traces")
    assert told in found["message"]
    assert "OTEL_EXPORTER_OTLP_HEADERS" in found["fix"]
    assert "authorization=***" in text.text
    for output in (text.stdout, text.stderr, done.stdout, done.stderr):
        assert SECRET not in output
        assert URL_PASSWORD not in output


@pytest.mark.timeout(60)
def test_401_without_headers_says_which_variable_to_set() -> None:
    """A 401 when no header is configured tells the user to set OTEL_EXPORTER_OTLP_HEADERS."""
    with http_server(401) as port:
        done, report = doctor_json(env_for(f"http://127.0.0.1:{port}"))
    assert done.code == 1
    assert "set OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20<token>" in check(report, "traces")["fix"]


# --- TLS -------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_tls_with_the_right_ca_works(tls_port: int, ca_file: str) -> None:
    """https:// with OTEL_EXPORTER_OTLP_CERTIFICATE naming the CA passes."""
    done = doctor(env_for(f"https://127.0.0.1:{tls_port}", OTEL_EXPORTER_OTLP_CERTIFICATE=ca_file))
    assert done.code == 0, done.stdout


@pytest.mark.timeout(60)
def test_tls_with_an_untrusted_certificate(tls_port: int) -> None:
    """An untrusted self-signed certificate fails; the fix names OTEL_EXPORTER_OTLP_CERTIFICATE."""
    done, report = doctor_json(env_for(f"https://127.0.0.1:{tls_port}"))
    assert done.code == 1
    found = check(report, "traces")
    assert "is not trusted" in found["message"]
    assert "set OTEL_EXPORTER_OTLP_CERTIFICATE" in found["fix"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_plaintext_against_a_tls_port(protocol: str, tls_port: int) -> None:
    """http:// to a TLS port is recognised, and the fix is https://."""
    done, report = doctor_json(env_for(f"http://127.0.0.1:{tls_port}", protocol))
    assert done.code == 1
    found = check(report, "traces")
    assert "expects TLS, but the endpoint uses plain text" in found["message"]
    assert found["fix"].startswith("use https:// in OTEL_EXPORTER_OTLP_ENDPOINT")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_tls_against_a_plaintext_port(protocol: str, receiver: Receiver) -> None:
    """https:// to the plain-text receiver is recognised, and the fix is http://."""
    endpoint = receiver.grpc_url if protocol == "grpc" else receiver.http_url
    done, report = doctor_json(env_for(endpoint.replace("http://", "https://"), protocol))
    assert done.code == 1
    found = check(report, "traces")
    assert "the endpoint uses TLS, but" in found["message"]
    assert "speaks plain text" in found["message"]
    assert found["fix"].startswith("use http:// in OTEL_EXPORTER_OTLP_ENDPOINT")


# --- silence, timeouts, DNS ------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_silent_endpoint_finishes_in_time(protocol: str) -> None:
    """A port that accepts and never answers is reported as silent, within the 10-second budget."""
    with silent_server() as port:
        done, report = doctor_json(env_for(f"http://127.0.0.1:{port}", protocol))
    assert done.code == 1
    found = check(report, "traces")
    assert "accepted the connection but sent no" in found["message"]
    assert "OTEL_EXPORTER_OTLP_TIMEOUT" in found["fix"]
    assert done.seconds < BUDGET_S


@pytest.mark.timeout(60)
def test_short_export_timeout_is_what_the_probe_waits(receiver: Receiver) -> None:
    """The probe waits no longer than OTEL_EXPORTER_OTLP_TIMEOUT, as the app's exporter would."""
    with silent_server() as port:
        done, report = doctor_json(env_for(f"http://127.0.0.1:{port}", OTEL_EXPORTER_OTLP_TIMEOUT="500"))
    assert done.code == 1
    assert report["live"][0]["waited_s"] == 0.5
    assert "within 0.5s" in check(report, "traces")["message"]


@pytest.mark.timeout(60)
def test_unresolvable_host() -> None:
    """A host name that does not resolve is named, with the Kubernetes service form as the hint."""
    done, report = doctor_json(env_for("http://otel-collector.invalid:4318"))
    assert done.code == 1
    found = check(report, "traces")
    assert "'otel-collector.invalid' does not resolve" in found["message"]
    assert "<service>.<namespace>" in found["fix"]


# --- the boot check --------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_boot_check_sees_user_sitecustomize_and_own_provider(receiver: Receiver, tmp_path: Path) -> None:
    """A user sitecustomize installing its own provider runs; otel-run's provider stays; doctor says so."""
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "sitecustomize.py").write_text(
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "trace.set_tracer_provider(TracerProvider())\n"
    )
    done, report = doctor_json(env_for(receiver.http_url, PYTHONPATH=str(custom)))
    assert done.code == 0, done.stdout
    site = check(report, "sitecustomize")
    assert site["status"] == "ok"
    assert str(custom / "sitecustomize.py") in site["message"]
    assert report["boot"]["sitecustomize"]["next_ran"] is True
    own = check(report, "app's own SDK setup")
    assert "otel-run keeps its own provider" in own["message"]
    # What the boot check can see: the provider refused, with otel-run's one-line note.
    assert any("called set_tracer_provider()" in line for line in report["boot"]["warnings"])
    assert report["boot"]["providers"]["guarded"] is True


@pytest.mark.timeout(60)
def test_broken_sdk_is_diagnosed_and_doctor_still_works(receiver: Receiver, tmp_path: Path) -> None:
    """When the app's interpreter cannot import the SDK, doctor still runs and names the no-op provider."""
    broken = tmp_path / "broken" / "opentelemetry" / "sdk"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("opentelemetry-sdk is broken on purpose")\n')
    done, report = doctor_json(env_for(receiver.http_url, PYTHONPATH=str(tmp_path / "broken")))
    assert done.code == 1
    boot = check(report, "boot")
    assert "ProxyTracerProvider" in boot["message"]
    assert "broken on purpose" in boot["fix"]
    assert "pip install --force-reinstall opentelemetry-sdk" in boot["fix"]
    assert check(report, "traces")["status"] == "ok"


@pytest.mark.timeout(60)
def test_instrumentation_report_lists_installed_libraries(receiver: Receiver, tmp_path: Path) -> None:
    """The report lists what is instrumented on import and which installed libraries lack it."""
    # Its own status directory: booted processes of other runs on this machine are not this test's.
    done, report = doctor_json(env_for(receiver.http_url, OTEL_RUN_STATUS_DIR=str(tmp_path)))
    assert done.code == 0, done.stdout
    found = report["instrumentation"]
    assert "flask" in found["instrumented"]
    names = {item["library"] for item in found["libraries"]}
    assert {"flask", "requests"} <= names
    assert check(report, "instrumentations")["status"] == "ok"
    assert [item for item in report["checks"] if item["status"] == "warn"] == []
    for item in found["missing"]:
        assert item["instrumentation"].split("==")[0] in check(report, "not traced")["message"]
