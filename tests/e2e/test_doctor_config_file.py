"""``otel-run doctor`` for an app configured by OTEL_CONFIG_FILE: the file's view, the file's live test.

doctor resolves the file as the app's boot does (upstream's loader, ``${VAR}`` substitution
with the app's environment), reports each signal's exporter and endpoint, the sampler and
the resource from it, sends its test items with the file's exporters (endpoint and headers)
and lists the OTEL_* variables that are set but ignored because the file wins.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_doctor import check, doctor, doctor_json, failed

from apps import REPO, clean_env
from otel_run.doctor.testpayload import TEST_SPAN_NAME
from otel_run.receiver import Receiver

SECRET = "file-T0KEN-s3cret"
FILE = """file_format: "1.0"
resource:
  attributes:
    - name: service.name
      value: ${SERVICE:-billing}
    - name: deployment.environment.name
      value: ${env:ENVIRONMENT}
tracer_provider:
  sampler:
    parent_based:
      root:
        trace_id_ratio_based:
          ratio: 0.5
  processors:
    - batch:
        exporter:
          otlp_http:
            endpoint: ${COLLECTOR}/v1/traces
            headers:
              - name: authorization
                value: Bearer ${TOKEN}
meter_provider:
  readers:
    - periodic:
        exporter:
          otlp_grpc:
            endpoint: ${GRPC_COLLECTOR}
"""


@pytest.mark.timeout(60)
def test_doctor_reports_and_probes_what_the_file_sets_up(receiver: Receiver, tmp_path: Path) -> None:
    """Exporters, endpoints, headers, sampler, resource: from the file; ignored variables are listed."""
    path = tmp_path / "otel-config.yaml"
    path.write_text(FILE)
    env = clean_env(
        OTEL_CONFIG_FILE=str(path),
        COLLECTOR=receiver.http_url,
        GRPC_COLLECTOR=receiver.grpc_url,
        TOKEN=SECRET,
        ENVIRONMENT="staging",
        # What the file replaces: a dead endpoint and another service name, both ignored.
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        OTEL_SERVICE_NAME="not-this-one",
    )
    done, report = doctor_json(env)
    assert done.code == 0, done.stdout
    config = report["configuration"]
    assert config["service"]["name"] == "billing"
    assert config["resource"]["deployment.environment.name"] == "staging"
    assert config["sampler"] == "parent_based(root: trace_id_ratio_based 0.5)"
    assert config["config_file"]["ignored_variables"] == ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"]
    traces, metrics, logs = (config["signals"][name] for name in ("traces", "metrics", "logs"))
    assert (traces["endpoint"], traces["protocol"]) == (f"{receiver.http_url}/v1/traces", "http/protobuf")
    assert traces["headers"] == ["authorization=***"]
    assert (metrics["endpoint"], metrics["protocol"]) == (receiver.grpc_url, "grpc")
    assert logs["exporters"] == []
    assert check(report, "config file")["status"] == "ok"
    ignored = check(report, "ignored variables")
    assert (
        ignored["status"] == "warn" and "OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME" in ignored["message"]
    )
    assert check(report, "logs exporter")["status"] == "warn"
    assert check(report, "boot")["status"] == "ok"
    # The live test used the file's exporters: its endpoint and its headers, under its service name.
    assert receiver.store.wait_for(lambda s: any(span.name == TEST_SPAN_NAME for span in s.spans()), 5)
    assert {span.service for span in receiver.store.spans()} == {"billing"}
    assert receiver.store.last_headers("traces")["authorization"] == f"Bearer {SECRET}"
    assert receiver.store.wait_for(lambda s: bool(s.metrics()), 5)
    assert SECRET not in done.stdout

    text = doctor(env)
    assert text.code == 0
    assert f"Configuration (what the app gets from {path}, its OTEL_CONFIG_FILE)" in text.stdout
    assert "ignored OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME (the file wins)" in text.text
    assert "sampler parent_based(root: trace_id_ratio_based 0.5)" in text.text
    assert SECRET not in text.stdout


@pytest.mark.timeout(60)
def test_doctor_reports_the_example_file(receiver: Receiver) -> None:
    """The README's example file, pointed at a collector through the variables it references."""
    env = clean_env(
        OTEL_CONFIG_FILE=str(REPO / "sample_app" / "otel-config.yaml"),
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_url,
    )
    done, report = doctor_json(env)
    assert done.code == 0, done.stdout
    assert failed(report) == []
    assert report["configuration"]["service"]["name"] == "storefront"
    assert report["configuration"]["resource"]["deployment.environment.name"] == "dev"
    assert {name: facts["endpoint"] for name, facts in report["configuration"]["signals"].items()} == {
        name: f"{receiver.http_url}/v1/{name}" for name in ("traces", "metrics", "logs")
    }
    assert "config file" in [item["name"] for item in report["checks"]]
    assert "ignored variables" not in [item["name"] for item in report["checks"]]


@pytest.mark.timeout(60)
def test_doctor_names_a_broken_file_and_probes_nothing(receiver: Receiver, tmp_path: Path) -> None:
    """A file the app cannot use fails doctor with the app's own line; nothing falls back to the variables."""
    path = tmp_path / "otel-config.yaml"
    path.write_text(FILE.replace("ratio: 0.5", "ratio: half"))
    env = clean_env(
        OTEL_CONFIG_FILE=str(path), COLLECTOR=receiver.http_url, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_url
    )
    done, report = doctor_json(env)
    assert done.code == 1
    problem = check(report, "config file")
    assert problem["status"] == "fail"
    assert problem["message"].startswith(
        f"{path} line 13 (tracer_provider.sampler.parent_based.root.trace_id_ratio_based.ratio): "
        "'half' is not"
    )
    assert report["live"] == []
    assert not receiver.store.wait_for(lambda s: bool(s.exports()), 1)
    assert check(report, "boot")["fix"] == f"correct {path} (the config file check says where)"
