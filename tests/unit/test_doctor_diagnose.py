"""Unit tests for doctor's pure parts: diagnosis, fixes, redaction, rendering and wire classification."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from otel_run.config.settings import Settings
from otel_run.doctor import diagnose, testpayload
from otel_run.doctor import report as doctor
from otel_run.doctor.diagnose import FAIL, INFO, OK, WARN, Check
from otel_run.doctor.inventory import Library
from otel_run.doctor.probe import Outcome, layers

SECRET = "Bearer-abcdef-123456"


def settings(**env: str) -> Settings:
    """Settings for ``env`` alone."""
    return Settings.from_env(env)


def outcome(kind: str, signal: str = "traces", protocol: str = "http/protobuf", **facts: Any) -> Outcome:
    """A probe outcome against collector:4318."""
    values: dict[str, Any] = {
        "signal": signal,
        "protocol": protocol,
        "url": f"http://collector:4318/v1/{signal}",
        "host": "collector",
        "port": 4318,
        "tls": False,
        "kind": kind,
    }
    values.update(facts)
    return Outcome(**values)


def explain(kind: str, env: dict[str, str] | None = None, **facts: Any) -> tuple[str, str, str]:
    """``diagnose.explain`` for one outcome under ``env``."""
    found = settings(**(env or {}))
    made = outcome(kind, protocol=found.traces.protocol, **facts)
    return diagnose.explain(made, found.traces)


# --- settings ------------------------------------------------------------------------


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("env", "fix"),
    [
        ({"OTEL_SERVIC_NAME": "x"}, "rename OTEL_SERVIC_NAME to OTEL_SERVICE_NAME"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http"}, "set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/v1/traces"},
            "set OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318 (the base URL, without /v1/<signal>)",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318"},
            "set OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://c:4318/v1/traces",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"},
            "use port 4318 or set OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
        ),
        ({"OTEL_BSP_SCHEDULE_DELAY": "soon"}, "correct or unset OTEL_BSP_SCHEDULE_DELAY"),
    ],
)
def test_each_settings_warning_gets_its_fix(env: dict[str, str], fix: str) -> None:
    """The warning Settings gives for a bad variable comes with the exact change to make."""
    warnings = settings(**env).warnings
    assert warnings, env
    checks = diagnose.variable_checks(warnings)
    assert checks[0].status == WARN
    assert fix in checks[0].fix


@pytest.mark.timeout(10)
def test_clean_environment_has_no_variable_warnings() -> None:
    """Without bad variables the variables check is ok."""
    assert diagnose.variable_checks(()) == [
        Check("variables", OK, "every OTEL_* variable is valid, and none looks like a typo")
    ]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("env", "status"),
    [
        ({}, OK),
        ({"OTEL_TRACES_SAMPLER": "always_off"}, FAIL),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}, FAIL),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}, OK),
        ({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, WARN),
        ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}, WARN),
    ],
)
def test_sampler_that_records_nothing_fails(env: dict[str, str], status: str) -> None:
    """always_off and a zero ratio fail; parent-based variants that drop root spans warn."""
    assert diagnose.sampler_check(settings(**env)).status == status


@pytest.mark.timeout(10)
def test_exporters_none_and_console() -> None:
    """Traces not sent to a collector fail; metrics and logs not sent only warn."""
    checks = diagnose.exporter_checks(settings(OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="none"))
    by_name = {check.name: check for check in checks}
    assert by_name["traces exporter"].status == FAIL
    assert by_name["traces exporter"].fix == "set OTEL_TRACES_EXPORTER=otlp (or otlp,console to keep both)"
    assert by_name["metrics exporter"].status == WARN
    assert by_name["metrics exporter"].fix == "unset OTEL_METRICS_EXPORTER (otlp is the default)"
    assert by_name["exporters"].message == "logs are exported over OTLP"


@pytest.mark.timeout(10)
def test_sdk_disabled_fails() -> None:
    """OTEL_SDK_DISABLED=true is a failure with the fix to unset it."""
    checks = diagnose.settings_checks(settings(OTEL_SDK_DISABLED="true"), {})
    assert checks[0] == Check(
        "sdk",
        FAIL,
        "OTEL_SDK_DISABLED=true: otel-run installs nothing, the app runs with the no-op API and no "
        "telemetry is sent",
        "unset OTEL_SDK_DISABLED (or set it to false)",
    )


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("env", "warned"),
    [
        ({"HTTP_PROXY": "http://user:pw@proxy:3128"}, True),
        ({"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": "collector.svc,localhost"}, False),
        ({"HTTP_PROXY": "http://proxy:3128", "no_proxy": ".svc"}, False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, False),
    ],
)
def test_proxy_for_the_endpoint_is_pointed_out(env: dict[str, str], warned: bool) -> None:
    """A proxy variable that applies to the endpoint warns, without showing the proxy's password."""
    found = settings(OTEL_EXPORTER_OTLP_ENDPOINT="http://collector.svc:4318")
    check = diagnose.proxy_check(found, env)
    assert (check is not None) == warned
    if check is not None:
        assert "pw" not in check.message
        assert "NO_PROXY" in check.fix


# --- live test outcomes --------------------------------------------------------------


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("kind", "facts", "env", "message", "fix"),
    [
        ("refused", {}, {}, "nothing is listening at collector:4318", "start the collector"),
        (
            "dns",
            {"detail": "collector: Name or service not known"},
            {},
            "does not resolve",
            "<service>.<namespace>",
        ),
        ("connect_timeout", {"detail": "no answer within 5.0s"}, {}, "packets are dropped", "allow traffic"),
        (
            "silent",
            {"waited_s": 5.0},
            {},
            "sent no answer within 5s",
            "OTEL_EXPORTER_OTLP_TIMEOUT (now 10000 ms)",
        ),
        (
            "http2_peer",
            {},
            {},
            "speaks HTTP/2 only",
            "set OTEL_EXPORTER_OTLP_PROTOCOL=grpc to keep this port",
        ),
        (
            "http1_peer",
            {"detail": "Failed parsing HTTP/2"},
            {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
            "speaks HTTP/1.1",
            "set OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf",
        ),
        (
            "tls_to_plaintext",
            {"peer": "http/1.1"},
            {},
            "speaks plain text (it speaks http/1.1",
            "use http://",
        ),
        ("plaintext_to_tls", {}, {}, "expects TLS", "use https://"),
        (
            "tls_verify",
            {"detail": "self-signed certificate"},
            {},
            "not trusted",
            "set OTEL_EXPORTER_OTLP_CERTIFICATE",
        ),
        (
            "tls_verify",
            {"detail": "self-signed certificate"},
            {"OTEL_EXPORTER_OTLP_CERTIFICATE": "/etc/ca.pem"},
            "not trusted",
            "OTEL_EXPORTER_OTLP_CERTIFICATE=/etc/ca.pem does not hold the CA",
        ),
        ("tls_verify", {"detail": "IP address mismatch"}, {}, "not trusted", "host name the certificate"),
        ("http_status", {"http_status": 401}, {}, "401 Unauthorized", "set OTEL_EXPORTER_OTLP_HEADERS="),
        (
            "http_status",
            {"http_status": 401},
            {"OTEL_EXPORTER_OTLP_HEADERS": f"Authorization={SECRET}"},
            "401 Unauthorized",
            "headers sent (authorization=***)",
        ),
        ("http_status", {"http_status": 403}, {}, "403 Forbidden", "permissions"),
        ("http_status", {"http_status": 404}, {}, "404 Not Found", "set OTEL_EXPORTER_OTLP_ENDPOINT to the"),
        (
            "http_status",
            {"http_status": 404},
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/api"},
            "404 Not Found",
            "set OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://collector:4318/v1/traces",
        ),
        (
            "http_status",
            {"http_status": 415},
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            "does not read http/json",
            "=http/protobuf",
        ),
        ("http_status", {"http_status": 503}, {}, "overloaded", "health"),
        (
            "grpc_status",
            {"grpc_code": "UNAUTHENTICATED"},
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "UNAUTHENTICATED",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ),
        (
            "grpc_status",
            {"grpc_code": "UNIMPLEMENTED"},
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "no OTLP traces service",
            "traces pipeline",
        ),
        ("local_error", {"detail": "ImportError: x"}, {}, "could not run", "reinstall otel-run"),
    ],
)
def test_every_probe_outcome_is_explained(
    kind: str, facts: dict[str, Any], env: dict[str, str], message: str, fix: str
) -> None:
    """Each way an export can fail gets a failing check whose message and fix say what to do."""
    status, said, told = explain(kind, env, **facts)
    assert status == FAIL
    assert message in said
    assert fix in told
    assert SECRET not in said + told


@pytest.mark.timeout(10)
def test_accepted_outcomes_share_one_check() -> None:
    """Three signals accepted by the same collector make one ok check naming all three."""
    found = settings(OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318")
    made = [outcome("accepted", name, http_status=200) for name in ("traces", "metrics", "logs")]
    assert diagnose.live_checks(made, found) == [
        Check(
            "traces, metrics, logs endpoint",
            OK,
            "http://collector:4318 accepted the test span, metric and log record over http/protobuf "
            "(HTTP 200)",
        )
    ]


@pytest.mark.timeout(10)
def test_same_refusal_from_one_collector_is_one_check() -> None:
    """A 401 for every signal from one collector is one failing check on its base URL; 404s stay apart."""
    found = settings(OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318")
    refused = [outcome("http_status", name, http_status=401) for name in ("traces", "metrics", "logs")]
    checks = diagnose.live_checks(refused, found)
    assert [(check.name, check.message) for check in checks] == [
        ("traces, metrics, logs endpoint", "http://collector:4318 answered 401 Unauthorized")
    ]
    missing = [outcome("http_status", name, http_status=404) for name in ("traces", "logs")]
    assert len(diagnose.live_checks(missing, found)) == 2


@pytest.mark.timeout(10)
def test_grpc_error_is_shortened_to_its_cause() -> None:
    """grpcio's long 'failed to connect to all addresses' text is cut to the part that says why."""
    detail = (
        "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:4318: "
        "Failed parsing HTTP/2 (Expected SETTINGS frame as the first frame, got frame type 80)"
    )
    _status, message, _fix = explain("http1_peer", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, detail=detail)
    assert "(gRPC says: Failed parsing HTTP/2 (Expected SETTINGS frame" in message
    assert "ipv4" not in message


@pytest.mark.timeout(10)
def test_partial_success_warns() -> None:
    """A 200 that rejects items is a warning quoting the collector."""
    status, message, _fix = explain("accepted", http_status=200, rejected=1, detail="span too old")
    assert status == WARN
    assert "rejected 1 item(s): span too old" in message


@pytest.mark.timeout(10)
def test_outcome_delivered_only_when_nothing_rejected() -> None:
    """An accepted export with rejected items is not a delivery."""
    assert outcome("accepted").delivered
    assert not outcome("accepted", rejected=2).delivered
    assert not outcome("refused").delivered


# --- boot check ----------------------------------------------------------------------


def boot_facts(**overrides: Any) -> dict[str, Any]:
    """A child report as a healthy boot writes it, with ``overrides`` per section."""
    facts: dict[str, Any] = {
        "boot": {
            "booted": True,
            "active_signals": ["traces", "metrics", "logs"],
            "problems": [],
            "instrumentations": {"active": ["logging"], "waiting": ["flask"], "failed": [], "skipped": []},
        },
        "providers": {
            "tracer_provider": "opentelemetry.sdk.trace.TracerProvider",
            "sdk_provider": True,
            "guarded": True,
        },
        "sitecustomize": {"next": "", "next_ran": False, "next_is_opentelemetry_instrument": False},
    }
    for section, values in overrides.items():
        facts[section] = {**facts[section], **values}
    return facts


def boot_checks(
    facts: dict[str, Any] | None, env: dict[str, str] | None = None, **kw: Any
) -> dict[str, Check]:
    """``diagnose.boot_checks`` keyed by check name."""
    found = diagnose.boot_checks(
        facts,
        kw.get("error", ""),
        kw.get("exit_code", 0),
        kw.get("warnings", []),
        kw.get("other", []),
        settings(**(env or {})),
    )
    return {check.name: check for check in found}


@pytest.mark.timeout(10)
def test_healthy_boot_is_ok() -> None:
    """An SDK provider with every signal active is ok, and the app's own setup is explained."""
    checks = boot_checks(boot_facts())
    assert checks["boot"].status == OK
    assert checks["sitecustomize"].status == OK
    assert "one otel-run line" in checks["app's own SDK setup"].message


@pytest.mark.timeout(10)
def test_proxy_tracer_provider_fails() -> None:
    """The no-op ProxyTracerProvider fails and the fix follows from why."""
    facts = boot_facts(
        boot={"booted": False, "active_signals": []},
        providers={"tracer_provider": "opentelemetry.trace.ProxyTracerProvider", "sdk_provider": False},
    )
    check = boot_checks(facts)["boot"]
    assert check.status == FAIL
    assert "ProxyTracerProvider" in check.message
    assert "otel-run python app.py" in check.fix


@pytest.mark.timeout(10)
def test_missing_exporter_names_the_problem_and_fix() -> None:
    """A signal without a working exporter fails with the boot's reason and the exporter fix."""
    problem = "OTEL_TRACES_EXPORTER: exporter 'zipkin' is not installed; use otlp, console or none"
    facts = boot_facts(boot={"active_signals": ["metrics", "logs"], "problems": [problem]})
    check = boot_checks(facts, {"OTEL_TRACES_EXPORTER": "zipkin"})["boot"]
    assert check.status == FAIL
    assert problem in check.message
    assert check.fix.startswith("set OTEL_TRACES_EXPORTER=otlp")


@pytest.mark.timeout(10)
def test_strict_mode_exit_is_explained() -> None:
    """A child that exits 70 under OTEL_RUN_STRICT says the app would not start."""
    line = "OTEL_RUN_STRICT=true and telemetry could not be set up (x); exiting 70"
    checks = boot_checks(None, exit_code=70, warnings=[line], error="no report")
    assert checks["boot"].status == FAIL
    assert "the app would exit 70 at startup" in checks["boot"].message


@pytest.mark.timeout(10)
def test_broken_user_sitecustomize_warns() -> None:
    """A user sitecustomize that was found but did not finish is a warning quoting the error."""
    facts = boot_facts(sitecustomize={"next": "/app/sitecustomize.py", "next_ran": False})
    check = boot_checks(facts, other=["Error in sitecustomize; set PYTHONVERBOSE for traceback:"])[
        "sitecustomize"
    ]
    assert check.status == WARN
    assert "/app/sitecustomize.py" in check.message


@pytest.mark.timeout(10)
def test_opentelemetry_instrument_sitecustomize_skip_is_ok() -> None:
    """opentelemetry-instrument's sitecustomize being skipped is on purpose."""
    facts = boot_facts(
        sitecustomize={"next": "/x/sitecustomize.py", "next_is_opentelemetry_instrument": True}
    )
    assert boot_checks(facts)["sitecustomize"].status == OK


# --- instrumentations ----------------------------------------------------------------


def library(
    name: str, installed: bool, supported: bool = True, for_otel_run: bool = False, shipped: bool = False
) -> Library:
    """A library entry as inventory.scan makes it."""
    return Library(
        library=name,
        version="1.0",
        instrumentation=f"opentelemetry-instrumentation-{name}==0.66b1",
        installed=installed,
        supported=supported,
        entry_points=(name,) if installed else (),
        for_otel_run=for_otel_run,
        shipped=shipped,
    )


@pytest.mark.timeout(10)
def test_libraries_outside_the_shipped_set_are_info_not_warnings() -> None:
    """A library otel-run ships no instrumentation for (click) is an info line with its pip
    package; the instrumentations check stays ok, and otel-run's own libraries are left out."""
    libraries = [
        library("flask", True, shipped=True),
        library("click", False),
        library("grpcio", False, for_otel_run=True),
    ]
    checks = diagnose.instrumentation_checks(libraries, ["flask"], settings())
    statuses = [(check.name, check.status) for check in checks]
    assert statuses == [("instrumentations", OK), ("not traced", INFO)]
    assert "not counted: grpcio" in checks[0].message
    assert "click 1.0" in checks[1].message
    assert checks[1].message.endswith("pip install opentelemetry-instrumentation-click")
    assert not checks[1].fix


@pytest.mark.timeout(10)
def test_a_missing_shipped_instrumentation_is_a_broken_install() -> None:
    """When an instrumentation otel-run depends on is gone, doctor warns and says to reinstall."""
    checks = diagnose.instrumentation_checks([library("django", False, shipped=True)], [], settings())
    assert checks[0].status == WARN
    assert "django 1.0" in checks[0].message
    assert checks[0].fix == "pip install --force-reinstall otel-run"


@pytest.mark.timeout(10)
def test_unsupported_library_version_names_the_supported_range_not_a_release() -> None:
    """A library version outside the instrumentation's range: the warning names the range, and the
    fix installs a version in it, never an instrumentation release that may not exist."""
    lib = dataclasses.replace(
        library("sqlalchemy", True, supported=False), version="2.1.9", supports="<2.1.0,>=1.0.0"
    )
    checks = diagnose.instrumentation_checks([lib], ["sqlalchemy"], settings())
    assert [check.status for check in checks] == [OK, WARN]
    assert checks[1].message == (
        "sqlalchemy 2.1.9 is installed, but opentelemetry-instrumentation-sqlalchemy 0.66b1 supports only "
        "sqlalchemy<2.1.0,>=1.0.0: it is off, so calls through sqlalchemy make no spans"
    )
    assert (
        checks[1].fix == "to trace them, install a supported version: pip install 'sqlalchemy<2.1.0,>=1.0.0'"
    )


@pytest.mark.timeout(10)
def test_unsupported_library_of_a_disabled_instrumentation_is_not_reported() -> None:
    """An instrumentation the user turned off says nothing about the library's version."""
    lib = dataclasses.replace(library("sqlalchemy", True, supported=False), supports="<2.1.0,>=1.0.0")
    checks = diagnose.instrumentation_checks(
        [lib], [], settings(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="sqlalchemy")
    )
    assert [check.name for check in checks] == ["instrumentations"]


# --- redaction and rendering ---------------------------------------------------------


def _report(env: dict[str, str], live: list[Outcome]) -> doctor.Report:
    found = settings(**env)
    checks = diagnose.settings_checks(found, env) + diagnose.live_checks(live, found)
    report = doctor.Report(
        ok=not any(check.status == FAIL for check in checks),
        checks=checks,
        configuration=doctor.configuration(found),
        live=[{"detail": f"server said: {item.detail}"} for item in live],
    )
    return doctor.scrub(report, doctor.secrets(found))


@pytest.mark.timeout(10)
def test_secrets_never_reach_text_or_json() -> None:
    """Header values and URL credentials are hidden even when a server echoes them back."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://admin:hunter22@collector:4318/?api_key=k3y-value",
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization={SECRET},x-tenant=ten%20ant",
    }
    echoed = outcome("http_status", http_status=401, detail=f"bad token {SECRET} for hunter22 / k3y-value")
    report = _report(env, [echoed])
    for as_json in (False, True):
        text = doctor.render(report, as_json=as_json)
        for secret in (SECRET, "hunter22", "k3y-value", "ten ant", "ten%20ant"):
            assert secret not in text
        assert "authorization=***" in text


@pytest.mark.timeout(10)
def test_render_text_shows_fix_under_failure_and_verdict() -> None:
    """The text report lists each check with its fix under it and ends with the verdict."""
    report = _report({"OTEL_TRACES_SAMPLER": "always_off"}, [outcome("refused")])
    text = doctor.render(report)
    assert text.startswith("otel-run doctor ")
    assert "telemetry would NOT arrive" in text.splitlines()[0]
    assert "  FAIL  sampler: OTEL_TRACES_SAMPLER=always_off records no span at all" in text
    assert "        fix: unset OTEL_TRACES_SAMPLER" in text
    assert text.rstrip().endswith("apply the fix under each FAIL.")
    assert all(len(line) <= 100 or "://" in line for line in text.splitlines())


@pytest.mark.timeout(10)
def test_render_json_is_complete() -> None:
    """The JSON report carries ok, every check with status and fix, and the configuration."""
    report = _report({}, [outcome("accepted", http_status=200)])
    document = json.loads(doctor.render(report, as_json=True))
    assert document["ok"] is True
    assert {"name", "status", "message", "fix"} <= set(document["checks"][0])
    assert document["configuration"]["signals"]["traces"]["endpoint"] == "http://localhost:4318/v1/traces"
    assert document["configuration"]["service"]["derived"] is True


# --- the wire ------------------------------------------------------------------------


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("data", "speaks"),
    [
        (b"HTTP/1.1 404 Not Found\r\n", "http/1.1"),
        (b"\x00\x00\x18\x04\x00\x00\x00\x00\x00\x00\x04\x00@\x00\x00", "http/2"),
        (b"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00", "http/2"),
        (b"\x15\x03\x01\x00\x02\x02\x46", "tls"),
        (b"SSH-2.0-OpenSSH\r\n", "other"),
        (b"", ""),
    ],
)
def test_first_bytes_tell_what_a_port_speaks(data: bytes, speaks: str) -> None:
    """An HTTP/1.1 status line, an HTTP/2 SETTINGS or GOAWAY frame and a TLS alert are told apart."""
    assert layers._speaks(data) == speaks


@pytest.mark.timeout(10)
def test_json_test_request_uses_hex_ids() -> None:
    """OTLP/JSON carries trace and span ids as hex, as the specification says."""
    message = testpayload.request("traces", "checkout", [("deployment.environment", "prod")])
    document = json.loads(testpayload.encode(message, "http/json"))
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["name"] == testpayload.TEST_SPAN_NAME
    assert len(span["traceId"]) == 32
    assert bytes.fromhex(span["traceId"]) == message.resource_spans[0].scope_spans[0].spans[0].trace_id
    attributes = {item["key"] for item in document["resourceSpans"][0]["resource"]["attributes"]}
    assert {"service.name", "deployment.environment"} <= attributes


@pytest.mark.timeout(10)
def test_partial_success_is_read_from_protobuf_and_json() -> None:
    """A 2xx body reporting rejected items is read in both encodings; an empty body is full success."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTracePartialSuccess,
        ExportTraceServiceResponse,
    )

    body = ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(rejected_spans=2, error_message="too old")
    ).SerializeToString()
    assert testpayload.accepted("traces", body, json_body=False) == (2, "too old")
    json_body = b'{"partialSuccess": {"rejectedLogRecords": "1", "errorMessage": "no"}}'
    assert testpayload.accepted("logs", json_body, json_body=True) == (1, "no")
    assert testpayload.accepted("metrics", b"", json_body=False) == (0, "")


def test_running_processes_point_to_status() -> None:
    """Live booted processes here: an info pointing to 'otel-run status', a warning if one is failing."""
    assert diagnose.running_checks(None) == [] and diagnose.running_checks([]) == []
    (healthy,) = diagnose.running_checks([(10, "checkout", "idle"), (11, "checkout", "exporting")])
    assert healthy.status == INFO
    expected = "2 processes booted by otel-run run here now (checkout: 1 exporting, 1 idle)"
    assert healthy.message.startswith(expected)
    assert "'otel-run status'" in healthy.message
    (failing,) = diagnose.running_checks([(10, "checkout", "failing")])
    assert failing.status == WARN and "otel-run status" in failing.fix
